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
