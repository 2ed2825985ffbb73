package messages

import "time"

// Facts: what happened, in the past tense, published on the tree's event
// stream. The recorder writes them (invariant 5), the hub pushes some to
// the dashboards, the alerts, the metrics and the policies react to them,
// and tests wait for them.

// CaptureDone is the outcome of one Capture: the answer to the requester
// and a fact on the event stream.
type CaptureDone struct {
	// Key names the capture within the run ("cam1-1-42": camera, actor
	// incarnation, sequence); events and detection errors refer to it.
	Key       string
	Camera    string
	Subnet    string
	Cycle     int64
	Outcome   Outcome
	JPEG      []byte `json:"-"`
	Bytes     int
	Error     string        // redacted; empty when Outcome is ok
	Via       string        // "ffmpeg", "go2rtc", "lease", "external" or "stream"
	OSPID     int           // the last process that served it, 0 if none
	Attempts  int           // processes started for it
	Waited    time.Duration // for machine-wide admission before its process could start
	StartedAt time.Time
	EndedAt   time.Time
}

// CameraStateChanged is published when a camera's health changes (a
// first failure, its breaker opening or closing, busy or not), and when a
// failed probe moves its next one.
type CameraStateChanged struct {
	Camera              string
	Subnet              string
	Health              CameraHealth
	Failing             bool // its breaker is open: skipped by the patrol but for probes
	ConsecutiveFailures int
	NextProbe           time.Time     // while failing
	Backoff             time.Duration // while failing
	Busy                bool          // busy for alerts.camera_busy_after cycles in a row
	BusyCycles          int
	SlotsHeld           int
	MaxConnections      int
	QueueLength         int
	// State is the camera's state: StateRunning, StateFailing, StateBusy
	// or StatePaused.
	State string
	// Pause is the camera's pause while it is paused, nil otherwise.
	Pause *Pause
	At    time.Time
}

// SlotsChanged is published by a camera actor whenever its slot use
// changes.
type SlotsChanged struct {
	Camera         string
	Subnet         string
	FFmpeg         int // slots held by ffmpeg children
	Go2RTC         int // slots held by patrol frames asked of go2rtc
	Leases         int // slots held by go2rtc leases
	External       int // camera connections go2rtc holds for streams not camvisor's
	MaxConnections int
	QueueLength    int
	At             time.Time
}

// CycleStarted is the fact that a subnet began a patrol cycle.
type CycleStarted struct {
	Subnet    string
	Number    int64
	StartedAt time.Time
	Deadline  time.Time
}

// CycleEnded is sent at the end of every subnet cycle, also when every
// camera failed or timed out. The gateway releases expired go2rtc sources
// on it; the recorder records it.
type CycleEnded struct {
	Subnet    string
	Number    int64
	StartedAt time.Time
	EndedAt   time.Time
	Interval  time.Duration
	Outcomes  []CameraOutcome
	// Counts of Outcomes: TimedOut includes the Skipped cameras (the
	// deadline passed for them too); Failed is every other failure.
	OK, Failed, TimedOut, Skipped int
	// Overran is true when the cycle did not get every camera answered
	// within its interval; Why says why (admission, dead cameras, slow
	// cameras).
	Overran bool
	Why     string
	// Backoff counts the cameras skipped because their breaker is open.
	Backoff int
	// Paused counts the cameras not visited because they are paused (or
	// disabled): neither a failure nor a timeout.
	Paused int
}

// CameraOutcome is one camera's result within a cycle.
type CameraOutcome struct {
	Camera  string
	Outcome Outcome
	Error   string
}

// ProcessStarted is the fact that an OS process was started.
type ProcessStarted struct {
	OSPID     int
	Camera    string
	Subnet    string
	Owner     string   // the owning actor's path
	Purpose   string   // "snapshot", or "stream" (a stream-mode child)
	Argv      []string // redacted
	StartedAt time.Time
	Deadline  time.Time // zero for a stream-mode child: it runs until stopped
}

// ProcessExited is the fact that an OS process ended and was reaped.
type ProcessExited struct {
	OSPID      int
	Camera     string
	Subnet     string
	Owner      string
	ExitCode   int    // -1 when killed by a signal
	Signal     string // "SIGKILL" etc., empty when it exited
	StopReason StopReason
	StartedAt  time.Time
	EndedAt    time.Time
	CPU        time.Duration // user+system time of the process
	StderrTail []string      // the last lines, redacted
}

// ProcessCensus is a periodic count, per camera, of the live ffmpeg
// processes /proc shows and the slots the camera actor holds: the leak
// graph. A leak shows as processes above slots, long before the camera
// locks up.
type ProcessCensus struct {
	At      time.Time
	Cameras []CameraCensus
	// Foreign counts tagged ffmpeg processes of other runs, Untagged those
	// camvisor did not start (or another installation's).
	Foreign, Untagged int
}

// CameraCensus is one camera's line of a census.
type CameraCensus struct {
	Camera         string
	Subnet         string
	Processes      int // live (not zombie) ffmpeg processes tagged with this camera
	SlotsHeld      int // as the camera actor counts them, external ones included
	SlotsExternal  int // of which held by go2rtc for streams not camvisor's
	MaxConnections int
}

// SweepDone is the fact that the reaper finished a sweep.
type SweepDone struct {
	At       time.Time
	Foreign  int // tagged processes of other runs killed
	Unowned  int // processes of this run no actor owned, killed
	Untagged int // ffmpeg processes this camvisor did not start (untagged, or another installation's): counted, never touched
}

// ProcessReaped is the fact that the reaper killed a process no actor
// owned: one left by an earlier run, or (ThisRun) one of this run that
// escaped its actor — invariant 1 broke somewhere.
type ProcessReaped struct {
	OSPID   int
	Run     string // the run id it carried (CAMVISOR_RUN)
	Owner   string // the actor path it carried (CAMVISOR_OWNER)
	Camera  string
	ThisRun bool
	Argv    []string // redacted
	At      time.Time
}

// ActorRestarted is the fact that a supervisor restarted an actor: a
// camera after a crash or an operator's restart, an ffmpeg child for a
// retry, a service after a panic.
type ActorRestarted struct {
	Actor  string // its path
	Kind   string // camera, ffmpeg, subnet, gateway ...
	Reason string // redacted
	At     time.Time
}

// RecorderHealth is published when writing the record starts or stops
// failing, and carries the count of rows dropped so far.
type RecorderHealth struct {
	Healthy bool
	Error   string
	Dropped int64
	Queued  int
	At      time.Time
}

// LeaseGranted is the fact that a camera's lease began (or was extended:
// then Extended is set and GrantedAt is the original grant).
type LeaseGranted struct {
	ID        int64 // unique within the run
	Camera    string
	Subnet    string
	Stream    string
	GrantedAt time.Time
	Until     time.Time
	Reason    string
	Extended  bool
}

// LeaseEnding is the fact that a lease's playback is over (its end time
// came, or it was released): the dashboards stop playing it now. Its slot
// stays held until go2rtc shows no viewer (LeaseEnded).
type LeaseEnding struct {
	ID     int64
	Camera string
	Subnet string
	Stream string
	Reason string // "expired", "released: …"
	At     time.Time
}

// LeaseEnded is the fact that a lease ended and its slot was freed.
type LeaseEnded struct {
	ID         int64
	Camera     string
	Subnet     string
	Stream     string
	Until      time.Time
	ReleasedAt time.Time
	Reason     string // "expired", "released", "camera stopped", "refused: …"
}

// StreamRegistered is the fact that the gateway registered a stream.
type StreamRegistered struct {
	Stream  string
	Camera  string
	Subnet  string
	Purpose string // "patrol" (a cycle's source) or "lease" (a live view)
	At      time.Time
}

// StreamRemoved is the fact that a stream was removed from go2rtc and a
// listing confirmed it gone; or, with Error, that the listing still showed
// it (retried at the next cycle end).
type StreamRemoved struct {
	Stream   string
	Camera   string
	Subnet   string
	At       time.Time
	Reason   string // "lease expired", "left by an earlier run", "shutdown"
	Error    string
	Attempts int
}

// ServiceHealth is published when a service (go2rtc, the detector, the
// MQTT broker) turns unreachable or recovers.
type ServiceHealth struct {
	Service string // "go2rtc", "detector", "mqtt"
	Healthy bool
	Error   string
	At      time.Time
}

// Detected is the fact that a frame held something at or above
// detector.min_score, after it was merged into an event. The playback
// policy reads it.
type Detected struct {
	EventID int64
	New     bool // the detection opened its event
	Camera  string
	Subnet  string
	At      time.Time
	Label   string
	Score   float64
	Box     Box
}

// EventOpened is the fact that a new event began: the recorder stores it
// with its snapshot, the hub pushes it to every dashboard.
type EventOpened struct {
	ID         int64
	Camera     string
	Subnet     string
	At         time.Time
	Label      string
	Score      float64
	Box        Box
	Detector   string // "motion", "http"
	CaptureKey string
	JPEG       []byte `json:"-"`
	Width      int
	Height     int
}

// EventUpdated is the fact that a later detection joined an open event.
type EventUpdated struct {
	ID         int64
	Camera     string
	Label      string
	LastSeen   time.Time
	Score      float64 // the highest so far
	Detections int
	LastScore  float64 // the detection's that joined it
	Box        Box     // the detection's that joined it
}

// EventEnded is the fact that an event is over: no detection of its
// camera and label came for detector.event_gap after its last one, or the
// detector stopped.
type EventEnded struct {
	ID         int64
	Camera     string
	Label      string
	At         time.Time // its first detection
	LastSeen   time.Time // its last detection: when it ended
	Score      float64   // the highest
	Detections int
	Reason     string // "gap" or "detector stopped"
	EndedAt    time.Time
}

// MQTTDropped is the fact that the MQTT queue was full and its oldest
// messages were dropped (the broker unreachable or slower than the
// facts): the metrics count them.
type MQTTDropped struct {
	Dropped int64 // so far in this run
	Queued  int
	At      time.Time
}

// DetectionFailed is the fact that a frame could not be examined: the
// detector failed, answered garbage, or was too busy (the frame dropped).
type DetectionFailed struct {
	Camera     string
	CaptureKey string
	At         time.Time
	Error      string
	Dropped    bool
}

// FrameExamined is the fact that the detector looked at a frame, and how
// long it took (the metrics' detector latency).
type FrameExamined struct {
	Camera     string
	Took       time.Duration
	Detections int
	Failed     bool
}

// PlaybackStarted is the fact that the backend decided a camera plays (or
// plays longer: Extended). The hub sends it as a `play` message.
type PlaybackStarted struct {
	Camera    string
	Subnet    string
	PlayerURL string // empty without go2rtc: the dashboard shows snapshots
	Until     time.Time
	Reason    string
	EventID   int64
	Extended  bool
}

// PlaybackStopped is the fact that a camera's playback is over. The hub
// sends it as a `stop` message.
type PlaybackStopped struct {
	Camera string
	Reason string
	At     time.Time
}

// ClientJoined is the fact that a dashboard connected and its client
// actor runs.
type ClientJoined struct {
	Client string
	Remote string
}

// ClientLeft is the fact that a dashboard disconnected or was dropped.
type ClientLeft struct {
	Client string
	Reason string
}

// AlertChanged is the fact that an alert started firing or resolved. It is
// recorded, logged once per transition and pushed to every dashboard.
type AlertChanged struct {
	Rule       string // process_budget_exceeded, unowned_process, camera_failing, ...
	Subject    string // the camera, subnet or service it is about
	State      string // AlertFiring or AlertResolved
	FirstSeen  time.Time
	LastSeen   time.Time
	ResolvedAt time.Time
	Detail     string
}

// AdmissionChanged is the fact that the machine-wide admission's limit,
// or the number of captures running or waiting under it, changed.
type AdmissionChanged struct {
	Limit   int
	Running int
	Waiting int
	At      time.Time
}

// IntervalChecked is the fact that a subnet's cameras stopped (TooShort)
// or started again to fit its interval at its concurrency, by their
// recent capture durations: interval_too_short fires and resolves on it.
type IntervalChecked struct {
	Subnet      string
	TooShort    bool
	Needed      time.Duration // the cameras' median capture durations, summed, over the concurrency
	Interval    time.Duration
	Concurrency int
	Cameras     int // counted (those whose breaker is open are not)
	At          time.Time
}

// CameraPaused is the fact that a camera's pause began, or (Changed) that
// the pause under way took a new end or reason. The recorder keeps it in
// camera_pauses.
type CameraPaused struct {
	Pause   Pause
	Changed bool
}

// CameraResumed is the fact that a camera's pause ended: an operator
// resumed it, or its end came.
type CameraResumed struct {
	Pause   Pause
	EndedAt time.Time
	How     string // "resumed" or "expired"
	By      string // who resumed it; empty when it expired
}
