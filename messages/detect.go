package messages

import "time"

// Box is a detection's rectangle in frame pixels: x_min, y_min, x_max, y_max.
type Box [4]int

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
	LastSeen   time.Time
	Score      float64 // the highest so far
	Detections int
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
