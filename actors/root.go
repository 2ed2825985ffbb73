package actors

import (
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// rootActor is the top of the tree. It spawns the services and the patrol,
// and on Shutdown stops them in order: the patrol first, so that every
// process is killed and its exit recorded while the services still run.
type rootActor struct {
	env    *Env
	cause  *stopCause
	done   chan struct{}
	patrol *actor.PID
}

func rootProps(env *Env, done chan struct{}) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &rootActor{env: env, cause: newStopCause(nil), done: done}
	}, actor.WithSupervisor(restartWithBackoff()))
}

// Receive handles one message.
func (a *rootActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *messages.Shutdown:
		a.onShutdown(ctx, msg)
	case *actor.Terminated:
		a.onTerminated(ctx, msg)
	case *actor.Stopping:
		a.cause.set(messages.StopShutdown)
	case *actor.Stopped:
		close(a.done)
	}
}

func (a *rootActor) onStarted(ctx actor.Context) {
	pid, err := ctx.SpawnNamed(patrolProps(a.env, a.cause), "patrol")
	if err != nil {
		a.env.Log.Error("spawn patrol", "reason", err.Error())
		return
	}
	a.patrol = pid
}

func (a *rootActor) onShutdown(ctx actor.Context, msg *messages.Shutdown) {
	a.env.Log.Info("shutting down", "reason", msg.Reason)
	a.cause.set(messages.StopShutdown)
	if a.patrol == nil {
		ctx.Stop(ctx.Self())
		return
	}
	ctx.Stop(a.patrol)
}

// onTerminated continues the ordered shutdown once the patrol is gone.
func (a *rootActor) onTerminated(ctx actor.Context, msg *actor.Terminated) {
	if a.patrol != nil && msg.Who.Id == a.patrol.Id {
		a.patrol = nil
		ctx.Stop(ctx.Self())
	}
}
