package messages

import "time"

// GrantLease asks a camera for a live view: one slot held for as long as
// the lease lasts, its stream registered in go2rtc. A camera with a lease
// extends it instead (one lease, not two). The lease answers the sender
// with LeaseAnswer.
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
