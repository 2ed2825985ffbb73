package actors

import (
	"fmt"
	"strings"
	"time"

	"camvisor/actors/config"
	"camvisor/actors/redact"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// cameraActor owns one camera's slot budget: it is the home of invariant 2.
// It never has more than max_connections slots held, counting every
// connection to the camera it knows of: its ffmpeg children, its patrol
// frames asked of go2rtc, its go2rtc lease, and the connections go2rtc
// holds for streams camvisor did not create. A capture that finds them all
// held waits in a bounded queue or is refused with ErrNoSlot. It is the
// single source of truth for the budget: slots are taken and freed only
// here. When slots are short an operator's capture comes first, then a
// live view (which preempts a patrol capture's ffmpeg rather than be
// refused), then the patrol. A capture takes its frame over a connection
// that is open already when there is one: a live lease's, or an external
// stream's; then no slot is taken. Its count of external connections is
// as fresh as go2rtc's last look at it: each cycle's, and the one the
// gateway takes right before every go2rtc frame and live view
// (camera_go2rtc.go).
type cameraActor struct {
	life
	env      *Env
	cam      config.SubnetCamera
	redactor redact.Redactor
	cause    *stopCause // ours, read by our children
	strategy actor.SupervisorStrategy
	stopping bool

	carry *cameraCarry // what outlives an incarnation
	// The capture jobs. Each carries its state (camera_job.go); these are
	// indexes that follow it, kept in step by move.
	jobs       map[int64]*captureJob  // by job id: every job not yet answered, or answered and reaping its child
	queue      []*captureJob          // the queued ones: operators' first, then oldest first
	children   map[string]*captureJob // by child actor id: jobs whose child's reports are still read
	preempting string                 // the patrol child stopped for a live view, until it terminated: one at a time

	lease     *actor.PID           // the live view's child: holds one slot while it lives
	stream    streamChild          // stream mode's child: holds one slot while it lives (camera_stream.go)
	leaseWait []*leaseRequest      // live views waiting for a slot (or for their look at go2rtc)
	looking   time.Time            // when a live view's CheckConnections was asked, until answered
	lookNow   bool                 // the look being taken in is the waiting live view's
	leaseRide string               // the stream not ours the live view plays, "" for camvisor_<camera>
	external  messages.ExternalUse // go2rtc's streams not ours that read the camera, as of its last look

	retiring    *time.Timer  // retired by a reload, its live view draining (camera_reload.go)
	health      cameraHealth // its breaker, busy spells, recent durations (camera_health.go)
	last        *messages.CaptureDone
	lastFrame   []byte // the latest JPEG, for the dashboard
	lastFrameAt time.Time

	paused       *messages.Pause // while paused: no slot, no process (camera_pause.go)
	pauseWaiters []*actor.PID    // asked SetPause: answered once the children are gone
}

// cameraCarry is what one incarnation of a camera actor hands the next:
// numbers that must stay unique for the whole run (they key rows of the
// record), and whether a live view may still hold a connection. The props
// closure holds it; incarnations run one after another on the same
// mailbox, so it needs no lock.
type cameraCarry struct {
	ffmpegSeq, jobSeq, leaseSeq int64
	drain                       bool         // the previous incarnation had a lease
	restartWaiters              []*actor.PID // asked for the restart: answered by the next incarnation
	deepProbe                   bool         // a capture succeeded only on its deep-probing retry
	// The last capture and the latest frame: a restart does not make the
	// camera forget what it last showed (the dashboard and the API keep
	// agreeing with the hub, which saw them).
	last    *messages.CaptureDone
	frame   []byte
	frameAt time.Time
	// inflight are the frames asked of the cycle's go2rtc source, by job
	// id, whose capture was answered (its deadline passed, or the camera
	// stopped) before go2rtc answered: their camera connections last until
	// go2rtc answers (to the same pid, whichever incarnation reads it), so
	// their slots stay held until then.
	inflight map[int64]bool
	interval time.Duration // the subnet's, when a reload changed it
}

// leaseRequest is a live view waiting for a slot.
type leaseRequest struct {
	grant  *messages.GrantLease
	asker  *actor.PID
	expiry *time.Timer
}

// The camera's own messages: the timers it sets, the notes it sends
// itself, and its lease child's hand-back. No actor outside the camera's
// subtree sends them, so they are declared here rather than in messages/.
type (
	queueExpired     struct{ job int64 }             // a queued capture's deadline passed
	admissionExpired struct{ job int64 }             // a capture's admission did not come in time
	fetchExpired     struct{ job int64 }             // a frame asked of a source is past the capture's deadline
	childGone        struct{ id string }             // sent to self behind a capture child's last report
	leaseWaited      struct{ request *leaseRequest } // a live view waited request_timeout for a slot
	grantDeferred    struct{ request *leaseRequest } // from the lease, ending: keep this request until the slot is free
	busyOver         struct{}                        // a busy spell's reserved slot is given back
	retireDue        struct{}                        // a retiring camera's live view took too long to drain
)

func cameraProps(env *Env, cam config.SubnetCamera, parent *stopCause) *actor.Props {
	carry := &cameraCarry{}
	return actor.PropsFromProducer(lived(func() *cameraActor {
		cam := cam
		cam.Interval = carry.intervalOr(cam.Interval)
		a := &cameraActor{carry: carry, last: carry.last, lastFrame: carry.frame, lastFrameAt: carry.frameAt,
			env: env, cam: cam, redactor: redact.ForURL(cam.URL),
			cause: newStopCause(parent), jobs: map[int64]*captureJob{}, children: map[string]*captureJob{},
		}
		a.strategy = env.Policy.Supervision.snapshots(env.Config.FFmpeg, a.decide)
		if p, ok := env.pauseOf(cam.Camera); ok {
			a.paused = &p // paused before it starts: it starts nothing
		}
		return a
	}))
}

// Receive takes one message: a capture's steps, the live view's, the
// camera's health and reloads, questions, and its own life. Each case has
// one method, named after the message, in the file of its concern.
func (a *cameraActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)

	// A capture's life (its states: camera_job.go).
	case *messages.Capture:
		a.onCapture(ctx, msg)
	case *queueExpired:
		a.onQueueExpired(ctx, msg)
	case *messages.AdmissionGranted:
		a.onAdmissionGranted(ctx, msg)
	case *admissionExpired:
		a.onAdmissionExpired(ctx, msg)
	case *messages.SnapshotWaiting:
		a.onSnapshotWaiting(ctx)
	case *messages.SnapshotTaken:
		a.onSnapshotTaken(ctx, msg)
	case *actor.Terminated:
		a.onTerminated(ctx, msg)
	case *childGone:
		a.onChildGone(ctx, msg)
	case *messages.FrameFetched: // camera_go2rtc.go
		a.onFrameFetched(ctx, msg)
	case *fetchExpired: // camera_go2rtc.go
		a.onFetchExpired(ctx, msg)

	// Live view and go2rtc's connections (camera_go2rtc.go).
	case *messages.GrantLease:
		a.onGrantLease(ctx, msg)
	case *grantDeferred:
		a.onGrantDeferred(ctx, msg)
	case *leaseWaited:
		a.onLeaseWaited(ctx, msg)
	case *messages.ReleaseLease:
		a.onReleaseLease(ctx)
	case *messages.ConnectionsSeen:
		a.onConnectionsSeen(ctx, msg)
	case *messages.ConnectionsChecked:
		a.onConnectionsChecked(ctx, msg)

	// Health (camera_health.go), restarts, reloads (camera_reload.go).
	case *busyOver:
		a.onBusyOver(ctx)
	case *messages.RestartCamera:
		a.onRestartCamera(ctx, msg)
	case *messages.RetireCamera:
		a.onRetireCamera(ctx, msg)
	case *retireDue:
		a.onRetireDue(ctx)
	case *messages.SetInterval:
		a.onSetInterval(msg)
	case *messages.SetPause: // camera_pause.go
		a.onSetPause(ctx, msg)

	// Questions.
	case *messages.Describe:
		a.onDescribe(ctx)
	case *messages.ListOwnedProcesses:
		a.onListOwnedProcesses(ctx)
	case *messages.GetCameraStatus:
		a.onGetCameraStatus(ctx)
	case *messages.GetFrame:
		a.onGetFrame(ctx)

	case *actor.Stopping:
		a.onStopping(ctx)
	case *actor.Restarting:
		a.onRestarting(ctx)
	}
}

func (a *cameraActor) onStarted(ctx actor.Context) {
	a.env.Log.Debug("camera started", "camera", a.cam.ID, "subnet", a.cam.Subnet, "max_connections", a.cam.MaxConnections)
	if a.carry.drain && a.env.Config.Go2RTC.Enabled() {
		// The previous instance's live view may still have a viewer, and
		// go2rtc its camera connection: hold a slot until go2rtc shows none.
		a.carry.drain = false
		a.spawnLease(ctx, leaseSpec{drainOnly: true})
	}
	a.reconcileStream(ctx)
	// A restarted camera holds only that: say so, or the dashboard and the
	// census keep the old instance's slots.
	a.publishSlots(ctx)
	if a.paused != nil {
		a.publishState(ctx) // the hub, the metrics and the alerts learn it is paused
	}
	// The old instance's children are gone (their processes reaped) before
	// a new instance starts: a requested restart is done.
	for _, w := range a.carry.restartWaiters {
		ctx.Send(w, &messages.CameraRestarted{Camera: a.cam.ID, Restarts: a.incarnation - 1})
	}
	a.carry.restartWaiters = nil
}

func (a *cameraActor) onCapture(ctx actor.Context, msg *messages.Capture) {
	a.carry.jobSeq++
	job := &captureJob{id: a.carry.jobSeq, req: *msg, replyTo: ctx.Sender(), asked: time.Now()}
	if job.req.Deadline.IsZero() {
		job.req.Deadline = job.asked.Add(a.env.Config.FFmpeg.CaptureTimeout.Duration)
	}
	a.jobs[job.id] = job
	if a.paused != nil {
		a.refusePaused(ctx, job)
		return
	}
	if a.gate(ctx, job) {
		a.route(ctx, job)
	}
}

// route takes job's frame by the cheapest path in the budget: over a
// connection that is open already (a live lease's, an external stream's),
// else through the cycle's go2rtc source or an ffmpeg child, each of which
// takes a slot.
func (a *cameraActor) route(ctx actor.Context, job *captureJob) {
	switch {
	case a.stopping:
		a.answer(ctx, job, messages.OutcomeStopped, "camera is stopping", nil)
	case a.paused != nil:
		a.refusePaused(ctx, job)
	case !a.ridesOpenConnection(job):
		a.admit(ctx, job)
	case a.streamServes(job):
		a.fromStream(ctx, job)
	case a.lease != nil:
		a.fetch(ctx, job, viaLease, a.lease, StreamName(a.cam.ID), false)
	default:
		a.fetch(ctx, job, viaExternal, a.env.peers.gateway, a.rideStream(), false)
	}
}

// ridesOpenConnection reports whether route takes job's frame over a
// connection that is open already (the stream's, the lease's, an external
// stream's): no slot is taken for it.
func (a *cameraActor) ridesOpenConnection(job *captureJob) bool {
	if job.viaErr != "" {
		return false
	}
	return a.streamServes(job) || a.lease != nil || a.rideStream() != ""
}

// Frame paths recorded in captures.via.
const (
	viaFFmpeg   = "ffmpeg"
	viaGo2RTC   = "go2rtc"   // the cycle's patrol source in go2rtc (camvisor_<camera>, or an idle stream not ours): go2rtc may open a connection for it
	viaLease    = "lease"    // a live view's connection
	viaExternal = "external" // the open connection of a go2rtc stream camvisor did not create
)

// admit gives job a slot, or a place in the queue, or refuses it. A
// patrol capture leaves a free slot to a live view that waits for one.
func (a *cameraActor) admit(ctx actor.Context, job *captureJob) {
	switch {
	case a.slotsHeld() < a.cam.MaxConnections && !(job.req.Cycle != 0 && len(a.leaseWait) > 0):
		a.start(ctx, job)
	case len(a.queue) < a.cam.Queue:
		a.move(job, jobQueued)
		job.expiry = after(ctx.ActorSystem(), ctx.Self(), time.Until(job.req.Deadline), &queueExpired{job: job.id})
	default:
		a.answer(ctx, job, messages.OutcomeNoSlot, fmt.Sprintf("%s%v: %s and %d captures queued",
			job.fallbackNote(), messages.ErrNoSlot, a.holders(), len(a.queue)), nil)
	}
}

// start takes a slot for job: its frame asked of the cycle's go2rtc
// source, or, when there is none (or it gave no frame), an ffmpeg child.
func (a *cameraActor) start(ctx actor.Context, job *captureJob) {
	if job.req.Source != "" && job.viaErr == "" {
		a.fetch(ctx, job, viaGo2RTC, a.env.peers.gateway, job.req.Source, true)
		return
	}
	if a.cam.SnapshotURL != "" {
		a.startHTTP(ctx, job) // the camera's own JPEG: no process (camera_http.go)
		return
	}
	// The slot is ours from now; the process starts when the machine-wide
	// admission grants it (invariant 7). Waiting is not charged to it.
	a.move(job, jobAdmitting)
	job.expiry = after(ctx.ActorSystem(), ctx.Self(), time.Until(job.req.Deadline)-a.minWindow(), &admissionExpired{job: job.id})
	ctx.Request(a.env.peers.admission, &messages.RequestAdmission{Ref: job.id, Camera: a.cam.ID, Operator: job.req.Cycle == 0, Due: job.req.Due})
	a.publishSlots(ctx)
}

// onQueueExpired refuses a queued capture whose deadline passed.
func (a *cameraActor) onQueueExpired(ctx actor.Context, msg *queueExpired) {
	job := a.jobs[msg.job]
	if job == nil || job.state != jobQueued {
		return
	}
	a.answer(ctx, job, messages.OutcomeNoSlot, fmt.Sprintf("%s%v before the deadline: %d of %d slots held",
		job.fallbackNote(), messages.ErrNoSlot, a.slotsHeld(), a.cam.MaxConnections), nil)
}

// onAdmissionGranted starts the process of a capture the machine-wide
// admission let through: its whole capture timeout from now, within the
// capture's own deadline.
func (a *cameraActor) onAdmissionGranted(ctx actor.Context, msg *messages.AdmissionGranted) {
	job := a.jobs[msg.Ref]
	if job == nil || job.state != jobAdmitting || a.stopping {
		ctx.Request(a.env.peers.admission, &messages.WithdrawAdmission{Ref: msg.Ref})
		return
	}
	job.waited, job.admitted = msg.Waited, true
	deadline := time.Now().Add(a.env.Config.FFmpeg.CaptureTimeout.Duration)
	if job.req.Deadline.Before(deadline) {
		deadline = job.req.Deadline
	}
	a.carry.ffmpegSeq++
	job.cause = newStopCause(a.cause)
	url := a.cam.URL
	if job.req.Cycle != 0 {
		url = a.cam.PatrolURL() // the patrol's frames are for detection: the sub-stream when there is one
	}
	props := ffmpegProps(a.env, snapshotJob{
		Camera: a.cam.ID, Subnet: a.cam.Subnet, URL: url, Redactor: redact.ForURL(url), Deadline: deadline,
		DeepProbe: a.carry.deepProbe, cameraInput: a.input(),
	}, job.cause)
	pid, err := ctx.SpawnNamed(props, ffmpegName(a.carry.ffmpegSeq))
	if err != nil {
		a.releaseAdmission(ctx, job)
		a.answer(ctx, job, messages.OutcomeSpawnError, "spawn ffmpeg actor: "+err.Error(), nil)
		a.dispatch(ctx)
		return
	}
	job.child = pid.Id
	a.move(job, jobRunning)
}

// onAdmissionExpired gives up a capture the admission did not let through
// in time: the cycle is about to end (or an operator's deadline passed).
func (a *cameraActor) onAdmissionExpired(ctx actor.Context, msg *admissionExpired) {
	job := a.jobs[msg.job]
	if job == nil || job.state != jobAdmitting {
		return
	}
	ctx.Request(a.env.peers.admission, &messages.WithdrawAdmission{Ref: job.id})
	job.waited = time.Since(job.asked)
	if job.req.Cycle != 0 {
		a.answer(ctx, job, messages.OutcomeSkipped, "waited for admission (the machine was busy) until the cycle's end", nil)
	} else {
		a.answer(ctx, job, messages.OutcomeNoSlot, "the machine was too busy: no admission before the deadline", nil)
	}
	a.publishSlots(ctx)
	a.dispatch(ctx)
}

// onSnapshotWaiting gives the grant of a capture's process back: it waits
// on the camera, not on the CPU.
func (a *cameraActor) onSnapshotWaiting(ctx actor.Context) {
	if job := a.children[ctx.Sender().Id]; job != nil && job.childLives() {
		a.releaseAdmission(ctx, job)
	}
}

// releaseAdmission gives a job's grant back once its process is gone.
func (a *cameraActor) releaseAdmission(ctx actor.Context, job *captureJob) {
	if !job.admitted {
		return
	}
	job.admitted = false
	ctx.Request(a.env.peers.admission, &messages.ReleaseAdmission{Ref: job.id})
}

// minWindow is the least time a process is started for: less would only
// start it to kill it.
func (a *cameraActor) minWindow() time.Duration {
	return a.env.Policy.captureWindow(a.cam.Interval)
}

// HandleFailure makes the camera the supervisor of its ffmpeg children:
// a child whose attempt failed in a way a second try may mend is restarted,
// at most ffmpeg.retries times within the capture timeout; then it is
// stopped and the capture answered with its last failure.
func (a *cameraActor) HandleFailure(system *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, msg any) {
	if a.isStream(child) {
		a.superviseStream().HandleFailure(system, sup, child, rs, reason, msg)
		return
	}
	a.strategy.HandleFailure(system, sup, child, rs, reason, msg)
}

// decide is the child strategy's decider. A failing camera gets no retries:
// it is not hammered in a loop; neither is one whose deadline is near.
func (a *cameraActor) decide(reason any) actor.Directive {
	res, ok := reason.(*messages.SnapshotTaken)
	if !ok {
		a.env.Log.Error("ffmpeg actor crashed", "camera", a.cam.ID, "reason", fmt.Sprint(reason))
		return actor.StopDirective // a bug in the child: do not loop on it
	}
	switch res.Outcome {
	case messages.OutcomeExit, messages.OutcomeEmpty, messages.OutcomeSignal:
		if a.health.open || time.Until(res.Deadline) < a.env.Policy.MinRetryWindow {
			return actor.StopDirective
		}
		return actor.RestartDirective
	}
	return actor.StopDirective
}

// onSnapshotTaken records a child's attempt; a frame answers at once, a
// failure waits for the child to terminate (it may be retried).
func (a *cameraActor) onSnapshotTaken(ctx actor.Context, msg *messages.SnapshotTaken) {
	job := a.children[ctx.Sender().Id]
	if job == nil {
		return
	}
	if msg.OSPID != 0 || msg.Outcome == messages.OutcomeSpawnError {
		job.attempts++
	}
	job.last = msg
	if msg.Outcome == messages.OutcomeOK {
		if job.attempts > 1 && !a.carry.deepProbe {
			// Only the retry's deep probe worked: this camera needs it.
			a.carry.deepProbe = true
			a.env.Log.Info("camera needs a deep probe: its captures read more of the stream from now on", "camera", a.cam.ID)
		}
		a.answer(ctx, job, messages.OutcomeOK, "", msg)
	}
}

// onTerminated frees the child's slot (its process is reaped: the child
// stops only after that) and hands it to the oldest queued capture. The
// answer waits for childGone: Terminated is a system message and overtakes
// the child's last report, which is still in the mailbox.
func (a *cameraActor) onTerminated(ctx actor.Context, msg *actor.Terminated) {
	defer a.pauseDone(ctx) // a pause waits for every child to be gone
	if a.lease != nil && msg.Who.Id == a.lease.Id {
		a.onLeaseTerminated(ctx)
		a.onLeaseDrained(ctx)
		return
	}
	if a.isStream(msg.Who) {
		a.onStreamTerminated(ctx)
		return
	}
	job := a.children[msg.Who.Id]
	if job == nil || !job.childLives() {
		return
	}
	a.releaseAdmission(ctx, job)
	preempted := a.preempting == msg.Who.Id
	if preempted {
		a.preempting = ""
	}
	switch {
	case job.state == jobReaping:
		a.move(job, jobAnswered)
	case preempted:
		a.move(job, jobPreempted)
	default:
		a.move(job, jobFinishing)
	}
	if a.stopping {
		// No user message is read after the last child is gone: answer now.
		a.answer(ctx, job, messages.OutcomeStopped, "camera stopped: "+string(a.cause.get()), job.last)
		return
	}
	if !job.answered() {
		ctx.Send(ctx.Self(), &childGone{id: msg.Who.Id})
	}
	a.dispatch(ctx)
	a.publishSlots(ctx)
}

// onChildGone answers a capture whose child terminated, once every report
// the child sent has been read.
func (a *cameraActor) onChildGone(ctx actor.Context, msg *childGone) {
	job := a.children[msg.id]
	switch {
	case job == nil: // answered meanwhile, by a late frame
		return
	case a.paused != nil:
		a.answer(ctx, job, messages.OutcomePaused, "stopped mid-capture: "+a.pausedText(), job.last)
		return
	case job.state == jobPreempted:
		a.retryPreempted(ctx, job)
		return
	}
	if job.last != nil && job.last.Outcome == messages.OutcomeBusy && !job.busyRetried && !a.stopping {
		// Other clients hold the camera's connections: count one slot less
		// for a while, and try once more if one of ours is still free.
		job.busyRetried = true
		a.noteBusy(ctx, job)
		if a.slotsHeld() < a.cam.MaxConnections && time.Until(job.req.Deadline) > a.minWindow() {
			a.move(job, jobRouting)
			a.admit(ctx, job)
			return
		}
	}
	if job.last != nil {
		a.answer(ctx, job, job.last.Outcome, job.last.Error, job.last)
		return
	}
	a.answer(ctx, job, messages.OutcomeStopped, "capture stopped before a process ran", nil)
}

// onRestartCamera fails on purpose: "let it crash" is the one restart path,
// so an operator's restart and a bug's panic end the instance alike. It is
// not a failure, though: the supervisor restarts the camera at once and
// does not count it toward its back-off (policy.go, restartRequested).
// A restart asked before this instance started is answered by it: the
// restart pending when it was asked is done (a storm of restarts is one
// restart). One whose asker gave up waiting is withdrawn.
func (a *cameraActor) onRestartCamera(ctx actor.Context, msg *messages.RestartCamera) {
	switch {
	case !asking(ctx):
		a.env.Log.Info("camera restart withdrawn: its asker no longer waits", "camera", a.cam.ID, "reason", msg.Reason)
		return
	case !msg.Asked.IsZero() && msg.Asked.Before(a.startedAt):
		ctx.Respond(&messages.CameraRestarted{Camera: a.cam.ID, Restarts: a.incarnation - 1})
		return
	}
	a.env.Log.Warn("camera restart requested", "camera", a.cam.ID, "subnet", a.cam.Subnet, "reason", msg.Reason)
	if ctx.Sender() != nil {
		a.carry.restartWaiters = append(a.carry.restartWaiters, ctx.Sender())
	}
	panic(restartRequested{reason: msg.Reason})
}

func (a *cameraActor) onDescribe(ctx actor.Context) { answerDescribe(ctx, a.describe(ctx)) }

func (a *cameraActor) onListOwnedProcesses(ctx actor.Context) {
	answerOwned(ctx, nil, a.processChildren(ctx))
}

func (a *cameraActor) onGetCameraStatus(ctx actor.Context) { ctx.Respond(a.status()) }

func (a *cameraActor) onGetFrame(ctx actor.Context) {
	ctx.Respond(&messages.Frame{Camera: a.cam.ID, JPEG: a.lastFrame, At: a.lastFrameAt})
}

// onStopping: the parent stops the camera.
func (a *cameraActor) onStopping(ctx actor.Context) { a.windDown(ctx, a.cause.parent.get()) }

// onRestarting: the camera failed, or was asked to restart.
func (a *cameraActor) onRestarting(ctx actor.Context) { a.windDown(ctx, messages.StopRestart) }

// windDown refuses what waits: nothing new starts. Running children are
// stopped by the library after a stop or a restart (by onRetireCamera
// after a retirement), and answered as they terminate.
func (a *cameraActor) windDown(ctx actor.Context, reason messages.StopReason) {
	a.cause.set(reason)
	a.stopping = true
	why := "camera stopped: " + string(reason)
	for len(a.queue) > 0 {
		a.answer(ctx, a.queue[0], messages.OutcomeStopped, why, nil)
	}
	for _, job := range a.jobs {
		if job.state == jobFetching { // a go2rtc source's slot passes to carry.inflight
			a.answer(ctx, job, messages.OutcomeStopped, why, nil)
		}
	}
	// Answers this instance still owed: after Stopping no self-message it
	// sent is read (a restart hands them to the next instance, which does
	// not know them).
	for _, job := range a.jobs {
		if job.state == jobFinishing || job.state == jobPreempted {
			a.answer(ctx, job, messages.OutcomeStopped, why, job.last)
		}
	}
	stopTimer(a.health.busyTimer)
	for _, job := range a.jobs {
		if job.state == jobAdmitting {
			ctx.Request(a.env.peers.admission, &messages.WithdrawAdmission{Ref: job.id})
			a.answer(ctx, job, messages.OutcomeStopped, why, nil)
		}
	}
	for _, r := range a.leaseWait {
		r.expiry.Stop()
		a.refuseLease(ctx, r, why)
	}
	a.leaseWait = nil
	if a.lease != nil {
		a.carry.drain = true
	}
}

// dispatch hands free slots on: to an operator's capture first, then to a
// live view, then to the patrol's captures. A live view waits for go2rtc's
// look first; one that plays a declared stream holding a connection needs
// no free slot (that connection's becomes its own).
func (a *cameraActor) dispatch(ctx actor.Context) {
	defer a.reconcileStream(ctx)
	if !a.stopping && a.paused == nil && len(a.leaseWait) > 0 && a.lease == nil && a.liveOpen() != "" && a.lookReady(ctx) {
		r := a.leaseWait[0]
		a.leaseWait = a.leaseWait[1:]
		r.expiry.Stop()
		a.grantLease(ctx, r)
	}
	for !a.stopping && a.paused == nil && a.slotsHeld() < a.cam.MaxConnections {
		switch {
		case len(a.queue) > 0 && a.queue[0].req.Cycle == 0:
		case len(a.leaseWait) > 0 && a.lease == nil && a.lookReady(ctx):
			r := a.leaseWait[0]
			a.leaseWait = a.leaseWait[1:]
			r.expiry.Stop()
			a.grantLease(ctx, r)
			continue
		case len(a.queue) > 0 && (len(a.leaseWait) == 0 || a.ridesOpenConnection(a.queue[0])):
			// While a live view waits for its slot, a patrol capture
			// leaves the queue only to ride a connection already open:
			// admit would queue it again, and this loop would not end.
		default:
			return
		}
		job := a.queue[0]
		a.move(job, jobRouting)
		a.route(ctx, job)
	}
}

// slotsHeld counts every connection to the camera we know of, and the
// slots reserved for captures waiting for their process's admission.
func (a *cameraActor) slotsHeld() int {
	return a.ffmpegSlots() + a.fetchSlots() + a.leaseSlots() + a.externalSlots()
}

// externalSlots are the connections of other clients: go2rtc's for streams
// not ours, and the one a busy camera holds back for them.
func (a *cameraActor) externalSlots() int { return len(a.externalOpen()) + a.busyReserve() }

// ffmpegSlots counts the capture children (ffmpeg or HTTP), the captures
// waiting for the admission to start theirs, and the stream-mode child.
func (a *cameraActor) ffmpegSlots() int { return a.captureSlots() + a.streamSlots() }

// captureSlots counts the captures' children and the captures waiting for
// the admission to start theirs.
func (a *cameraActor) captureSlots() int { return a.countJobs((*captureJob).holdsProcessSlot) }

// fetchSlots counts the frames asked of go2rtc that may hold a camera
// connection of their own (those answered already included).
func (a *cameraActor) fetchSlots() int {
	return a.countJobs((*captureJob).holdsFetchSlot) + len(a.carry.inflight)
}

// leaseSlots is the live view's slot.
func (a *cameraActor) leaseSlots() int {
	if a.lease != nil {
		return 1
	}
	return 0
}

// holders says what holds the camera's slots, for a refusal.
func (a *cameraActor) holders() string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(a.captureSlots(), "by ffmpeg captures")
	add(a.streamSlots(), "by a stream-mode ffmpeg")
	add(a.fetchSlots(), "by frames asked of go2rtc")
	add(a.leaseSlots(), "by a live view")
	if open := a.externalOpen(); len(open) > 0 {
		add(len(open), fmt.Sprintf("by go2rtc for streams not camvisor's (%s)", strings.Join(open, ", ")))
	}
	held := fmt.Sprintf("%d of %d slots held", a.slotsHeld(), a.cam.MaxConnections)
	if len(parts) == 0 {
		return held
	}
	return held + " (" + strings.Join(parts, ", ") + ")"
}

// processChildren are the children that may own a process: the capture
// children alive and the stream child.
func (a *cameraActor) processChildren(ctx actor.Context) []*actor.PID {
	var out []*actor.PID
	for _, c := range ctx.Children() {
		if a.captureChild(c) != nil || a.isStream(c) {
			out = append(out, c)
		}
	}
	return out
}

// captureChild is the job whose child c is, while c lives.
func (a *cameraActor) captureChild(c *actor.PID) *captureJob {
	if job := a.children[c.Id]; job != nil && job.childLives() {
		return job
	}
	return nil
}

// status is the camera's state, typed.
func (a *cameraActor) status() *messages.CameraStatus {
	st := &messages.CameraStatus{Camera: a.cam.ID, Subnet: a.cam.Subnet, Name: a.cam.DisplayName(), State: a.state(), MaxConnections: a.cam.MaxConnections,
		SlotsFFmpeg: a.ffmpegSlots(), SlotsGo2RTC: a.fetchSlots(), SlotsLease: a.leaseSlots(), SlotsExternal: a.externalSlots(),
		QueueLength: len(a.queue), Failing: a.health.open, ConsecutiveFailures: a.health.failures, Busy: a.health.busy,
		Health: a.healthState()}
	st.CaptureP50, st.CaptureP95 = a.durations()
	if a.health.open {
		st.Breaker, st.NextProbe, st.Backoff = "open", a.health.nextProbe, a.health.backoff
	} else {
		st.Breaker = "closed"
	}
	if a.paused != nil {
		p := *a.paused
		st.Pause = &p
	}
	if a.last != nil {
		last := *a.last
		last.JPEG = nil
		st.Last = &last
	}
	return st
}

// state is the camera's state: stopping, paused, failing, busy or running.
func (a *cameraActor) state() string {
	switch {
	case a.stopping:
		return messages.StateStopping
	case a.paused != nil:
		return messages.StatePaused
	case a.health.open:
		return messages.StateFailing
	case a.health.busy:
		return messages.StateBusy
	}
	return messages.StateRunning
}

// describe is the camera's node of the actor tree: its status, for display.
func (a *cameraActor) describe(ctx actor.Context) *messages.Node {
	st := a.status()
	f := map[string]any{"camera": a.cam.ID, "max_connections": st.MaxConnections, "slots_held": a.slotsHeld(),
		"slots_ffmpeg": st.SlotsFFmpeg, "slots_go2rtc": st.SlotsGo2RTC, "slots_lease": st.SlotsLease,
		"slots_external": st.SlotsExternal, "queue_length": st.QueueLength,
		"failing": st.Failing, "consecutive_failures": st.ConsecutiveFailures, "url": redact.URL(a.cam.URL), "last_capture": nil}
	if d := st.Last; d != nil {
		f["last_capture"] = map[string]any{"outcome": d.Outcome, "at": d.EndedAt, "duration_ms": d.EndedAt.Sub(d.StartedAt).Milliseconds(),
			"via": d.Via, "error": d.Error, "os_pid": d.OSPID}
	}
	return a.node(ctx, "camera", st.State, f)
}

// publishSlots tells the census, the hub and the metrics the slot use.
func (a *cameraActor) publishSlots(ctx actor.Context) {
	ctx.ActorSystem().EventStream.Publish(&messages.SlotsChanged{
		Camera: a.cam.ID, Subnet: a.cam.Subnet, FFmpeg: a.ffmpegSlots(), Go2RTC: a.fetchSlots(), Leases: a.leaseSlots(),
		External: a.externalSlots(), MaxConnections: a.cam.MaxConnections, QueueLength: len(a.queue), At: time.Now(),
	})
}

// answer sends the capture's outcome to whoever asked and publishes it,
// once. A job whose child lives reaps it: the child holds its slot until
// it is gone.
func (a *cameraActor) answer(ctx actor.Context, job *captureJob, o messages.Outcome, errText string, snap *messages.SnapshotTaken) {
	switch job.state {
	case jobReaping, jobAnswered:
		return
	case jobRunning:
		a.move(job, jobReaping)
	default:
		a.move(job, jobAnswered)
	}
	done := a.record(ctx, job, o, errText, snap)
	if job.replyTo != nil {
		ctx.Send(job.replyTo, done)
	}
	a.last = done
	if len(done.JPEG) > 0 {
		a.lastFrame, a.lastFrameAt = done.JPEG, done.EndedAt
	}
	a.carry.last, a.carry.frame, a.carry.frameAt = done, a.lastFrame, a.lastFrameAt
	a.noteHealth(ctx, job, done)
	a.reconcileStream(ctx)
}

// record publishes the outcome of job's attempt (a capture row).
func (a *cameraActor) record(ctx actor.Context, job *captureJob, o messages.Outcome, errText string, snap *messages.SnapshotTaken) *messages.CaptureDone {
	done := &messages.CaptureDone{
		Key:    fmt.Sprintf("%s-%d-%d", a.cam.ID, a.life.incarnation, job.id),
		Camera: a.cam.ID, Subnet: a.cam.Subnet, Cycle: job.req.Cycle, Outcome: o,
		Error: a.redactor.Redact(errText), Via: viaFFmpeg, Attempts: job.attempts, Waited: job.waited,
		StartedAt: job.asked, EndedAt: time.Now(),
	}
	if job.via != "" {
		done.Via = job.via
	}
	if snap != nil {
		done.OSPID = snap.OSPID
		if o == messages.OutcomeOK {
			done.JPEG, done.Bytes = snap.JPEG, len(snap.JPEG)
		}
	}
	ctx.ActorSystem().EventStream.Publish(done)
	return done
}
