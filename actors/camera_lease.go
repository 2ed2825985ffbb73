package actors

import (
	"fmt"
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// The camera's side of live views: a lease is a child actor holding one
// slot of the camera's budget (see camera.go for the budget itself).

// onGrantLease grants a live view when a slot is free, or extends the
// live one: one lease per camera, never two.
func (a *cameraActor) onGrantLease(ctx actor.Context, msg *messages.GrantLease) {
	until := msg.Until
	if until.IsZero() {
		until = time.Now().Add(a.env.Config.Go2RTC.Lease.Duration)
	}
	refuse := func(reason string) {
		a.respondLease(ctx, ctx.Sender(), &messages.LeaseAnswer{Camera: a.cam.ID, Reason: reason})
	}
	switch {
	case !a.env.Config.Go2RTC.Enabled():
		refuse("live view disabled: no go2rtc configured")
	case a.stopping:
		refuse("camera is stopping")
	case a.lease != nil && a.lease.draining:
		refuse("the previous live view of this camera is ending; ask again in a moment")
	case a.lease != nil:
		l := a.lease
		if until.After(l.until) {
			l.until = until
			ctx.Send(l.pid, &messages.GrantLease{Camera: a.cam.ID, Until: until})
		}
		if !l.live {
			l.waiters = append(l.waiters, ctx.Sender())
			return
		}
		ctx.ActorSystem().EventStream.Publish(&messages.LeaseGranted{ID: l.id, Camera: a.cam.ID, Subnet: a.cam.Subnet,
			Stream: l.stream, GrantedAt: l.grantedAt, Until: l.until, Reason: msg.Reason, Extended: true})
		a.respondLease(ctx, ctx.Sender(), a.grantedAnswer(l, true))
	case a.slotsHeld() >= a.cam.MaxConnections:
		refuse(fmt.Sprintf("%v: %d of %d slots held", messages.ErrNoSlot, a.slotsHeld(), a.cam.MaxConnections))
	default:
		pid, err := ctx.SpawnNamed(leaseProps(a.env, a.cam, until, a.env.peers.gateway, false), leaseName)
		if err != nil {
			refuse("spawn lease actor: " + err.Error())
			return
		}
		a.carry.leaseSeq++
		a.lease = &camLease{pid: pid, id: a.carry.leaseSeq, stream: StreamName(a.cam.ID), grantedAt: time.Now(), until: until,
			reason: msg.Reason, waiters: []*actor.PID{ctx.Sender()}}
		a.publishSlots(ctx)
	}
}

// drainLease holds a slot for a live view an earlier instance of this
// camera left: a lease child that only waits for go2rtc to show no viewer.
func (a *cameraActor) drainLease(ctx actor.Context) {
	pid, err := ctx.SpawnNamed(leaseProps(a.env, a.cam, time.Now(), a.env.peers.gateway, true), leaseName)
	if err != nil {
		a.env.Log.Error("spawn draining lease", "camera", a.cam.ID, "reason", err.Error())
		return
	}
	a.lease = &camLease{pid: pid, stream: StreamName(a.cam.ID), grantedAt: time.Now(), draining: true,
		endReason: "drained after a restart"}
}

// onFetchExpired answers a capture whose go2rtc frame did not come in time.
func (a *cameraActor) onFetchExpired(ctx actor.Context, msg *fetchExpired) {
	if job := a.fetching[msg.job]; job != nil {
		delete(a.fetching, msg.job)
		job.via = "go2rtc"
		a.answer(ctx, job, messages.OutcomeTimeout, "go2rtc gave no frame before the capture deadline", nil)
	}
}

func (a *cameraActor) onReleaseLease(ctx actor.Context, msg *messages.ReleaseLease) {
	if a.lease != nil {
		ctx.Send(a.lease.pid, msg)
	}
}

// leaseOf is the lease (current, or terminated with answers pending) whose
// child sent the message.
func (a *cameraActor) leaseOf(ctx actor.Context) *camLease {
	for _, l := range []*camLease{a.lease, a.endedLease} {
		if l != nil && ctx.Sender() != nil && l.pid.Id == ctx.Sender().Id {
			return l
		}
	}
	return nil
}

func (a *cameraActor) onLeaseRegistered(ctx actor.Context, msg *messages.LeaseRegistered) {
	l := a.leaseOf(ctx)
	if l == nil || l.live {
		return
	}
	l.live = true
	a.env.Log.Info("live view granted", "camera", a.cam.ID, "stream", l.stream, "until", l.until.Format(time.TimeOnly), "reason", l.reason)
	ctx.ActorSystem().EventStream.Publish(&messages.LeaseGranted{ID: l.id, Camera: a.cam.ID, Subnet: a.cam.Subnet,
		Stream: l.stream, GrantedAt: l.grantedAt, Until: l.until, Reason: l.reason})
	for _, w := range l.waiters {
		a.respondLease(ctx, w, a.grantedAnswer(l, false))
	}
	l.waiters = nil
}

func (a *cameraActor) onLeaseFailed(ctx actor.Context, msg *messages.LeaseFailed) {
	if l := a.leaseOf(ctx); l != nil {
		l.endReason = "refused: " + msg.Reason
		a.answerLeaseWaiters(ctx, l, msg.Reason)
	}
}

func (a *cameraActor) onLeaseDraining(ctx actor.Context, msg *messages.LeaseDraining) {
	if l := a.leaseOf(ctx); l != nil {
		l.draining = true
		if l.endReason == "" {
			l.endReason = msg.Reason
		}
	}
}

// onLeaseTerminated frees the lease's slot at once; the answers wait for
// leaseGone, behind the child's last reports.
func (a *cameraActor) onLeaseTerminated(ctx actor.Context) {
	a.endedLease, a.lease = a.lease, nil
	a.publishSlots(ctx)
	if a.stopping {
		a.onLeaseGone(ctx)
		return
	}
	ctx.Send(ctx.Self(), &leaseGone{})
	a.dispatch(ctx)
}

func (a *cameraActor) onLeaseGone(ctx actor.Context) {
	l := a.endedLease
	a.endedLease = nil
	if l == nil {
		return
	}
	if l.endReason == "" {
		l.endReason = "camera stopped: " + string(a.cause.get())
	}
	a.answerLeaseWaiters(ctx, l, l.endReason)
	if l.live {
		a.env.Log.Info("live view ended", "camera", a.cam.ID, "stream", l.stream, "reason", l.endReason)
		ctx.ActorSystem().EventStream.Publish(&messages.LeaseEnded{ID: l.id, Camera: a.cam.ID, Subnet: a.cam.Subnet,
			Stream: l.stream, Until: l.until, ReleasedAt: time.Now(), Reason: l.endReason})
	}
}

func (a *cameraActor) answerLeaseWaiters(ctx actor.Context, l *camLease, reason string) {
	for _, w := range l.waiters {
		a.respondLease(ctx, w, &messages.LeaseAnswer{Camera: a.cam.ID, Reason: reason})
	}
	l.waiters = nil
}

func (a *cameraActor) grantedAnswer(l *camLease, extended bool) *messages.LeaseAnswer {
	ans := &messages.LeaseAnswer{Camera: a.cam.ID, Granted: true, Extended: extended, Stream: l.stream, Until: l.until}
	if p := a.env.Config.Go2RTC.Player(); p != "" {
		ans.PlayerURL = p + "/stream.html?src=" + l.stream
	}
	return ans
}

func (a *cameraActor) respondLease(ctx actor.Context, to *actor.PID, ans *messages.LeaseAnswer) {
	if to != nil {
		ctx.Send(to, ans)
	}
}

// onFrameFetched answers a capture served through go2rtc, or falls back
// to ffmpeg when go2rtc gave no frame and a slot is free.
func (a *cameraActor) onFrameFetched(ctx actor.Context, msg *messages.FrameFetched) {
	job := a.fetching[msg.Ref]
	delete(a.fetching, msg.Ref)
	if job == nil || job.answered {
		return
	}
	job.expiry.Stop()
	job.expiry = nil
	if msg.Error == "" {
		job.via = "go2rtc"
		a.answer(ctx, job, messages.OutcomeOK, "", &messages.SnapshotTaken{Outcome: messages.OutcomeOK, JPEG: msg.JPEG})
		return
	}
	job.viaErr = msg.Error
	a.env.Log.Info("go2rtc frame failed: falling back to ffmpeg", "camera", a.cam.ID, "reason", msg.Error)
	a.admit(ctx, job)
}
