package actors

import (
	"fmt"
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// The camera's side of live views. A lease is a child actor that owns
// everything about the live view (lease.go); the camera only counts the
// one slot it holds, and routes to it what concerns it: requests for a
// live view and, while one lives, the frames of captures.

// onGrantLease spawns the lease when a slot is free; a camera that has one
// lets it answer (it extends itself): one lease per camera, never two.
func (a *cameraActor) onGrantLease(ctx actor.Context, msg *messages.GrantLease) {
	refuse := func(reason string) {
		if ctx.Sender() != nil {
			ctx.Respond(&messages.LeaseAnswer{Camera: a.cam.ID, Reason: reason})
		}
	}
	switch {
	case !a.env.Config.Go2RTC.Enabled():
		refuse("live view disabled: no go2rtc configured")
	case a.stopping:
		refuse("camera is stopping")
	case a.lease != nil:
		ctx.Forward(a.lease)
	case a.slotsHeld() >= a.cam.MaxConnections:
		refuse(fmt.Sprintf("%v: %d of %d slots held", messages.ErrNoSlot, a.slotsHeld(), a.cam.MaxConnections))
	default:
		until := msg.Until
		if until.IsZero() {
			until = time.Now().Add(a.env.Config.Go2RTC.Lease.Duration)
		}
		a.carry.leaseSeq++
		a.spawnLease(ctx, leaseSpec{id: a.carry.leaseSeq, until: until, reason: msg.Reason, asker: ctx.Sender()})
	}
}

// spawnLease takes a slot for a lease child.
func (a *cameraActor) spawnLease(ctx actor.Context, spec leaseSpec) {
	pid, err := ctx.SpawnNamed(leaseProps(a.env, a.cam, spec, a.cause), leaseName)
	if err != nil {
		a.env.Log.Error("spawn lease", "camera", a.cam.ID, "reason", err.Error())
		if spec.asker != nil {
			ctx.Send(spec.asker, &messages.LeaseAnswer{Camera: a.cam.ID, Reason: "spawn lease actor: " + err.Error()})
		}
		return
	}
	a.lease = pid
	a.publishSlots(ctx)
}

func (a *cameraActor) onReleaseLease(ctx actor.Context) {
	if a.lease != nil {
		ctx.Forward(a.lease)
	}
}

// fetchThroughLease asks the lease for job's frame: go2rtc's frame.jpeg
// over the live view's connection, no slot of its own.
func (a *cameraActor) fetchThroughLease(ctx actor.Context, job *captureJob) {
	a.fetching[job.id] = job
	job.expiry = after(ctx.ActorSystem(), ctx.Self(), time.Until(job.req.Deadline), &fetchExpired{job: job.id})
	ctx.Request(a.lease, &messages.FetchFrame{Ref: job.id, Stream: StreamName(a.cam.ID), Deadline: job.req.Deadline})
}

// onFetchExpired answers a capture whose go2rtc frame did not come in time.
func (a *cameraActor) onFetchExpired(ctx actor.Context, msg *fetchExpired) {
	if job := a.fetching[msg.job]; job != nil {
		delete(a.fetching, msg.job)
		job.via = "go2rtc"
		a.answer(ctx, job, messages.OutcomeTimeout, "go2rtc gave no frame before the capture deadline", nil)
	}
}

// onFrameFetched answers a capture served through go2rtc, or takes the
// frame with ffmpeg when go2rtc gave none (or the live view serves none
// now) and a slot is free.
func (a *cameraActor) onFrameFetched(ctx actor.Context, msg *messages.FrameFetched) {
	job := a.fetching[msg.Ref]
	delete(a.fetching, msg.Ref)
	if job == nil || job.answered {
		return
	}
	job.expiry.Stop()
	job.expiry = nil
	switch {
	case msg.Unavailable:
	case msg.Error == "":
		job.via = "go2rtc"
		a.answer(ctx, job, messages.OutcomeOK, "", &messages.SnapshotTaken{Outcome: messages.OutcomeOK, JPEG: msg.JPEG})
		return
	default:
		job.viaErr = msg.Error
		a.env.Log.Info("go2rtc frame failed: falling back to ffmpeg", "camera", a.cam.ID, "reason", msg.Error)
	}
	a.admit(ctx, job)
}

// onLeaseTerminated frees the lease's slot and hands it on. A frame asked
// of a lease that stopped meanwhile is never answered: it is taken with
// ffmpeg instead.
func (a *cameraActor) onLeaseTerminated(ctx actor.Context) {
	a.lease = nil
	a.publishSlots(ctx)
	if a.stopping {
		return
	}
	for id, job := range a.fetching {
		delete(a.fetching, id)
		job.expiry.Stop()
		job.expiry = nil
		a.admit(ctx, job)
	}
	a.dispatch(ctx)
}
