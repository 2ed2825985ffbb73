package actors

import (
	"fmt"
	"slices"
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// playbackActor is where the backend decides live playback (invariant 4):
// the dashboard plays a camera only when this actor says `play`, and stops
// when it says `stop`. A qualifying detection (playback.labels,
// playback.min_score, not within playback.cooldown of the camera's last
// playback, fewer than playback.max_live cameras playing) takes a go2rtc
// lease on the camera and, once granted, plays until now + go2rtc.lease;
// another qualifying detection on a playing camera extends it (one lease,
// not two). Connecting a dashboard or fetching history starts nothing.
//
// With go2rtc the lease owns the end time: the policy asks for it and
// extends it, and says `stop` when the lease's playback is over
// (LeaseEnding). Without go2rtc there is no lease; the policy keeps the
// time itself and the dashboards show snapshots.
type playbackActor struct {
	life
	env      *Env
	live     map[string]*playing
	pending  map[string]*playing // lease asked, not yet answered
	cooldown map[string]time.Time
}

// playing is one camera's playback.
type playing struct {
	fact    messages.PlaybackStarted
	timer   *time.Timer  // its end, without go2rtc only
	waiters []*actor.PID // operators waiting for the answer
	event   int64        // the detection an extension asked for is about
}

// Internal messages.
type (
	// playbackOver fires at a playback's until.
	playbackOver struct {
		camera string
		until  time.Time
	}
	// pendingOver fires when a camera never answered a lease request.
	pendingOver struct {
		camera string
		p      *playing
	}
)

func playbackProps(env *Env) *actor.Props {
	return actor.PropsFromProducer(lived(func() *playbackActor {
		return &playbackActor{env: env, live: map[string]*playing{},
			pending: map[string]*playing{}, cooldown: map[string]time.Time{}}
	}))
}

// playbackWants are the facts the root subscribes the policy to.
func playbackWants(evt any) bool {
	switch evt.(type) {
	case *messages.Detected, *messages.LeaseEnding, *messages.LeaseEnded:
		return true
	}
	return false
}

// Receive decides which detections start a live view, and when it ends.
func (a *playbackActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *messages.Detected:
		a.onDetected(ctx, msg)
	case *messages.StartPlayback:
		a.onStartPlayback(ctx, msg)
	case *messages.StopPlayback:
		a.stop(ctx, msg.Camera, msg.Reason)
	case *messages.LeaseAnswer:
		a.onLeaseAnswer(ctx, msg)
	case *messages.LeaseEnding:
		a.onLeaseEnding(ctx, msg)
	case *messages.LeaseEnded:
		a.onLeaseEnded(ctx, msg)
	case *playbackOver:
		a.onPlaybackOver(ctx, msg)
	case *pendingOver:
		if a.pending[msg.camera] == msg.p {
			delete(a.pending, msg.camera)
			for _, w := range msg.p.waiters {
				ctx.Send(w, &messages.PlaybackAnswer{Camera: msg.camera, Reason: "the camera did not answer the lease request"})
			}
		}
	case *messages.GetPlaybacks:
		a.onGetPlaybacks(ctx)
	case *messages.Describe:
		live := []string{}
		for c := range a.live {
			live = append(live, c)
		}
		answerDescribe(ctx, a.node(ctx, "playback", "running", map[string]any{"live": live, "pending": len(a.pending)}))
	case *actor.Stopping, *actor.Restarting:
		for _, p := range a.live {
			stopTimer(p.timer)
		}
	}
}

// onDetected starts or extends a playback when the detection qualifies.
func (a *playbackActor) onDetected(ctx actor.Context, msg *messages.Detected) {
	cfg := a.env.Config.Playback
	if msg.Score < cfg.MinScore || (len(cfg.Labels) > 0 && !slices.Contains(cfg.Labels, msg.Label)) {
		return
	}
	if p := a.live[msg.Camera]; p != nil {
		a.extend(ctx, p, msg.EventID)
		return
	}
	if a.pending[msg.Camera] != nil {
		return
	}
	if until, cooling := a.cooldown[msg.Camera]; cooling && time.Now().Before(until) {
		return
	}
	if n := len(a.live) + len(a.pending); n >= cfg.MaxLive {
		a.env.Log.Debug("playback skipped: enough cameras live", "camera", msg.Camera, "live", n)
		return
	}
	a.start(ctx, msg.Camera, "detection", "detection: "+msg.Label, msg.EventID, nil)
}

// onStartPlayback is an operator's request: no label, score or cooldown
// rule, but the same limit on cameras playing and the same slot budget.
func (a *playbackActor) onStartPlayback(ctx actor.Context, msg *messages.StartPlayback) {
	if _, ok := a.env.Current().Camera(msg.Camera); !ok {
		ctx.Respond(&messages.PlaybackAnswer{Camera: msg.Camera, Reason: fmt.Sprintf("no camera %q", msg.Camera)})
		return
	}
	if p := a.live[msg.Camera]; p != nil {
		a.extend(ctx, p, 0)
		ctx.Respond(answerOf(p))
		return
	}
	if p := a.pending[msg.Camera]; p != nil {
		p.waiters = append(p.waiters, ctx.Sender())
		return
	}
	if n := len(a.live) + len(a.pending); n >= a.env.Config.Playback.MaxLive {
		ctx.Respond(&messages.PlaybackAnswer{Camera: msg.Camera, Reason: fmt.Sprintf("%d cameras are live already (playback.max_live)", n)})
		return
	}
	a.start(ctx, msg.Camera, "operator", "operator: "+msg.Reason, 0, ctx.Sender())
}

// start asks the camera for a lease (granted for kind: detection or
// operator); without go2rtc the playback shows snapshots and needs none.
func (a *playbackActor) start(ctx actor.Context, camera, kind, reason string, event int64, waiter *actor.PID) {
	cam, _ := a.env.Current().Camera(camera) // the cameras that run now
	p := &playing{fact: messages.PlaybackStarted{Camera: camera, Subnet: cam.Subnet, Reason: reason, EventID: event,
		Until: time.Now().Add(a.env.Config.Go2RTC.Lease.Duration)}}
	if waiter != nil {
		p.waiters = []*actor.PID{waiter}
	}
	if !a.env.Config.Go2RTC.Enabled() {
		a.play(ctx, p)
		return
	}
	a.pending[camera] = p
	ctx.Request(a.env.peers.camera(cam.Subnet, camera),
		&messages.GrantLease{Camera: camera, Until: p.fact.Until, Reason: kind})
	// A lease answers within its registration time; a camera that is
	// restarting may never answer: do not count it against max_live for ever.
	after(ctx.ActorSystem(), ctx.Self(), 2*registerTimeout(a.env), &pendingOver{camera: camera, p: p})
}

func (a *playbackActor) onLeaseAnswer(ctx actor.Context, msg *messages.LeaseAnswer) {
	p := a.pending[msg.Camera]
	if p == nil {
		if live := a.live[msg.Camera]; live != nil {
			a.onExtended(ctx, live, msg)
		}
		return
	}
	delete(a.pending, msg.Camera)
	if !msg.Granted {
		a.env.Log.Info("live view not started", "camera", msg.Camera, "reason", msg.Reason)
		for _, w := range p.waiters {
			ctx.Send(w, &messages.PlaybackAnswer{Camera: msg.Camera, Reason: msg.Reason})
		}
		return
	}
	p.fact.PlayerURL, p.fact.Until = msg.PlayerURL, msg.Until
	a.play(ctx, p)
}

// play publishes `play`; without go2rtc it arms the end of the playback
// (with go2rtc, the lease ends it).
func (a *playbackActor) play(ctx actor.Context, p *playing) {
	a.live[p.fact.Camera] = p
	a.armEnd(ctx, p)
	fact := p.fact
	ctx.ActorSystem().EventStream.Publish(&fact)
	for _, w := range p.waiters {
		ctx.Send(w, answerOf(p))
	}
	p.waiters = nil
}

// armEnd schedules the end of a playback that has no lease to end it.
func (a *playbackActor) armEnd(ctx actor.Context, p *playing) {
	if a.env.Config.Go2RTC.Enabled() {
		return
	}
	stopTimer(p.timer)
	p.timer = after(ctx.ActorSystem(), ctx.Self(), time.Until(p.fact.Until), &playbackOver{camera: p.fact.Camera, until: p.fact.Until})
}

// extend moves a playing camera's end to now + go2rtc.lease: the lease's,
// announced once it answers; without go2rtc, at once.
func (a *playbackActor) extend(ctx actor.Context, p *playing, event int64) {
	until := time.Now().Add(a.env.Config.Go2RTC.Lease.Duration)
	if !until.After(p.fact.Until) {
		return
	}
	p.event = event
	if a.env.Config.Go2RTC.Enabled() {
		ctx.Request(a.env.peers.camera(p.fact.Subnet, p.fact.Camera),
			&messages.GrantLease{Camera: p.fact.Camera, Until: until, Reason: "detection"})
		return
	}
	a.onExtended(ctx, p, &messages.LeaseAnswer{Camera: p.fact.Camera, Granted: true, Until: until})
}

// onExtended announces a playback's new end, or stops one whose lease
// could not be extended (the dashboards would play a stream going away).
func (a *playbackActor) onExtended(ctx actor.Context, p *playing, ans *messages.LeaseAnswer) {
	if !ans.Granted {
		a.stop(ctx, p.fact.Camera, "the live view could not be extended: "+ans.Reason)
		return
	}
	if !ans.Until.After(p.fact.Until) {
		return
	}
	p.fact.Until, p.fact.Extended = ans.Until, true
	if p.event != 0 {
		p.fact.EventID = p.event
	}
	a.armEnd(ctx, p)
	fact := p.fact
	ctx.ActorSystem().EventStream.Publish(&fact)
}

func (a *playbackActor) onPlaybackOver(ctx actor.Context, msg *playbackOver) {
	if p := a.live[msg.camera]; p != nil && p.fact.Until.Equal(msg.until) {
		a.stop(ctx, msg.camera, "playback time over")
	}
}

// onLeaseEnding stops a playback whose lease's time is over, or that
// ended early (released by an operator).
func (a *playbackActor) onLeaseEnding(ctx actor.Context, msg *messages.LeaseEnding) {
	if a.live[msg.Camera] == nil {
		return
	}
	reason := "live view ended: " + msg.Reason
	if msg.Reason == "expired" {
		reason = "playback time over"
	}
	a.stop(ctx, msg.Camera, reason)
}

// onLeaseEnded stops a playback whose lease ended under it (the camera
// restarted).
func (a *playbackActor) onLeaseEnded(ctx actor.Context, msg *messages.LeaseEnded) {
	if a.live[msg.Camera] != nil {
		a.stop(ctx, msg.Camera, "live view ended: "+msg.Reason)
	}
}

// stop ends a camera's playback: `stop` to the dashboards, the lease
// released, the cooldown started.
func (a *playbackActor) stop(ctx actor.Context, camera, reason string) {
	p := a.live[camera]
	if p == nil {
		return
	}
	delete(a.live, camera)
	stopTimer(p.timer)
	a.cooldown[camera] = time.Now().Add(a.env.Config.Playback.Cooldown.Duration)
	if a.env.Config.Go2RTC.Enabled() {
		ctx.Send(a.env.peers.camera(p.fact.Subnet, camera), &messages.ReleaseLease{Camera: camera, Reason: reason})
	}
	ctx.ActorSystem().EventStream.Publish(&messages.PlaybackStopped{Camera: camera, Reason: reason, At: time.Now()})
}

func (a *playbackActor) onGetPlaybacks(ctx actor.Context) {
	out := &messages.Playbacks{}
	for _, p := range a.live {
		out.Live = append(out.Live, p.fact)
	}
	ctx.Respond(out)
}

func answerOf(p *playing) *messages.PlaybackAnswer {
	return &messages.PlaybackAnswer{Camera: p.fact.Camera, Playing: true, PlayerURL: p.fact.PlayerURL, Until: p.fact.Until}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}
