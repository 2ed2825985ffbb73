package messages

import "time"

// Requests: what the rest of the program (the HTTP API through the tree's
// facade, the command) and the actors ask of each other, and the answers.
// A request reads as a command; its answer names the request.

// Capture asks a camera actor for one frame. The camera answers the sender
// with CaptureDone.
type Capture struct {
	Camera string
	Cycle  int64 // the subnet cycle, 0 when an operator asked
	// Deadline is when the capture must be answered (the cycle's end);
	// its process is killed by then, or capture_timeout after it started.
	Deadline time.Time
	Reason   string // "patrol" or "operator"
	// Due is when this camera's patrol capture was due: the machine-wide
	// admission lets the most overdue through first.
	Due time.Time
	// Source is the cycle's go2rtc source for this camera (a stream
	// name), when the subnet is patrolled through go2rtc.
	Source string
	// Fallback: when go2rtc answers without a frame (the camera failed
	// it), try once more with ffmpeg (via auto). Without it (via go2rtc)
	// only an unreachable go2rtc sends the capture to ffmpeg.
	Fallback bool
}

// RestartCamera asks a camera actor to restart from a clean state: it
// fails on purpose, its children are stopped (their processes killed and
// reaped) and its subnet's supervision strategy starts a new instance at
// once, which answers the sender with CameraRestarted. A restart asked
// before the running instance started is answered by that instance
// without another restart (it joins the restart that was pending); one
// whose sender no longer waits for the answer is not carried out.
type RestartCamera struct {
	Reason string
	Asked  time.Time // when it was asked; zero: restart whatever the instance
}

// CameraRestarted answers RestartCamera once the new instance runs.
type CameraRestarted struct {
	Camera   string
	Restarts int // restarts of this camera in this run so far
}

// GetFrame asks a camera for its latest frame; it answers with Frame.
type GetFrame struct{}

// Frame is a camera's latest frame (JPEG nil before the first).
type Frame struct {
	Camera string
	JPEG   []byte
	At     time.Time
}

// GetCameraStatus asks a camera actor for its state; it answers with
// CameraStatus.
type GetCameraStatus struct{}

// CameraStatus is a camera's state as its actor knows it.
type CameraStatus struct {
	Camera              string
	Subnet              string
	Name                string // its display name (cameras[].name, else its id)
	State               string // StateRunning, StateFailing, StateBusy, StatePaused, StateStopping
	Health              CameraHealth
	MaxConnections      int
	SlotsFFmpeg         int // slots held by ffmpeg children
	SlotsGo2RTC         int // slots held by patrol frames asked of go2rtc
	SlotsLease          int // slots held by a live view
	SlotsExternal       int // connections go2rtc holds for streams not camvisor's
	QueueLength         int
	Failing             bool // its breaker is open
	ConsecutiveFailures int
	Breaker             string        // closed or open
	NextProbe           time.Time     // while open: when the patrol tries it next
	Backoff             time.Duration // while open: the wait between probes now
	Busy                bool          // answered busy for alerts.camera_busy_after cycles in a row
	CaptureP50          time.Duration // of its recent captures
	CaptureP95          time.Duration
	Last                *CaptureDone // the last capture answered (without its JPEG), nil before the first
	Pause               *Pause       // while paused (State paused): by whom, why, until when
}

// PauseCamera asks the patrol to pause a camera until Until: its actor
// stops every process it runs (killed and reaped) and gives up every
// slot, refuses captures and live views, and the patrol does not visit it
// until the pause ends (Until, or ResumeCamera). A camera paused already
// takes the new end and reason. The patrol answers PauseAnswer once the
// camera's processes are gone. The pause is recorded (camera_pauses) and
// outlives a restart of camvisor.
type PauseCamera struct {
	Camera string
	Until  time.Time
	Reason string
	By     string // who asks, as the API identifies the caller
}

// ResumeCamera asks the patrol to end a camera's pause now; it answers
// PauseAnswer.
type ResumeCamera struct {
	Camera string
	By     string
}

// PauseAnswer answers PauseCamera and ResumeCamera.
type PauseAnswer struct {
	Camera  string
	Pause   *Pause       // the pause in force; nil after a resume
	Refused PauseRefusal // why nothing changed; empty when done
	Reason  string       // the refusal in words, for people
}

// SetPause tells a camera actor its pause (nil: it is not paused). A
// paused camera stops its children and answers PauseApplied once their
// processes are reaped.
type SetPause struct {
	Pause *Pause
}

// PauseApplied answers SetPause: the camera holds no process and no
// slot now (its children stopped for the pause are reaped), or runs again.
type PauseApplied struct {
	Camera string
}

// ListOwnedProcesses asks an actor which OS processes it and the actors
// below it own, each child asked with a deadline earlier than Deadline. It
// answers with OwnedProcesses. This, not Describe, is what decisions about
// processes read (the reaper's sweep, a restart's check).
type ListOwnedProcesses struct {
	Deadline time.Time // zero: the default question timeout
}

// OwnedProcesses answers ListOwnedProcesses.
type OwnedProcesses struct {
	Processes []OwnedProcess
	// Silent are the paths of actors that did not answer in time: the
	// processes below them cannot be judged now.
	Silent []string
}

// OwnedProcess is one OS process a live actor owns.
type OwnedProcess struct {
	OSPID     int
	Owner     string // the owning actor's path
	Camera    string
	StartedAt time.Time
}

// Describe asks an actor to describe itself and, unless Shallow, its
// children, each asked with a per-child timeout. It answers with *Node.
type Describe struct {
	Shallow bool
	// Deadline is when the asker stops waiting: each level gives its
	// children a shorter one, so one slow leaf shows as such instead of
	// timing out every ancestor at once. Zero means describeTimeout.
	Deadline time.Time
}

// Node is one actor of the live supervision tree.
type Node struct {
	Path      string         `json:"path"`
	Kind      string         `json:"kind"`
	State     string         `json:"state"` // running, stopping, failing, degraded, no answer
	StartedAt time.Time      `json:"started_at"`
	Restarts  int            `json:"restarts"`
	Fields    map[string]any `json:"-"` // kind-specific fields, shown beside the common ones
	Children  []*Node        `json:"children"`
}

// GetHealth asks a service (the gateway) how its outside part is; it
// answers with ServiceHealth.
type GetHealth struct{}

// GetUnmatchedSources asks the gateway for the sources of go2rtc's
// streams it could not attribute to a camera (as of its last listing); it
// answers with UnmatchedSources.
type GetUnmatchedSources struct{}

// UnmatchedSources answers GetUnmatchedSources.
type UnmatchedSources struct {
	Listed  bool      // go2rtc was listed at least once: Sources is known
	At      time.Time // when
	Sources []UnmatchedSource
}

// UnmatchedSource is a source of a go2rtc stream camvisor did not create
// that may read one of its cameras, but which camvisor cannot tell: its
// connections are not counted against any budget. Naming the stream in
// that camera's go2rtc_streams settles it.
type UnmatchedSource struct {
	Stream  string
	URL     string   // as go2rtc lists it, credentials as ***
	Open    bool     // it holds a connection now
	Cameras []string // the cameras it may read (same host), by id
	Reason  string   // why it is not matched
}

// GrantLease asks a camera for a live view: one slot held for as long as
// the lease lasts, its stream registered in go2rtc. A camera with a lease
// extends it instead (one lease, not two). The lease answers the sender
// with LeaseAnswer.
type GrantLease struct {
	Camera string
	Until  time.Time // when playback is over; zero means now + go2rtc.lease
	Reason string    // "detection", "operator"
}

// ReleaseLease ends a camera's lease early.
type ReleaseLease struct {
	Camera string
	Reason string
}

// LeaseAnswer answers GrantLease.
type LeaseAnswer struct {
	Camera    string
	Granted   bool
	Extended  bool   // an existing lease was extended
	Stream    string // the go2rtc stream name
	PlayerURL string // the page a browser plays, empty when none
	Until     time.Time
	Reason    string // why it was refused
}

// StartPlayback asks the playback policy for a live view of a camera on an
// operator's behalf: the same budget and limits as a detection's, without
// the label and score rules. The policy answers the sender with
// PlaybackAnswer.
type StartPlayback struct {
	Camera string
	Reason string
}

// StopPlayback asks the playback policy to end a camera's live view (the
// dashboard's Stop button, the API).
type StopPlayback struct {
	Camera string
	Reason string
}

// PlaybackAnswer answers StartPlayback.
type PlaybackAnswer struct {
	Camera    string
	Playing   bool
	PlayerURL string
	Until     time.Time
	Reason    string // why not
}

// GetPlaybacks asks the playback policy what plays now; it answers with
// Playbacks.
type GetPlaybacks struct{}

// Playbacks is what plays now.
type Playbacks struct {
	Live []PlaybackStarted
}

// Sweep asks the reaper for a sweep of /proc now; it answers with
// SweepDone. The root asks for one before it starts the patrol.
type Sweep struct{}

// Shutdown asks the root to stop the tree in order: patrol first (every
// process killed and recorded), then the services, then itself.
type Shutdown struct {
	Reason string
}

// GetAdmission asks the admission actor for its state; it answers
// AdmissionStatus.
type GetAdmission struct{}

// AdmissionStatus is the machine-wide admission's state.
type AdmissionStatus struct {
	Limit       int           // capture processes that may run at once now
	Running     int           // granted and not given back
	Waiting     int           // captures waiting for a grant
	Uncontended time.Duration // a capture's wall time on an idle machine, as seen lately
}
