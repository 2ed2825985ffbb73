package actors

import (
	"context"

	"log/slog"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// harness is one running tree under test, with every fact it published.
type harness struct {
	t    *testing.T
	env  *Env
	tree *Tree
	cams *camsim.Server

	facts *testkit.Facts
}

// testConfig is a config for cams with tight timings; mutate adjusts it.
func testConfig(cams *camsim.Server, subnets map[string][]camsim.Camera, maxConn map[string]int) *config.Config {
	cfg := config.Defaults()
	cfg.FFmpeg.CaptureTimeout = config.D(4 * time.Second)
	cfg.FFmpeg.KillGrace = config.D(time.Second)
	// Long enough that only camvisor's deadlines end a hung capture.
	cfg.FFmpeg.RTSPTimeout = config.D(time.Minute)
	for name, list := range subnets {
		s := config.Subnet{Name: name, Interval: config.D(time.Hour), Concurrency: 4}
		for _, c := range list {
			n := maxConn[c.Name]
			if n == 0 {
				n = 2
			}
			s.Cameras = append(s.Cameras, config.Camera{ID: c.Name, URL: cams.URL(c.Name), MaxConnections: n, Queue: config.DefaultQueue})
		}
		cfg.Subnets = append(cfg.Subnets, s)
	}
	return cfg
}

// startTree starts a tree on cfg. At cleanup it shuts the tree down, then
// checks in /proc that no process of this run is left.
func startTree(t *testing.T, cams *camsim.Server, cfg *config.Config) *harness {
	t.Helper()
	return startTreeWith(t, cams, cfg, nil)
}

// startTreeWith is startTree with a chance to adjust the Env first.
func startTreeWith(t *testing.T, cams *camsim.Server, cfg *config.Config, setup func(*Env)) *harness {
	t.Helper()
	testkit.RequireFFmpeg(t)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	h := &harness{t: t, cams: cams, facts: testkit.NewFacts()}
	h.env = &Env{Config: cfg, Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), RunID: testkit.RunID(t),
		Version: "test", Tap: h.facts.Add}
	run := h.env.RunID
	testkit.NoProcessesLeft(t, "run "+run, func() []osproc.Info { return testkit.FFmpeg(run) })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("camvisor log:\n%s", logs.String())
		}
	})
	if setup != nil {
		setup(h.env)
	}
	tree, err := Start(h.env)
	if err != nil {
		t.Fatal(err)
	}
	h.tree = tree
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := tree.Stop(ctx, "test over"); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return h
}

// waitFor returns the first published fact of type T that pred accepts,
// waiting up to timeout.
func waitFor[T any](h *harness, timeout time.Duration, what string, pred func(*T) bool) *T {
	h.t.Helper()
	return testkit.WaitFor(h.t, h.facts, testkit.Start, timeout, what, pred)
}

// waitAfter is waitFor for the facts published after mark.
func waitAfter[T any](h *harness, mark testkit.Mark, timeout time.Duration, what string, pred func(*T) bool) *T {
	h.t.Helper()
	return testkit.WaitFor(h.t, h.facts, mark, timeout, what, pred)
}

// all returns every published fact of type T that pred accepts.
func all[T any](h *harness, pred func(*T) bool) []*T {
	return testkit.All(h.facts, testkit.Start, pred)
}

// mark is now in the sequence of facts: for "the next X after this".
func (h *harness) mark() testkit.Mark { return h.facts.Mark() }

// pid is the pid of the actor at path below the root
// ("patrol/subnet/lab/camera/cam1"): this package's tests talk to actors
// directly, as nothing outside it can.
func (t *Tree) pid(path string) *actor.PID {
	return t.system.NewLocalPID(RootName + "/" + path)
}

// running reports whether the actor at path below the root is alive.
func (t *Tree) running(path string) bool {
	_, ok := t.system.ProcessRegistry.GetLocal(RootName + "/" + path)
	return ok
}

// camera returns the pid of a camera actor.
func (h *harness) camera(subnet, id string) *actor.PID {
	return h.tree.pid(CameraPath(subnet, id))
}

// capture asks a camera directly, as the API's capture-now does.
func (h *harness) capture(subnet, id string, timeout time.Duration) *messages.CaptureDone {
	h.t.Helper()
	h.waitCamera(subnet, id)
	res, err := h.tree.system.Root.RequestFuture(h.camera(subnet, id), &messages.Capture{Camera: id, Reason: "operator"}, timeout).Result()
	if err != nil {
		h.t.Fatalf("capture %s: %v", id, err)
	}
	return res.(*messages.CaptureDone)
}

// waitCamera waits until the subnet has spawned the camera's actor.
func (h *harness) waitCamera(subnet, id string) {
	h.t.Helper()
	testkit.Eventually(h.t, 5*time.Second, "camera actor "+id+" running", func() bool { return h.tree.running(CameraPath(subnet, id)) })
}

// ffmpegOf counts this run's ffmpeg processes of one camera in /proc.
func (h *harness) ffmpegOf(camera string) []osproc.Info {
	var out []osproc.Info
	for _, p := range testkit.FFmpeg(h.env.RunID) {
		if testkit.PerCamera([]osproc.Info{p})[camera] == 1 {
			out = append(out, p)
		}
	}
	return out
}

// viaModes runs test once per patrol path (subnets[].via), with a go2rtc
// stand-in where the path needs one: the invariants hold on every path.
func viaModes(t *testing.T, test func(t *testing.T, patrol func(*config.Config))) {
	for _, via := range []string{config.ViaFFmpeg, config.ViaGo2RTC, config.ViaAuto} {
		t.Run("via="+via, func(t *testing.T) {
			test(t, func(cfg *config.Config) {
				if via != config.ViaFFmpeg {
					withGo2RTC(t, cfg, time.Minute)
				}
				for i := range cfg.Subnets {
					cfg.Subnets[i].Via = via
				}
			})
		})
	}
}

// startCamsim serves cams on loopback for the test's duration.
func startCamsim(t *testing.T, cams ...camsim.Camera) *camsim.Server {
	t.Helper()
	s := testkit.Camsim(t, cams...)
	return s
}

func testDuration(d time.Duration) config.Duration { return config.D(d) }

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
