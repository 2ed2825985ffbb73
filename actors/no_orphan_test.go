package actors

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// Invariant 1: no OS process outlives the actor that started it. Every
// count here is read from /proc, and camsim's own connection count.

func TestNoOrphanAfterTimeout(t *testing.T) {
	hung := []camsim.Camera{{Name: "hang1", Hang: true}, {Name: "hang2", Hang: true}, {Name: "hang3", Hang: true}}
	cams := startCamsim(t, hung...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": hung}, nil)
	cfg.Subnets[0].Interval = testDuration(1500 * time.Millisecond)
	cfg.FFmpeg.CaptureTimeout = testDuration(time.Second)
	cfg.Alerts.CameraFailingAfter = 100 // no breaker opens: every cycle's capture times out and is killed
	h := startTree(t, cams, cfg)

	// Sample /proc and the cameras' own counts while four cycles run.
	worst := map[string]int{}
	for deadline := time.Now().Add(60 * time.Second); len(all(h, func(e *messages.CycleEnded) bool { return true })) < 4; {
		if time.Now().After(deadline) {
			t.Fatal("four cycles did not end within a minute")
		}
		for cam, n := range testkit.PerCamera(testkit.FFmpeg(h.env.RunID)) {
			worst[cam] = max(worst[cam], n)
			if n > 2 {
				t.Fatalf("camera %s has %d live ffmpeg processes, budget 2", cam, n)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range hung {
		if st := cams.Stats(c.Name); st.MaxOpen > 2 {
			t.Errorf("camsim saw %d connections to %s at once, budget 2", st.MaxOpen, c.Name)
		}
		if worst[c.Name] == 0 {
			t.Errorf("never saw an ffmpeg for %s: the test did not exercise anything", c.Name)
		}
	}
	// A capture the machine-wide admission did not let through before
	// the cycle's end (a busy machine) is skipped: it started no process,
	// so it cannot leave one.
	for _, e := range all(h, func(e *messages.CycleEnded) bool { return true }) {
		for _, o := range e.Outcomes {
			if o.Outcome != messages.OutcomeTimeout && o.Outcome != messages.OutcomeSkipped {
				t.Errorf("cycle %d: %s %s, want timeout (or skipped by the admission)", e.Number, o.Camera, o.Outcome)
			}
		}
	}
	timeouts := all(h, func(e *messages.ProcessExited) bool { return e.StopReason == messages.StopTimeout })
	if len(timeouts) < 6 {
		t.Errorf("%d processes recorded as stopped for timeout, want at least 6", len(timeouts))
	}
	// Shut down now and require /proc to be clean the moment it returns.
	h.shutdown()
	if left := testkit.FFmpeg(h.env.RunID); len(left) > 0 {
		t.Fatalf("after shutdown: %s", testkit.Describe(left))
	}
	testkit.Eventually(t, 2*time.Second, "camsim sees every connection closed", func() bool {
		for _, c := range hung {
			if cams.Stats(c.Name).Open != 0 {
				return false
			}
		}
		return true
	})
}

func TestNoOrphanOnStop(t *testing.T) {
	hung := []camsim.Camera{{Name: "stop1", Hang: true}, {Name: "stop2", Hang: true}}
	// Each case stops one level of the tree mid-capture and then requires
	// the processes below it gone from /proc (not even a zombie) the
	// moment the stop returns.
	cases := []struct {
		name string
		path func(h *harness) string
		// which processes must be gone after the stop
		owned func(p osproc.Info) bool
	}{
		{"camera", func(*harness) string { return CameraPath("lab", "stop1") },
			func(p osproc.Info) bool { return strings.Contains(p.Owner, "/camera/stop1/") }},
		{"subnet", func(*harness) string { return "patrol/subnet/lab" },
			func(osproc.Info) bool { return true }},
		{"root", func(*harness) string { return "" },
			func(osproc.Info) bool { return true }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cams := startCamsim(t, hung...)
			cfg := testConfig(cams, map[string][]camsim.Camera{"lab": hung}, nil)
			cfg.FFmpeg.CaptureTimeout = testDuration(time.Minute) // only the stop may end them
			h := startTree(t, cams, cfg)
			h.waitProcesses(len(hung))
			before := testkit.FFmpeg(h.env.RunID)

			pid := h.tree.root
			if p := tc.path(h); p != "" {
				pid = h.tree.pid(p)
			}
			if err := h.tree.system.Root.StopFuture(pid).Wait(); err != nil {
				t.Fatalf("stop %s: %v", pid.Id, err)
			}
			var left []osproc.Info
			for _, p := range testkit.FFmpeg(h.env.RunID) {
				if tc.owned(p) {
					left = append(left, p)
				}
			}
			if len(left) > 0 {
				t.Fatalf("stop of %s returned with its processes still in /proc: %s", pid.Id, testkit.Describe(left))
			}
			for _, p := range before {
				if !tc.owned(p) {
					continue
				}
				exited := waitFor(h, 2*time.Second, fmt.Sprintf("exit of pid %d recorded", p.PID), func(e *messages.ProcessExited) bool { return e.OSPID == p.PID })
				want := messages.StopParentStopped
				if tc.name == "root" {
					want = messages.StopShutdown
				}
				if exited.StopReason != want {
					t.Errorf("pid %d stop reason %q, want %q", p.PID, exited.StopReason, want)
				}
			}
		})
	}

	t.Run("SIGTERM to the binary", func(t *testing.T) {
		cams := startCamsim(t, hung...)
		cmd, home := startBinary(t, cams, hung)
		mine := func() []osproc.Info { return testkit.FFmpegOfHome(home) }
		testkit.Eventually(t, 10*time.Second, "both hung captures running", func() bool { return len(mine()) == len(hung) })
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitExit(t, cmd, 15*time.Second)
		if left := mine(); len(left) > 0 {
			t.Fatalf("camvisor exited on SIGTERM leaving: %s", testkit.Describe(left))
		}
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("camvisor exit code %d after SIGTERM, want 0", code)
		}
	})
}

func TestNoOrphanOnPanic(t *testing.T) {
	codecs(t, testNoOrphanOnPanic)
}

func testNoOrphanOnPanic(t *testing.T, codec camsim.Codec) {
	cam := withCodec(codec, camsim.Camera{Name: "crashy", Hang: true})[0]
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, nil)
	cfg.FFmpeg.CaptureTimeout = testDuration(time.Minute)
	h := startTree(t, cams, cfg)

	// Two captures in flight: the patrol's and an operator's.
	h.waitCamera("lab", "crashy")
	go h.tree.system.Root.RequestFuture(h.camera("lab", "crashy"), &messages.Capture{Camera: "crashy"}, time.Minute)
	h.waitProcesses(2)
	old := h.ffmpegOf("crashy")

	h.tree.system.Root.Send(h.camera("lab", "crashy"), &messages.RestartCamera{Reason: "test"})
	for _, p := range old {
		e := waitFor(h, 5*time.Second, fmt.Sprintf("exit of pid %d", p.PID), func(e *messages.ProcessExited) bool { return e.OSPID == p.PID })
		if e.StopReason != messages.StopRestart {
			t.Errorf("pid %d stop reason %q, want restart", p.PID, e.StopReason)
		}
		if _, alive := osproc.Read(p.PID); alive {
			t.Errorf("pid %d of the old instance still in /proc after its exit was recorded", p.PID)
		}
	}
	// The new instance works: heal the camera and capture.
	if err := cams.Update("crashy", camsim.CameraPatch{Hang: boolPtr(false)}); err != nil {
		t.Fatal(err)
	}
	if done := h.capture("lab", "crashy", 15*time.Second); done.Outcome != messages.OutcomeOK {
		t.Fatalf("capture after restart: %s %s", done.Outcome, done.Error)
	}
}

func TestNoOrphanOnParentKill(t *testing.T) {
	var victims []osproc.Info
	testkit.AdoptOrphans(t, func() []int { return pids(victims) })
	hung := []camsim.Camera{{Name: "kill1", Hang: true}, {Name: "kill2", Hang: true}}
	cams := startCamsim(t, hung...)
	cmd, home := startBinary(t, cams, hung)
	mine := func() []osproc.Info { return testkit.FFmpegOfHome(home) }
	testkit.Eventually(t, 10*time.Second, "both hung captures running", func() bool { return len(mine()) == len(hung) })
	victims = mine()

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	waitExit(t, cmd, 5*time.Second)
	testkit.Eventually(t, 2*time.Second, "every ffmpeg dead after camvisor's SIGKILL", func() bool {
		for _, p := range victims {
			if info, ok := osproc.Read(p.PID); ok && !info.Zombie() {
				return false
			}
		}
		return true
	})
	t.Logf("children dead %s after SIGKILL of camvisor", time.Since(killed).Round(time.Millisecond))
}

func pids(procs []osproc.Info) []int {
	out := make([]int, len(procs))
	for i, p := range procs {
		out[i] = p.PID
	}
	return out
}

// startBinary builds and starts the camvisor binary patrolling cams, and
// returns it with its installation (CAMVISOR_HOME), which tags its ffmpeg
// children.
func startBinary(t *testing.T, cams *camsim.Server, list []camsim.Camera) (*exec.Cmd, string) {
	t.Helper()
	var b strings.Builder
	for _, c := range list {
		fmt.Fprintf(&b, "      - id: %s\n        url: %s\n        max_connections: 2\n", c.Name, cams.URL(c.Name))
	}
	return startBinaryYAML(t, cams, b.String())
}

// startBinaryYAML is startBinary with the cameras of subnet lab given as
// YAML lines; it returns the binary and its installation (CAMVISOR_HOME),
// which tags its ffmpeg children.
func startBinaryYAML(t *testing.T, cams *camsim.Server, camerasYAML string) (*exec.Cmd, string) {
	t.Helper()
	testkit.RequireFFmpeg(t)
	bin := testkit.Binary(t, "camvisor/cmd/camvisor")
	dir := t.TempDir()
	home := filepath.Join(dir, "camvisor.db")
	conf := fmt.Sprintf("listen: 127.0.0.1:0\ndb: %s\nffmpeg: { capture_timeout: 1m, kill_grace: 1s }\nsubnets:\n  - name: lab\n    interval: 1h\n    cameras:\n%s",
		home, camerasYAML)
	path := filepath.Join(dir, "camvisor.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", path)
	log := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.NoProcessesLeft(t, "camvisor binary", func() []osproc.Info {
		var live []osproc.Info
		for _, p := range testkit.FFmpegOfHome(home) {
			if !p.Zombie() {
				live = append(live, p)
			}
		}
		return live
	})
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("camvisor output:\n%s", log.String())
		}
	})
	return cmd, home
}

func waitExit(t *testing.T, cmd *exec.Cmd, timeout time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("camvisor did not exit within %s", timeout)
	}
}

// waitProcesses waits until n processes of this run are live.
func (h *harness) waitProcesses(n int) {
	h.t.Helper()
	testkit.Eventually(h.t, 10*time.Second, fmt.Sprintf("%d ffmpeg processes running", n), func() bool {
		return len(testkit.FFmpeg(h.env.RunID)) >= n
	})
}

// shutdown stops the tree now, as SIGTERM would.
func (h *harness) shutdown() {
	h.t.Helper()
	ctx, cancel := contextWithTimeout(20 * time.Second)
	defer cancel()
	if err := h.tree.Shutdown(ctx, "test"); err != nil {
		h.t.Fatal(err)
	}
}

func boolPtr(b bool) *bool { return &b }
