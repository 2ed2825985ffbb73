package messages

import "time"

// GrantLease asks a camera for a live view: one slot held for as long as
// the lease lasts, its stream registered in go2rtc. A camera with a live
// lease extends it instead (one lease, not two). The camera answers the
// sender with LeaseAnswer.
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

// LeaseRegistered is a lease child's report to its camera: the stream is
// registered in go2rtc and the live view may start.
type LeaseRegistered struct {
	Stream string
}

// LeaseFailed is a lease child's report that the stream could not be
// registered; the child stops and its slot is freed.
type LeaseFailed struct {
	Reason string
}

// LeaseDraining is a lease child's report that its playback time is over
// (or it was released): it holds its slot until go2rtc shows no viewer,
// because the camera connection closes only when the last one leaves.
type LeaseDraining struct {
	Reason string
}
