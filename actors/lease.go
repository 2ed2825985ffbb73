package actors

import (
	"time"

	"camvisor/actors/config"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// leaseActor is one live view of a camera: one go2rtc stream, holding one
// of the camera's slots from the moment it is spawned until it stops. At
// its end time (or when released) it tells the gateway the stream expired
// (removed at the next cycle end) and stops only once go2rtc shows no
// viewer: until then the camera connection may still be open.
type leaseActor struct {
	life
	env      *Env
	cam      config.SubnetCamera
	stream   string
	until    time.Time
	gateway  *actor.PID
	live     bool
	draining bool
	timer    *time.Timer
	drainAt  time.Time
	warned   bool
}

// Internal messages.
type (
	leaseDue    struct{}
	drainCheck  struct{}
	drainSettle struct{}
)

// Lease drain policy.
const (
	drainPoll      = 250 * time.Millisecond
	drainSettleFor = 200 * time.Millisecond // go2rtc closes the camera connection ~60 ms after the last viewer
	drainWarnAfter = 10 * time.Second
)

func leaseProps(env *Env, cam config.SubnetCamera, until time.Time, gateway *actor.PID) *actor.Props {
	return actor.PropsFromProducer(lived(func() *leaseActor {
		return &leaseActor{env: env, cam: cam, stream: StreamName(cam.ID), until: until, gateway: gateway}
	}))
}

// Receive handles one message.
func (a *leaseActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		ctx.Request(a.gateway, &messages.AddStream{Stream: a.stream, Camera: a.cam.ID, Subnet: a.cam.Subnet, Source: a.cam.URL})
	case *messages.StreamAdded:
		a.onStreamAdded(ctx, msg)
	case *messages.GrantLease:
		a.onExtend(ctx, msg)
	case *messages.ReleaseLease:
		a.drain(ctx, "released: "+msg.Reason)
	case *leaseDue:
		a.onLeaseDue(ctx)
	case *drainCheck:
		ctx.Request(a.gateway, &messages.CountViewers{Stream: a.stream})
	case *messages.ViewersCounted:
		a.onViewersCounted(ctx, msg)
	case *drainSettle:
		ctx.Stop(ctx.Self())
	case *messages.Describe:
		state := map[bool]string{true: "live", false: "registering"}[a.live]
		if a.draining {
			state = "draining"
		}
		answerDescribe(ctx, a.node(ctx, "lease", state, map[string]any{"camera": a.cam.ID, "stream": a.stream, "until": a.until}))
	case *actor.Stopping, *actor.Restarting:
		a.onStopping(ctx)
	}
}

func (a *leaseActor) onStreamAdded(ctx actor.Context, msg *messages.StreamAdded) {
	if msg.Error != "" {
		ctx.Request(ctx.Parent(), &messages.LeaseFailed{Reason: msg.Error})
		ctx.Stop(ctx.Self())
		return
	}
	a.live = true
	ctx.Request(ctx.Parent(), &messages.LeaseRegistered{Stream: a.stream})
	a.timer = after(ctx.ActorSystem(), ctx.Self(), time.Until(a.until), &leaseDue{})
}

func (a *leaseActor) onExtend(ctx actor.Context, msg *messages.GrantLease) {
	if msg.Until.After(a.until) {
		a.until = msg.Until
	}
}

func (a *leaseActor) onLeaseDue(ctx actor.Context) {
	if left := time.Until(a.until); left > 0 { // extended meanwhile
		a.timer = after(ctx.ActorSystem(), ctx.Self(), left, &leaseDue{})
		return
	}
	a.drain(ctx, "expired")
}

// drain ends the playback: the gateway removes the stream at the next
// cycle end; the slot is held until no viewer is attached.
func (a *leaseActor) drain(ctx actor.Context, reason string) {
	if a.draining {
		return
	}
	a.draining = true
	if a.timer != nil {
		a.timer.Stop()
	}
	ctx.Request(ctx.Parent(), &messages.LeaseDraining{Reason: reason})
	if !a.live {
		ctx.Stop(ctx.Self())
		return
	}
	ctx.Send(a.gateway, &messages.StreamExpired{Stream: a.stream, Subnet: a.cam.Subnet})
	a.drainAt = time.Now()
	ctx.Request(a.gateway, &messages.CountViewers{Stream: a.stream})
}

func (a *leaseActor) onViewersCounted(ctx actor.Context, msg *messages.ViewersCounted) {
	if msg.Error != "" || msg.Consumers == 0 {
		// Nobody watches (or go2rtc cannot tell: it is down, and so is the
		// connection): let the camera connection close, then free the slot.
		a.timer = after(ctx.ActorSystem(), ctx.Self(), drainSettleFor, &drainSettle{})
		return
	}
	if !a.warned && time.Since(a.drainAt) > drainWarnAfter {
		a.warned = true
		a.env.Log.Warn("viewer still attached after the live view ended: its slot stays held", "camera", a.cam.ID, "stream", a.stream, "viewers", msg.Consumers)
	}
	a.timer = after(ctx.ActorSystem(), ctx.Self(), drainPoll, &drainCheck{})
}

func (a *leaseActor) onStopping(ctx actor.Context) {
	if a.timer != nil {
		a.timer.Stop()
	}
	if a.live && !a.draining {
		// Stopped with its camera: the stream must still leave go2rtc.
		ctx.Send(a.gateway, &messages.StreamExpired{Stream: a.stream, Subnet: a.cam.Subnet})
	}
}
