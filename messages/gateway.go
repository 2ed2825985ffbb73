package messages

import "time"

// AddStream asks the gateway to register a camera's stream in go2rtc. The
// gateway answers the sender with StreamAdded.
type AddStream struct {
	Stream string
	Camera string
	Subnet string
	Source string // the camera's RTSP URL, credentials included: only go2rtc sees it
}

// StreamAdded answers AddStream.
type StreamAdded struct {
	Stream string
	Error  string // empty when registered
}

// StreamExpired tells the gateway a stream's lease ended (its viewers
// left): it is removed from go2rtc at its subnet's next CycleEnded.
type StreamExpired struct {
	Stream string
	Subnet string
}

// FetchFrame asks a camera's lease for a snapshot through go2rtc's
// frame.jpeg, which shares the live view's connection; the lease passes it
// to the gateway while it is live. The sender gets FrameFetched.
type FetchFrame struct {
	Ref      int64 // the asker's reference, echoed
	Stream   string
	Deadline time.Time
}

// FrameFetched answers FetchFrame.
type FrameFetched struct {
	Ref   int64
	JPEG  []byte `json:"-"`
	Error string
	// Unavailable: the live view serves no frames now (registering or
	// ending); nothing was asked of go2rtc.
	Unavailable bool
}

// CountViewers asks the gateway how many consumers go2rtc shows for a
// stream. The gateway answers the sender with ViewersCounted.
type CountViewers struct {
	Stream string
}

// ViewersCounted answers CountViewers.
type ViewersCounted struct {
	Stream    string
	Consumers int
	Error     string
}

// StreamRegistered is the fact that the gateway registered a stream.
type StreamRegistered struct {
	Stream string
	Camera string
	Subnet string
	At     time.Time
}

// StreamRemoved is the fact that a stream was removed from go2rtc and a
// listing confirmed it gone; or, with Error, that the listing still showed
// it (retried at the next cycle end).
type StreamRemoved struct {
	Stream   string
	Camera   string
	Subnet   string
	At       time.Time
	Reason   string // "lease expired", "left by an earlier run", "shutdown"
	Error    string
	Attempts int
}

// ServiceHealth is published when a service (go2rtc, the detector) turns
// unreachable or recovers.
type ServiceHealth struct {
	Service string // "go2rtc", "detector"
	Healthy bool
	Error   string
	At      time.Time
}
