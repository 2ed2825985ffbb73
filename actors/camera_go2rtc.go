package actors

import (
	"slices"
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// The camera's side of go2rtc: live views (a lease child owns everything
// about one, lease.go; the camera only counts its slot), patrol frames
// through the cycle's go2rtc source, and the connections go2rtc holds for
// streams camvisor did not create, which count against the budget and
// carry frames for free.
//
// The camera's count of those connections (external) is go2rtc's last
// look at it: each cycle's, the one the gateway takes right before each
// frame it asks go2rtc for (FrameFetched.Seen; a frame that would make
// more connections than the camera counted is not asked: Crowded), and
// the one a live view waits for before it is granted (CheckConnections).
// A connection opened since is counted before go2rtc dials for us.

// onGrantLease grants a live view once go2rtc was looked at and a slot is
// free. A camera with a lease lets it answer (it extends itself): one
// lease per camera, never two. When every slot is held the request waits,
// up to request_timeout, and a patrol capture's ffmpeg gives its slot up
// for it: a live view is never refused because a snapshot is in flight.
func (a *cameraActor) onGrantLease(ctx actor.Context, msg *messages.GrantLease) {
	r := &leaseRequest{grant: msg, asker: ctx.Sender()}
	switch {
	case !a.env.Config.Go2RTC.Enabled():
		a.refuseLease(ctx, r, "live view disabled: no go2rtc configured")
	case a.stopping:
		a.refuseLease(ctx, r, "camera is stopping")
	case a.paused != nil:
		a.refuseLease(ctx, r, a.pausedText())
	case a.lease != nil:
		ctx.Forward(a.lease)
	default:
		a.waitForSlot(ctx, r)
	}
}

// grantLease spawns the lease child for r, which takes a slot and answers.
// A stream the camera declares that go2rtc has is played instead of
// camvisor_<camera> (an open one first: its connection becomes the live
// view's, one connection fewer).
func (a *cameraActor) grantLease(ctx actor.Context, r *leaseRequest) {
	until := r.grant.Until
	if until.IsZero() {
		until = time.Now().Add(a.env.Config.Go2RTC.Lease.Duration)
	}
	ride := a.liveOpen()
	if ride == "" && len(a.external.Declared) > 0 {
		ride = a.external.Declared[0]
	}
	a.carry.leaseSeq++
	a.spawnLease(ctx, leaseSpec{id: a.carry.leaseSeq, until: until, reason: r.grant.Reason, asker: r.asker, ride: ride})
}

// liveOpen is a stream the camera declares that holds a connection now
// ("" when none): a live view plays it without a slot of its own.
func (a *cameraActor) liveOpen() string {
	for _, s := range a.external.Declared {
		if slices.Contains(a.external.Open, s) {
			return s
		}
	}
	return ""
}

// lookReady reports whether a live view may be granted now: go2rtc was
// looked at no longer than ListingMaxAge ago. Else it asks the gateway
// to look (once at a time), and the grant waits for its answer.
func (a *cameraActor) lookReady(ctx actor.Context) bool {
	if a.lookNow || time.Since(a.external.At) <= a.env.Policy.Gateway.ListingMaxAge {
		return true
	}
	if !a.looking.IsZero() && time.Since(a.looking) < a.env.Config.Go2RTC.RequestTimeout.Duration {
		return false // asked already
	}
	a.looking = time.Now()
	ctx.Request(a.env.peers.gateway, &messages.CheckConnections{Camera: a.cam.ID})
	return false
}

// onConnectionsChecked takes the look a live view waited for, and grants
// or keeps it waiting by what it shows. A go2rtc that cannot be listed
// cannot play one either: who waits is refused.
func (a *cameraActor) onConnectionsChecked(ctx actor.Context, msg *messages.ConnectionsChecked) {
	a.looking = time.Time{}
	if a.stopping {
		return
	}
	if msg.Error != "" {
		for _, r := range a.leaseWait {
			r.expiry.Stop()
			a.refuseLease(ctx, r, "live view refused: "+msg.Error)
		}
		a.leaseWait = nil
		return
	}
	a.see(ctx, msg.External)
	a.lookNow = true // this look is the grant's, however long the answer took
	a.dispatch(ctx)
	a.lookNow = false
	if len(a.leaseWait) > 0 && a.lease == nil {
		a.preemptPatrol(ctx)
	}
}

// see takes a newer look at the camera's use by others.
func (a *cameraActor) see(ctx actor.Context, use messages.ExternalUse) {
	if use.At.Before(a.external.At) {
		return // older than what the camera knows
	}
	changed := !slices.Equal(use.Open, a.external.Open) || !slices.Equal(use.Declared, a.external.Declared)
	a.external = use
	if changed {
		a.publishSlots(ctx)
	}
}

// externalOpen are the streams not ours holding a connection to the
// camera that count against its budget: all but the one the live view
// plays (its slot is the view's).
func (a *cameraActor) externalOpen() []string {
	var out []string
	for _, s := range a.external.Open {
		if a.lease != nil && s == a.leaseRide {
			continue
		}
		out = append(out, s)
	}
	return out
}

// rideStream is a stream not ours whose open connection a frame can ride,
// "" when none.
func (a *cameraActor) rideStream() string {
	if open := a.externalOpen(); len(open) > 0 {
		return open[0]
	}
	return ""
}

// onGrantDeferred keeps a live view its ending lease handed back until the
// slot is free again.
func (a *cameraActor) onGrantDeferred(ctx actor.Context, msg *grantDeferred) {
	a.waitForSlot(ctx, msg.request)
}

// waitForSlot keeps a live view waiting for go2rtc's look and a slot, for
// request_timeout; when the look is fresh and no slot is free, a patrol
// capture gives its slot up.
func (a *cameraActor) waitForSlot(ctx actor.Context, r *leaseRequest) {
	if a.stopping {
		a.refuseLease(ctx, r, "camera is stopping")
		return
	}
	if a.paused != nil {
		a.refuseLease(ctx, r, a.pausedText())
		return
	}
	r.expiry = after(ctx.ActorSystem(), ctx.Self(), a.env.Config.Go2RTC.RequestTimeout.Duration, &leaseWaited{request: r})
	a.leaseWait = append(a.leaseWait, r)
	a.dispatch(ctx)
	if len(a.leaseWait) > 0 && a.lease == nil && a.looking.IsZero() {
		a.preemptPatrol(ctx)
	}
}

// onLeaseWaited refuses a live view that found no slot in time, saying
// what holds them.
func (a *cameraActor) onLeaseWaited(ctx actor.Context, msg *leaseWaited) {
	for i, r := range a.leaseWait {
		if r == msg.request {
			a.leaseWait = append(a.leaseWait[:i], a.leaseWait[i+1:]...)
			reason := messages.ErrNoSlot.Error() + ": " + a.holders()
			if a.lease != nil {
				reason = "the previous live view of this camera is ending (its viewers have not left); " + reason
			}
			a.refuseLease(ctx, r, reason)
			return
		}
	}
}

func (a *cameraActor) refuseLease(ctx actor.Context, r *leaseRequest, reason string) {
	if r.asker != nil {
		ctx.Send(r.asker, &messages.LeaseAnswer{Camera: a.cam.ID, Reason: reason})
	}
}

// preemptPatrol stops a patrol capture's ffmpeg so that a live view gets
// its slot: the process is killed and reaped (stop reason preempted), the
// attempt recorded as preempted, and the capture retried through the live
// view. An operator's capture, another live view, a frame asked of go2rtc
// and a connection not ours are never preempted.
func (a *cameraActor) preemptPatrol(ctx actor.Context) {
	if a.stream.yielding || a.preempting != "" {
		return // a child is on its way out already
	}
	for _, c := range ctx.Children() {
		job := a.children[c.Id]
		if job == nil || job.state != jobRunning || job.req.Cycle == 0 {
			continue
		}
		a.preempting = c.Id
		if job.cause != nil { // an ffmpeg child records why it stops; an HTTP one has no process
			job.cause.set(messages.StopPreempted)
		}
		a.env.Log.Info("live view preempts a patrol capture", "camera", a.cam.ID, "reason", "every slot was held")
		ctx.Stop(c)
		return
	}
}

// retryPreempted records the preempted attempt and takes the capture's
// frame again, through the live view that took its slot.
func (a *cameraActor) retryPreempted(ctx actor.Context, job *captureJob) {
	a.record(ctx, job, messages.OutcomePreempted, "ffmpeg stopped: a live view took its slot", job.last)
	a.move(job, jobRouting)
	a.renumber(job)
	job.last, job.cause = nil, nil
	a.route(ctx, job)
}

// spawnLease takes a slot for a lease child.
func (a *cameraActor) spawnLease(ctx actor.Context, spec leaseSpec) {
	pid, err := ctx.SpawnNamed(leaseProps(a.env, a.cam, spec, a.cause), leaseName)
	a.leaseRide = spec.ride
	if err != nil {
		a.leaseRide = ""
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

// onConnectionsSeen takes this cycle's look at go2rtc's connections not
// ours: they hold slots until the next look.
func (a *cameraActor) onConnectionsSeen(ctx actor.Context, msg *messages.ConnectionsSeen) {
	a.see(ctx, msg.External)
	a.dispatch(ctx)
}

// fetch asks for job's frame by path: of the lease (over its connection),
// or of the gateway by stream name (a patrol source, or an external
// stream's open connection). opens: go2rtc may open a connection for it,
// on the job's slot. A frame asked of the gateway has it look at the
// camera first, with what the camera counts.
func (a *cameraActor) fetch(ctx actor.Context, job *captureJob, path string, to *actor.PID, stream string, opens bool) {
	job.via, job.opens = path, opens
	a.move(job, jobFetching)
	job.expiry = after(ctx.ActorSystem(), ctx.Self(), time.Until(job.req.Deadline), &fetchExpired{job: job.id})
	msg := &messages.FetchFrame{Ref: job.id, Stream: stream, Deadline: job.req.Deadline}
	if to == a.env.peers.gateway {
		msg.Camera, msg.Counted = a.cam.ID, len(a.externalOpen())
		if opens {
			msg.Counted++
		}
		if a.lease != nil {
			msg.Lease = a.leaseRide
		}
	}
	ctx.Request(to, msg)
	if job.holdsFetchSlot() {
		a.publishSlots(ctx)
	}
}

// onFetchExpired answers a capture whose go2rtc frame did not come in
// time. A frame that may hold a camera connection keeps its slot until
// go2rtc answers: the connection lasts as long as the request (move hands
// it to carry.inflight).
func (a *cameraActor) onFetchExpired(ctx actor.Context, msg *fetchExpired) {
	job := a.jobs[msg.job]
	if job == nil || job.state != jobFetching {
		return
	}
	source := "go2rtc"
	if job.via == viaStream {
		source = "the stream"
	}
	a.answer(ctx, job, messages.OutcomeTimeout, source+" gave no frame before the capture deadline", nil)
}

// onFrameFetched answers a capture served through go2rtc, or takes the
// frame with ffmpeg when go2rtc gave none (or the live view serves none
// now) and a slot is free.
func (a *cameraActor) onFrameFetched(ctx actor.Context, msg *messages.FrameFetched) {
	job := a.jobs[msg.Ref]
	if job == nil || job.state != jobFetching {
		if a.carry.inflight[msg.Ref] { // answered already (or by an earlier incarnation): its slot frees now
			delete(a.carry.inflight, msg.Ref)
			if msg.Seen != nil {
				a.see(ctx, *msg.Seen)
			}
			a.dispatch(ctx)
			a.publishSlots(ctx)
		}
		return
	}
	if job.holdsFetchSlot() || msg.Seen != nil {
		defer a.publishSlots(ctx)
		defer a.dispatch(ctx)
	}
	a.move(job, jobRouting) // the request is over: its slot is free before the look is taken in
	if msg.Seen != nil {
		a.see(ctx, *msg.Seen)
	}
	switch {
	case msg.Crowded: // connections not ours opened since: ride one, or wait for a slot
		a.env.Log.Debug("go2rtc frame not asked: connections not ours opened", "camera", a.cam.ID, "reason", msg.Error)
		job.via, job.opens = "", false
		a.route(ctx, job)
		return
	case msg.Unavailable: // the live view is ending: no frame was asked of go2rtc
		job.via = ""
	case msg.Error == "":
		a.answer(ctx, job, messages.OutcomeOK, "", &messages.SnapshotTaken{Outcome: messages.OutcomeOK, JPEG: msg.JPEG, OSPID: msg.OSPID})
		return
	case msg.TimedOut:
		a.answer(ctx, job, messages.OutcomeTimeout, "go2rtc gave no frame before the capture deadline: "+msg.Error, nil)
		return
	case job.via == viaGo2RTC && !job.req.Fallback && !msg.Unreachable:
		// via go2rtc: go2rtc reached the camera and got no frame; a
		// second connection attempt by ffmpeg would fail the same way.
		a.answer(ctx, job, messages.OutcomeEmpty, "go2rtc gave no frame: "+msg.Error, nil)
		return
	default:
		job.via, job.viaErr = "", msg.Error
		a.env.Log.Info("go2rtc frame failed: falling back to ffmpeg", "camera", a.cam.ID, "reason", msg.Error)
	}
	a.admit(ctx, job)
}

// onLeaseTerminated frees the lease's slot and hands it on. A frame asked
// of a lease that stopped meanwhile is never answered: it is taken another
// way instead.
func (a *cameraActor) onLeaseTerminated(ctx actor.Context) {
	if ride := a.leaseRide; ride != "" && !slices.Contains(a.external.Open, ride) {
		// Our viewers may still hold its connection: counted as go2rtc's
		// until the next look says otherwise.
		a.external.Open = append(slices.Clone(a.external.Open), ride)
	}
	a.lease, a.leaseRide = nil, ""
	a.rerouteFetches(ctx, viaLease)
}

// rerouteFetches is a frame source's end (the lease's, the stream's): its
// slot is free, and the frames asked of it and not answered are taken
// another way.
func (a *cameraActor) rerouteFetches(ctx actor.Context, via string) {
	a.publishSlots(ctx)
	if a.stopping {
		return
	}
	for _, job := range a.jobs {
		if job.state != jobFetching || job.via != via {
			continue
		}
		a.move(job, jobRouting)
		job.via = ""
		a.route(ctx, job)
	}
	a.dispatch(ctx)
}
