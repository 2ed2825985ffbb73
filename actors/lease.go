package actors

import (
	"time"

	"camvisor/actors/config"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// leaseActor is one live view of a camera: one go2rtc stream, holding one
// of the camera's slots from the moment it is spawned until it stops. At
// its end time (or when released) it drains: the gateway stops taking
// frames through the stream, and the lease waits until go2rtc shows no
// viewer, because the camera connection lasts as long as one watches. Only
// then does it tell the gateway the stream expired (removed at the next
// cycle end) and give its slot back. The stream stays registered while it
// drains: go2rtc shows the viewers of registered streams only.
type leaseActor struct {
	life
	env       *Env
	cam       config.SubnetCamera
	stream    string
	until     time.Time
	gateway   *actor.PID
	live      bool
	draining  bool
	timer     *time.Timer
	drainAt   time.Time
	warned    bool
	drainOnly bool // left by a previous incarnation: only wait for the viewers to leave
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
	// drainBlindFor bounds how long a slot stays held while go2rtc cannot
	// say how many viewers there are (down or slow): past it, the stream's
	// connection is presumed gone with go2rtc.
	drainBlindFor = 30 * time.Second
)

// registerTimeout is how long a lease waits for the gateway to register
// its stream: a few go2rtc requests, each bounded by request_timeout.
func registerTimeout(env *Env) time.Duration {
	return 3*env.Config.Go2RTC.RequestTimeout.Duration + time.Second
}

// registerDue fires when the registration took too long.
type registerDue struct{}

func leaseProps(env *Env, cam config.SubnetCamera, until time.Time, gateway *actor.PID, drainOnly bool) *actor.Props {
	return actor.PropsFromProducer(lived(func() *leaseActor {
		return &leaseActor{env: env, cam: cam, stream: StreamName(cam.ID), until: until, gateway: gateway, drainOnly: drainOnly}
	}))
}

// Receive handles one message.
func (a *leaseActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *registerDue:
		if !a.live && !a.draining {
			ctx.Request(ctx.Parent(), &messages.LeaseFailed{Reason: "go2rtc did not register the stream in time"})
			a.drain(ctx, "registration timed out")
		}
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
		a.expire(ctx)
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

func (a *leaseActor) onStarted(ctx actor.Context) {
	if a.drainOnly {
		a.live = true // as far as go2rtc goes: it may have viewers
		a.drain(ctx, "drained after a restart")
		return
	}
	ctx.Request(a.gateway, &messages.AddStream{Stream: a.stream, Camera: a.cam.ID, Subnet: a.cam.Subnet, Source: a.cam.URL})
	a.timer = after(ctx.ActorSystem(), ctx.Self(), registerTimeout(a.env), &registerDue{})
}

func (a *leaseActor) onStreamAdded(ctx actor.Context, msg *messages.StreamAdded) {
	if a.draining {
		return // too late: it ended (timed out, released) before this answer
	}
	if a.timer != nil {
		a.timer.Stop()
	}
	if msg.Error != "" {
		ctx.Request(ctx.Parent(), &messages.LeaseFailed{Reason: msg.Error})
		a.drain(ctx, "refused")
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
		// Never registered, but an addition may still be under way: the
		// gateway removes what it registers for us.
		a.expire(ctx)
		return
	}
	ctx.Send(a.gateway, &messages.StreamDraining{Stream: a.stream})
	a.drainAt = time.Now()
	ctx.Request(a.gateway, &messages.CountViewers{Stream: a.stream})
}

// expire ends the lease: the stream goes at the next cycle end, the slot
// now.
func (a *leaseActor) expire(ctx actor.Context) {
	ctx.Send(a.gateway, &messages.StreamExpired{Stream: a.stream, Subnet: a.cam.Subnet})
	ctx.Stop(ctx.Self())
}

func (a *leaseActor) onViewersCounted(ctx actor.Context, msg *messages.ViewersCounted) {
	blindTooLong := msg.Error != "" && time.Since(a.drainAt) > drainBlindFor
	if msg.Consumers == 0 && (msg.Error == "" || blindTooLong) {
		// Nobody watches (or go2rtc could not tell for long enough: it is
		// gone, and its connection with it): let the camera connection
		// close, then free the slot.
		if blindTooLong {
			a.env.Log.Warn("go2rtc cannot say whether the live view has viewers; freeing its slot", "camera", a.cam.ID, "reason", msg.Error)
		}
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
	switch {
	case a.draining:
	case a.live:
		// Stopped with its camera: the camera's next instance drains it (a
		// viewer may still hold the connection) and expires the stream.
		ctx.Send(a.gateway, &messages.StreamDraining{Stream: a.stream})
	default:
		ctx.Send(a.gateway, &messages.StreamExpired{Stream: a.stream, Subnet: a.cam.Subnet})
	}
}
