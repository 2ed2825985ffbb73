// Package messages holds every message camvisor's actors exchange: plain
// values with exported fields and no behaviour. Requests read as commands
// (Capture), facts as past tense (CaptureDone, ProcessExited). Facts are
// also published on the actor system's event stream, where the recorder,
// the hub and tests read them.
package messages

import (
	"errors"
	"time"
)

// Outcome is how a capture ended; the values are stored in the record.
type Outcome string

// Capture outcomes.
const (
	OutcomeOK         Outcome = "ok"          // a JPEG was returned
	OutcomeTimeout    Outcome = "timeout"     // the deadline passed; the process was killed
	OutcomeExit       Outcome = "exit"        // ffmpeg exited non-zero
	OutcomeSignal     Outcome = "signal"      // ffmpeg was killed by a signal camvisor did not send
	OutcomeSpawnError Outcome = "spawn_error" // ffmpeg could not be started
	OutcomeEmpty      Outcome = "empty"       // ffmpeg exited 0 without a JPEG
	OutcomeNoSlot     Outcome = "no_slot"     // every slot was held and the queue was full, or stayed full until the deadline
	OutcomeStopped    Outcome = "stopped"     // the camera actor stopped or restarted mid-capture
	OutcomeSkipped    Outcome = "skipped"     // the cycle deadline came before the capture could start
)

// Sentinel errors callers branch on.
var (
	ErrNoSlot  = errors.New("no free slot")
	ErrTimeout = errors.New("capture deadline passed")
)

// Capture asks a camera actor for one frame. The camera answers the sender
// with CaptureDone.
type Capture struct {
	Camera   string
	Cycle    int64     // the subnet cycle, 0 when an operator asked
	Deadline time.Time // the process is killed at this time
	Reason   string    // "patrol" or "operator"
}

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
	Error     string // redacted; empty when Outcome is ok
	Via       string // "ffmpeg" or "go2rtc"
	OSPID     int    // the last process that served it, 0 if none
	Attempts  int    // processes started for it
	StartedAt time.Time
	EndedAt   time.Time
}

// CameraStateChanged is published when a camera starts or stops failing or
// its slot use changes.
type CameraStateChanged struct {
	Camera              string
	Subnet              string
	Failing             bool
	ConsecutiveFailures int
	SlotsHeld           int
	MaxConnections      int
	QueueLength         int
	At                  time.Time
}

// SnapshotTaken is an ffmpeg child's report to its camera when its process
// ended: a frame, or why not. A failed attempt is also the panic reason the
// child fails with, so the camera's supervision strategy decides on a retry.
type SnapshotTaken struct {
	Outcome   Outcome
	JPEG      []byte `json:"-"`
	Error     string // redacted
	OSPID     int
	StartedAt time.Time
	EndedAt   time.Time
	Deadline  time.Time
}

// RestartCamera asks a camera actor to restart from a clean state: it
// fails on purpose, its children are stopped (their processes killed and
// reaped) and its subnet's supervision strategy starts a new instance,
// which answers the sender with CameraRestarted.
type RestartCamera struct {
	Reason string
}

// CameraRestarted answers RestartCamera once the new instance runs.
type CameraRestarted struct {
	Camera   string
	Restarts int // restarts of this camera in this run so far
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
