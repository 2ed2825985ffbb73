package actors

import (
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// A capture job's life inside its camera. The job carries one state, and
// the camera's collections of jobs are indexes that follow it: jobs (by
// id, every job until it is answered and holds nothing), queue (the
// queued ones, in the order they get slots), children (by child actor id,
// every job whose child's reports are still read). move is the one place
// a state changes, and it keeps the indexes in step.

// captureJob is one Capture from request to answer.
type captureJob struct {
	id       int64
	req      messages.Capture
	replyTo  *actor.PID
	asked    time.Time
	state    jobState
	child    string      // its child actor's id (ffmpeg or HTTP) while children holds it
	expiry   *time.Timer // the deadline of its state: queued, admitting or fetching
	attempts int
	last     *messages.SnapshotTaken
	via      string        // the path its frame came by when not ffmpeg: lease, go2rtc, external, stream, http
	opens    bool          // fetching from a go2rtc stream with no connection known open: go2rtc may open one, on the job's slot
	viaErr   string        // why go2rtc did not serve it, when it fell back
	waited   time.Duration // for its grant of the machine-wide admission
	cause    *stopCause    // its ffmpeg child's: set to preempted when a live view takes its slot

	// What it holds and what happened to it, whatever its state.
	admitted    bool // holds a grant of the machine-wide admission, given back once
	probe       bool // a probe of a camera whose breaker is open
	busyRetried bool // tried again within its deadline after the camera was busy
	busyCounted bool // counted in the camera's busy cycles
}

// jobState is where a capture job is, and what it holds there.
//
// Transitions (jobMoves holds the same table; move logs any other one as
// a bug, naming the camera, the job, from and to):
//
//	from       to         on
//	routing    queued     every slot held and room in the queue (admit)
//	routing    admitting  a slot free: the ffmpeg child waits for the admission (start)
//	routing    running    a slot free and a snapshot_url: the HTTP child is spawned (startHTTP)
//	routing    fetching   the stream, the lease or an external stream's open connection serves it (route); the cycle's go2rtc source (start)
//	routing    answered   breaker open, camera stopping, no slot and no room, spawn failed, a fetched frame judged
//	queued     routing    a slot came free (dispatch)
//	queued     answered   queueExpired; the camera stops
//	admitting  running    AdmissionGranted: the ffmpeg child is spawned
//	admitting  answered   admissionExpired; the camera stops; the spawn failed
//	running    reaping    its child sent a frame: the answer goes out now
//	running    finishing  its child terminated
//	running    preempted  its child, stopped for a live view, terminated
//	reaping    answered   its child terminated
//	fetching   routing    the source answered (or ended): the frame is judged, or taken another way
//	fetching   routing    Crowded: connections not ours opened since the camera counted them; it rides one, or waits
//	fetching   answered   fetchExpired; the camera stops
//	finishing  routing    childGone: the camera was busy, a slot is free, the deadline allows one more try
//	finishing  answered   childGone; a late frame; the camera stops
//	preempted  routing    childGone: recorded as preempted, taken again (through the live view)
//	preempted  answered   a late frame; the camera stops
//
// A frame asked of the cycle's go2rtc source that is answered before
// go2rtc answers keeps its slot: the request's id passes to
// cameraCarry.inflight until go2rtc answers.
type jobState int

const (
	jobRouting   jobState = iota // between places, holding nothing: its next one is chosen within the same message
	jobQueued                    // waits in the queue for a slot; holds nothing
	jobAdmitting                 // holds a slot; waits for the machine-wide admission (invariant 7)
	jobRunning                   // its child (ffmpeg or HTTP) holds the slot and takes the frame
	jobFetching                  // its frame is asked of a frame source; holds a slot only when go2rtc may open a connection for it (opens)
	jobFinishing                 // its child is gone; answered once the child's last reports are read (childGone)
	jobPreempted                 // its child, stopped for a live view, is gone; taken again once its last reports are read
	jobReaping                   // answered with its child's frame; the child holds the slot until it is gone
	jobAnswered                  // answered, holds nothing: forgotten
)

func (s jobState) String() string {
	return [...]string{"routing", "queued", "admitting", "running", "fetching", "finishing", "preempted", "reaping", "answered"}[s]
}

// jobMoves is the transition table of jobState's comment.
var jobMoves = map[jobState][]jobState{
	jobRouting:   {jobQueued, jobAdmitting, jobRunning, jobFetching, jobAnswered},
	jobQueued:    {jobRouting, jobAnswered},
	jobAdmitting: {jobRunning, jobAnswered},
	jobRunning:   {jobReaping, jobFinishing, jobPreempted},
	jobReaping:   {jobAnswered},
	jobFetching:  {jobRouting, jobAnswered},
	jobFinishing: {jobRouting, jobAnswered},
	jobPreempted: {jobRouting, jobAnswered},
}

// legalMove reports whether jobMoves allows from → to.
func legalMove(from, to jobState) bool {
	for _, s := range jobMoves[from] {
		if s == to {
			return true
		}
	}
	return false
}

// move puts job in state to. It stops the timer of the state left (the
// caller sets the new state's after the move) and keeps the indexes in
// step. An illegal move is a bug: it is logged, and made all the same, so
// that the indexes keep following what the camera does.
func (a *cameraActor) move(job *captureJob, to jobState) {
	from := job.state
	if !legalMove(from, to) {
		a.env.Log.Error("capture job: illegal transition (a bug)", "camera", a.cam.ID, "job", job.id, "from", from.String(), "to", to.String())
	}
	job.state = to
	stopTimer(job.expiry)
	job.expiry = nil
	if from == jobQueued {
		a.dequeue(job)
	}
	switch to {
	case jobQueued:
		a.enqueue(job)
	case jobRunning:
		a.children[job.child] = job
	case jobRouting, jobAnswered:
		if job.child != "" {
			delete(a.children, job.child)
			job.child = ""
		}
	}
	if to != jobAnswered {
		return
	}
	delete(a.jobs, job.id)
	if from == jobFetching && job.opens {
		// The camera connection lasts as long as go2rtc's request.
		if a.carry.inflight == nil {
			a.carry.inflight = map[int64]bool{}
		}
		a.carry.inflight[job.id] = true
	}
}

// answered reports whether job's asker has its answer.
func (j *captureJob) answered() bool { return j.state == jobReaping || j.state == jobAnswered }

// childLives reports whether job's child is alive, holding its slot.
func (j *captureJob) childLives() bool { return j.state == jobRunning || j.state == jobReaping }

// holdsFetchSlot reports whether job's frame is asked of the cycle's go2rtc
// source, which may open a camera connection of its own.
func (j *captureJob) holdsFetchSlot() bool { return j.state == jobFetching && j.opens }

// enqueue puts job in the queue: an operator's before the patrol's.
func (a *cameraActor) enqueue(job *captureJob) {
	i := len(a.queue)
	if job.req.Cycle == 0 {
		for i = 0; i < len(a.queue) && a.queue[i].req.Cycle == 0; i++ {
		}
	}
	a.queue = append(a.queue[:i], append([]*captureJob{job}, a.queue[i:]...)...)
}

// dequeue takes job out of the queue.
func (a *cameraActor) dequeue(job *captureJob) {
	for i, q := range a.queue {
		if q == job {
			a.queue = append(a.queue[:i], a.queue[i+1:]...)
			return
		}
	}
}

// renumber gives job a new id: a second attempt is a capture row of its
// own.
func (a *cameraActor) renumber(job *captureJob) {
	delete(a.jobs, job.id)
	a.carry.jobSeq++
	job.id = a.carry.jobSeq
	a.jobs[job.id] = job
}

// countJobs counts the jobs for which in is true.
func (a *cameraActor) countJobs(in func(*captureJob) bool) int {
	n := 0
	for _, job := range a.jobs {
		if in(job) {
			n++
		}
	}
	return n
}

// holdsProcessSlot reports whether job holds a slot for its child: one
// that waits for its admission, or that lives.
func (j *captureJob) holdsProcessSlot() bool { return j.state == jobAdmitting || j.childLives() }

// fallbackNote says why go2rtc did not serve a job that fell back to
// ffmpeg, for its error text.
func (j *captureJob) fallbackNote() string {
	if j.viaErr == "" {
		return ""
	}
	return "go2rtc gave no frame (" + j.viaErr + "); "
}
