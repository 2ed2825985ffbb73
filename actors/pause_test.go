package actors

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/db"
	"camvisor/messages"
)

// TestPauseSurvivesRestart: an operator pauses a camera in stream mode
// for an hour. Its ffmpeg is killed and reaped (stop reason paused), it
// holds no slot, the patrol's cycles leave it out without counting it as
// failed, an operator's capture of it is refused without a process. The
// pause is recorded; camvisor stops and starts again on the same record:
// the camera is still paused (same who, why, until) and no process of it
// starts. Resumed, it is patrolled again, and the record says by whom. A
// short pause ends by itself.
func TestPauseSurvivesRestart(t *testing.T) {
	cams := startCamsim(t, camsim.Camera{Name: "front"}, camsim.Camera{Name: "back"})
	dbPath := filepath.Join(t.TempDir(), "camvisor.db")
	newConfig := func() *config.Config {
		cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {{Name: "front"}, {Name: "back"}}}, nil)
		cfg.DB = dbPath
		cfg.Subnets[0].Interval = config.D(time.Second)
		cfg.Subnets[0].Cameras[0].Mode = config.ModeStream // one long-running ffmpeg to stop
		cfg.Alerts.CameraFailingAfter = 1                  // a capture counted as failed would fire at once
		return cfg
	}
	record := func(env *Env) { env.Record = true }

	// --- first run
	h := startTreeWith(t, cams, newConfig(), record)
	testkit.Eventually(t, 15*time.Second, "front's stream ffmpeg running", func() bool { return len(h.ffmpegOf("front")) == 1 })
	stream := h.ffmpegOf("front")[0].PID

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mark := h.mark()
	p, err := h.tree.PauseCamera(ctx, "front", time.Hour, "lens cleaning", "session 0123abcd")
	if err != nil {
		t.Fatal(err)
	}
	if p.Pause.By != "session 0123abcd" || p.Pause.Reason != "lens cleaning" || time.Until(p.Pause.Until) < 59*time.Minute {
		t.Errorf("pause %+v", p.Pause)
	}
	if len(p.Killed) != 1 || p.Killed[0] != stream {
		t.Errorf("the pause says it stopped %v, want front's stream ffmpeg %d", p.Killed, stream)
	}
	// Answered once its process is reaped: none of front's is left.
	if procs := h.ffmpegOf("front"); len(procs) != 0 {
		t.Fatalf("front paused, its processes remain: %s", testkit.Describe(procs))
	}
	waitAfter(h, mark, 5*time.Second, "front's ffmpeg recorded as stopped for the pause", func(e *messages.ProcessExited) bool {
		return e.OSPID == stream && e.StopReason == messages.StopPaused
	})
	st := h.status("lab", "front")
	if st.State != messages.StatePaused || st.Pause == nil || st.Pause.By != "session 0123abcd" || st.SlotsFFmpeg+st.SlotsLease+st.SlotsGo2RTC != 0 {
		t.Errorf("front's status while paused: state %q, pause %+v, slots %d/%d/%d", st.State, st.Pause, st.SlotsFFmpeg, st.SlotsGo2RTC, st.SlotsLease)
	}

	// The patrol goes on without it: cycles count it paused, not failed.
	paused := h.mark()
	for range 3 {
		e := waitAfter(h, paused, 10*time.Second, "a cycle after the pause", func(e *messages.CycleEnded) bool { return true })
		paused = h.mark()
		if e.Paused != 1 || e.Failed != 0 {
			t.Errorf("cycle %d: ok %d, failed %d, paused %d; outcomes %+v", e.Number, e.OK, e.Failed, e.Paused, e.Outcomes)
		}
	}
	// (A capture in flight when the pause came is answered paused.)
	if n := testkit.Count(h.facts, mark, func(d *messages.CaptureDone) bool { return d.Camera == "front" && d.Outcome != messages.OutcomePaused }); n != 0 {
		t.Errorf("%d captures of front while it was paused", n)
	}
	if n := testkit.Count(h.facts, mark, func(e *messages.ProcessStarted) bool { return e.Camera == "front" }); n != 0 {
		t.Errorf("%d processes of front started while it was paused", n)
	}
	if n := testkit.Count(h.facts, mark, func(e *messages.AlertChanged) bool { return e.Subject == "front" && e.State == messages.AlertFiring }); n != 0 {
		t.Errorf("%d alerts fired about the paused camera", n)
	}
	// An operator's capture is refused, and says why.
	d := h.capture("lab", "front", 5*time.Second)
	if d.Outcome != messages.OutcomePaused || d.OSPID != 0 || d.Attempts != 0 {
		t.Errorf("operator's capture of a paused camera: %+v", d)
	}
	// Resuming what is not paused, pausing what does not exist: refused.
	if _, err := h.tree.ResumeCamera(ctx, "back", "token"); !errors.Is(err, ErrNotPaused) {
		t.Errorf("resume of a camera not paused: %v", err)
	}
	if _, err := h.tree.PauseCamera(ctx, "nosuch", time.Minute, "", "token"); !errors.Is(err, ErrUnknownCamera) {
		t.Errorf("pause of an unknown camera: %v", err)
	}

	// --- camvisor stops, and starts again on the same record.
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 20*time.Second)
	if err := h.tree.Stop(stopCtx, "test restart"); err != nil {
		t.Fatal(err)
	}
	stopCancel()
	h2 := startTreeWith(t, cams, newConfig(), record)
	later := h2.mark()
	waitFor(h2, 15*time.Second, "back captured in the new run", func(d *messages.CaptureDone) bool {
		return d.Camera == "back" && d.Outcome == messages.OutcomeOK
	})
	waitAfter(h2, later, 10*time.Second, "a cycle of the new run", func(e *messages.CycleEnded) bool { return true })
	st = h2.status("lab", "front")
	if st.State != messages.StatePaused || st.Pause == nil || st.Pause.ID != p.Pause.ID || st.Pause.By != "session 0123abcd" ||
		st.Pause.Reason != "lens cleaning" || !st.Pause.Until.Equal(p.Pause.Until.Truncate(time.Millisecond)) {
		t.Errorf("after the restart front is %q, pause %+v; want the pause of before %+v", st.State, st.Pause, p.Pause)
	}
	if n := testkit.Count(h2.facts, testkit.Start, func(e *messages.ProcessStarted) bool { return e.Camera == "front" }); n != 0 {
		t.Errorf("%d processes of the paused front started after the restart", n)
	}
	if procs := h2.ffmpegOf("front"); len(procs) != 0 {
		t.Errorf("after the restart front runs processes: %s", testkit.Describe(procs))
	}
	if open := openPauses(t, dbPath); len(open) != 1 || open[0].Camera != "front" {
		t.Errorf("open pauses in the record: %+v", open)
	}

	// Resumed: patrolled again, from its stream.
	resumed := h2.mark()
	if _, err := h2.tree.ResumeCamera(ctx, "front", "token"); err != nil {
		t.Fatal(err)
	}
	waitAfter(h2, resumed, 15*time.Second, "front captured again", func(d *messages.CaptureDone) bool {
		return d.Camera == "front" && d.Outcome == messages.OutcomeOK
	})
	if st := h2.status("lab", "front"); st.State == messages.StatePaused || st.Pause != nil {
		t.Errorf("resumed front is %q, pause %+v", st.State, st.Pause)
	}

	// A short pause ends by itself.
	if _, err := h2.tree.PauseCamera(ctx, "back", 1500*time.Millisecond, "reboot", "mqtt"); err != nil {
		t.Fatal(err)
	}
	end := waitAfter(h2, resumed, 10*time.Second, "back's pause ended", func(e *messages.CameraResumed) bool { return e.Pause.Camera == "back" })
	if end.How != "expired" || end.By != "" {
		t.Errorf("back's short pause ended %q by %q, want expired", end.How, end.By)
	}
	waitAfter(h2, resumed, 15*time.Second, "back captured after its pause", func(d *messages.CaptureDone) bool {
		return d.Camera == "back" && d.Outcome == messages.OutcomeOK && d.StartedAt.After(end.EndedAt)
	})

	stopCtx, stopCancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer stopCancel()
	if err := h2.tree.Stop(stopCtx, "test over"); err != nil {
		t.Fatal(err)
	}
	store, err := db.OpenReadOnly(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var rows []struct {
		Camera string  `db:"camera"`
		Who    string  `db:"who"`
		Why    string  `db:"why"`
		How    *string `db:"ended_how"`
		By     *string `db:"ended_by"`
	}
	if err := store.DB.Select(&rows, `SELECT camera, who, why, ended_how, ended_by FROM camera_pauses ORDER BY started_at`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Camera != "front" || rows[0].Who != "session 0123abcd" || rows[0].Why != "lens cleaning" ||
		rows[0].How == nil || *rows[0].How != "resumed" || rows[0].By == nil || *rows[0].By != "token" ||
		rows[1].Camera != "back" || rows[1].How == nil || *rows[1].How != "expired" || rows[1].By != nil {
		t.Errorf("camera_pauses: %+v", rows)
	}
}

// TestDisabledCameraListedNotPatrolled: enabled: false keeps the camera
// in the tree (its status answers: paused by the config) but starts no
// process of it, and no request pauses or resumes it.
func TestDisabledCameraListedNotPatrolled(t *testing.T) {
	cams := startCamsim(t, camsim.Camera{Name: "front"}, camsim.Camera{Name: "back"})
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {{Name: "front"}, {Name: "back"}}}, nil)
	cfg.Subnets[0].Interval = config.D(time.Second)
	off := false
	cfg.Subnets[0].Cameras[0].Enabled = &off
	h := startTree(t, cams, cfg)
	for _, e := range testkit.WaitCount(t, h.facts, testkit.Start, 2, 15*time.Second, "two cycles", func(e *messages.CycleEnded) bool { return true }) {
		if e.Paused != 1 || e.Failed != 0 {
			t.Errorf("cycle with a disabled camera: ok %d, failed %d, paused %d", e.OK, e.Failed, e.Paused)
		}
	}
	st := h.status("lab", "front")
	if st.State != messages.StatePaused || st.Pause == nil || !st.Pause.Disabled || st.Pause.By != "config" {
		t.Errorf("disabled front: state %q, pause %+v", st.State, st.Pause)
	}
	if n := testkit.Count(h.facts, testkit.Start, func(e *messages.ProcessStarted) bool { return e.Camera == "front" }); n != 0 {
		t.Errorf("%d processes of a disabled camera", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.tree.PauseCamera(ctx, "front", time.Minute, "", "token"); !errors.Is(err, ErrCameraDisabled) {
		t.Errorf("pause of a disabled camera: %v", err)
	}
	if _, err := h.tree.ResumeCamera(ctx, "front", "token"); !errors.Is(err, ErrCameraDisabled) {
		t.Errorf("resume of a disabled camera: %v", err)
	}
}

// openPauses reads the pauses the record holds open.
func openPauses(t *testing.T, path string) []messages.Pause {
	t.Helper()
	store, err := db.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	open, err := store.OpenPauses()
	if err != nil {
		t.Fatal(err)
	}
	return open
}
