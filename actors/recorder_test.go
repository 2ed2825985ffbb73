package actors

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/db"
	"camvisor/messages"
)

// withRecord opens a record for cfg in a temporary directory, for a test
// that writes history into it before the tree starts.
func withRecord(t *testing.T, cfg *config.Config) *db.Store {
	t.Helper()
	cfg.DB = filepath.Join(t.TempDir(), "camvisor.db")
	store, err := db.Open(cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// startRecordedTree starts a tree that records everything in a new record
// in a temporary directory, as camvisor run does.
func startRecordedTree(t *testing.T, cams *camsim.Server, cfg *config.Config) (*harness, *db.Store) {
	t.Helper()
	cfg.DB = filepath.Join(t.TempDir(), "camvisor.db")
	h := startTreeWith(t, cams, cfg, func(env *Env) { env.Record = true })
	return h, h.env.Store
}

// TestEverythingOnRecord: a run against camsim cameras, one hung, records
// every process with its real pid, end and reason, and no password.
func TestEverythingOnRecord(t *testing.T) {
	list := []camsim.Camera{{Name: "good"}, {Name: "hung", Hang: true}}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	cfg.Subnets[0].Interval = testDuration(1500 * time.Millisecond)
	cfg.FFmpeg.CaptureTimeout = testDuration(time.Second)
	cfg.Record.SampleInterval = testDuration(200 * time.Millisecond)
	h, store := startRecordedTree(t, cams, cfg)

	// What /proc shows while it runs: pid → camera.
	seen := map[int]string{}
	for until := time.Now().Add(5 * time.Second); time.Now().Before(until); {
		for _, p := range testkit.FFmpeg(h.env.RunID) {
			seen[p.PID] = p.Camera()
		}
		time.Sleep(15 * time.Millisecond)
	}
	h.shutdown()
	if err := store.EndRun(h.env.RunRow, time.Now(), "test"); err != nil {
		t.Fatal(err)
	}

	type proc struct {
		OSPID      int     `db:"os_pid"`
		Camera     string  `db:"camera"`
		EndedAt    *string `db:"ended_at"`
		StopReason *string `db:"stop_reason"`
		Argv       string  `db:"argv"`
	}
	var rows []proc
	if err := store.DB.Select(&rows, "SELECT os_pid, camera, ended_at, stop_reason, argv FROM processes WHERE run_id = ?", h.env.RunRow); err != nil {
		t.Fatal(err)
	}
	recorded := map[int]proc{}
	timeouts := 0
	for _, r := range rows {
		recorded[r.OSPID] = r
		if r.EndedAt == nil || r.StopReason == nil {
			t.Errorf("process %d (%s) has no end or stop reason after shutdown", r.OSPID, r.Camera)
			continue
		}
		if r.Camera == "hung" && *r.StopReason == "timeout" {
			timeouts++
		}
		if strings.Contains(r.Argv, "admin") || strings.Contains(r.Argv, testkit.CamsimPassword) || !strings.Contains(r.Argv, `"-i"`) {
			t.Errorf("process %d: argv %s, want the command line, with no credentials in it", r.OSPID, r.Argv)
		}
	}
	if len(seen) < 3 {
		t.Fatalf("only %d processes seen in /proc: the run did little", len(seen))
	}
	for pid, cam := range seen {
		r, ok := recorded[pid]
		if !ok {
			t.Errorf("pid %d (%s) ran according to /proc but is not in processes", pid, cam)
		} else if r.Camera != cam {
			t.Errorf("pid %d recorded for %s, /proc says %s", pid, r.Camera, cam)
		}
	}
	if timeouts < 2 {
		t.Errorf("%d timeouts of the hung camera recorded, want at least 2", timeouts)
	}
	var captures, cycles, samples int
	store.DB.Get(&captures, "SELECT COUNT(*) FROM captures WHERE camera = 'hung' AND outcome = 'timeout'")
	store.DB.Get(&cycles, "SELECT COUNT(*) FROM cycles")
	store.DB.Get(&samples, "SELECT COUNT(*) FROM process_samples WHERE camera = 'hung' AND processes = 1 AND slots_held = 1")
	if captures < 2 || cycles < 2 || samples < 1 {
		t.Errorf("captures(hung, timeout) %d, cycles %d, samples with the hung process %d", captures, cycles, samples)
	}

	// The report names the hung camera and its timeouts.
	var report bytes.Buffer
	if err := store.Report(&report, db.ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	var hungLine string
	for _, line := range strings.Split(report.String(), "\n") {
		if strings.HasPrefix(line, "hung ") && hungLine == "" {
			hungLine = line
		}
	}
	if fields := strings.Fields(hungLine); len(fields) < 4 || fields[3] == "0" {
		t.Errorf("report's captures line for the hung camera %q does not show its timeouts:\n%s", hungLine, report.String())
	}

	// No password anywhere in the file or its WAL.
	store.DB.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		data, err := os.ReadFile(cfg.DB + suffix)
		if err != nil {
			continue
		}
		if bytes.Contains(data, []byte(testkit.CamsimPassword)) {
			t.Errorf("%s contains the RTSP password", cfg.DB+suffix)
		}
	}
}

// TestRecorderWriteFailure: when the disk is full the patrol goes on, the
// failure is reported, and once space returns the queued rows are written.
func TestRecorderWriteFailure(t *testing.T) {
	cam := camsim.Camera{Name: "cam"}
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, nil)
	cfg.Subnets[0].Interval = testDuration(500 * time.Millisecond)
	cfg.Record.SampleInterval = testDuration(100 * time.Millisecond)
	h, store := startRecordedTree(t, cams, cfg)
	waitFor(h, 10*time.Second, "first cycle", func(e *messages.CycleEnded) bool { return e.Number == 1 })

	// SQLITE_FULL, the real disk-full error path: cap the file at its size.
	var pages int
	store.DB.Get(&pages, "PRAGMA page_count")
	if _, err := store.DB.Exec("PRAGMA max_page_count = " + strconv.Itoa(pages)); err != nil {
		t.Fatal(err)
	}
	var committed int
	store.DB.Get(&committed, "SELECT COUNT(*) FROM cycles")
	failing := waitFor(h, 20*time.Second, "recorder reports failure", func(e *messages.RecorderHealth) bool { return !e.Healthy })
	if !strings.Contains(failing.Error, "full") {
		t.Errorf("failure reported as %q", failing.Error)
	}
	fullAt := len(all(h, func(e *messages.CycleEnded) bool { return true }))
	waitFor(h, 10*time.Second, "patrol continues while the record fails", func(e *messages.CycleEnded) bool { return int(e.Number) > fullAt+2 })

	if _, err := store.DB.Exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	waitFor(h, 30*time.Second, "recorder recovers", func(e *messages.RecorderHealth) bool { return e.Healthy })
	last := all(h, func(e *messages.CycleEnded) bool { return true })
	n := last[len(last)-1].Number
	testkit.Eventually(t, 10*time.Second, "cycles queued during the failure written", func() bool {
		var got int
		store.DB.Get(&got, "SELECT COUNT(*) FROM cycles")
		return int64(got) >= n
	})
	var after int
	store.DB.Get(&after, "SELECT COUNT(*) FROM cycles")
	if after < committed {
		t.Errorf("%d cycles after recovery, %d were committed before the failure", after, committed)
	}
}

// TestRestartsOnRecord: every restart a supervisor decides is a fact, a
// row and a count: an ffmpeg child retried by its camera, a camera
// restarted on request.
func TestRestartsOnRecord(t *testing.T) {
	list := []camsim.Camera{{Name: "down", Refuse: true}, {Name: "ok"}}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	h, store := startRecordedTree(t, cams, cfg)
	if d := h.capture("lab", "down", 20*time.Second); d.Attempts != 2 {
		t.Fatalf("capture of a refusing camera: %d attempts, want a retry", d.Attempts)
	}
	h.waitCamera("lab", "ok")
	h.tree.system.Root.Send(h.camera("lab", "ok"), &messages.RestartCamera{Reason: "test"})
	cam := waitFor(h, 10*time.Second, "the camera's restart", func(e *messages.ActorRestarted) bool { return e.Kind == "camera" })
	if cam.Actor != "root/"+CameraPath("lab", "ok") || !strings.Contains(cam.Reason, "requested: test") {
		t.Errorf("camera restart %+v", cam)
	}
	retry := waitFor(h, 10*time.Second, "the ffmpeg retry", func(e *messages.ActorRestarted) bool { return e.Kind == "ffmpeg" })
	if !strings.Contains(retry.Actor, "/camera/down/ffmpeg/") || !strings.Contains(retry.Reason, "retry after exit") {
		t.Errorf("ffmpeg restart %+v", retry)
	}
	// Each subscriber hears a fact in turn: wait for the metrics actor's.
	restarts := func() map[string]float64 {
		families, err := h.tree.Metrics.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		counted := map[string]float64{}
		for _, f := range families {
			if f.GetName() == "camvisor_restarts_total" {
				for _, m := range f.GetMetric() {
					counted[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
		return counted
	}
	testkit.Eventually(t, 10*time.Second, "the restarts counted", func() bool { return restarts()["camera"] == 1 })
	h.shutdown()
	var rows []struct {
		Actor  string `db:"actor"`
		Kind   string `db:"kind"`
		Reason string `db:"reason"`
	}
	if err := store.DB.Select(&rows, "SELECT actor, kind, reason FROM restarts ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, r := range rows {
		kinds[r.Kind]++
		if strings.Contains(r.Reason, testkit.CamsimPassword) {
			t.Errorf("restart reason holds the password: %s", r.Reason)
		}
	}
	if kinds["camera"] != 1 || kinds["ffmpeg"] < 1 {
		t.Errorf("restarts on record by kind: %v, want one camera and the ffmpeg retries", kinds)
	}
	if counted := restarts(); counted["camera"] != 1 || counted["ffmpeg"] != float64(kinds["ffmpeg"]) {
		t.Errorf("camvisor_restarts_total %v, want the record's %v", counted, kinds)
	}
}
