package actors

import (
	"math/rand/v2"
	"runtime"
	"time"

	"camvisor/actors/config"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/extensions"
)

// Policy is the tree's own policy: how it restarts what fails and the
// timings inside it. Operators tune camvisor through config (config
// package, defaults.go); these are the internals, declared once here with
// their defaults and the reason for each, so that no handler hides a
// literal. Env.Policy nil means DefaultPolicy.
type Policy struct {
	// Supervision is how every supervisor of the tree restarts a failed
	// child: one spec per kind of child.
	Supervision Supervision

	// StartupSweep bounds the sweep for an earlier run's processes before
	// the first cycle: past it the patrol starts anyway.
	StartupSweep time.Duration
	// DescribeTimeout is how long a description (or an ownership
	// question) may take when the asker gives no deadline; a child that
	// does not answer within it shows as "no answer".
	DescribeTimeout time.Duration
	// DescribeFloor is the least time a child is given to answer a
	// question travelling down the tree, however close its asker's
	// deadline: less and it could not answer at all.
	DescribeFloor time.Duration
	// MinCaptureWindow is the least time left in a cycle for which a
	// capture is still started (less would only start a process to kill
	// it), or a quarter of the interval when that is shorter
	// (captureWindow).
	MinCaptureWindow time.Duration
	// MinRetryWindow: a failed capture is not retried with less than this
	// left before its deadline; the retry would be killed before it could
	// connect.
	MinRetryWindow time.Duration
	// ProbeJitter spreads a broken camera's probes: each back-off is
	// scaled by a random factor within ±this share, so that cameras that
	// broke together are not probed together.
	ProbeJitter float64
	// DetectorStopGrace is how much longer than detector.timeout a
	// stopping detector waits for its frame in flight.
	DetectorStopGrace time.Duration

	Admission AdmissionPolicy
	Lease     LeasePolicy
	Stream    StreamPolicy
	Gateway   GatewayPolicy
	Reaper    ReaperPolicy
	Recorder  RecorderPolicy
	Hub       HubPolicy
	Relay     RelayPolicy
	Cluster   ClusterPolicy
	MQTT      MQTTPolicy
	// AlertRefresh bounds how often a still-firing alert re-announces its
	// last_seen.
	AlertRefresh time.Duration
	// WebhookFirstBackoff is the wait before the alert webhook's second
	// try, doubled with each try after it up to WebhookMaxBackoff;
	// WebhookMaxRetryAfter caps how long a receiver's Retry-After is
	// honoured; WebhookInFlight bounds the deliveries posted at once
	// (each alert is delivered on its own).
	WebhookFirstBackoff  time.Duration
	WebhookMaxBackoff    time.Duration
	WebhookMaxRetryAfter time.Duration
	WebhookInFlight      int
	// RetireWait bounds how long a camera removed or changed by a reload
	// waits for its live view to drain (the dashboards told to stop, the
	// viewers gone from go2rtc) before it stops anyway.
	RetireWait time.Duration
	// ReloadStepMargin is added to the bound of each step of a reload
	// (reloadStep) for what its named waits leave out: the messages, the
	// reaping, a busy machine. ReloadMargin is added to the two steps for
	// the file's reading, the comparison and the answer (ReloadBudget).
	ReloadStepMargin time.Duration
	ReloadMargin     time.Duration
}

// reloadStep bounds one step of a reload (retiring what goes or changes,
// then starting what is new): a live view drains for at most RetireWait,
// and a process is asked to stop and then killed, each within kill_grace.
func (p *Policy) reloadStep(ff config.FFmpeg) time.Duration {
	return p.RetireWait + 2*ff.KillGrace.Duration + p.ReloadStepMargin
}

// ReloadBudget is the longest a configuration reload takes, its two steps
// bounded: what waits for a reload's answer (the HTTP API) waits this long.
func (p *Policy) ReloadBudget(ff config.FFmpeg) time.Duration {
	return 2*p.reloadStep(ff) + p.ReloadMargin
}

// pauseWait bounds how long a camera takes to stop for a pause: the same
// work as a reload's retirement (its processes killed within kill_grace,
// its live view drained within RetireWait).
func (p *Policy) pauseWait(ff config.FFmpeg) time.Duration { return p.reloadStep(ff) }

// captureWindow is the least time left before a deadline for which a
// capture is started on a camera polled every interval.
func (p *Policy) captureWindow(interval time.Duration) time.Duration {
	return min(p.MinCaptureWindow, interval/4)
}

// Supervision is the tree's restart policy as data: one spec per kind of
// supervised child, read by the actor that supervises it. A zero field of
// a spec is its kind's default; DefaultSupervision is the whole table:
//
//	child     supervisor  strategy   intensity / period                 back-off: initial, growth, max  jitter
//	Services  root        Backoff    never gives up / 1 min             100 ms × failures, no cap       500 ns
//	Patrol    root        Backoff    never gives up / 1 min             100 ms × failures, no cap       500 ns
//	Subnet    patrol      Backoff    never gives up / 1 min             100 ms × failures, no cap       500 ns
//	Camera    subnet      Backoff    never gives up / 1 min             100 ms × failures, no cap       500 ns
//	Snapshot  camera      OneForOne  ffmpeg.retries / capture_timeout   none: a retry starts at once    -
//	Stream    camera      Backoff    never gives up / 5 min             500 ms doubling, up to 30 s     none
//
// The tree never drops what it supervises: a camera that keeps failing is
// restarted later and later, never given up on (a wait past the period
// forgets the count, so the spine's waits stay under about a minute). The
// spine's back-off is the one protoactor's NewExponentialBackoffStrategy
// ran before this table (linear despite its name, with under 500 ns of
// noise), kept as it was. A capture's child is retried only when a second
// try may mend its failure (the camera's decider), and only
// ffmpeg.retries times within its capture's timeout: operators tune both
// in config. A stream child's process ending is its failure: a camera
// that is down costs one process start per 30 s, a blip half a second.
// A restart someone asked for (an operator's) is no failure under any
// spec: the child is restarted at once, and neither its back-off nor its
// intensity counts it (requestedFirst).
type Supervision struct {
	Services SupervisorSpec // the root's services (recorder, reaper, admission, …)
	Patrol   SupervisorSpec // the patrol, under the root
	Subnet   SupervisorSpec // a subnet, under the patrol
	Camera   SupervisorSpec // a camera, under its subnet
	// Snapshot is a camera's every child but its stream: the ffmpeg
	// snapshot, the HTTP fetch, the live view's lease (the camera's
	// decider restarts only a capture's failed attempt). Its zero
	// Intensity and Period are config's ffmpeg.retries and
	// capture_timeout.
	Snapshot SupervisorSpec
	Stream   SupervisorSpec // a camera's stream-mode child
}

// SupervisorSpec is how one kind of child is restarted when it fails, as
// OTP's child spec and restart intensity say it. A zero field is the
// kind's default (DefaultSupervision); a negative Max or Jitter is none.
type SupervisorSpec struct {
	Strategy Strategy
	// Intensity and Period: OneForOne restarts a child at most Intensity
	// times within Period, then stops it. Backoff never stops a child; it
	// forgets failures older than Period, so that a child that stayed up
	// that long is next restarted after Initial again.
	Intensity int
	Period    time.Duration
	Initial   time.Duration // Backoff: the delay after a first failure
	Growth    Growth        // Backoff: how the delay grows with the failures within Period
	Max       time.Duration // Backoff: the longest delay
	// Jitter: Backoff adds a random delay of up to this, so that children
	// that failed together do not all restart at the same instant.
	Jitter time.Duration
}

// Strategy is how a supervisor handles a child's failure.
type Strategy int

const (
	// Backoff restarts the child after a delay that grows with its
	// failures within the period, and never gives up.
	Backoff Strategy = iota + 1
	// OneForOne asks the supervisor's decider what to do with the failed
	// child alone (restart, stop, …); a restart comes at once, at most
	// Intensity times within Period, after which the child is stopped.
	OneForOne
)

// Growth is how a back-off's delay grows with n, the failures within the
// period counting this one.
type Growth int

const (
	Linear   Growth = iota + 1 // n × Initial
	Doubling                   // Initial × 2ⁿ⁻¹
)

// DefaultSupervision is the table above.
func DefaultSupervision() Supervision {
	spine := SupervisorSpec{Strategy: Backoff, Period: time.Minute, Initial: 100 * time.Millisecond, Growth: Linear,
		Jitter: 500 * time.Nanosecond}
	return Supervision{
		Services: spine,
		Patrol:   spine,
		Subnet:   spine,
		Camera:   spine,
		Snapshot: SupervisorSpec{Strategy: OneForOne},
		Stream: SupervisorSpec{Strategy: Backoff, Period: 5 * time.Minute, Initial: 500 * time.Millisecond,
			Growth: Doubling, Max: 30 * time.Second},
	}
}

// or is s with each zero field taken from d.
func (s SupervisorSpec) or(d SupervisorSpec) SupervisorSpec {
	if s.Strategy == 0 {
		s.Strategy = d.Strategy
	}
	if s.Intensity == 0 {
		s.Intensity = d.Intensity
	}
	if s.Period == 0 {
		s.Period = d.Period
	}
	if s.Initial == 0 {
		s.Initial = d.Initial
	}
	if s.Growth == 0 {
		s.Growth = d.Growth
	}
	if s.Max == 0 {
		s.Max = d.Max
	}
	if s.Jitter == 0 {
		s.Jitter = d.Jitter
	}
	return s
}

// withDefaults is s with each zero field set to its kind's default.
func (s Supervision) withDefaults() Supervision {
	d := DefaultSupervision()
	return Supervision{Services: s.Services.or(d.Services), Patrol: s.Patrol.or(d.Patrol), Subnet: s.Subnet.or(d.Subnet),
		Camera: s.Camera.or(d.Camera), Snapshot: s.Snapshot.or(d.Snapshot), Stream: s.Stream.or(d.Stream)}
}

// rootChildren is the root's strategy: its services by Services, the
// patrol by Patrol.
func (s Supervision) rootChildren() actor.SupervisorStrategy {
	s = s.withDefaults()
	services, patrol := s.Services.strategy(nil), s.Patrol.strategy(nil)
	return strategyFunc(func(child *actor.PID) actor.SupervisorStrategy {
		if kindOf(child.Id) == PatrolName {
			return patrol
		}
		return services
	})
}

// subnets is the patrol's strategy for its subnets.
func (s Supervision) subnets() actor.SupervisorStrategy { return s.withDefaults().Subnet.strategy(nil) }

// cameras is a subnet's strategy for its cameras.
func (s Supervision) cameras() actor.SupervisorStrategy { return s.withDefaults().Camera.strategy(nil) }

// snapshots is a camera's strategy for its children but the stream,
// with the camera's decider and, unless the spec sets them, the retries
// and the capture timeout of ff.
func (s Supervision) snapshots(ff config.FFmpeg, decide actor.DeciderFunc) actor.SupervisorStrategy {
	spec := s.withDefaults().Snapshot
	if spec.Intensity == 0 && ff.Retries != nil {
		spec.Intensity = *ff.Retries
	}
	if spec.Period == 0 {
		spec.Period = ff.CaptureTimeout.Duration
	}
	return spec.strategy(decide)
}

// streams is a camera's strategy for its stream child.
func (s Supervision) streams() actor.SupervisorStrategy { return s.withDefaults().Stream.strategy(nil) }

// strategy is s as a protoactor supervisor strategy; decide is
// OneForOne's decider (nil: always restart). Either way a restart someone
// asked for is not a failure (requestedFirst).
func (s SupervisorSpec) strategy(decide actor.DeciderFunc) actor.SupervisorStrategy {
	if s.Strategy == OneForOne {
		if decide == nil {
			decide = actor.DefaultDecider
		}
		return requestedFirst{actor.NewOneForOneStrategy(s.Intensity, s.Period, decide)}
	}
	return requestedFirst{backoff{s}}
}

// restartRequested is the panic value of a restart someone asked for (an
// operator's POST /api/cameras/{id}/restart): the child ends on purpose.
type restartRequested struct{ reason string }

// requestedFirst restarts a child that asked for its restart at once and
// counts nothing: it did not fail, so its back-off does not grow and its
// intensity is not spent (thirty restarts asked in a row are thirty quick
// restarts, not thirty growing waits with the camera's mailbox held).
// Every other failure goes to the spec's strategy.
type requestedFirst struct{ failures actor.SupervisorStrategy }

// HandleFailure restarts a requested restart now, as the library's own
// restarts are published (publishRestarts); else it hands the failure on.
func (r requestedFirst) HandleFailure(system *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, msg any) {
	if _, ok := reason.(restartRequested); ok {
		system.EventStream.Publish(&actor.SupervisorEvent{Child: child, Reason: reason, Directive: actor.RestartDirective})
		sup.RestartChildren(child)
		return
	}
	r.failures.HandleFailure(system, sup, child, rs, reason, msg)
}

// strategyFunc is the strategy of a supervisor whose children are of
// several kinds: each failure is handled by the strategy of its child.
type strategyFunc func(child *actor.PID) actor.SupervisorStrategy

// HandleFailure hands the failure to child's strategy.
func (f strategyFunc) HandleFailure(system *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, msg any) {
	f(child).HandleFailure(system, sup, child, rs, reason, msg)
}

// backoff is the Backoff strategy. Every restart is published as the
// library's own are, so that it is recorded and counted
// (publishRestarts).
type backoff struct{ s SupervisorSpec }

// HandleFailure schedules the child's restart.
func (b backoff) HandleFailure(system *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, _ any) {
	if rs.NumberOfFailures(b.s.Period) == 0 {
		rs.Reset()
	}
	rs.Fail()
	time.AfterFunc(b.s.delay(rs.FailureCount()), func() {
		system.EventStream.Publish(&actor.SupervisorEvent{Child: child, Reason: reason, Directive: actor.RestartDirective})
		sup.RestartChildren(child)
	})
}

// delay is a Backoff's wait before the restart after n failures within
// the period.
func (s SupervisorSpec) delay(n int) time.Duration {
	var d time.Duration
	switch s.Growth {
	case Doubling:
		d = s.Initial << min(n-1, 16) // the doubling stops at 2¹⁶ × Initial, past any cap; beyond, it could overflow
	default:
		d = time.Duration(n) * s.Initial
	}
	if s.Max > 0 {
		d = min(d, s.Max)
	}
	if s.Jitter > 0 {
		d += rand.N(s.Jitter)
	}
	return d
}

// policyExtension makes the tree's running policy reachable from any of
// its actors' contexts: the helpers every actor shares (askChildren) have
// a context, not an Env. It is registered before the root is spawned and
// only read after.
type policyExtension struct{ p *Policy }

var policyExtensionID = extensions.NextExtensionID()

func (policyExtension) ExtensionID() extensions.ExtensionID { return policyExtensionID }

// policyOf is the policy system's tree runs, or DefaultPolicy for a
// system no tree registered a policy with.
func policyOf(system *actor.ActorSystem) *Policy {
	if e, ok := system.Extensions.Get(policyExtensionID).(policyExtension); ok {
		return e.p
	}
	return DefaultPolicy()
}

// AdmissionPolicy is how the machine-wide admission adapts its limit
// (admission.go): additive increase while the CPU has headroom,
// multiplicative decrease when it is busy and captures slow down.
type AdmissionPolicy struct {
	Tick       time.Duration // how often the limit is reconsidered
	MinSamples int           // good captures a tick needs to judge by
	Tolerance  float64       // slower than this × the uncontended time, the CPU busy: cut the limit
	Headroom   float64       // the CPU busy less than this share: room to grow; at or above it: busy
	// Pressure: some task waited for a CPU less than this share of the
	// tick (/proc/pressure/cpu), so a busy CPU is not oversubscribed:
	// room to grow while captures wait for grants.
	Pressure     float64
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
	// RegisterMargin is added to the go2rtc requests a lease's
	// registration makes (each bounded by go2rtc.request_timeout) for the
	// messages between the lease, the gateway and back.
	RegisterMargin time.Duration
}

// StreamPolicy times the stream-mode children (stream.go); how one is
// restarted is Supervision.Stream.
type StreamPolicy struct {
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
	// ListingMaxAge is how old a listing of go2rtc's streams may be when
	// the gateway judges by it, right before a frame that may open a
	// camera connection (or a live view), whether connections not ours
	// opened since the camera counted them. Older, it lists again first:
	// at most one extra GET /api/streams per ListingMaxAge while frames
	// flow, and the window in which a viewer's new connection goes
	// unseen is this age plus the few milliseconds to go2rtc's dial
	// (actors/go2rtc/README.md).
	ListingMaxAge time.Duration
}

// MQTTPolicy bounds what the broker may cost the tree (actors/MQTT.md).
type MQTTPolicy struct {
	// Queue is how many messages wait for the broker; past it the oldest
	// is dropped and counted (camvisor_mqtt_dropped_total). A retained
	// topic waits once: its newer message replaces the queued one.
	Queue int
	// FirstBackoff is the wait before reconnecting to a broker that went
	// away, doubled with each failed attempt up to MaxBackoff.
	FirstBackoff time.Duration
	MaxBackoff   time.Duration
	// ConnectTimeout bounds one connection attempt (TCP, TLS, CONNACK,
	// the subscriptions and the retained state); PublishTimeout one
	// message's PUBACK. Past either the connection counts as lost.
	ConnectTimeout time.Duration
	PublishTimeout time.Duration
	// InFlight is how many messages are sent before their PUBACKs are
	// awaited: a broker 10 ms away takes a batch per 10 ms, not a message.
	InFlight int
	// KeepAlive is MQTT's keep-alive: a silent broker is noticed within
	// about one and a half of it.
	KeepAlive time.Duration
	// StopWait bounds what a stop spends flushing the queue and saying
	// offline before it disconnects.
	StopWait time.Duration
	// DefaultPause is how long pause/set pauses a camera when the command
	// says no duration (ON): a forgotten pause ends by itself.
	DefaultPause time.Duration
}

// ReaperPolicy times the safety net.
type ReaperPolicy struct {
	// ConfirmAfter is the wait before the second look at a process of
	// this run no actor claimed: one being started or stopped is never
	// mistaken for an orphan.
	ConfirmAfter time.Duration
	// KillWait bounds how long a sweep waits for killed processes to
	// leave /proc before it reports; KillPoll is how often it looks.
	KillWait time.Duration
	KillPoll time.Duration
	// AnswerGrace: the patrol answers who owns what by the sweep's
	// deadline; the sweep waits this much longer for the answer to
	// arrive before it gives up on it.
	AnswerGrace time.Duration
}

// ClusterPolicy times the membership actor (cluster mode). The fence's
// own timings derive from the configuration (cluster.ttl, kill_grace:
// config.Cluster.Margin), not from here.
type ClusterPolicy struct {
	// Tick is how often the membership looks again at the cameras nobody
	// owns (a node ranked k-th for a camera tries for it once it has been
	// unowned k times the ttl) and at its alerts.
	Tick time.Duration
	// Resync is how often the whole of the cluster's keys is read again,
	// behind the watch: a safety net, one request per node.
	Resync time.Duration
	// JoinFirstBackoff is the wait before a failed join is tried again,
	// doubled after each failure up to JoinMaxBackoff.
	JoinFirstBackoff time.Duration
	JoinMaxBackoff   time.Duration
	// LeaveTimeout bounds the shutdown's release of the node's cameras and
	// lease; past it the keys expire with the lease instead.
	LeaveTimeout time.Duration
	// MaxAcquiring bounds the acquiring transactions in flight at once.
	MaxAcquiring int
	// RequestTimeout bounds one etcd request (an acquisition, a release, a
	// read).
	RequestTimeout time.Duration
}

// RecorderPolicy sizes the record's writes.
type RecorderPolicy struct {
	MaxBatch int // rows per transaction
	// Linger is how long a batch gathers rows after its first before it
	// is written, when the writer is idle: at tens of facts a second a
	// transaction each cost more than the rows (0: each fact at once).
	Linger            time.Duration
	PruneBatch        int           // rows per retention DELETE
	PrunePerJob       int           // DELETE statements per retention job, so writes interleave
	PruneFirst        time.Duration // the first retention run after start
	PruneEvery        time.Duration // then this often
	FirstWriteBackoff time.Duration // the wait before a failed write is tried again, doubled while it fails
	MaxWriteBackoff   time.Duration // the longest wait before a failed write is tried again
	PruneRetry        time.Duration // a retention run due while the writer is busy is tried again after this
	StopWait          time.Duration // how long the last batch may take at shutdown
	OptimizeEvery     time.Duration // PRAGMA optimize, at the end of a retention pass at most this often (and at close)
}

// HubPolicy bounds what a dashboard may cost.
type HubPolicy struct {
	// CameraFlush coalesces camera state changes: slots change with every
	// capture; a dashboard needs them a couple of times a second at most.
	CameraFlush  time.Duration
	ClientQueue  int           // messages a dashboard may have waiting before it is dropped as too slow
	WriteTimeout time.Duration // one WebSocket write
	CloseTimeout time.Duration // the close frame to a dashboard that goes: it is not worth waiting for
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
		Supervision:       DefaultSupervision(),
		StartupSweep:      15 * time.Second,
		DescribeTimeout:   2 * time.Second,
		DescribeFloor:     10 * time.Millisecond,
		MinCaptureWindow:  500 * time.Millisecond,
		MinRetryWindow:    time.Second,
		ProbeJitter:       0.1,
		DetectorStopGrace: time.Second,
		Admission: AdmissionPolicy{
			Tick: time.Second, MinSamples: 3, Tolerance: 1.5, Headroom: 0.85, Pressure: 0.1,
			Decrease: 0.75, BaselineRise: 1.02, Min: 1, Leak: 30 * time.Second,
			Park: time.Second, ParkCPU: 0.1,
		},
		Lease: LeasePolicy{
			DrainPoll:      250 * time.Millisecond,
			DrainSettle:    200 * time.Millisecond,
			DrainWarnAfter: 10 * time.Second,
			DrainBlindFor:  30 * time.Second,
			RegisterMargin: time.Second,
		},
		Stream: StreamPolicy{
			MinFrameGap: 500 * time.Millisecond,
			GOPSamples:  5,
			StartGrant:  time.Second,
		},
		Gateway: GatewayPolicy{ProbeInitial: time.Second, ProbeMax: 30 * time.Second, ListingMaxAge: time.Second},
		Reaper: ReaperPolicy{ConfirmAfter: time.Second, KillWait: 2 * time.Second, KillPoll: 10 * time.Millisecond,
			AnswerGrace: time.Second},
		Recorder: RecorderPolicy{
			MaxBatch:          2000,
			Linger:            250 * time.Millisecond,
			PruneBatch:        500,
			PrunePerJob:       20,
			PruneFirst:        time.Minute,
			PruneEvery:        time.Hour,
			FirstWriteBackoff: time.Second,
			MaxWriteBackoff:   30 * time.Second,
			PruneRetry:        time.Second,
			StopWait:          10 * time.Second,
			OptimizeEvery:     24 * time.Hour,
		},
		Hub: HubPolicy{CameraFlush: 500 * time.Millisecond, ClientQueue: 256, WriteTimeout: 5 * time.Second,
			CloseTimeout: time.Second},
		Relay: RelayPolicy{FirstRequest: 10 * time.Second, ReleaseWait: 2 * time.Second},
		Cluster: ClusterPolicy{Tick: time.Second, Resync: 30 * time.Second, JoinFirstBackoff: 500 * time.Millisecond,
			JoinMaxBackoff: 10 * time.Second, LeaveTimeout: 3 * time.Second, MaxAcquiring: 64, RequestTimeout: 3 * time.Second},
		MQTT: MQTTPolicy{Queue: 1000, FirstBackoff: time.Second, MaxBackoff: 30 * time.Second,
			ConnectTimeout: 5 * time.Second, PublishTimeout: 5 * time.Second, InFlight: 64, KeepAlive: 30 * time.Second, StopWait: 3 * time.Second, DefaultPause: time.Hour},
		AlertRefresh:         time.Minute,
		WebhookFirstBackoff:  time.Second,
		WebhookMaxBackoff:    time.Minute,
		WebhookMaxRetryAfter: 5 * time.Minute,
		WebhookInFlight:      8,
		RetireWait:           10 * time.Second,
		ReloadStepMargin:     5 * time.Second,
		ReloadMargin:         10 * time.Second,
	}
}
