package messages

import "time"

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

// GetFrame asks a camera for its latest frame; it answers with Frame.
type GetFrame struct{}

// Frame is a camera's latest frame (JPEG nil before the first).
type Frame struct {
	Camera string
	JPEG   []byte
	At     time.Time
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

// GetCameraStatus asks a camera actor for its state; it answers with
// CameraStatus.
type GetCameraStatus struct{}

// CameraStatus is a camera's state as its actor knows it.
type CameraStatus struct {
	Camera              string
	Subnet              string
	State               string // running, failing, stopping
	MaxConnections      int
	SlotsFFmpeg         int // slots held by ffmpeg children
	SlotsLease          int // slots held by a live view
	QueueLength         int
	Failing             bool
	ConsecutiveFailures int
	Last                *CaptureDone // the last capture answered (without its JPEG), nil before the first
}

// GetHealth asks a service (the gateway) how its outside part is; it
// answers with ServiceHealth.
type GetHealth struct{}
