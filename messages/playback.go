package messages

import "time"

// StartPlayback asks the playback policy for a live view of a camera on an
// operator's behalf: the same budget and limits as a detection's, without
// the label and score rules. The policy answers the sender with
// PlaybackAnswer.
type StartPlayback struct {
	Camera string
	Reason string
}

// StopPlayback asks the playback policy to end a camera's live view (the
// dashboard's Stop button, the API).
type StopPlayback struct {
	Camera string
	Reason string
}

// PlaybackAnswer answers StartPlayback.
type PlaybackAnswer struct {
	Camera    string
	Playing   bool
	PlayerURL string
	Until     time.Time
	Reason    string // why not
}

// PlaybackStarted is the fact that the backend decided a camera plays (or
// plays longer: Extended). The hub sends it as a `play` message.
type PlaybackStarted struct {
	Camera    string
	Subnet    string
	PlayerURL string // empty without go2rtc: the dashboard shows snapshots
	Until     time.Time
	Reason    string
	EventID   int64
	Extended  bool
}

// PlaybackStopped is the fact that a camera's playback is over. The hub
// sends it as a `stop` message.
type PlaybackStopped struct {
	Camera string
	Reason string
	At     time.Time
}

// GetPlaybacks asks the playback policy what plays now; it answers with
// Playbacks.
type GetPlaybacks struct{}

// Playbacks is what plays now.
type Playbacks struct {
	Live []PlaybackStarted
}
