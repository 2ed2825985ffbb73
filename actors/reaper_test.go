package actors

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/db"
	"camvisor/messages"
)

// strayFFmpeg starts an ffmpeg against url as the test's own child, with
// the given camvisor tags (none for an untagged one). It is killed and
// waited for at cleanup if still alive.
func strayFFmpeg(t *testing.T, url, home, run, owner string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-f", "null", "-")
	cmd.Env = os.Environ()
	if run != "" {
		cmd.Env = append(cmd.Env, osproc.EnvRun+"="+run, osproc.EnvOwner+"="+owner, osproc.EnvHome+"="+home)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	testkit.Eventually(t, 5*time.Second, "stray ffmpeg visible in /proc", func() bool {
		info, ok := osproc.Read(cmd.Process.Pid)
		return ok && info.Name == "ffmpeg" && info.Run == run
	})
	return cmd
}

func alive(pid int) bool {
	info, ok := osproc.Read(pid)
	return ok && !info.Zombie()
}

func TestEarlierRunOrphansReapedBeforeFirstCycle(t *testing.T) {
	hung := camsim.Camera{Name: "attic", Hang: true}
	cams := startCamsim(t, hung)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {hung}}, nil)
	store := withRecord(t, cfg)

	// An earlier run that died and left its ffmpeg behind.
	old, err := store.BeginRun(db.Run{Key: "old-run", Started: time.Now().Add(-time.Hour), Version: "old", Config: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	home, _ := filepath.Abs(cfg.DB)
	orphan := strayFFmpeg(t, cams.URL("attic"), home, "old-run", "root/patrol/subnet/lab/camera/attic/ffmpeg/1")
	// A process of another camvisor (another record) on the same machine.
	neighbour := strayFFmpeg(t, cams.URL("attic"), "/srv/other/camvisor.db", "other-run", "root/patrol/subnet/x/camera/y/ffmpeg/1")
	started := time.Now()
	if err := store.WriteBatch(old, []any{&messages.ProcessStarted{OSPID: orphan.Process.Pid, Camera: "attic", Subnet: "lab",
		Owner: "root/patrol/subnet/lab/camera/attic/ffmpeg/1", Purpose: "snapshot", StartedAt: started}}); err != nil {
		t.Fatal(err)
	}
	someoneElses := strayFFmpeg(t, cams.URL("attic"), "", "", "")

	h := startTreeWith(t, cams, cfg, func(env *Env) { env.Store, env.Record = store, true })
	reaped := waitFor(h, 10*time.Second, "the orphan reaped", func(e *messages.ProcessReaped) bool { return e.OSPID == orphan.Process.Pid })
	if reaped.ThisRun || reaped.Run != "old-run" || reaped.Camera != "attic" {
		t.Errorf("reaped %+v", reaped)
	}
	first := waitFor(h, 10*time.Second, "first cycle", func(e *messages.CycleStarted) bool { return e.Number == 1 })
	if !reaped.At.Before(first.StartedAt) {
		t.Errorf("orphan killed at %s, after the first cycle began at %s", reaped.At.Format(time.StampMicro), first.StartedAt.Format(time.StampMicro))
	}
	if alive(orphan.Process.Pid) {
		t.Error("the orphan is alive")
	}
	if !alive(someoneElses.Process.Pid) {
		t.Error("the untagged ffmpeg (someone else's) was touched")
	}
	if !alive(neighbour.Process.Pid) {
		t.Error("another camvisor's ffmpeg was touched")
	}
	done := waitFor(h, 5*time.Second, "sweep report", func(e *messages.SweepDone) bool { return e.Foreign == 1 })
	if done.Untagged < 2 {
		t.Errorf("sweep counted %d untagged processes", done.Untagged)
	}
	h.shutdown()
	var reason, endedAt *string
	store.DB.QueryRow(`SELECT stop_reason, ended_at FROM processes WHERE run_id = ? AND os_pid = ?`, old, orphan.Process.Pid).Scan(&reason, &endedAt)
	if reason == nil || *reason != "reaped" || endedAt == nil {
		t.Errorf("the orphan's row in its own run: stop_reason %v ended_at %v", reason, endedAt)
	}
}

func TestUnownedProcessOfThisRunKilled(t *testing.T) {
	hung := camsim.Camera{Name: "attic", Hang: true}
	cams := startCamsim(t, hung)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {hung}}, nil)
	cfg.Reaper.Interval = testDuration(time.Second)
	h := startTree(t, cams, cfg)
	waitFor(h, 10*time.Second, "first cycle", func(e *messages.CycleStarted) bool { return e.Number == 1 })
	// A broken invariant, simulated: a process of this run nobody owns.
	stray := strayFFmpeg(t, cams.URL("attic"), h.env.Home, h.env.RunID, "root/patrol/subnet/lab/camera/attic/ffmpeg/999")
	at := time.Now()
	// Within an interval or two, plus the second look that confirms it.
	reaped := waitFor(h, 20*time.Second, "the unowned process reaped", func(e *messages.ProcessReaped) bool { return e.OSPID == stray.Process.Pid })
	if !reaped.ThisRun {
		t.Errorf("reaped %+v", reaped)
	}
	if took := reaped.At.Sub(at); took < DefaultPolicy().Reaper.ConfirmAfter {
		t.Errorf("killed %s after it appeared, before the second look that confirms it", took)
	}
	alert := waitFor(h, 10*time.Second, "unowned_process fires", func(e *messages.AlertChanged) bool { return e.Rule == "unowned_process" })
	if alert.State != messages.AlertFiring || alert.Subject != "attic" || !strings.Contains(alert.Detail, "999") {
		t.Errorf("alert %+v", alert)
	}
	// The camera's own processes, owned by live actors, were never touched.
	for _, e := range all(h, func(e *messages.ProcessReaped) bool { return true }) {
		if e.OSPID != stray.Process.Pid {
			t.Errorf("the reaper killed pid %d (%s), which an actor owned", e.OSPID, e.Owner)
		}
	}
}

func TestCameraFailingAlert(t *testing.T) {
	hung := camsim.Camera{Name: "attic", Hang: true}
	cams := startCamsim(t, hung)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {hung}}, nil)
	cfg.Subnets[0].Interval = testDuration(1500 * time.Millisecond)
	cfg.FFmpeg.CaptureTimeout = testDuration(time.Second)
	cfg.Patrol.MaxBackoff = testDuration(2 * time.Second) // probes often once healed
	h := startTree(t, cams, cfg)
	fired := waitFor(h, 30*time.Second, "camera_failing fires", func(e *messages.AlertChanged) bool {
		return e.Rule == "camera_failing" && e.State == messages.AlertFiring
	})
	if fired.Subject != "attic" {
		t.Errorf("alert %+v", fired)
	}
	if n := len(all(h, func(e *messages.CaptureDone) bool { return e.Camera == "attic" && e.EndedAt.Before(fired.FirstSeen) })); n < cfg.Alerts.CameraFailingAfter {
		t.Errorf("fired after %d failed captures, K = %d", n, cfg.Alerts.CameraFailingAfter)
	}
	if err := cams.Update("attic", camsim.CameraPatch{Hang: boolPtr(false)}); err != nil {
		t.Fatal(err)
	}
	waitFor(h, 30*time.Second, "camera_failing resolves once healed", func(e *messages.AlertChanged) bool {
		return e.Rule == "camera_failing" && e.State == messages.AlertResolved
	})
}

// TestIncidentReplay runs the original incident: with the kill disabled
// (abandonOnDeadline, a hook only this test sets) timed-out captures
// abandon their ffmpeg, which keeps its connection; processes accumulate;
// process_budget_exceeded fires within one reaper interval, naming the
// camera, and the reaper then kills them. With the kill enabled the same
// run raises no process alert.
func TestIncidentReplay(t *testing.T) {
	for _, killDisabled := range []bool{true, false} {
		name := map[bool]string{true: "kill disabled", false: "kill enabled"}[killDisabled]
		t.Run(name, func(t *testing.T) {
			hung := []camsim.Camera{{Name: "tapo1", Hang: true}, {Name: "tapo2", Hang: true}}
			cams := startCamsim(t, hung...)
			cfg := testConfig(cams, map[string][]camsim.Camera{"lab": hung}, nil)
			cfg.Subnets[0].Interval = testDuration(500 * time.Millisecond)
			cfg.FFmpeg.CaptureTimeout = testDuration(300 * time.Millisecond)
			cfg.Record.SampleInterval = testDuration(200 * time.Millisecond)
			cfg.Reaper.Interval = testDuration(4 * time.Second)
			// Reset after the tree's stop: cleanups run last registered first.
			t.Cleanup(func() { abandonOnDeadline.Store(false) })
			abandonOnDeadline.Store(killDisabled)
			h := startTree(t, cams, cfg)
			start := time.Now()
			if killDisabled {
				alert := waitFor(h, cfg.Reaper.Interval.Duration+3*time.Second, "process_budget_exceeded", func(e *messages.AlertChanged) bool {
					return e.Rule == "process_budget_exceeded" && e.State == messages.AlertFiring
				})
				if !strings.HasPrefix(alert.Subject, "tapo") || !strings.Contains(alert.Detail, "budget 2") {
					t.Errorf("alert %+v", alert)
				}
				t.Logf("process_budget_exceeded for %s after %s: %s", alert.Subject, alert.FirstSeen.Sub(start).Round(time.Millisecond), alert.Detail)
				// The last line of defence: the reaper kills what no actor owns.
				waitFor(h, 2*cfg.Reaper.Interval.Duration, "the reaper kills the abandoned processes", func(e *messages.ProcessReaped) bool { return e.ThisRun })
				waitFor(h, 5*time.Second, "unowned_process fires", func(e *messages.AlertChanged) bool { return e.Rule == "unowned_process" })
				// Stop abandoning, then let the reaper finish before the /proc check.
				h.shutdown()
				testkit.Eventually(t, 5*time.Second, "abandoned processes gone", func() bool {
					for _, p := range testkit.FFmpeg(h.env.RunID) {
						if !p.Zombie() {
							osproc.KillGroup(p)
							return false
						}
					}
					return true
				})
				return
			}
			time.Sleep(cfg.Reaper.Interval.Duration + time.Second) // the span the alert must stay silent over
			for _, e := range all(h, func(e *messages.AlertChanged) bool { return true }) {
				if e.Rule == "process_budget_exceeded" || e.Rule == "unowned_process" {
					t.Errorf("with the kill enabled: %s %s %s", e.Rule, e.Subject, e.Detail)
				}
			}
			if n := len(all(h, func(e *messages.ProcessExited) bool { return e.StopReason == messages.StopTimeout })); n < 4 {
				t.Errorf("only %d timeouts: the enabled run did not exercise the same path", n)
			}
		})
	}
}

// TestReaperReapsTaggedWhateverName: with ffmpeg.path pointing at a
// wrapper script, what the wrapper starts carries camvisor's tags but not
// ffmpeg's name. An earlier run killed with SIGKILL leaves such a
// grandchild behind (the parent-death signal reaches only the wrapper); the
// next start reaps it by its tags. This run's own wrapped captures, alive
// through several sweeps, are never mistaken for orphans: their helpers
// belong to the group of a process an actor owns.
func TestReaperReapsTaggedWhateverName(t *testing.T) {
	testkit.RequireFFmpeg(t)
	list := []camsim.Camera{{Name: "front"}, {Name: "attic", Hang: true}}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	cfg.DB = filepath.Join(t.TempDir(), "camvisor.db")
	cfg.Reaper.Interval = testDuration(500 * time.Millisecond)
	cfg.FFmpeg.CaptureTimeout = testDuration(6 * time.Second)
	home, _ := filepath.Abs(cfg.DB)
	wrapper := filepath.Join(t.TempDir(), "ffmpeg-wrapper")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\n# a site's wrapper: a helper beside ffmpeg\nsleep 600 &\nexec ffmpeg \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var helpers []int
	testkit.AdoptOrphans(t, func() []int { return helpers })
	tagged := func(run string) []osproc.Info {
		var out []osproc.Info
		for _, p := range osproc.Scan("") {
			if p.Run == run && !p.Zombie() {
				out = append(out, p)
			}
		}
		return out
	}
	t.Cleanup(func() {
		for _, p := range append(tagged("old-run"), tagged("")...) {
			if p.Home == home {
				osproc.KillGroup(p)
			}
		}
	})

	// The earlier run: the wrapper is SIGKILLed alone, as the kernel does
	// when camvisor dies; its helper lives on, tagged, named sleep.
	earlier := exec.Command(wrapper, "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", cams.URL("front"), "-f", "null", "-")
	earlier.Env = append(os.Environ(), osproc.EnvRun+"=old-run", osproc.EnvHome+"="+home, osproc.EnvOwner+"=root/patrol/subnet/lab/camera/front/ffmpeg/1")
	earlier.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := earlier.Start(); err != nil {
		t.Fatal(err)
	}
	var helper osproc.Info
	testkit.Eventually(t, 10*time.Second, "the earlier run's helper running", func() bool {
		for _, p := range tagged("old-run") {
			if p.Name == "sleep" {
				helper = p
				return true
			}
		}
		return false
	})
	helpers = append(helpers, helper.PID)
	earlier.Process.Kill()
	earlier.Wait()
	if !alive(helper.PID) {
		t.Fatal("the helper died with the wrapper: the test simulates nothing")
	}

	cfg.FFmpeg.Path = wrapper
	h := startTree(t, cams, cfg)
	reaped := waitFor(h, 15*time.Second, "the earlier run's helper reaped", func(e *messages.ProcessReaped) bool { return e.OSPID == helper.PID })
	if reaped.ThisRun || reaped.Run != "old-run" {
		t.Errorf("reaped %+v", reaped)
	}
	testkit.Eventually(t, 5*time.Second, "the helper gone from /proc", func() bool { return !alive(helper.PID) })

	// This run, through the same wrapper: a capture works, and the hung
	// camera's capture (with its helper) lives through two sweeps untouched.
	if d := h.capture("lab", "front", 20*time.Second); d.Outcome != messages.OutcomeOK {
		t.Fatalf("capture through the wrapper: %s %s", d.Outcome, d.Error)
	}
	hung := waitFor(h, 15*time.Second, "the hung camera's capture started", func(e *messages.ProcessStarted) bool { return e.Camera == "attic" })
	mark := h.mark()
	testkit.Eventually(t, 10*time.Second, "two sweeps during the hung capture", func() bool {
		return testkit.Count(h.facts, mark, func(*messages.SweepDone) bool { return true }) >= 2
	})
	if !alive(hung.OSPID) {
		t.Fatalf("the hung capture %d ended before two sweeps passed: the test proves nothing", hung.OSPID)
	}
	mine := tagged(h.env.RunID)
	var names []string
	for _, p := range mine {
		names = append(names, p.Name)
	}
	if !slices.Contains(names, "sleep") {
		t.Errorf("no helper of this run's wrapper in /proc (%v): the test proves nothing", names)
	}
	if n := testkit.Count(h.facts, testkit.Start, func(e *messages.ProcessReaped) bool { return e.ThisRun }); n > 0 {
		t.Errorf("the reaper killed %d processes of this run that their actors own", n)
	}
	h.shutdown()
	if left := tagged(h.env.RunID); len(left) > 0 {
		t.Errorf("after shutdown, processes of this run left: %s", testkit.Describe(left))
	}
}
