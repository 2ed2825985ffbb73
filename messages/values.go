package messages

import (
	"errors"
	"time"
)

// Values the messages carry: outcomes, reasons and states, which the
// record stores as they are.

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
	OutcomePreempted  Outcome = "preempted"   // a live view took this attempt's slot; the capture was retried through it
	OutcomeBackoff    Outcome = "backoff"     // the camera's breaker is open (it failed too often): skipped until its next probe
	OutcomeBusy       Outcome = "camera_busy" // the camera answered 453 (or refused): other clients hold its connections
	OutcomeHTTPError  Outcome = "http_error"  // the camera's snapshot_url answered an error, or its connection failed
	OutcomePaused     Outcome = "paused"      // the camera is paused (or disabled in the config): nothing was tried
)

// Sentinel errors callers branch on.
var (
	ErrNoSlot  = errors.New("no free slot")
	ErrTimeout = errors.New("capture deadline passed")
)

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
	StopPreempted     StopReason = "preempted"      // a live view took its slot
	StopStalled       StopReason = "stalled"        // a stream-mode child sent no frame for ffmpeg.stall_timeout
	StopBackoff       StopReason = "backoff"        // a stream-mode child's camera failed too often: its breaker opened
	StopFenced        StopReason = "fenced"         // cluster: the node may have lost its etcd lease (or the camera's key): it stops its cameras before anyone else may win them
	StopHandedOver    StopReason = "handed_over"    // cluster: the node gives the camera up cleanly (to the node it belongs to, or at shutdown)
	StopPaused        StopReason = "paused"         // its camera was paused
)

// CameraHealth is a camera's state in one word, as its actor judges it:
// what MQTT's <prefix>/<camera>/state carries. When several hold, the
// first of paused, backoff, busy, failing wins.
type CameraHealth string

// Camera health values.
const (
	HealthOK      CameraHealth = "ok"      // its last capture succeeded (or none failed yet)
	HealthFailing CameraHealth = "failing" // its last captures failed; the patrol still tries it every cycle
	HealthBackoff CameraHealth = "backoff" // its breaker is open: skipped by the patrol but for probes
	HealthBusy    CameraHealth = "busy"    // it answered busy (other clients hold its connections) for alerts.camera_busy_after cycles
	HealthPaused  CameraHealth = "paused"  // an operator paused it: no slot, no process
)

// A camera's state, as CameraStatus and CameraStateChanged carry it.
const (
	StateRunning  = "running"  // patrolled, its last captures fine
	StateFailing  = "failing"  // its breaker is open: only probed
	StateBusy     = "busy"     // its connections taken by other clients, cycle after cycle
	StatePaused   = "paused"   // paused by an operator, or disabled in the config: no process, no slot
	StateStopping = "stopping" // its actor is stopping
)

// Alert states.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// Box is a detection's rectangle in frame pixels: x_min, y_min, x_max, y_max.
type Box [4]int

// Pause is a camera's pause: while it lasts the camera holds no slot and
// starts no process, the patrol does not visit it, and captures and live
// views asked of it are refused.
type Pause struct {
	// ID keys the pause in the record (camera_pauses.id); 0 for a camera
	// disabled in the config, which the record does not keep as a pause.
	ID     int64
	Camera string
	// By is who paused it, as the API identifies a caller ("session
	// 3f9a0c1e" for a dashboard's sign-in, "token" for the bearer token),
	// or "config" for cameras[].enabled: false.
	By     string
	Reason string
	From   time.Time
	// Until is when it ends by itself; zero for a camera disabled in the
	// config, which stays paused until the config says otherwise.
	Until time.Time
	// Disabled: cameras[].enabled is false in the config; no API resumes it.
	Disabled bool
}

// PauseRefusal is why a pause or a resume was refused.
type PauseRefusal string

// Pause refusals.
const (
	RefusedUnknownCamera PauseRefusal = "unknown_camera" // no camera of that id runs
	RefusedDisabled      PauseRefusal = "disabled"       // enabled: false in the config: only the config changes it
	RefusedNotPaused     PauseRefusal = "not_paused"     // a resume of a camera that is not paused
)
