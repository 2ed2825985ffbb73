package actors

import (
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// Questions that travel down the tree — Describe (for display) and
// ListOwnedProcesses (for decisions) — are answered the same way: an actor
// asks its children concurrently, each with a deadline earlier than its
// own, and answers by its deadline whatever came back, so one child that
// does not answer shows as such and never hangs the question.

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

// askChildren asks each of children the question ask builds for a child's
// deadline, and calls done, on the actor's own goroutine, with their
// answers in order (nil for one that did not answer) once all answered or
// the deadline passed.
func askChildren(ctx actor.Context, children []*actor.PID, deadline time.Time, ask func(childDeadline time.Time) any, done func(answers []any)) {
	if len(children) == 0 {
		done(nil)
		return
	}
	p := policyOf(ctx.ActorSystem())
	if deadline.IsZero() {
		deadline = time.Now().Add(p.DescribeTimeout)
	}
	// Children answer by a deadline earlier than ours, so that we still
	// answer in time when one of them does not.
	wait := max(time.Until(deadline)*9/10, p.DescribeFloor)
	childDeadline := time.Now().Add(wait * 8 / 10)
	answers := make([]any, len(children))
	left := len(children)
	for i, child := range children {
		f := ctx.RequestFuture(child, ask(childDeadline), wait)
		ctx.ReenterAfter(f, func(res any, err error) {
			if err == nil {
				answers[i] = res
			}
			left--
			if left == 0 {
				done(answers)
			}
		})
	}
}

// answerDescribe answers the Describe being handled with n and, unless
// shallow, the descriptions of ctx's children.
func answerDescribe(ctx actor.Context, n *messages.Node) {
	req, _ := ctx.Message().(*messages.Describe)
	asker := ctx.Sender()
	children := ctx.Children()
	if req == nil || req.Shallow || len(children) == 0 {
		ctx.Respond(n)
		return
	}
	askChildren(ctx, children, req.Deadline, func(d time.Time) any { return &messages.Describe{Deadline: d} }, func(answers []any) {
		n.Children = make([]*messages.Node, len(children))
		for i, res := range answers {
			if node, ok := res.(*messages.Node); ok {
				n.Children[i] = node
			} else {
				n.Children[i] = &messages.Node{Path: children[i].Id, Kind: "unknown", State: "no answer"}
			}
		}
		if asker != nil {
			ctx.Send(asker, n)
		}
	})
}

// answerOwned answers the ListOwnedProcesses being handled with own plus
// what the children own; a child that did not answer is listed as silent,
// so that nobody judges the processes below it.
func answerOwned(ctx actor.Context, own []messages.OwnedProcess, children []*actor.PID) {
	req := ctx.Message().(*messages.ListOwnedProcesses)
	asker := ctx.Sender()
	askChildren(ctx, children, req.Deadline, func(d time.Time) any { return &messages.ListOwnedProcesses{Deadline: d} }, func(answers []any) {
		out := &messages.OwnedProcesses{Processes: own}
		for i, res := range answers {
			if o, ok := res.(*messages.OwnedProcesses); ok {
				out.Processes = append(out.Processes, o.Processes...)
				out.Silent = append(out.Silent, o.Silent...)
			} else {
				out.Silent = append(out.Silent, children[i].Id)
			}
		}
		if asker != nil {
			ctx.Send(asker, out)
		}
	})
}
