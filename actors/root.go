package actors

import (
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
)

// rootActor is the top of the tree. It spawns the services, then the
// patrol, and on Shutdown stops them in order: the patrol first, so that
// every process is killed and its exit published while the services still
// run; then the services, newest first, each with a poison pill so it
// handles what is already in its mailbox (the recorder writes the last
// exits); then itself.
type rootActor struct {
	life
	env      *Env
	cause    *stopCause
	done     chan struct{}
	patrol   *actor.PID
	services []*actor.PID // in spawn order
	subs     []*eventstream.Subscription
	stopping bool
}

func rootProps(env *Env, done chan struct{}) *actor.Props {
	return actor.PropsFromProducer(lived(func() *rootActor {
		return &rootActor{env: env, cause: newStopCause(nil), done: done}
	}), actor.WithSupervisor(restartWithBackoff()))
}

// Receive handles one message.
func (a *rootActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *messages.Shutdown:
		a.onShutdown(ctx, msg)
	case *messages.Describe:
		state := "running"
		if a.stopping {
			state = "stopping"
		}
		answerDescribe(ctx, a.node(ctx, "root", state, map[string]any{"run": a.env.RunID}))
	case *actor.Terminated:
		a.onTerminated(ctx, msg)
	case *actor.Stopping:
		a.cause.set(messages.StopShutdown)
	case *actor.Stopped:
		for _, sub := range a.subs {
			ctx.ActorSystem().EventStream.Unsubscribe(sub)
		}
		close(a.done)
	}
}

func (a *rootActor) onStarted(ctx actor.Context) {
	if a.env.Store != nil {
		a.spawnService(ctx, recorderProps(a.env), "recorder", recorded)
	}
	a.spawnService(ctx, reaperProps(a.env), "reaper", reaperWants)
	a.spawnService(ctx, alertsProps(a.env), "alerts", alertsWant)
	a.spawnService(ctx, metricsProps(a.env), "metrics", metricsWant)
	if a.env.Config.Go2RTC.Enabled() {
		a.spawnService(ctx, gatewayProps(a.env), "gateway", gatewayWants)
	}
	a.spawnService(ctx, detectorProps(a.env), "detector", detectorWants)
	a.spawnService(ctx, playbackProps(a.env), "playback", playbackWants)
	a.spawnService(ctx, hubProps(a.env), "hub", hubWants)
	// Processes an earlier run left hold camera connections: the reaper
	// sweeps them away before the first cycle.
	f := ctx.RequestFuture(ctx.ActorSystem().NewLocalPID(RootName+"/reaper"), &messages.Sweep{}, 15*time.Second)
	ctx.ReenterAfter(f, func(res any, err error) {
		if err != nil {
			a.env.Log.Error("start-up sweep did not finish; starting the patrol anyway", "reason", err.Error())
		}
		if a.stopping {
			return
		}
		pid, err := ctx.SpawnNamed(patrolProps(a.env, a.cause), "patrol")
		if err != nil {
			a.env.Log.Error("spawn patrol", "reason", err.Error())
			return
		}
		a.patrol = pid
	})
}

// spawnService spawns a service and subscribes it to the facts it wants,
// here and now: a subscription made in the service's own Started could
// miss the patrol's first facts, as Started runs asynchronously.
func (a *rootActor) spawnService(ctx actor.Context, props *actor.Props, name string, wants func(any) bool) {
	pid, err := ctx.SpawnNamed(props, name)
	if err != nil {
		a.env.Log.Error("spawn "+name, "reason", err.Error())
		return
	}
	a.services = append(a.services, pid)
	if wants != nil {
		a.subs = append(a.subs, forward(ctx.ActorSystem(), pid, wants))
	}
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
