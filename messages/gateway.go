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

// StreamDraining tells the gateway a stream's playback is over and its lease
// waits for the viewers to leave: no more frame.jpeg on it, but it stays
// registered, because go2rtc shows the viewers of registered streams only.
type StreamDraining struct {
	Stream string
}

// StreamExpired tells the gateway a stream's lease ended (its viewers
// left): it is removed from go2rtc at its subnet's next CycleEnded.
type StreamExpired struct {
	Stream string
	Subnet string
}

// FetchFrame asks the gateway for a snapshot through go2rtc's frame.jpeg,
// which shares the live view's connection. The gateway answers the sender
// with FrameFetched.
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
