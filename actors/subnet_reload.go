package actors

import (
	"slices"
	"time"

	"camvisor/actors/config"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// A subnet's side of a reload: cameras retired for good (removed, moved to
// another subnet, changed: their actor stops, its processes killed and
// reaped, its live view drained, its go2rtc streams removed), new settings
// taken from the next cycle on, new cameras started. Cameras the reload
// does not name are not touched: their captures go on.

// onRetireCameras retires the named cameras and answers CamerasRetired
// once they are gone.
func (a *subnetActor) onRetireCameras(ctx actor.Context, msg *messages.RetireCameras) {
	for _, id := range msg.Cameras {
		a.retireCamera(ctx, id, msg.Reason)
	}
	if ctx.Sender() != nil {
		a.retirers = append(a.retirers, ctx.Sender())
	}
	a.retireDone(ctx)
}

// onRetireSubnet retires every camera, then ends the cycle under way (a
// cycle always ends with CycleEnded) and stops the subnet.
func (a *subnetActor) onRetireSubnet(ctx actor.Context, msg *messages.RetireSubnet) {
	a.retired = true
	a.cause.set(messages.StopReload)
	for id := range a.cameras {
		a.retireCamera(ctx, id, msg.Reason)
	}
	a.retireDone(ctx)
}

// retireCamera asks a camera to stop for good. It leaves the cycle now:
// a capture it was asked for is answered as it stops.
func (a *subnetActor) retireCamera(ctx actor.Context, id, reason string) {
	pid := a.cameras[id]
	if pid == nil {
		return
	}
	delete(a.cameras, id)
	a.retiring[pid.Id] = id
	a.env.Log.Info("camera retiring: removed or changed by a config reload", "subnet", a.sub.Name, "camera", id, "reason", reason)
	ctx.Send(pid, &messages.RetireCamera{Reason: reason})
	if c := a.cur; c != nil {
		c.pending = slices.DeleteFunc(c.pending, func(p string) bool { return p == id })
	}
	a.skipped = slices.DeleteFunc(a.skipped, func(p string) bool { return p == id })
	delete(a.asked, id)
	delete(a.durations, id)
}

// isRetiring reports whether camera id's actor is on its way out.
func (a *subnetActor) isRetiring(id string) bool {
	for _, r := range a.retiring {
		if r == id {
			return true
		}
	}
	return false
}

// onCameraGone notes a retired camera's end (its processes are reaped:
// an actor stops only after its children).
func (a *subnetActor) onCameraGone(ctx actor.Context, msg *actor.Terminated) {
	if a.onDisownedGone(ctx, msg) {
		return
	}
	id, ok := a.retiring[msg.Who.Id]
	if !ok {
		return
	}
	delete(a.retiring, msg.Who.Id)
	if a.released == nil {
		a.released = []string{}
	}
	a.released = append(a.released, id)
	a.retireDone(ctx)
}

// retireDone answers the retirements once no retired camera is left: the
// gateway removes their streams, whoever asked is told, and a retired
// subnet ends its cycle and stops.
func (a *subnetActor) retireDone(ctx actor.Context) {
	if len(a.retiring) > 0 {
		return
	}
	if len(a.released) > 0 && a.env.Config.Go2RTC.Enabled() {
		ctx.Send(a.env.peers.gateway, &messages.ReleaseCameras{Subnet: a.sub.Name, Cameras: a.released,
			Reason: "camera removed or changed by a reload"})
	}
	a.released = nil
	for _, r := range a.retirers {
		ctx.Send(r, &messages.CamerasRetired{Subnet: a.sub.Name})
	}
	a.retirers = nil
	if !a.retired {
		return
	}
	if a.cur != nil {
		a.end(ctx)
	}
	if a.tooShort {
		a.tooShort = false
		ctx.ActorSystem().EventStream.Publish(&messages.IntervalChecked{Subnet: a.sub.Name, Interval: a.sub.Interval.Duration,
			Concurrency: a.sub.Concurrency, At: time.Now()})
	}
	a.env.Log.Info("subnet stopped: removed by a config reload", "subnet", a.sub.Name)
	ctx.Stop(ctx.Self())
}

// onApplySubnet takes the subnet's new settings (from the next cycle on)
// and starts the cameras it lacks; a cycle under way visits them too.
func (a *subnetActor) onApplySubnet(ctx actor.Context, msg *messages.ApplySubnet) {
	old := a.sub
	a.sub = msg.Subnet
	a.via = a.env.Config.PatrolVia(a.sub)
	for _, cam := range a.sub.Cameras {
		pid := a.cameras[cam.ID]
		switch {
		case pid == nil && !a.env.owns(cam.ID): // another node runs it (membership.go)
		case pid == nil:
			a.spawnCamera(ctx, cam)
			if c := a.cur; c != nil && !c.waiting[cam.ID] && !slices.Contains(c.pending, cam.ID) {
				c.pending = append(c.pending, cam.ID)
			}
		case old.Interval != a.sub.Interval:
			ctx.Send(pid, &messages.SetInterval{Interval: a.sub.Interval.Duration})
		}
	}
	// A camera the new settings lack and no reload retired (none should
	// be left): retired now, and not waited for.
	for id := range a.cameras {
		if !slices.ContainsFunc(a.sub.Cameras, func(c config.Camera) bool { return c.ID == id }) {
			a.retireCamera(ctx, id, "not in the reloaded configuration")
		}
	}
	if old.Interval != a.sub.Interval && a.cur == nil && a.timer != nil {
		a.timer.Stop()
		a.timer = after(ctx.ActorSystem(), ctx.Self(), time.Until(a.started.Add(a.sub.Interval.Duration)), &cycleDue{})
	}
	ctx.Respond(&messages.SubnetApplied{Subnet: a.sub.Name})
	if a.cur != nil {
		a.ask(ctx)
		a.endIfDone(ctx)
	}
}
