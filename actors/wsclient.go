package actors

import (
	"fmt"
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gorilla/websocket"
)

// wsClientActor owns one dashboard's WebSocket. A writer goroutine drains
// a bounded queue to the socket; when the queue is full the client is too
// slow and is dropped, so no dashboard slows the hub or the patrol. A
// reader goroutine hands every incoming message back to the actor, which
// accepts only known types and closes the connection, with the reason, on
// anything else.
type wsClientActor struct {
	life
	env     *Env
	sock    Socket
	remote  string
	initial [][]byte // sent before anything else
	out     chan []byte
	reason  string // why the connection ends, sent in the close frame
}

// Internal messages.
type (
	outbound struct{ data []byte }
	inbound  struct {
		data   []byte
		binary bool // a binary frame: the dashboard speaks JSON text only
	}
	socketEnded struct{ err error }
)

func wsClientProps(env *Env, sock Socket, remote string, initial [][]byte) *actor.Props {
	return actor.PropsFromProducer(lived(func() *wsClientActor {
		return &wsClientActor{env: env, sock: sock, remote: remote, initial: initial}
	}))
}

// Receive writes the hub's messages to its dashboard, bounded by its queue.
func (a *wsClientActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *outbound:
		a.onOutbound(ctx, msg)
	case *inbound:
		a.onInbound(ctx, msg)
	case *messages.Describe:
		answerDescribe(ctx, a.node(ctx, "client", "running", map[string]any{"remote": a.remote, "queued": len(a.out)}))
	case *socketEnded:
		if a.reason == "" {
			a.reason = "connection closed"
		}
		ctx.Stop(ctx.Self())
	case *actor.Stopping, *actor.Restarting:
		a.onStopping(ctx)
	}
}

func (a *wsClientActor) onStarted(ctx actor.Context) {
	a.out = make(chan []byte, a.env.Policy.Hub.ClientQueue+len(a.initial))
	for _, data := range a.initial {
		a.out <- data
	}
	a.initial = nil
	system, self, out := ctx.ActorSystem(), ctx.Self(), a.out
	go func() { // writer: one at a time, as the socket requires; the channel is a local, the field is dropped on stop
		for data := range out {
			_ = a.sock.SetWriteDeadline(time.Now().Add(a.env.Policy.Hub.WriteTimeout))
			if err := a.sock.WriteMessage(websocket.TextMessage, data); err != nil {
				system.Root.Send(self, &socketEnded{err: err})
				return
			}
		}
	}()
	go func() { // reader
		for {
			kind, data, err := a.sock.ReadMessage()
			if err != nil {
				system.Root.Send(self, &socketEnded{err: err})
				return
			}
			system.Root.Send(self, &inbound{data: data, binary: kind != websocket.TextMessage})
		}
	}()
	a.env.Log.Debug("dashboard connected", "client", self.Id, "remote", a.remote)
	system.EventStream.Publish(&messages.ClientJoined{Client: self.Id, Remote: a.remote})
}

// onOutbound queues a message, or drops the client when it fell behind.
func (a *wsClientActor) onOutbound(ctx actor.Context, msg *outbound) {
	if a.reason != "" {
		return
	}
	select {
	case a.out <- msg.data:
	default:
		a.reason = fmt.Sprintf("too slow: %d messages waiting", len(a.out))
		a.env.Log.Warn("dashboard dropped", "client", ctx.Self().Id, "remote", a.remote, "reason", a.reason)
		ctx.Stop(ctx.Self())
	}
}

// onInbound passes a dashboard's command on (the Stop button) or answers
// its ping; anything the wire format refuses closes the connection with
// the reason.
func (a *wsClientActor) onInbound(ctx actor.Context, msg *inbound) {
	if a.env.Wire == nil {
		a.close(ctx, "no wire format")
		return
	}
	if msg.binary {
		a.close(ctx, "binary frames are not accepted: JSON text messages only")
		return
	}
	cmd, err := a.env.Wire.Decode(msg.data)
	if err != nil {
		a.close(ctx, err.Error())
		return
	}
	switch m := cmd.(type) {
	case *messages.StopPlayback:
		ctx.Send(a.env.peers.playback, m)
	case ClientPing:
		if data, ok := a.env.Wire.Encode(ClientPong{}); ok {
			ctx.Send(ctx.Self(), &outbound{data: data})
		}
	default:
		a.close(ctx, fmt.Sprintf("unsupported command %T", cmd))
	}
}

func (a *wsClientActor) close(ctx actor.Context, reason string) {
	a.reason = reason
	ctx.Stop(ctx.Self())
}

// onStopping sends the close frame with the reason and closes the socket,
// which ends both goroutines.
func (a *wsClientActor) onStopping(ctx actor.Context) {
	code := websocket.ClosePolicyViolation
	switch {
	case a.reason == "" || a.reason == "connection closed":
		code = websocket.CloseGoingAway
	case len(a.reason) > 8 && a.reason[:8] == "too slow":
		code = websocket.CloseTryAgainLater
	}
	reason := a.reason
	if len(reason) > 120 { // a close frame's payload is at most 125 bytes
		reason = reason[:120]
	}
	_ = a.sock.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(a.env.Policy.Hub.CloseTimeout))
	_ = a.sock.Close()
	if a.out != nil {
		close(a.out)
		a.out = nil
	}
	ctx.ActorSystem().EventStream.Publish(&messages.ClientLeft{Client: ctx.Self().Id, Reason: a.reason})
}
