// Package actors is camvisor's supervision tree: one file per actor kind,
// and this file, which wires them. README.md beside it tells the tree's
// story (the patrol, stream mode, the safety net).
//
//	root
//	├── recorder        the record's writer (recorder.go)
//	├── reaper          /proc census and sweeps (reaper.go)
//	├── admission       machine-wide limit on running captures (admission.go)
//	├── alerts, metrics rules and Prometheus collectors fed by facts
//	├── mqtt            states, events, alerts to a broker (mqtt.go; only with mqtt.url)
//	├── gateway         the only go2rtc client (gateway.go; only with go2rtc.url)
//	├── detector        looks at every frame (detector.go)
//	├── playback        decides live playback (playback.go)
//	├── hub             dashboards' WebSockets (hub.go)
//	│   └── client/<n>  one per dashboard (wsclient.go)
//	├── membership      cluster mode: the etcd lease, the cameras this node runs (membership.go)
//	└── patrol
//	    └── subnet/<name>           cycles (subnet.go)
//	        └── camera/<id>         slot budget (camera.go, camera_go2rtc.go, camera_health.go)
//	            ├── ffmpeg/<seq>    one OS process (ffmpeg.go on process.go)
//	            ├── http/<seq>      one snapshot_url fetch (camera_http.go)
//	            ├── stream/ffmpeg   stream mode: one long-running ffmpeg (stream.go, camera_stream.go)
//	            └── lease/go2rtc    one live view (lease.go)
//
// A reload (reload.go) goes through the patrol (patrol.go), the subnets
// (subnet_reload.go) and the cameras (camera_reload.go).
//
// The homes of the invariants: 1 no orphan, process.go, which ffmpeg.go
// and stream.go embed (and the reaper as the safety net); 2 slot budget,
// camera.go; 3 cycle end releases, gateway.go; 4 the backend decides
// playback, playback.go; 5 everything on record, recorder.go; 7 the
// machine is never oversubscribed, admission.go; 8 one owner per camera,
// instance.go and membership.go (CLUSTER.md). Facts travel on the actor
// system's event stream; the root subscribes each service to the facts it
// wants.
package actors

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"camvisor/actors/config"
	"camvisor/actors/redact"
	"camvisor/actors/rtsprelay"
	"camvisor/db"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
)

// Env is what every actor of one tree shares. It is read-only once the
// tree started.
type Env struct {
	Config *config.Config
	Log    *slog.Logger
	// RunID tags every process this run starts (CAMVISOR_RUN).
	RunID string
	// Home tags them with the installation (CAMVISOR_HOME); Start sets it
	// to the record's absolute path when empty.
	Home string
	// Record begins this run in the record and records everything: Start
	// opens Config.DB unless Store is set, and Stop closes what it opened.
	// Without it the tree runs with no record (capture-core tests).
	Record bool
	// Store is the record, written only by the recorder's writer
	// goroutine; set by Start when Record.
	Store *db.Store
	// RunRow is this run's id in the record's runs table; set by Start.
	RunRow int64
	// Version is the build's, recorded with the run.
	Version string
	// Metrics are the Prometheus collectors; Start creates them when nil.
	Metrics *Metrics
	// Wire is the dashboards' wire format (web's); nil: nothing is pushed.
	Wire Wire
	// Policy is the tree's internal policy; nil means DefaultPolicy.
	Policy *Policy
	// Tap, when set, receives every fact the tree publishes, from the
	// first one on (tests and tools; a slow Tap slows every publisher).
	Tap func(fact any)
	// Relay is the loopback RTSP relay ffmpeg reaches password-protected
	// cameras through, so no secret is on its command line; Start creates
	// it when nil, and Shutdown closes what Start created.
	Relay *rtsprelay.Relay
	// Load reads the configuration again for a reload (SIGHUP, POST
	// /api/config/reload): the command's file, with its command-line
	// overrides. Nil: this tree cannot reload.
	Load func() (*config.Config, error)

	peers *peers // set by Start
	// owners is what the membership decided this node runs (cluster mode;
	// membership.go).
	owners ownership
	// patrolling is closed once the root has spawned the patrol, the
	// start-up sweep done (Tree.Ready); set by Start.
	patrolling chan struct{}
	// current is the configuration that runs: Config, with the subnets
	// and cameras of the last reload. An immutable value swapped whole: a
	// restarted actor (the patrol, a subnet) and the HTTP handlers must
	// find the cameras that run now without asking anyone, and a message
	// could not reach an actor that is not started yet.
	current atomic.Pointer[config.Config]
	// pauses are the cameras paused now, by camera id: an immutable map
	// swapped whole by its one writer, the patrol (patrol_pause.go). A
	// camera actor that starts (at start-up, after a crash, after a
	// reload changed it) and a subnet planning its cycle must know whether
	// the camera is paused before anything else happens, and a message
	// could not reach an actor that is not started yet. Start fills it
	// from the record's open pauses: a pause outlives a restart.
	pauses atomic.Pointer[map[string]messages.Pause]
}

// pauseOf is camera cam's pause, if it is paused: by the config
// (enabled: false, for good) or by an operator (until its end).
func (e *Env) pauseOf(cam config.Camera) (messages.Pause, bool) {
	if !cam.IsEnabled() {
		return messages.Pause{Camera: cam.ID, By: "config", Reason: "enabled: false in the configuration", Disabled: true}, true
	}
	if m := e.pauses.Load(); m != nil {
		p, ok := (*m)[cam.ID]
		return p, ok
	}
	return messages.Pause{}, false
}

// setPauses swaps the book of pauses; only the patrol calls it (and
// Start, before any actor runs).
func (e *Env) setPauses(m map[string]messages.Pause) { e.pauses.Store(&m) }

// pausesNow is the book of pauses as it is now (never nil; do not change it).
func (e *Env) pausesNow() map[string]messages.Pause {
	if m := e.pauses.Load(); m != nil {
		return *m
	}
	return map[string]messages.Pause{}
}

// Current is the configuration that runs now: Config, with the subnets
// and cameras as last reloaded.
func (e *Env) Current() *config.Config {
	if c := e.current.Load(); c != nil {
		return c
	}
	return e.Config
}

// Tree is a running supervision tree. The rest of the program asks it
// through the facade's methods (facade.go); the actor runtime stays
// inside this package.
type Tree struct {
	Metrics *Metrics
	system  *actor.ActorSystem
	root    *actor.PID
	env     *Env
	done    chan struct{}
	opened  bool             // Start opened the record: Stop closes it
	lock    *instanceLock    // the record's instance lock: Stop releases it
	listen  atomic.Value     // the HTTP server's address (SetListen), a string
	relay   *rtsprelay.Relay // Start created it: Shutdown closes it
	// reloading lets one reload at a time compare against what runs: a
	// reload is a sequence of steps (read, compare, apply, publish) that
	// two callers (SIGHUP and the API) must not interleave. It is a
	// channel rather than a mutex so that a caller waits for its turn only
	// as long as its context lets it.
	reloading chan struct{}
}

// Start is how camvisor starts, the server and its tests alike: it opens
// the record and begins the run in it (env.Record), then builds the actor
// system and spawns the tree for env.Config. Env's unset fields get their
// defaults (a new run id, the default policy, the metrics).
func Start(env *Env) (*Tree, error) {
	if env.RunID == "" {
		env.RunID = NewRunID()
	}
	opened := false
	var lock *instanceLock
	if env.Record {
		// Before the record is opened, swept or written: a second instance
		// touches nothing (instance.go).
		var err error
		if lock, err = lockInstance(env.Config.DB, env.Config.Listen); err != nil {
			return nil, err
		}
		if env.Store == nil {
			store, err := db.Open(env.Config.DB)
			if err != nil {
				lock.release()
				return nil, err
			}
			env.Store, opened = store, true
		}
		run := db.Run{Key: env.RunID, Started: time.Now(), PID: os.Getpid(), Version: env.Version, Config: env.Config.Redacted()}
		if env.Config.Cluster.Enabled() {
			run.Node = env.Config.Cluster.Node
		}
		for _, c := range env.Config.Cameras() {
			run.Cameras = append(run.Cameras, db.RunCamera{ID: c.ID, Subnet: c.Subnet, URL: redact.URL(c.URL), MaxConnections: c.MaxConnections, Name: c.Name})
		}
		if env.RunRow, err = env.Store.BeginRun(run); err != nil {
			if opened {
				env.Store.Close()
			}
			lock.release()
			return nil, fmt.Errorf("record %s: %w", env.Config.DB, err)
		}
		// The pauses an earlier run left open go on: the cameras stay
		// paused until their end.
		open, err := env.Store.OpenPauses()
		if err != nil {
			_ = env.Store.EndRun(env.RunRow, time.Now(), "start failed: "+err.Error())
			if opened {
				env.Store.Close()
			}
			return nil, fmt.Errorf("record %s: %w", env.Config.DB, err)
		}
		book := map[string]messages.Pause{}
		for _, p := range open {
			book[p.Camera] = p
		}
		env.setPauses(book)
		if len(open) > 0 {
			env.Log.Info("cameras paused by an earlier run stay paused", "cameras", len(open))
		}
	}
	t, err := spawnTree(env)
	if err != nil {
		if env.Record {
			_ = env.Store.EndRun(env.RunRow, time.Now(), "start failed: "+err.Error())
		}
		if opened {
			env.Store.Close()
		}
		lock.release()
		return nil, err
	}
	t.opened, t.lock = opened, lock
	return t, nil
}

// NewRunID names a run; every process it starts carries it.
func NewRunID() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// spawnTree builds the actor system and spawns the root.
func spawnTree(env *Env) (*Tree, error) {
	if env.Home == "" {
		home, err := filepath.Abs(env.Config.DB)
		if err != nil {
			return nil, fmt.Errorf("home: %w", err)
		}
		env.Home = home
	}
	if env.Metrics == nil {
		env.Metrics = NewMetrics(env)
	}
	if env.Policy == nil {
		env.Policy = DefaultPolicy()
	}
	var relay *rtsprelay.Relay
	if env.Relay == nil {
		var err error
		relay, err = rtsprelay.New(rtsprelay.Options{Log: env.Log.With("service", "rtsp-relay"),
			FirstRequest: env.Policy.Relay.FirstRequest, ReleaseWait: env.Policy.Relay.ReleaseWait})
		if err != nil {
			return nil, err
		}
		env.Relay = relay
	}
	libLog := env.Log.With("lib", "protoactor")
	system := actor.NewActorSystemWithConfig(actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet(libLog) }),
	))
	system.Extensions.Register(policyExtension{env.Policy})
	env.patrolling = make(chan struct{})
	t := &Tree{system: system, Metrics: env.Metrics, env: env, done: make(chan struct{}), relay: relay, reloading: make(chan struct{}, 1)}
	env.peers = newPeers(system)
	if env.Tap != nil {
		system.EventStream.Subscribe(env.Tap)
	}
	system.EventStream.Subscribe(publishRestarts(system))
	pid, err := system.Root.SpawnNamed(rootProps(env, t.done), RootName)
	if err != nil {
		system.Shutdown()
		if relay != nil {
			relay.Close()
		}
		return nil, fmt.Errorf("spawn root: %w", err)
	}
	t.root = pid
	return t, nil
}

// Stop shuts the tree down in order (Shutdown), then records the stop in
// the run's row and closes the record if Start opened it.
func (t *Tree) Stop(ctx context.Context, reason string) error {
	err := t.Shutdown(ctx, reason)
	if !t.env.Record {
		return err
	}
	if err != nil {
		reason += "; shutdown incomplete: " + err.Error()
	}
	if endErr := t.env.Store.EndRun(t.env.RunRow, time.Now(), reason); endErr != nil {
		t.env.Log.Error("record the stop", "reason", endErr.Error())
	}
	if t.opened {
		t.opened = false
		t.env.Store.Close()
	}
	t.lock.release()
	return err
}

// RunID is this run's id, which every process it starts carries.
func (t *Tree) RunID() string { return t.env.RunID }

// Store is the record this tree writes, nil without one.
func (t *Tree) Store() *db.Store { return t.env.Store }

// Done is closed when the root actor has stopped.
func (t *Tree) Done() <-chan struct{} { return t.done }

// Shutdown stops the tree in order (patrol first, so every process is
// killed and recorded while the services still run) and waits until the
// root stopped or ctx ends. It then shuts the actor system down.
// Calling it again, or after the root stopped by other means, is harmless.
func (t *Tree) Shutdown(ctx context.Context, reason string) error {
	select {
	case <-t.done:
	default:
		t.system.Root.Send(t.root, &messages.Shutdown{Reason: reason})
	}
	select {
	case <-t.done:
	case <-ctx.Done():
		return fmt.Errorf("shutdown: %w", ctx.Err())
	}
	if !t.system.IsStopped() {
		t.system.Shutdown()
	}
	if t.relay != nil { // every ffmpeg actor is gone: no Path is in use
		t.relay.Close()
	}
	return nil
}

// stopCause tells a child why its parent is stopping it. The parent sets
// it in its own Stopping/Restarting handler, which protoactor runs before
// it stops the children; a message could not carry it, because the
// children's Stop system message overtakes any user message.
type stopCause struct {
	parent *stopCause
	reason atomic.Pointer[messages.StopReason]
}

func newStopCause(parent *stopCause) *stopCause { return &stopCause{parent: parent} }

// set records the reason unless one is already set.
func (c *stopCause) set(r messages.StopReason) { c.reason.CompareAndSwap(nil, &r) }

// get is the nearest reason set on this cause or above it.
func (c *stopCause) get() messages.StopReason {
	for n := c; n != nil; n = n.parent {
		if r := n.reason.Load(); r != nil {
			return *r
		}
	}
	return messages.StopParentStopped
}

// publishRestarts turns every restart a supervisor decides into an
// ActorRestarted fact: recorded, counted, and shown, like every other
// thing that happens to the tree.
func publishRestarts(system *actor.ActorSystem) func(evt any) {
	return func(evt any) {
		e, ok := evt.(*actor.SupervisorEvent)
		if !ok || e.Directive != actor.RestartDirective || e.Child == nil {
			return
		}
		system.EventStream.Publish(&messages.ActorRestarted{Actor: e.Child.Id, Kind: kindOf(e.Child.Id),
			Reason: restartReason(e.Reason), At: time.Now()})
	}
}

// restartReason says why a supervisor restarted a child, without secrets.
func restartReason(reason any) string {
	switch r := reason.(type) {
	case *messages.SnapshotTaken:
		return "retry after " + string(r.Outcome) + ": " + r.Error // redacted by the ffmpeg actor
	case restartRequested:
		return "requested: " + r.reason
	}
	return redact.Text(fmt.Sprint(reason))
}

// forward subscribes pid to the facts of the event stream that want
// accepts. The filter runs inside the handler: protoactor's
// SubscribeWithPredicate sets its predicate after the subscription is
// visible to Publish, a data race.
func forward(system *actor.ActorSystem, pid *actor.PID, want func(any) bool) *eventstream.Subscription {
	return system.EventStream.Subscribe(func(evt any) {
		if want(evt) {
			system.Root.Send(pid, evt)
		}
	})
}

// after sends msg to pid after d, from a timer goroutine. The returned
// timer is stopped by the actor when it no longer wants the message.
func after(system *actor.ActorSystem, pid *actor.PID, d time.Duration, msg any) *time.Timer {
	return time.AfterFunc(d, func() { system.Root.Send(pid, msg) })
}

// quiet passes only warnings and errors of the actor library: its Info
// lines (dead letters, recoveries) repeat what camvisor logs itself.
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{l.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(a), f.min}
}

func (f levelFilter) WithGroup(g string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(g), f.min}
}
