package actors

import (
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

// service is one child of the root besides the patrol.
type service struct {
	name  string
	props func(*Env) *actor.Props
	wants func(fact any) bool // the facts it is subscribed to; nil for none
	runs  func(*Env) bool     // whether this tree has it; nil for always
}

// services are the root's children, declared once: spawned in this order
// before the patrol, stopped in the reverse order after it (the recorder
// last, so it writes every exit). Each is restarted by Policy.Supervision.Services.
var services = []service{
	{name: RecorderName, props: recorderProps, wants: recorded, runs: func(e *Env) bool { return e.Store != nil }},
	{name: ReaperName, props: reaperProps, wants: reaperWants},
	{name: AdmissionName, props: admissionProps},
	{name: AlertsName, props: alertsProps, wants: alertsWant},
	{name: MetricsName, props: metricsProps, wants: metricsWant},
	{name: MQTTName, props: mqttProps, wants: mqttWants, runs: func(e *Env) bool { return e.Config.MQTT.Enabled() }},
	{name: GatewayName, props: gatewayProps, wants: gatewayWants, runs: func(e *Env) bool { return e.Config.Go2RTC.Enabled() }},
	{name: DetectorName, props: detectorProps, wants: detectorWants, runs: func(e *Env) bool { return e.Config.Detector.Kind != "off" }},
	{name: PlaybackName, props: playbackProps, wants: playbackWants},
	{name: HubName, props: hubProps, wants: hubWants},
	// Last: stopped first after the patrol, whose cameras are gone by then,
	// so it releases their keys while the recorder still writes.
	{name: MembershipName, props: membershipProps, wants: membershipWants, runs: func(e *Env) bool { return e.Config.Cluster.Enabled() }},
}

func rootProps(env *Env, done chan struct{}) *actor.Props {
	return actor.PropsFromProducer(lived(func() *rootActor {
		return &rootActor{env: env, cause: newStopCause(nil), done: done}
	}), actor.WithSupervisor(env.Policy.Supervision.rootChildren()))
}

// Receive starts the services and the patrol, and stops them in order.
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
	for _, svc := range services {
		if svc.runs == nil || svc.runs(a.env) {
			a.spawnService(ctx, svc)
		}
	}
	// Processes an earlier run left hold camera connections: the reaper
	// sweeps them away before the first cycle.
	f := ctx.RequestFuture(a.env.peers.reaper, &messages.Sweep{}, a.env.Policy.StartupSweep)
	ctx.ReenterAfter(f, func(res any, err error) {
		if err != nil {
			a.env.Log.Error("start-up sweep did not finish; starting the patrol anyway", "reason", err.Error())
		}
		if a.stopping {
			return
		}
		pid, err := ctx.SpawnNamed(patrolProps(a.env, a.cause), PatrolName)
		if err != nil {
			a.env.Log.Error("spawn patrol", "reason", err.Error())
			return
		}
		a.patrol = pid
		select {
		case <-a.env.patrolling: // a restarted root spawns the patrol again
		default:
			close(a.env.patrolling)
		}
	})
}

// spawnService spawns a service and subscribes it to the facts it wants,
// here and now: a subscription made in the service's own Started could
// miss the patrol's first facts, as Started runs asynchronously.
func (a *rootActor) spawnService(ctx actor.Context, svc service) {
	pid, err := ctx.SpawnNamed(svc.props(a.env), svc.name)
	if err != nil {
		a.env.Log.Error("spawn "+svc.name, "reason", err.Error())
		return
	}
	a.services = append(a.services, pid)
	if svc.wants != nil {
		a.subs = append(a.subs, forward(ctx.ActorSystem(), pid, svc.wants))
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
