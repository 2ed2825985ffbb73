package messages

import "time"

// Protocol: messages internal to the tree, between an actor and its
// children or a service it uses. Nothing outside the actors package sends
// them.

// SnapshotTaken is an ffmpeg child's report to its camera when its process
// ended: a frame, or why not. A failed attempt is also the panic reason the
// child fails with, so the camera's supervision strategy decides on a retry.
type SnapshotTaken struct {
	Outcome   Outcome
	JPEG      []byte `json:"-"`
	Error     string // redacted
	OSPID     int
	StartedAt time.Time
	EndedAt   time.Time
	Deadline  time.Time
}

// SnapshotWaiting is an ffmpeg child's word to its camera that its process
// has sat waiting on the camera (a hung camera, an H.264 stream's wait
// for its keyframe) with the CPU idle: its admission grant, which is for
// CPU, can go to another capture.
type SnapshotWaiting struct {
	OSPID int
	CPU   time.Duration // what it used in the window it was watched
}

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

// FetchFrame asks for a frame over a connection that is open already: a
// camera's lease, for a snapshot through go2rtc's frame.jpeg, which shares
// the live view's connection (the lease passes it to the gateway while it
// is live); or a camera's stream-mode child, for its newest frame. The
// sender gets FrameFetched.
type FetchFrame struct {
	Ref      int64 // the asker's reference, echoed
	Stream   string
	Deadline time.Time
	// Camera, when set, has the gateway look at the camera's connections
	// not camvisor's right before it asks go2rtc for the frame (a listing
	// no older than the gateway policy's ListingMaxAge), and answer
	// Crowded instead when go2rtc would then hold more connections for
	// them and this frame than Counted: the external connections the
	// camera counts plus the one it holds for this frame, if it holds
	// one. Lease is a stream the camera's live view plays: its connection
	// is the view's, not external.
	Camera  string
	Counted int
	Lease   string
}

// FrameFetched answers FetchFrame.
type FrameFetched struct {
	Ref   int64
	JPEG  []byte `json:"-"`
	OSPID int    // the process whose connection served it: a stream-mode child's; 0 through go2rtc
	Error string
	// Unavailable: the live view serves no frames now (registering or
	// ending); nothing was asked of go2rtc.
	Unavailable bool
	// Unreachable: go2rtc did not answer (or is known to be down), as
	// opposed to answering without a frame.
	Unreachable bool
	// TimedOut: no frame came before the capture's deadline.
	TimedOut bool
	// Seen is the camera's use by others as of the look taken before the
	// frame (FetchFrame.Camera); nil when none was taken.
	Seen *ExternalUse
	// Crowded: nothing was asked of go2rtc, because connections not
	// camvisor's opened since the camera counted them (Seen has them):
	// the frame rides one, or waits for a slot.
	Crowded bool
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

// PrepareCycle asks the gateway, as a subnet's cycle starts, what go2rtc
// holds for its cameras: it lists go2rtc's streams once and tells, for
// each camera, the streams camvisor did not create that read it (declared
// in cameras[].go2rtc_streams, or matched on their source). With
// Construct it gives each camera a patrol source: such a stream when
// there is one (a viewer of it then shares the frame's connection), else
// camvisor_<camera>, registered now and removed again at the cycle's end.
// The gateway answers CyclePrepared.
type PrepareCycle struct {
	Subnet    string
	Cameras   []CycleCamera
	Construct bool
}

// CycleCamera is a camera a cycle will visit.
type CycleCamera struct {
	ID  string
	URL string // its patrol URL, credentials included: only go2rtc sees it
}

// CyclePrepared answers PrepareCycle.
type CyclePrepared struct {
	Subnet string
	// Sources are the patrol sources ready, by camera: the stream name a
	// capture asks frame.jpeg for.
	Sources map[string]string
	// External is go2rtc's use of each camera for streams not camvisor's.
	External map[string]ExternalUse
	Error    string // why nothing could be prepared (go2rtc unreachable)
}

// ExternalUse is what go2rtc holds of a camera for streams camvisor did not
// create (an operator's, Home Assistant's), as of one listing.
type ExternalUse struct {
	// Open are the streams that hold a connection to the camera now, by
	// name: each counts against the budget, and a frame can ride on any.
	Open []string
	// Declared are the streams the camera names in go2rtc_streams that
	// go2rtc has, open or not, in the config's order: a live view plays
	// one of them (an open one first) instead of registering
	// camvisor_<camera>.
	Declared []string
	At       time.Time // when go2rtc was listed
}

// ConnectionsSeen tells a camera the connections to it that are not
// camvisor's, as of a listing (each cycle's): they count against its
// budget until the next.
type ConnectionsSeen struct {
	External ExternalUse
}

// CheckConnections asks the gateway for a camera's connections not
// camvisor's as of now (a listing no older than the gateway policy's
// ListingMaxAge): a live view is about to start. The gateway answers the
// sender with ConnectionsChecked.
type CheckConnections struct {
	Camera string
}

// ConnectionsChecked answers CheckConnections.
type ConnectionsChecked struct {
	Camera   string
	External ExternalUse
	Error    string // go2rtc could not be listed: External is empty
}

// RequestAdmission asks the admission actor for the right to start one
// capture process (invariant 7). It answers AdmissionGranted when the
// process may start: an operator's request first, then the patrol's, the
// most overdue first.
type RequestAdmission struct {
	Ref      int64 // the asker's reference, echoed
	Camera   string
	Operator bool      // an operator's capture
	Due      time.Time // when the camera's patrol capture was due
}

// AdmissionGranted answers RequestAdmission.
type AdmissionGranted struct {
	Ref    int64
	Waited time.Duration
}

// WithdrawAdmission takes back a request not granted yet, or gives back a
// grant whose process never started.
type WithdrawAdmission struct {
	Ref int64
}

// ReleaseAdmission gives a grant back: its process ended (and was reaped),
// or waits on its camera.
type ReleaseAdmission struct {
	Ref int64
}

// CaptureRan tells the admission how long a snapshot process that gave a
// frame lived, from its start to its exit: how busy the machine is. Its
// process sends it when the process ends; the camera's release of the
// grant may come before (Terminated overtakes the child's last report),
// so the time does not ride on the release.
type CaptureRan struct {
	Ran time.Duration
}
