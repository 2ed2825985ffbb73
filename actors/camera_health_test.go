package actors

import (
	"context"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// TestDeadCameraBacksOff: a hung camera's breaker opens after
// alerts.camera_failing_after failures in a row; then the patrol skips it
// (outcome backoff: no process) and probes it at most once per back-off
// period, which doubles; a probe that succeeds closes it.
func TestDeadCameraBacksOff(t *testing.T) {
	cam := camsim.Camera{Name: "attic", Hang: true, Mode: camsim.ModeStatic}
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, nil)
	cfg.Subnets[0].Interval = testDuration(400 * time.Millisecond)
	cfg.FFmpeg.CaptureTimeout = testDuration(300 * time.Millisecond)
	cfg.Alerts.CameraFailingAfter = 2
	cfg.Patrol.MaxBackoff = testDuration(3 * time.Second)
	h, _ := startRecordedTree(t, cams, cfg)

	opened := waitFor(h, 20*time.Second, "the breaker open", func(e *messages.CameraStateChanged) bool { return e.Camera == "attic" && e.Failing })
	if opened.ConsecutiveFailures != 2 || opened.NextProbe.IsZero() || opened.Backoff != 400*time.Millisecond {
		t.Errorf("opened %+v, want after 2 failures with a first back-off of one interval", opened)
	}
	mark := h.mark()
	// Watch the patrol for several back-off periods: skipped cycles cost no
	// process; probes come at most once per period, each period longer.
	testkit.WaitCount(t, h.facts, mark, 3, 30*time.Second, "three probes", func(e *messages.ProcessStarted) bool { return e.Camera == "attic" })
	backoffs := testkit.All(h.facts, mark, func(d *messages.CaptureDone) bool { return d.Outcome == messages.OutcomeBackoff })
	if len(backoffs) == 0 {
		t.Fatal("no capture answered backoff while the breaker was open")
	}
	for _, d := range backoffs {
		if d.OSPID != 0 || d.Attempts != 0 || d.EndedAt.Sub(d.StartedAt) > 100*time.Millisecond {
			t.Errorf("a backoff answer cost a process or time: %+v", d)
		}
	}
	probes := testkit.All(h.facts, mark, func(e *messages.ProcessStarted) bool { return e.Camera == "attic" })
	for i := 1; i < len(probes); i++ {
		// Back-off doubles from 400 ms (less 10% jitter) up to 3 s.
		if gap := probes[i].StartedAt.Sub(probes[i-1].StartedAt); gap < 700*time.Millisecond {
			t.Errorf("probes %d and %d only %s apart", i-1, i, gap)
		}
	}
	if testkit.Count(h.facts, testkit.Start, func(e *messages.AlertChanged) bool { return e.Rule == "camera_failing" && e.State == "firing" }) == 0 {
		t.Error("camera_failing did not fire")
	}

	// The camera heals: the next probe closes the breaker and the patrol
	// captures it every cycle again.
	if err := cams.Update("attic", camsim.CameraPatch{Hang: boolPtr(false)}); err != nil {
		t.Fatal(err)
	}
	healed := h.mark()
	waitAfter(h, healed, 20*time.Second, "the breaker closed", func(e *messages.CameraStateChanged) bool { return e.Camera == "attic" && !e.Failing })
	testkit.WaitCount(t, h.facts, healed, 2, 20*time.Second, "patrol captures again", func(d *messages.CaptureDone) bool {
		return d.Cycle > 0 && d.Outcome == messages.OutcomeOK
	})
	h.shutdown()
	var backoffRows, openRows int
	h.env.Store.DB.Get(&backoffRows, "SELECT COUNT(*) FROM captures WHERE camera = 'attic' AND outcome = 'backoff' AND os_pid IS NULL")
	h.env.Store.DB.Get(&openRows, "SELECT COUNT(*) FROM cameras WHERE id = 'attic' AND breaker = 'closed' AND state_at IS NOT NULL")
	if backoffRows == 0 || openRows != 1 {
		t.Errorf("record: %d backoff captures, camera row closed after a change: %d", backoffRows, openRows)
	}
}

// TestBusyIsNotFailing: a camera whose only connection another client
// holds answers 453: that is camera_busy, not a failure. The camera never
// turns failing, holds one slot back, and camera_busy fires only when it
// persists for alerts.camera_busy_after cycles; it resolves when the other
// client leaves.
func TestBusyIsNotFailing(t *testing.T) {
	cam := camsim.Camera{Name: "tapo", MaxConnections: 1, Mode: camsim.ModeStatic}
	cams := startCamsim(t, cam)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	outsider, err := camsim.Dial(ctx, cams.URL("tapo"))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer outsider.Close()
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, map[string]int{"tapo": 2}) // we think it takes two
	cfg.Subnets[0].Interval = testDuration(500 * time.Millisecond)
	cfg.Alerts.CameraFailingAfter = 2
	cfg.Alerts.CameraBusyAfter = 3
	h := startTree(t, cams, cfg)

	busy := waitFor(h, 20*time.Second, "camera_busy fires", func(e *messages.AlertChanged) bool { return e.Rule == "camera_busy" && e.State == "firing" })
	if busy.Subject != "tapo" {
		t.Errorf("alert %+v", busy)
	}
	outcomes := testkit.WaitCount(t, h.facts, testkit.Start, 3, 10*time.Second, "three patrol captures",
		func(d *messages.CaptureDone) bool { return d.Camera == "tapo" && d.Cycle > 0 })
	for _, d := range outcomes {
		if d.Outcome != messages.OutcomeBusy || !strings.Contains(d.Error, "453") {
			t.Errorf("capture %s: %s", d.Outcome, d.Error)
		}
	}
	if n := len(all(h, func(e *messages.CameraStateChanged) bool { return e.Failing })); n != 0 {
		t.Errorf("a busy camera turned failing %d times", n)
	}
	if n := len(all(h, func(e *messages.AlertChanged) bool { return e.Rule == "camera_failing" })); n != 0 {
		t.Error("camera_failing fired for a busy camera")
	}
	for _, s := range all(h, func(e *messages.SlotsChanged) bool { return e.Camera == "tapo" }) {
		if s.FFmpeg+s.Go2RTC+s.Leases+s.External > s.MaxConnections {
			t.Errorf("slots %+v over the budget", s)
		}
	}
	waitFor(h, 5*time.Second, "a slot held back for the other client", func(e *messages.SlotsChanged) bool { return e.Camera == "tapo" && e.External == 1 })

	// The other client leaves: captures succeed, the alert resolves.
	outsider.Close()
	left := h.mark()
	waitAfter(h, left, 20*time.Second, "a capture once the other client left", func(d *messages.CaptureDone) bool {
		return d.Camera == "tapo" && d.Outcome == messages.OutcomeOK
	})
	waitAfter(h, left, 10*time.Second, "camera_busy resolved", func(e *messages.AlertChanged) bool { return e.Rule == "camera_busy" && e.State == "resolved" })
}
