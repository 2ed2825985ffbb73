package actors

import (
	"net/url"
	"time"

	"camvisor/actors/config"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// leaseActor is one live view of a camera, and the single owner of its
// state: its stream, its end time, whether it is registered, live or
// ending, and why it ended. Its camera only counts the slot it holds: one,
// from the moment it is spawned until it stops. The lease answers every
// request for a live view of its camera (the first, and extensions), takes
// the frames the camera asks of it through go2rtc while it is live, and
// publishes its own facts (LeaseGranted, LeaseEnding, LeaseEnded).
//
// At its end time (or when released) it drains: it serves no more frames,
// and waits until go2rtc shows no viewer, because the camera connection
// lasts as long as one watches. Only then does it tell the gateway the
// stream expired (removed at the next cycle end) and stop, giving its slot
// back. The stream stays registered while it drains: go2rtc shows the
// viewers of registered streams only.
//
// A lease that rides a stream the camera declares (cameras[].go2rtc_streams:
// the operator's own, which go2rtc has) registers nothing: it is live at
// once and plays that stream. Its viewers cannot be told from the
// operator's, so it does not wait for them to leave: it stops after
// DrainSettle, and the camera counts that stream's connection as go2rtc's
// (external) until a look says it closed.
type leaseActor struct {
	life
	env   *Env
	cam   config.SubnetCamera
	cause *stopCause // the camera's: why we are being stopped

	id        int64 // unique within the run; 0 for a drain-only lease
	stream    string
	rides     bool // stream is one the camera declares: nothing registered, nothing removed
	grantedAt time.Time
	until     time.Time
	reason    string // why it was granted: detection, operator
	state     leaseState
	announced bool           // LeaseGranted was published: LeaseEnded will be
	endReason string         // why it ends, once it does
	waiters   []*actor.PID   // asked before the stream was registered
	frames    []frameRequest // frames asked before the stream was registered

	timer   *time.Timer
	drainAt time.Time
	warned  bool
}

// leaseState is where a lease is in its life: registering, live,
// draining, in that order. A lease that rides a declared stream starts
// live (nothing to register), and drains for DrainSettle only.
type leaseState int

const (
	leaseRegistering leaseState = iota // the gateway is registering the stream
	leaseLive                          // registered (or declared): playing, frames through go2rtc
	leaseDraining                      // over: waiting for the viewers to leave
)

func (s leaseState) String() string {
	return [...]string{"registering", "live", "draining"}[s]
}

// frameRequest is a frame asked of the lease while it registers.
type frameRequest struct {
	msg    *messages.FetchFrame
	sender *actor.PID
}

// leaseSpec is what a camera gives its lease child.
type leaseSpec struct {
	id     int64
	until  time.Time
	reason string
	asker  *actor.PID // the first GrantLease's sender, answered on registration
	// drainOnly: left by a previous incarnation of the camera, whose live
	// view may still have a viewer; only wait for them to leave.
	drainOnly bool
	// ride is a stream the camera declares that go2rtc has: the view
	// plays it instead of registering camvisor_<camera>.
	ride string
}

// Internal messages.
type (
	leaseDue    struct{}
	drainCheck  struct{}
	drainSettle struct{}
	registerDue struct{} // the registration took too long
)

// registerTimeout is how long a lease waits for the gateway to register
// its stream: a few go2rtc requests, each bounded by request_timeout.
func registerTimeout(env *Env) time.Duration {
	return 3*env.Config.Go2RTC.RequestTimeout.Duration + env.Policy.Lease.RegisterMargin
}

func leaseProps(env *Env, cam config.SubnetCamera, spec leaseSpec, cause *stopCause) *actor.Props {
	return actor.PropsFromProducer(lived(func() *leaseActor {
		a := &leaseActor{env: env, cam: cam, cause: cause, id: spec.id, stream: StreamName(cam.ID), grantedAt: time.Now(),
			until: spec.until, reason: spec.reason}
		if spec.ride != "" {
			a.stream, a.rides = spec.ride, true
		}
		if spec.asker != nil {
			a.waiters = []*actor.PID{spec.asker}
		}
		if spec.drainOnly {
			// As far as go2rtc goes it may have viewers.
			a.state, a.endReason = leaseLive, "drained after a restart"
		}
		return a
	}))
}

// Receive moves the lease through its states (leaseState, above).
func (a *leaseActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *messages.GrantLease:
		a.onGrantLease(ctx, msg)
	case *messages.StreamAdded:
		a.onStreamAdded(ctx, msg)
	case *registerDue:
		a.onRegisterDue(ctx)
	case *messages.FetchFrame:
		a.onFetchFrame(ctx, msg)
	case *messages.ReleaseLease:
		a.drain(ctx, "released: "+msg.Reason)
	case *leaseDue:
		a.onLeaseDue(ctx)
	case *drainCheck:
		ctx.Request(a.env.peers.gateway, &messages.CountViewers{Stream: a.stream})
	case *messages.ViewersCounted:
		a.onViewersCounted(ctx, msg)
	case *drainSettle:
		a.expire(ctx)
	case *messages.Describe:
		answerDescribe(ctx, a.node(ctx, "lease", a.state.String(), map[string]any{"camera": a.cam.ID, "stream": a.stream, "until": a.until}))
	case *actor.Stopping, *actor.Restarting:
		a.onStopping(ctx)
	}
}

func (a *leaseActor) onStarted(ctx actor.Context) {
	if a.state == leaseLive { // drain-only
		a.drain(ctx, a.endReason)
		return
	}
	if a.rides {
		a.goLive(ctx)
		return
	}
	ctx.Request(a.env.peers.gateway, &messages.AddStream{Stream: a.stream, Camera: a.cam.ID, Subnet: a.cam.Subnet, Source: a.cam.URL})
	a.timer = after(ctx.ActorSystem(), ctx.Self(), registerTimeout(a.env), &registerDue{})
}

// onGrantLease answers another request for this camera's live view: the
// same lease, extended (one lease per camera, never two).
func (a *leaseActor) onGrantLease(ctx actor.Context, msg *messages.GrantLease) {
	if a.state == leaseDraining {
		// Its slot is still held (a viewer may still be attached): the
		// camera keeps the request until the slot is free again.
		ctx.Send(ctx.Parent(), &grantDeferred{request: &leaseRequest{grant: msg, asker: ctx.Sender()}})
		return
	}
	until := msg.Until
	if until.IsZero() {
		until = time.Now().Add(a.env.Config.Go2RTC.Lease.Duration)
	}
	if until.After(a.until) {
		a.until = until
	}
	if a.state == leaseRegistering {
		a.waiters = append(a.waiters, ctx.Sender())
		return
	}
	a.publishGranted(ctx, msg.Reason, true)
	a.respond(ctx, ctx.Sender(), a.granted(true))
}

func (a *leaseActor) onStreamAdded(ctx actor.Context, msg *messages.StreamAdded) {
	if a.state != leaseRegistering {
		return // too late: it ended (timed out, released) before this answer
	}
	a.timer.Stop()
	if msg.Error != "" {
		a.refuse(ctx, msg.Error)
		return
	}
	a.goLive(ctx)
}

// goLive plays the stream: the waiters are answered, the frames asked
// meanwhile taken, and the end is armed.
func (a *leaseActor) goLive(ctx actor.Context) {
	a.state = leaseLive
	a.env.Log.Info("live view granted", "camera", a.cam.ID, "stream", a.stream, "until", a.until.Format(time.TimeOnly), "reason", a.reason)
	a.publishGranted(ctx, a.reason, false)
	for _, w := range a.waiters {
		a.respond(ctx, w, a.granted(false))
	}
	a.waiters = nil
	for _, f := range a.frames {
		ctx.RequestWithCustomSender(a.env.peers.gateway, a.ofStream(f.msg), f.sender)
	}
	a.frames = nil
	a.timer = after(ctx.ActorSystem(), ctx.Self(), time.Until(a.until), &leaseDue{})
}

// ofStream is a frame request asked of this view's stream.
func (a *leaseActor) ofStream(msg *messages.FetchFrame) *messages.FetchFrame {
	m := *msg
	m.Stream = a.stream
	return &m
}

func (a *leaseActor) onRegisterDue(ctx actor.Context) {
	if a.state == leaseRegistering {
		a.refuse(ctx, "go2rtc did not register the stream in time")
	}
}

// refuse ends a lease whose stream could not be registered.
func (a *leaseActor) refuse(ctx actor.Context, reason string) {
	a.endReason = "refused: " + reason
	for _, w := range a.waiters {
		a.respond(ctx, w, &messages.LeaseAnswer{Camera: a.cam.ID, Reason: reason})
	}
	a.waiters = nil
	a.drain(ctx, "refused")
}

// onFetchFrame takes a frame for the camera through go2rtc, over the live
// view's connection; the gateway answers the camera. A frame asked while
// the stream registers waits for it; an ending lease serves none: the
// camera takes the frame another way.
func (a *leaseActor) onFetchFrame(ctx actor.Context, msg *messages.FetchFrame) {
	switch a.state {
	case leaseRegistering:
		a.frames = append(a.frames, frameRequest{msg: msg, sender: ctx.Sender()})
	case leaseLive:
		ctx.RequestWithCustomSender(a.env.peers.gateway, a.ofStream(msg), ctx.Sender())
	default:
		ctx.Respond(unavailable(msg.Ref, a.state))
	}
}

// unavailable is the answer to a frame the lease will not serve.
func unavailable(ref int64, s leaseState) *messages.FrameFetched {
	return &messages.FrameFetched{Ref: ref, Unavailable: true, Error: "the live view is " + s.String()}
}

// dropFrames answers the frames asked while the stream registered, which
// will not be served.
func (a *leaseActor) dropFrames(ctx actor.Context) {
	for _, f := range a.frames {
		if f.sender != nil {
			ctx.Send(f.sender, unavailable(f.msg.Ref, a.state))
		}
	}
	a.frames = nil
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
	if a.state == leaseDraining {
		return
	}
	wasLive := a.state == leaseLive
	a.state = leaseDraining
	a.dropFrames(ctx)
	if a.endReason == "" {
		a.endReason = reason
	}
	if a.timer != nil {
		a.timer.Stop()
	}
	if a.announced {
		ctx.ActorSystem().EventStream.Publish(&messages.LeaseEnding{ID: a.id, Camera: a.cam.ID, Subnet: a.cam.Subnet,
			Stream: a.stream, Reason: a.endReason, At: time.Now()})
	}
	if !wasLive {
		// Never registered, but an addition may still be under way: the
		// gateway removes what it registers for us.
		a.expire(ctx)
		return
	}
	a.drainAt = time.Now()
	if a.rides {
		// go2rtc cannot tell our viewers from the operator's: give the
		// dashboards a moment to close the player, then let the camera
		// count the stream's connection as go2rtc's.
		a.timer = after(ctx.ActorSystem(), ctx.Self(), a.env.Policy.Lease.DrainSettle, &drainSettle{})
		return
	}
	ctx.Request(a.env.peers.gateway, &messages.CountViewers{Stream: a.stream})
}

// expire ends the lease: the stream goes at the next cycle end, the slot
// now. A stream not ours stays as it is.
func (a *leaseActor) expire(ctx actor.Context) {
	if !a.rides {
		ctx.Send(a.env.peers.gateway, &messages.StreamExpired{Stream: a.stream, Subnet: a.cam.Subnet})
	}
	ctx.Stop(ctx.Self())
}

func (a *leaseActor) onViewersCounted(ctx actor.Context, msg *messages.ViewersCounted) {
	p := a.env.Policy.Lease
	blindTooLong := msg.Error != "" && time.Since(a.drainAt) > p.DrainBlindFor
	if msg.Consumers == 0 && (msg.Error == "" || blindTooLong) {
		// Nobody watches (or go2rtc could not tell for long enough: it is
		// gone, and its connection with it): let the camera connection
		// close, then free the slot.
		if blindTooLong {
			a.env.Log.Warn("go2rtc cannot say whether the live view has viewers; freeing its slot", "camera", a.cam.ID, "reason", msg.Error)
		}
		a.timer = after(ctx.ActorSystem(), ctx.Self(), p.DrainSettle, &drainSettle{})
		return
	}
	if !a.warned && time.Since(a.drainAt) > p.DrainWarnAfter {
		a.warned = true
		a.env.Log.Warn("viewer still attached after the live view ended: its slot stays held", "camera", a.cam.ID, "stream", a.stream, "viewers", msg.Consumers)
	}
	a.timer = after(ctx.ActorSystem(), ctx.Self(), p.DrainPoll, &drainCheck{})
}

// onStopping answers who still waits and publishes the end. A lease
// stopped with its camera while live or draining leaves its stream to the
// camera's next instance, which drains it (a viewer may still hold the
// connection); one still registering gives its stream up now.
func (a *leaseActor) onStopping(ctx actor.Context) {
	if a.timer != nil {
		a.timer.Stop()
	}
	if a.endReason == "" {
		a.endReason = "camera stopped: " + string(a.cause.get())
	}
	for _, w := range a.waiters {
		a.respond(ctx, w, &messages.LeaseAnswer{Camera: a.cam.ID, Reason: a.endReason})
	}
	a.waiters = nil
	a.dropFrames(ctx)
	if a.state == leaseRegistering {
		ctx.Send(a.env.peers.gateway, &messages.StreamExpired{Stream: a.stream, Subnet: a.cam.Subnet})
	}
	if a.announced {
		a.env.Log.Info("live view ended", "camera", a.cam.ID, "stream", a.stream, "reason", a.endReason)
		ctx.ActorSystem().EventStream.Publish(&messages.LeaseEnded{ID: a.id, Camera: a.cam.ID, Subnet: a.cam.Subnet,
			Stream: a.stream, Until: a.until, ReleasedAt: time.Now(), Reason: a.endReason})
	}
}

func (a *leaseActor) publishGranted(ctx actor.Context, reason string, extended bool) {
	a.announced = true
	ctx.ActorSystem().EventStream.Publish(&messages.LeaseGranted{ID: a.id, Camera: a.cam.ID, Subnet: a.cam.Subnet,
		Stream: a.stream, GrantedAt: a.grantedAt, Until: a.until, Reason: reason, Extended: extended})
}

func (a *leaseActor) granted(extended bool) *messages.LeaseAnswer {
	ans := &messages.LeaseAnswer{Camera: a.cam.ID, Granted: true, Extended: extended, Stream: a.stream, Until: a.until}
	if p := a.env.Config.Go2RTC.Player(); p != "" {
		ans.PlayerURL = p + "/stream.html?src=" + url.QueryEscape(a.stream)
	}
	return ans
}

func (a *leaseActor) respond(ctx actor.Context, to *actor.PID, ans *messages.LeaseAnswer) {
	if to != nil {
		ctx.Send(to, ans)
	}
}
