package actors

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// reloadFile is a config file a test rewrites between reloads.
type reloadFile struct {
	t    *testing.T
	path string
	cams *camsim.Server
	db   string
}

func newReloadFile(t *testing.T, cams *camsim.Server) *reloadFile {
	dir := t.TempDir()
	return &reloadFile{t: t, path: filepath.Join(dir, "camvisor.yaml"), cams: cams, db: filepath.Join(dir, "camvisor.db")}
}

// write writes the file: subnets maps a subnet to its cameras, each
// "name" or "name:max_connections".
func (f *reloadFile) write(subnets map[string][]string, extra string) {
	var b strings.Builder
	fmt.Fprintf(&b, "db: %s\nffmpeg: { capture_timeout: 20s, kill_grace: 1s, rtsp_timeout: 1m }\n%s\nsubnets:\n", f.db, extra)
	names := make([]string, 0, len(subnets))
	for n := range subnets {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  - name: %s\n    interval: 1h\n    cameras:\n", n)
		for _, c := range subnets[n] {
			id, max, _ := strings.Cut(c, ":")
			if max == "" {
				max = "2"
			}
			fmt.Fprintf(&b, "      - { id: %s, url: %q, max_connections: %s }\n", id, f.cams.URL(id), max)
		}
	}
	if err := os.WriteFile(f.path, []byte(b.String()), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// start runs a recorded tree on the file, reloadable from it.
func (f *reloadFile) start(cams *camsim.Server) *harness {
	f.t.Helper()
	cfg, err := config.Load(f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	return startTreeWith(f.t, cams, cfg, func(env *Env) {
		env.Record = true
		env.Load = func() (*config.Config, error) { return config.Load(f.path) }
		// Captures in flight on two cameras at once, also when a busy
		// machine made the admission cut its limit to its floor.
		env.Policy = DefaultPolicy()
		env.Policy.Admission.Min = 4
	})
}

// TestReloadAddsRemovesChangesCameras: a reload starts the new camera and
// subnet, stops the removed ones (their processes gone from /proc, their
// capture answered), restarts the changed one with its new settings, and
// leaves the unchanged camera alone: its capture in flight ends with its
// frame, from the same process.
func TestReloadAddsRemovesChangesCameras(t *testing.T) {
	slow := camsim.Duration(time.Second)
	cams := startCamsim(t, camsim.Camera{Name: "keep", Slow: slow}, camsim.Camera{Name: "gone", Slow: slow},
		camsim.Camera{Name: "change"}, camsim.Camera{Name: "fresh"}, camsim.Camera{Name: "far"}, camsim.Camera{Name: "newsub"})
	f := newReloadFile(t, cams)
	f.write(map[string][]string{"lab": {"keep", "gone", "change"}, "old": {"far"}}, "")
	h := f.start(cams)
	for _, c := range [][2]string{{"lab", "keep"}, {"lab", "gone"}, {"lab", "change"}, {"old", "far"}} {
		h.waitCamera(c[0], c[1])
	}

	// The first cycles over (every camera answered), captures in flight on
	// keep and gone: slow cameras, whose captures take seconds.
	for _, s := range []string{"lab", "old"} {
		waitFor(h, 30*time.Second, "first cycle of "+s, func(e *messages.CycleEnded) bool { return e.Subnet == s })
	}
	keep := h.tree.system.Root.RequestFuture(h.camera("lab", "keep"), &messages.Capture{Camera: "keep", Reason: "operator"}, time.Minute)
	gone := h.tree.system.Root.RequestFuture(h.camera("lab", "gone"), &messages.Capture{Camera: "gone", Reason: "operator"}, time.Minute)
	testkit.Eventually(t, 10*time.Second, "ffmpeg running for keep and gone", func() bool {
		return len(h.ffmpegOf("keep")) == 1 && len(h.ffmpegOf("gone")) == 1
	})
	keepPID := h.ffmpegOf("keep")[0].PID
	gonePIDs := []int{h.ffmpegOf("gone")[0].PID}
	// gone's capture holds a camera connection (through the relay).
	testkit.Eventually(t, 10*time.Second, "gone's capture connected at camsim", func() bool { return cams.Stats("gone").Open == 1 })

	f.write(map[string][]string{"lab": {"keep", "change:3", "fresh"}, "new": {"newsub"}}, "")
	ctx, cancel := contextWithTimeout(time.Minute)
	defer cancel()
	mark := h.mark()
	rec, err := h.tree.Reload(ctx, "test")
	if err != nil || rec.Outcome != messages.ReloadApplied {
		t.Fatalf("reload: %v %+v", err, rec)
	}
	slices.Sort(rec.Removed)
	if !slices.Equal(rec.Added, []string{"fresh", "newsub"}) || !slices.Equal(rec.Removed, []string{"far", "gone"}) || !slices.Equal(rec.Changed, []string{"change"}) {
		t.Errorf("reload says added %v removed %v changed %v", rec.Added, rec.Removed, rec.Changed)
	}

	// The removed cameras' processes are gone from /proc once the reload
	// answered, killed for the reload.
	for _, pid := range gonePIDs {
		if info, alive := osproc.Read(pid); alive && !info.Zombie() {
			t.Errorf("pid %d of a removed camera still in /proc after the reload", pid)
		}
	}
	for _, pid := range gonePIDs {
		exit := waitAfter(h, mark, 5*time.Second, fmt.Sprintf("exit of pid %d", pid), func(e *messages.ProcessExited) bool { return e.OSPID == pid })
		if exit.StopReason != messages.StopReload {
			t.Errorf("pid %d stop reason %q, want reload", pid, exit.StopReason)
		}
	}
	// Their relay connections are closed with them: nothing of theirs is
	// connected at the camera any more (camsim sees the close a moment
	// after the relay made it).
	testkit.Eventually(t, 5*time.Second, "no connection of gone or far open at camsim", func() bool {
		return cams.Stats("gone").Open == 0 && cams.Stats("far").Open == 0
	})
	if res, err := gone.Result(); err != nil || res.(*messages.CaptureDone).Outcome != messages.OutcomeStopped {
		t.Errorf("the removed camera's capture: %v %+v", err, res)
	}
	if h.tree.running(CameraPath("lab", "gone")) || h.tree.running(SubnetPath("old")) {
		t.Error("a removed camera or subnet still runs")
	}

	// The unchanged camera was not touched: its capture ends with its frame,
	// from the process that was running.
	res, err := keep.Result()
	if err != nil {
		t.Fatal(err)
	}
	if d := res.(*messages.CaptureDone); d.Outcome != messages.OutcomeOK || d.OSPID != keepPID {
		t.Errorf("keep's capture across the reload: %s pid %d (was %d): %s", d.Outcome, d.OSPID, keepPID, d.Error)
	}
	if n := len(all(h, func(e *messages.ActorRestarted) bool { return strings.Contains(e.Actor, "keep") })); n != 0 {
		t.Errorf("keep restarted %d times", n)
	}

	// The changed camera runs with its new budget; the new ones capture.
	st, err := h.tree.CameraStatus(ctx, config.SubnetCamera{Subnet: "lab", Camera: config.Camera{ID: "change"}})
	if err != nil || st.MaxConnections != 3 {
		t.Errorf("changed camera: %v %+v", err, st)
	}
	for _, c := range [][2]string{{"lab", "fresh"}, {"new", "newsub"}} {
		if d := h.capture(c[0], c[1], 20*time.Second); d.Outcome != messages.OutcomeOK {
			t.Errorf("new camera %s: %s %s", c[1], d.Outcome, d.Error)
		}
	}
	if _, ok := h.tree.Config().Camera("gone"); ok {
		t.Error("the removed camera is still in the running configuration")
	}

	// On record: the reload, and the cameras it stopped and started.
	store := h.env.Store
	testkit.Eventually(t, 10*time.Second, "config_changes row", func() bool {
		var n int
		store.DB.Get(&n, "SELECT COUNT(*) FROM config_changes WHERE outcome = 'applied' AND added = 'fresh,newsub' AND changed = 'change'")
		return n == 1
	})
	var removed []string
	store.DB.Select(&removed, "SELECT id FROM cameras WHERE removed_at IS NOT NULL ORDER BY id")
	if !slices.Equal(removed, []string{"far", "gone"}) {
		t.Errorf("cameras removed on record: %v", removed)
	}
	var max int
	store.DB.Get(&max, "SELECT max_connections FROM cameras WHERE id = 'change'")
	if max != 3 {
		t.Errorf("changed camera on record with max_connections %d", max)
	}
}

// TestReloadRejectsBadFileChangesNothing: a file that does not validate
// is refused whole, with the field named; every camera runs on, the
// rejection is on record.
func TestReloadRejectsBadFileChangesNothing(t *testing.T) {
	cams := startCamsim(t, camsim.Camera{Name: "a"}, camsim.Camera{Name: "b"})
	f := newReloadFile(t, cams)
	f.write(map[string][]string{"lab": {"a", "b"}}, "")
	h := f.start(cams)
	h.waitCamera("lab", "a")
	h.waitCamera("lab", "b")
	before := h.tree.Config()

	// b removed and a new camera added, but one camera's budget is 0.
	f.write(map[string][]string{"lab": {"a", "c:0"}}, "")
	ctx, cancel := contextWithTimeout(30 * time.Second)
	defer cancel()
	rec, err := h.tree.Reload(ctx, "test")
	if err == nil || rec.Outcome != messages.ReloadRejected || !strings.Contains(rec.Error, "subnets[0].cameras[1].max_connections") {
		t.Fatalf("bad file: %v %+v", err, rec)
	}
	if strings.Contains(rec.Error, testkit.CamsimPassword) {
		t.Errorf("the error shows the password: %s", rec.Error)
	}
	if !h.tree.running(CameraPath("lab", "b")) || h.tree.running(CameraPath("lab", "c")) || h.tree.Config() != before {
		t.Error("a rejected reload changed what runs")
	}
	if d := h.capture("lab", "b", 20*time.Second); d.Outcome != messages.OutcomeOK {
		t.Errorf("camera b after the rejected reload: %s %s", d.Outcome, d.Error)
	}

	// Unchanged: said so, nothing restarted.
	f.write(map[string][]string{"lab": {"a", "b"}}, "")
	if rec, err := h.tree.Reload(ctx, "test"); err != nil || rec.Outcome != messages.ReloadUnchanged {
		t.Errorf("same file: %v %+v", err, rec)
	}
	// Only a section that needs a restart: reported, not applied.
	f.write(map[string][]string{"lab": {"a", "b"}}, "listen: 127.0.0.1:9999")
	if rec, err := h.tree.Reload(ctx, "test"); err != nil || rec.Outcome != messages.ReloadUnchanged || !slices.Equal(rec.Restart, []string{"listen"}) {
		t.Errorf("listen changed: %v %+v", err, rec)
	}
	if n := len(all(h, func(e *messages.ActorRestarted) bool { return true })); n != 0 {
		t.Errorf("%d restarts", n)
	}
	testkit.Eventually(t, 10*time.Second, "the rejection on record", func() bool {
		var outcomes []string
		h.env.Store.DB.Select(&outcomes, "SELECT outcome FROM config_changes ORDER BY id")
		return slices.Equal(outcomes, []string{"rejected", "unchanged", "unchanged"})
	})
	var why string
	h.env.Store.DB.Get(&why, "SELECT error FROM config_changes WHERE outcome = 'rejected'")
	if !strings.Contains(why, "max_connections") {
		t.Errorf("recorded rejection: %q", why)
	}
}

// TestReloadDrainsLeaseAndRemovesStreams: a removed camera's live view is
// drained (it ends, its slot freed when go2rtc shows no viewer) and its
// go2rtc stream removed, although its subnet has no cycle end to come.
func TestReloadDrainsLeaseAndRemovesStreams(t *testing.T) {
	cams := startCamsim(t, camsim.Camera{Name: "live"}, camsim.Camera{Name: "keep"})
	f := newReloadFile(t, cams)
	probe := config.Defaults()
	g2 := withGo2RTC(t, probe, time.Minute)
	extra := fmt.Sprintf("go2rtc: { url: %q, lease: 1m, request_timeout: 3s }", g2.URL())
	f.write(map[string][]string{"lab": {"keep"}, "cams": {"live"}}, extra)
	h := f.start(cams)
	if ans := h.leaseWhenFree("cams", "live"); !ans.Granted {
		t.Fatalf("lease: %+v", ans)
	}
	testkit.Eventually(t, 10*time.Second, "camvisor_live in go2rtc", func() bool { _, ok := g2.Streams()["camvisor_live"]; return ok })

	f.write(map[string][]string{"lab": {"keep"}}, extra)
	mark := h.mark()
	ctx, cancel := contextWithTimeout(time.Minute)
	defer cancel()
	if rec, err := h.tree.Reload(ctx, "test"); err != nil || rec.Outcome != messages.ReloadApplied {
		t.Fatalf("reload: %v %+v", err, rec)
	}
	ended := waitAfter(h, mark, 10*time.Second, "the live view's end", func(e *messages.LeaseEnded) bool { return e.Camera == "live" })
	if !strings.Contains(ended.Reason, "reload") {
		t.Errorf("lease ended: %q", ended.Reason)
	}
	waitAfter(h, mark, 10*time.Second, "camvisor_live removed", func(e *messages.StreamRemoved) bool {
		return e.Stream == "camvisor_live" && e.Error == ""
	})
	if _, ok := g2.Streams()["camvisor_live"]; ok {
		t.Error("the removed camera's stream is still in go2rtc")
	}
	if h.tree.running(CameraPath("cams", "live")) || !h.tree.running(CameraPath("lab", "keep")) {
		t.Error("the wrong cameras run after the reload")
	}
}
