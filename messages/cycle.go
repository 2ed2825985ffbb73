package messages

import "time"

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
	// within its interval.
	Overran bool
}

// CameraOutcome is one camera's result within a cycle.
type CameraOutcome struct {
	Camera  string
	Outcome Outcome
	Error   string
}

// Shutdown asks the root to stop the tree in order: patrol first (every
// process killed and recorded), then the services, then itself.
type Shutdown struct {
	Reason string
}
