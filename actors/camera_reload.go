package actors

import (
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// A camera's side of a reload: retired for good when it is removed from
// the configuration, moved to another subnet or changed (its successor is
// a new actor with the new settings). Its processes are killed and reaped
// at once (stop reason reload); a live view is drained first — the
// dashboards are told to stop, the slot is held until go2rtc shows no
// viewer — for at most Policy.RetireWait.

func (a *cameraActor) onRetireCamera(ctx actor.Context, msg *messages.RetireCamera) {
	a.cause.set(messages.StopReload)
	if a.lease == nil {
		ctx.Stop(ctx.Self())
		return
	}
	if a.retiring != nil {
		return
	}
	// Nothing new starts; what runs is stopped now.
	a.windDown(ctx, messages.StopReload)
	a.carry.drain = false // no next instance: the drain happens here
	for _, c := range ctx.Children() {
		if a.captureChild(c) != nil {
			ctx.Stop(c)
		}
	}
	ctx.Send(a.lease, &messages.ReleaseLease{Camera: a.cam.ID, Reason: "camera removed or changed by a reload: " + msg.Reason})
	a.retiring = after(ctx.ActorSystem(), ctx.Self(), a.env.Policy.RetireWait, &retireDue{})
}

// onLeaseDrained stops a retiring camera once its live view is over.
func (a *cameraActor) onLeaseDrained(ctx actor.Context) {
	if a.retiring != nil {
		a.retiring.Stop()
		ctx.Stop(ctx.Self())
	}
}

func (a *cameraActor) onRetireDue(ctx actor.Context) {
	a.env.Log.Warn("live view still draining: the retired camera stops anyway", "camera", a.cam.ID, "waited", a.env.Policy.RetireWait.String())
	ctx.Stop(ctx.Self())
}

// onSetInterval takes the subnet's new interval, for this incarnation and
// the next.
func (a *cameraActor) onSetInterval(msg *messages.SetInterval) {
	a.cam.Interval = msg.Interval
	a.carry.interval = msg.Interval
}

// interval is the subnet's interval as last set.
func (c *cameraCarry) intervalOr(d time.Duration) time.Duration {
	if c.interval > 0 {
		return c.interval
	}
	return d
}
