package actors

import (
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// Describing: every actor answers messages.Describe with its own node;
// answerDescribe adds its children's, each asked with describeTimeout, so
// an actor that does not answer shows as such and never hangs the request.

// describeTimeout is how long a description may take when the asker
// gives no deadline.
const describeTimeout = 2 * time.Second

// life is what every actor kind keeps for its description: when this
// incarnation started and how many came before it.
type life struct {
	startedAt   time.Time
	incarnation int
}

// lived wraps a producer so each incarnation knows its number. The
// producer runs on the actor's own mailbox goroutine (at spawn and at each
// restart), so the counter needs no lock.
func lived[T interface {
	actor.Actor
	setLife(life)
}](produce func() T) actor.Producer {
	n := 0
	return func() actor.Actor {
		n++
		a := produce()
		a.setLife(life{startedAt: time.Now(), incarnation: n})
		return a
	}
}

func (l *life) setLife(v life) { *l = v }

// node starts a description with the common fields.
func (l *life) node(ctx actor.Context, kind, state string, fields map[string]any) *messages.Node {
	return &messages.Node{Path: ctx.Self().Id, Kind: kind, State: state, StartedAt: l.startedAt,
		Restarts: max(l.incarnation-1, 0), Fields: fields}
}

// answerDescribe answers the Describe being handled with n and, unless
// shallow, the descriptions of ctx's children gathered concurrently.
func answerDescribe(ctx actor.Context, n *messages.Node) {
	req, _ := ctx.Message().(*messages.Describe)
	asker := ctx.Sender()
	children := ctx.Children()
	if (req != nil && req.Shallow) || len(children) == 0 {
		ctx.Respond(n)
		return
	}
	// Children answer by a deadline earlier than ours, so that we still
	// answer in time when one of them does not.
	deadline := time.Now().Add(describeTimeout)
	if req != nil && !req.Deadline.IsZero() {
		deadline = req.Deadline
	}
	wait := time.Until(deadline) * 9 / 10
	if wait < 10*time.Millisecond {
		wait = 10 * time.Millisecond
	}
	childDeadline := time.Now().Add(wait * 8 / 10)
	n.Children = make([]*messages.Node, len(children))
	left := len(children)
	for i, child := range children {
		f := ctx.RequestFuture(child, &messages.Describe{Deadline: childDeadline}, wait)
		ctx.ReenterAfter(f, func(res any, err error) {
			if node, ok := res.(*messages.Node); ok && err == nil {
				n.Children[i] = node
			} else {
				n.Children[i] = &messages.Node{Path: child.Id, Kind: "unknown", State: "no answer"}
			}
			left--
			if left == 0 {
				ctx.Send(asker, n)
			}
		})
	}
}
