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
