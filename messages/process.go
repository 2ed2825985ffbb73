package messages

import "time"

// StopReason says why an OS process ended; the values are stored in the
// record.
type StopReason string

// Why a process ended.
const (
	StopDone          StopReason = "done"           // it exited by itself
	StopTimeout       StopReason = "timeout"        // its capture deadline passed
	StopParentStopped StopReason = "parent_stopped" // its camera actor was stopped
	StopRestart       StopReason = "restart"        // its camera actor (or itself) was restarted
	StopShutdown      StopReason = "shutdown"       // camvisor is shutting down
	StopReaped        StopReason = "reaped"         // the reaper found it unowned
)

// ProcessStarted is the fact that an OS process was started.
type ProcessStarted struct {
	OSPID     int
	Camera    string
	Subnet    string
	Owner     string   // the owning actor's path
	Purpose   string   // "snapshot"
	Argv      []string // redacted
	StartedAt time.Time
	Deadline  time.Time
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
	// Unowned counts ffmpeg processes of this run that no live actor owns,
	// Foreign those of other runs, Untagged those camvisor did not start.
	Unowned, Foreign, Untagged int
}

// CameraCensus is one camera's line of a census.
type CameraCensus struct {
	Camera         string
	Subnet         string
	Processes      int // live (not zombie) ffmpeg processes tagged with this camera
	SlotsHeld      int // as the camera actor counts them
	MaxConnections int
}

// SlotsChanged is published by a camera actor whenever its slot use
// changes.
type SlotsChanged struct {
	Camera         string
	Subnet         string
	FFmpeg         int // slots held by ffmpeg children
	Leases         int // slots held by go2rtc leases
	MaxConnections int
	QueueLength    int
	At             time.Time
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

// Sweep asks the reaper for a sweep of /proc now; it answers with
// SweepDone. The root asks for one before it starts the patrol.
type Sweep struct{}

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
