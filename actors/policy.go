package actors

import (
	"runtime"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Policy is the tree's own policy: how it restarts what fails and the
// timings inside it. Operators tune camvisor through config (config
// package, defaults.go); these are the internals, declared once here with
// their defaults and the reason for each, so that no handler hides a
// literal. Env.Policy nil means DefaultPolicy.
type Policy struct {
	// Restart is how the root, the patrol, the subnets and the cameras
	// restart a crashed child: after a delay that grows with the child's
	// failures within the window, never giving up (a camera is never
	// dropped). ffmpeg children are retried by their camera instead, at
	// most ffmpeg.retries times within capture_timeout (config).
	Restart RestartPolicy

	// StartupSweep bounds the sweep for an earlier run's processes before
	// the first cycle: past it the patrol starts anyway.
	StartupSweep time.Duration
	// DescribeTimeout is how long a description (or an ownership
	// question) may take when the asker gives no deadline; a child that
	// does not answer within it shows as "no answer".
	DescribeTimeout time.Duration
	// MinCaptureWindow is the least time left in a cycle for which a
	// capture is still started (less would only start a process to kill
	// it), or a quarter of the interval when that is shorter.
	MinCaptureWindow time.Duration

	Admission AdmissionPolicy
	Lease     LeasePolicy
	Stream    StreamPolicy
	Gateway   GatewayPolicy
	Reaper    ReaperPolicy
	Recorder  RecorderPolicy
	Hub       HubPolicy
	Relay     RelayPolicy
	// AlertRefresh bounds how often a still-firing alert re-announces its
	// last_seen.
	AlertRefresh time.Duration
	// WebhookMaxBackoff caps the wait between two tries of the alert
	// webhook; WebhookMaxRetryAfter caps how long a receiver's
	// Retry-After is honoured; WebhookInFlight bounds the deliveries
	// posted at once (each alert is delivered on its own).
	WebhookMaxBackoff    time.Duration
	WebhookMaxRetryAfter time.Duration
	WebhookInFlight      int
	// RetireWait bounds how long a camera removed or changed by a reload
	// waits for its live view to drain (the dashboards told to stop, the
	// viewers gone from go2rtc) before it stops anyway.
	RetireWait time.Duration
}

// RestartPolicy is a supervisor's back-off.
type RestartPolicy struct {
	Window  time.Duration // failures older than this are forgotten
	Initial time.Duration // the delay per failure within the window
}

// AdmissionPolicy is how the machine-wide admission adapts its limit
// (admission.go): additive increase while the CPU has headroom,
// multiplicative decrease when it is saturated and captures slow down.
type AdmissionPolicy struct {
	Tick         time.Duration // how often the limit is reconsidered
	MinSamples   int           // good captures a tick needs to judge by
	Tolerance    float64       // slower than this × the uncontended time, the CPU saturated: cut the limit
	Headroom     float64       // the CPU busy less than this share: room to grow
	CPUSaturated float64       // this share of CPU busy: saturated
	Decrease     float64       // the limit's cut, as a factor
	BaselineRise float64       // how fast a stale uncontended time is forgotten, per tick
	Min          int           // the limit never falls below this
	Max          int           // nor rises above this; 0: four per CPU
	Leak         time.Duration // a grant held this long past any capture's end is taken back
	// Park is how often a capture's process is looked at; one that ran
	// less than ParkCPU of that time, and waited for a CPU less than that
	// too, waits on its camera, not on the machine, and gives its grant
	// back. 0: never.
	Park    time.Duration
	ParkCPU float64
	// BusyHold is how long a camera that answered 453 (its connections
	// taken by other clients) counts one slot less; 0: its subnet's
	// interval.
	BusyHold time.Duration
}

func (p AdmissionPolicy) maxOf() int {
	if p.Max > 0 {
		return p.Max
	}
	return 4 * runtime.NumCPU()
}

// LeasePolicy times a live view's end.
type LeasePolicy struct {
	DrainPoll time.Duration // how often a draining lease asks go2rtc for viewers
	// DrainSettle: go2rtc closes the camera connection ~60 ms after the
	// last viewer left; the slot is freed after this much more.
	DrainSettle time.Duration
	// DrainWarnAfter: a viewer still attached this long after the end is
	// logged (its slot stays held: it holds the connection).
	DrainWarnAfter time.Duration
	// DrainBlindFor bounds how long a slot stays held while go2rtc cannot
	// say how many viewers there are (down or slow): past it, the
	// stream's connection is presumed gone with go2rtc.
	DrainBlindFor time.Duration
}

// StreamPolicy times the stream-mode children (stream.go).
type StreamPolicy struct {
	// A stream child whose process ended (or stalled) is started again
	// after RestartInitial, doubled with each failure within
	// RestartWindow, up to RestartMax: a camera that is down costs one
	// process start per RestartMax, a blip costs half a second.
	RestartInitial time.Duration
	RestartMax     time.Duration
	RestartWindow  time.Duration
	// MinFrameGap: at most one JPEG per this much stream time. An H.264
	// camera sends a keyframe every 1-2 s, each one decoded; an MJPEG
	// camera's every frame is a keyframe, and decoding 2 a second is
	// plenty for a patrol that looks every few seconds.
	MinFrameGap time.Duration
	// GOPSamples: the keyframe interval a child has seen, which sets the
	// default stall timeout, is the median of this many recent intervals
	// between frames (one late keyframe does not move it).
	GOPSamples int
	// StartGrant: a stream's process starts under the machine-wide
	// admission, and gives its grant back at its first frame or after
	// this, whichever comes first: ffmpeg's start costs CPU (~50 ms), the
	// wait for the camera's first keyframe none, and a stream that held a
	// grant through it would keep snapshots (and other streams) waiting.
	StartGrant time.Duration
}

// GatewayPolicy times the go2rtc client.
type GatewayPolicy struct {
	ProbeInitial time.Duration // the first probe of an unreachable go2rtc
	ProbeMax     time.Duration // the longest wait between probes
}

// ReaperPolicy times the safety net.
type ReaperPolicy struct {
	// ConfirmAfter is the wait before the second look at a process of
	// this run no actor claimed: one being started or stopped is never
	// mistaken for an orphan.
	ConfirmAfter time.Duration
	// KillWait bounds how long a sweep waits for killed processes to
	// leave /proc before it reports.
	KillWait time.Duration
}

// RecorderPolicy sizes the record's writes.
type RecorderPolicy struct {
	MaxBatch        int           // rows per transaction
	PruneBatch      int           // rows per retention DELETE
	PrunePerJob     int           // DELETE statements per retention job, so writes interleave
	PruneFirst      time.Duration // the first retention run after start
	PruneEvery      time.Duration // then this often
	MaxWriteBackoff time.Duration // the longest wait before a failed write is tried again
	StopWait        time.Duration // how long the last batch may take at shutdown
	OptimizeEvery   time.Duration // PRAGMA optimize, at the end of a retention pass at most this often (and at close)
}

// HubPolicy bounds what a dashboard may cost.
type HubPolicy struct {
	// CameraFlush coalesces camera state changes: slots change with every
	// capture; a dashboard needs them a couple of times a second at most.
	CameraFlush  time.Duration
	ClientQueue  int           // messages a dashboard may have waiting before it is dropped as too slow
	WriteTimeout time.Duration // one WebSocket write
}

// RelayPolicy times the loopback RTSP relay that keeps camera passwords
// off ffmpeg's command line (actors/rtsprelay). The camera connection's
// own timeout is ffmpeg.rtsp_timeout (config).
type RelayPolicy struct {
	// FirstRequest bounds the wait for a new connection's first RTSP
	// request: ffmpeg sends it at once; anything else is not ffmpeg.
	FirstRequest time.Duration
	// ReleaseWait bounds how long an ffmpeg actor's stop waits for its
	// relay connection to close the camera socket (it takes microseconds:
	// the sockets are closed first).
	ReleaseWait time.Duration
}

// DefaultPolicy is the policy camvisor runs with.
func DefaultPolicy() *Policy {
	return &Policy{
		Restart:          RestartPolicy{Window: time.Minute, Initial: 100 * time.Millisecond},
		StartupSweep:     15 * time.Second,
		DescribeTimeout:  2 * time.Second,
		MinCaptureWindow: 500 * time.Millisecond,
		Admission: AdmissionPolicy{
			Tick: time.Second, MinSamples: 3, Tolerance: 1.5, Headroom: 0.85, CPUSaturated: 0.97,
			Decrease: 0.75, BaselineRise: 1.02, Min: 1, Leak: 30 * time.Second,
			Park: time.Second, ParkCPU: 0.1,
		},
		Lease: LeasePolicy{
			DrainPoll:      250 * time.Millisecond,
			DrainSettle:    200 * time.Millisecond,
			DrainWarnAfter: 10 * time.Second,
			DrainBlindFor:  30 * time.Second,
		},
		Stream: StreamPolicy{
			RestartInitial: 500 * time.Millisecond,
			RestartMax:     30 * time.Second,
			RestartWindow:  5 * time.Minute,
			MinFrameGap:    500 * time.Millisecond,
			GOPSamples:     5,
			StartGrant:     time.Second,
		},
		Gateway: GatewayPolicy{ProbeInitial: time.Second, ProbeMax: 30 * time.Second},
		Reaper:  ReaperPolicy{ConfirmAfter: time.Second, KillWait: 2 * time.Second},
		Recorder: RecorderPolicy{
			MaxBatch:        2000,
			PruneBatch:      500,
			PrunePerJob:     20,
			PruneFirst:      time.Minute,
			PruneEvery:      time.Hour,
			MaxWriteBackoff: 30 * time.Second,
			StopWait:        10 * time.Second,
			OptimizeEvery:   24 * time.Hour,
		},
		Hub:                  HubPolicy{CameraFlush: 500 * time.Millisecond, ClientQueue: 256, WriteTimeout: 5 * time.Second},
		Relay:                RelayPolicy{FirstRequest: 10 * time.Second, ReleaseWait: 2 * time.Second},
		AlertRefresh:         time.Minute,
		WebhookMaxBackoff:    time.Minute,
		WebhookMaxRetryAfter: 5 * time.Minute,
		WebhookInFlight:      8,
		RetireWait:           10 * time.Second,
	}
}

// restartWithBackoff is Policy.Restart as a protoactor supervisor strategy.
func restartWithBackoff(p *Policy) actor.SupervisorStrategy {
	return actor.NewExponentialBackoffStrategy(p.Restart.Window, p.Restart.Initial)
}
