package actors

import (
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// rootActor is the top of the tree. It spawns the services, then the
// patrol, and on Shutdown stops them in order: the patrol first, so that
// every process is killed and its exit published while the services still
// run; then the services, newest first, each with a poison pill so it
// handles what is already in its mailbox (the recorder writes the last
// exits); then itself.
type rootActor struct {
	env      *Env
	cause    *stopCause
	done     chan struct{}
	patrol   *actor.PID
	services []*actor.PID // in spawn order
	stopping bool
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
	if a.env.Store != nil {
		a.spawnService(ctx, recorderProps(a.env), "recorder")
	}
	a.spawnService(ctx, reaperProps(a.env), "reaper")
	pid, err := ctx.SpawnNamed(patrolProps(a.env, a.cause), "patrol")
	if err != nil {
		a.env.Log.Error("spawn patrol", "reason", err.Error())
		return
	}
	a.patrol = pid
}

func (a *rootActor) spawnService(ctx actor.Context, props *actor.Props, name string) {
	pid, err := ctx.SpawnNamed(props, name)
	if err != nil {
		a.env.Log.Error("spawn "+name, "reason", err.Error())
		return
	}
	a.services = append(a.services, pid)
}

func (a *rootActor) onShutdown(ctx actor.Context, msg *messages.Shutdown) {
	if a.stopping {
		return
	}
	a.stopping = true
	a.env.Log.Info("shutting down", "reason", msg.Reason)
	a.cause.set(messages.StopShutdown)
	if a.patrol != nil {
		ctx.Stop(a.patrol)
		return
	}
	a.stopNextService(ctx)
}

// onTerminated continues the ordered shutdown as each part is gone.
func (a *rootActor) onTerminated(ctx actor.Context, msg *actor.Terminated) {
	if !a.stopping {
		return
	}
	if a.patrol != nil && msg.Who.Id == a.patrol.Id {
		a.patrol = nil
	}
	if n := len(a.services); n > 0 && msg.Who.Id == a.services[n-1].Id {
		a.services = a.services[:n-1]
	}
	if a.patrol == nil {
		a.stopNextService(ctx)
	}
}

func (a *rootActor) stopNextService(ctx actor.Context) {
	if len(a.services) == 0 {
		ctx.Stop(ctx.Self())
		return
	}
	ctx.Poison(a.services[len(a.services)-1])
}
