package actors

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"camvisor/actors/config"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// patrolActor is the parent of every subnet: stopping it stops the whole
// capture side of the tree, every ffmpeg process included. It applies a
// reload (ApplyConfig) in two steps, so that no camera ever has two actors
// (two budgets) at once: first every camera that goes or changes is
// retired by its subnet, and removed subnets stop; then the running
// subnets take their new settings and start the cameras they lack, and
// new subnets start.
type patrolActor struct {
	life
	env   *Env
	cause *stopCause

	subnets map[string]*actor.PID // by name
	reload  *patrolReload         // the reload being applied
	queued  []*patrolReload       // reloads asked meanwhile, applied in turn

	pauseTimers map[string]*time.Timer // each paused camera's end (patrol_pause.go)
}

// patrolReload is one ApplyConfig on its way.
type patrolReload struct {
	msg     *messages.ApplyConfig
	replyTo *actor.PID
	phase   int             // 1: retiring, 2: starting
	waiting map[string]bool // subnets whose answer (or end) is awaited
	timer   *time.Timer
}

// reloadPhaseDue fires when a reload's step took longer than RetireWait
// allows: the reload is answered with what did not finish.
type reloadPhaseDue struct{ reload *patrolReload }

func patrolProps(env *Env, parent *stopCause) *actor.Props {
	return actor.PropsFromProducer(lived(func() *patrolActor {
		return &patrolActor{env: env, cause: newStopCause(parent), subnets: map[string]*actor.PID{}, pauseTimers: map[string]*time.Timer{}}
	}), actor.WithSupervisor(env.Policy.Supervision.subnets()))
}

// Receive keeps one subnet child per configured subnet and applies reloads.
func (a *patrolActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *messages.ApplyConfig:
		a.onApplyConfig(ctx, msg)
	case *messages.CamerasRetired:
		a.onSubnetAnswered(ctx, msg.Subnet)
	case *messages.SubnetApplied:
		a.onSubnetAnswered(ctx, msg.Subnet)
	case *reloadPhaseDue:
		a.onReloadPhaseDue(ctx, msg)
	case *messages.PauseCamera: // patrol_pause.go
		a.onPauseCamera(ctx, msg)
	case *messages.ResumeCamera:
		a.onResumeCamera(ctx, msg)
	case *pauseDue:
		a.onPauseDue(ctx, msg)
	case *actor.Terminated:
		a.onTerminated(ctx, msg)
	case *messages.Describe:
		answerDescribe(ctx, a.node(ctx, "patrol", "running", map[string]any{"subnets": len(a.subnets)}))
	case *messages.ListOwnedProcesses:
		answerOwned(ctx, nil, ctx.Children())
	case *actor.Restarting:
		a.cause.set(messages.StopRestart)
		a.abandonReloads(ctx, "the patrol restarted")
		a.stopPauseTimers()
	case *actor.Stopping:
		a.abandonReloads(ctx, "the patrol stopped")
		a.stopPauseTimers()
	}
}

// onStarted spawns the subnets that run now: the configuration as last
// reloaded, also after a restart; and arms the end of every pause.
func (a *patrolActor) onStarted(ctx actor.Context) {
	a.armPauses(ctx)
	for _, sub := range a.env.Current().Subnets {
		a.spawnSubnet(ctx, sub)
	}
}

func (a *patrolActor) spawnSubnet(ctx actor.Context, sub config.Subnet) {
	pid, err := ctx.SpawnNamed(subnetProps(a.env, sub, a.cause), subnetName(sub.Name))
	if err != nil {
		a.env.Log.Error("spawn subnet", "subnet", sub.Name, "reason", err.Error())
		return
	}
	a.subnets[sub.Name] = pid
}

func (a *patrolActor) onApplyConfig(ctx actor.Context, msg *messages.ApplyConfig) {
	r := &patrolReload{msg: msg, replyTo: ctx.Sender()}
	if a.reload != nil {
		a.queued = append(a.queued, r)
		return
	}
	a.startReload(ctx, r)
}

// startReload is step 1: retire what goes or changes.
func (a *patrolActor) startReload(ctx actor.Context, r *patrolReload) {
	a.reload, r.phase, r.waiting = r, 1, map[string]bool{}
	ch := r.msg.Changes
	for _, name := range ch.RemovedSubnets {
		if pid := a.subnets[name]; pid != nil {
			r.waiting[name] = true
			ctx.Send(pid, &messages.RetireSubnet{Reason: r.msg.Reason})
		}
	}
	for name, cams := range ch.Retire {
		if pid := a.subnets[name]; pid != nil && len(cams) > 0 {
			r.waiting[name] = true
			ctx.Request(pid, &messages.RetireCameras{Cameras: cams, Reason: r.msg.Reason})
		}
	}
	a.armPhase(ctx, r)
	a.advance(ctx)
}

// armPhase bounds a step (Policy.reloadStep).
func (a *patrolActor) armPhase(ctx actor.Context, r *patrolReload) {
	stopTimer(r.timer)
	r.timer = after(ctx.ActorSystem(), ctx.Self(), a.env.Policy.reloadStep(a.env.Config.FFmpeg), &reloadPhaseDue{reload: r})
}

// advance goes to the next step once the current one is done.
func (a *patrolActor) advance(ctx actor.Context) {
	r := a.reload
	if r == nil || len(r.waiting) > 0 {
		return
	}
	if r.phase == 1 {
		r.phase = 2
		a.startPhase2(ctx, r)
		if len(r.waiting) > 0 {
			a.armPhase(ctx, r)
			return
		}
	}
	a.finishReload(ctx, "")
}

// startPhase2 is step 2: running subnets take their new settings and
// start the cameras they lack; new subnets start.
func (a *patrolActor) startPhase2(ctx actor.Context, r *patrolReload) {
	for _, sub := range r.msg.Next.Subnets {
		pid := a.subnets[sub.Name]
		if pid == nil {
			a.spawnSubnet(ctx, sub)
			continue
		}
		r.waiting[sub.Name] = true
		ctx.Request(pid, &messages.ApplySubnet{Subnet: sub})
	}
}

func (a *patrolActor) onSubnetAnswered(ctx actor.Context, subnet string) {
	if a.reload == nil {
		return
	}
	delete(a.reload.waiting, subnet)
	a.advance(ctx)
}

// onTerminated forgets a subnet that stopped (retired by a reload).
func (a *patrolActor) onTerminated(ctx actor.Context, msg *actor.Terminated) {
	for name, pid := range a.subnets {
		if pid.Id == msg.Who.Id {
			delete(a.subnets, name)
			if a.reload != nil && a.reload.phase == 1 {
				delete(a.reload.waiting, name)
			}
		}
	}
	a.advance(ctx)
}

func (a *patrolActor) onReloadPhaseDue(ctx actor.Context, msg *reloadPhaseDue) {
	r := a.reload
	if r == nil || r != msg.reload {
		return
	}
	waiting := make([]string, 0, len(r.waiting))
	for name := range r.waiting {
		waiting = append(waiting, name)
	}
	slices.Sort(waiting)
	step := "retiring cameras"
	if r.phase == 2 {
		step = "starting cameras"
	}
	a.finishReload(ctx, fmt.Sprintf("subnets %s did not finish %s in time", strings.Join(waiting, ", "), step))
}

// finishReload answers the reload and starts the next queued one.
func (a *patrolActor) finishReload(ctx actor.Context, errText string) {
	r := a.reload
	a.reload = nil
	stopTimer(r.timer)
	if r.replyTo != nil {
		ctx.Send(r.replyTo, &messages.ConfigApplied{Error: errText})
	}
	if len(a.queued) > 0 {
		next := a.queued[0]
		a.queued = a.queued[1:]
		a.startReload(ctx, next)
	}
}

// abandonReloads answers every reload under way: the patrol's next
// incarnation starts what the configuration says.
func (a *patrolActor) abandonReloads(ctx actor.Context, why string) {
	for _, r := range append([]*patrolReload{a.reload}, a.queued...) {
		if r == nil {
			continue
		}
		stopTimer(r.timer)
		if r.replyTo != nil {
			ctx.Send(r.replyTo, &messages.ConfigApplied{Error: why})
		}
	}
	a.reload, a.queued = nil, nil
}
