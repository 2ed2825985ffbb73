package actors

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"slices"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/messages"
)

func TestPatrolCapturesFrames(t *testing.T) {
	captureModes(t, testPatrolCapturesFrames)
}

func testPatrolCapturesFrames(t *testing.T, patrol func(*config.Config), codec camsim.Codec) {
	list := withCodec(codec, camsim.Camera{Name: "a"}, camsim.Camera{Name: "b"}, camsim.Camera{Name: "c", Mode: camsim.ModeMotion})
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	cfg.Subnets[0].Concurrency = 2
	patrol(cfg)
	via := cfg.PatrolVia(cfg.Subnets[0])
	h := startTree(t, cams, cfg)
	e := waitFor(h, 20*time.Second, "first cycle ended", func(e *messages.CycleEnded) bool { return e.Number == 1 })
	if len(e.Outcomes) != 3 {
		t.Fatalf("outcomes %+v", e.Outcomes)
	}
	for _, o := range e.Outcomes {
		if o.Outcome != messages.OutcomeOK {
			t.Errorf("%s: %s %s", o.Camera, o.Outcome, o.Error)
		}
	}
	for _, d := range all(h, func(d *messages.CaptureDone) bool { return d.Cycle == 1 && d.Outcome == messages.OutcomeOK }) {
		img, err := jpeg.Decode(bytes.NewReader(d.JPEG))
		if err != nil {
			t.Fatalf("%s: %v", d.Camera, err)
		}
		if b := img.Bounds(); b.Dx() != camsim.DefaultWidth || b.Dy() != camsim.DefaultHeight {
			t.Errorf("%s: %v", d.Camera, b)
		}
		switch via {
		case config.ViaFFmpeg:
			if d.Via != "ffmpeg" || d.OSPID == 0 || d.Attempts != 1 {
				t.Errorf("%s: via %s pid %d attempts %d, want one ffmpeg", d.Camera, d.Via, d.OSPID, d.Attempts)
			}
		default:
			if d.Via != "go2rtc" || d.OSPID != 0 || d.Attempts != 0 {
				t.Errorf("%s: via %s pid %d attempts %d, want the frame of its go2rtc source and no process", d.Camera, d.Via, d.OSPID, d.Attempts)
			}
		}
	}
	// The processes ran one per capture and ended by themselves.
	for _, p := range all(h, func(p *messages.ProcessExited) bool { return true }) {
		if p.StopReason != messages.StopDone || p.ExitCode != 0 {
			t.Errorf("pid %d: %s exit %d", p.OSPID, p.StopReason, p.ExitCode)
		}
	}
}

func TestCycleEndedAlwaysSent(t *testing.T) {
	viaModes(t, testCycleEndedAlwaysSent)
}

func testCycleEndedAlwaysSent(t *testing.T, patrol func(*config.Config)) {
	// Four hung cameras, two at a time, captures allowed longer than the
	// interval: only the cycle deadline can end the cycle.
	hung := []camsim.Camera{{Name: "h1", Hang: true}, {Name: "h2", Hang: true}, {Name: "h3", Hang: true}, {Name: "h4", Hang: true}}
	cams := startCamsim(t, hung...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"dark": hung}, nil)
	cfg.Subnets[0].Interval = testDuration(2 * time.Second)
	cfg.Subnets[0].Concurrency = 2
	cfg.FFmpeg.CaptureTimeout = testDuration(time.Minute)
	cfg.Alerts.CameraFailingAfter = 100 // no breaker opens: every cycle asks every camera
	patrol(cfg)
	// Room for every capture at once: only the cycle deadline holds them back.
	h := startTreeWith(t, cams, cfg, func(env *Env) { env.Policy = DefaultPolicy(); env.Policy.Admission.Min = 8 })

	for n := int64(1); n <= 2; n++ {
		e := waitFor(h, 10*time.Second, "cycle ended", func(e *messages.CycleEnded) bool { return e.Number == n })
		// The deadline ends it: not before its 2 s interval, and long before
		// the captures' own one-minute timeout.
		if took := e.EndedAt.Sub(e.StartedAt); took < 2*time.Second || took > 20*time.Second {
			t.Errorf("cycle %d took %s, want its 2s interval", n, took)
		}
		if !e.Overran {
			t.Errorf("cycle %d not marked as overrun although no camera answered", n)
		}
		var timedOut, skipped int
		for _, o := range e.Outcomes {
			switch o.Outcome {
			case messages.OutcomeTimeout:
				timedOut++
			case messages.OutcomeSkipped:
				skipped++
			default:
				t.Errorf("cycle %d: %s %s", n, o.Camera, o.Outcome)
			}
		}
		if timedOut != 2 || skipped != 2 {
			t.Errorf("cycle %d: %d timed out, %d skipped; want 2 and 2", n, timedOut, skipped)
		}
	}
	// Cycles do not overlap: each starts after the previous ended.
	starts := all(h, func(e *messages.CycleStarted) bool { return true })
	ends := all(h, func(e *messages.CycleEnded) bool { return true })
	for i := 1; i < len(starts) && i-1 < len(ends); i++ {
		if starts[i].StartedAt.Before(ends[i-1].EndedAt) {
			t.Errorf("cycle %d started before cycle %d ended", starts[i].Number, ends[i-1].Number)
		}
	}
}

func TestFailedCaptureRetriedThenCameraFailing(t *testing.T) {
	codecs(t, testFailedCaptureRetriedThenCameraFailing)
}

func testFailedCaptureRetriedThenCameraFailing(t *testing.T, codec camsim.Codec) {
	down := withCodec(codec, camsim.Camera{Name: "down", Refuse: true})[0]
	cams := startCamsim(t, down)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {down}}, nil)
	h := startTree(t, cams, cfg)
	first := h.capture("lab", "down", 20*time.Second)
	if first.Outcome != messages.OutcomeExit || first.Attempts != 2 {
		t.Fatalf("first capture: %s after %d attempts (%s); want exit after 2 (one retry)", first.Outcome, first.Attempts, first.Error)
	}
	// The retry reads more of the stream, in case the first attempt lacked
	// the codec's parameters.
	retry := waitFor(h, 5*time.Second, "the retry's process", func(e *messages.ProcessStarted) bool { return e.OSPID == first.OSPID })
	if argv := strings.Join(retry.Argv, " "); !strings.Contains(argv, "-probesize 5000000") {
		t.Errorf("retry argv %q has no deep probe", argv)
	}
	// Three failures in a row (the patrol's counts too) mark it failing.
	for i := 0; i < 3 && len(all(h, func(e *messages.CameraStateChanged) bool { return e.Failing })) == 0; i++ {
		h.capture("lab", "down", 20*time.Second)
	}
	waitFor(h, 5*time.Second, "camera marked failing", func(e *messages.CameraStateChanged) bool { return e.Camera == "down" && e.Failing })
	// A failing camera is not retried in a loop: one process per capture.
	later := h.capture("lab", "down", 20*time.Second)
	if later.Attempts != 1 {
		t.Errorf("failing camera got %d attempts for one capture", later.Attempts)
	}
	if err := cams.Update("down", camsim.CameraPatch{Refuse: boolPtr(false)}); err != nil {
		t.Fatal(err)
	}
	healed := h.mark()
	if ok := h.capture("lab", "down", 20*time.Second); ok.Outcome != messages.OutcomeOK {
		t.Fatalf("healed camera: %s %s", ok.Outcome, ok.Error)
	}
	waitAfter(h, healed, 5*time.Second, "camera recovered", func(e *messages.CameraStateChanged) bool {
		return e.Camera == "down" && !e.Failing && e.Health == messages.HealthOK
	})
}

// TestSkippedCamerasGoFirst: a cycle that cannot reach every camera in its
// interval ends with the rest skipped, says why, and asks those first in
// the next cycle: no camera starves. The subnet raises interval_too_short
// with the numbers.
func TestSkippedCamerasGoFirst(t *testing.T) {
	// Each RTSP answer takes 100 ms and a capture needs at least four of
	// them (OPTIONS, DESCRIBE, SETUP, PLAY): no capture takes less than
	// 0.4 s however fast the machine, so four cameras one at a time cannot
	// fit a 1.5 s interval.
	var list []camsim.Camera
	for _, n := range []string{"a", "b", "c", "d"} {
		list = append(list, camsim.Camera{Name: n, Mode: camsim.ModeStatic, Slow: camsim.Duration(100 * time.Millisecond)})
	}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	cfg.Subnets[0].Interval = testDuration(1500 * time.Millisecond)
	cfg.Subnets[0].Concurrency = 1
	h := startTree(t, cams, cfg)

	for n := int64(1); n <= 4; n++ {
		e := waitFor(h, 30*time.Second, fmt.Sprintf("cycle %d", n), func(e *messages.CycleEnded) bool { return e.Number == n })
		if n == 1 && (e.Skipped == 0 || !e.Overran || !strings.Contains(e.Why, "slow cameras")) {
			t.Fatalf("cycle 1 reached every camera or did not say why it overran: %+v", e)
		}
		if n == 1 {
			continue
		}
		prev := waitFor(h, time.Second, "the cycle before", func(p *messages.CycleEnded) bool { return p.Number == n-1 })
		var skipped []string
		for _, o := range prev.Outcomes {
			if o.Outcome == messages.OutcomeSkipped {
				skipped = append(skipped, o.Camera)
			}
		}
		first := waitFor(h, time.Second, "the cycle's first capture", func(d *messages.CaptureDone) bool { return d.Cycle == n })
		for _, d := range all(h, func(d *messages.CaptureDone) bool { return d.Cycle == n }) {
			if d.StartedAt.Before(first.StartedAt) {
				first = d
			}
		}
		if len(skipped) > 0 && !slices.Contains(skipped, first.Camera) {
			t.Errorf("cycle %d began with %s although cycle %d skipped %v", n, first.Camera, n-1, skipped)
		}
	}
	// No camera starves: on a slow machine a camera cut at a cycle's
	// deadline may wait a few more cycles for its turn, never for ever.
	for _, c := range list {
		waitFor(h, 30*time.Second, "camera "+c.Name+" captured", func(d *messages.CaptureDone) bool {
			return d.Camera == c.Name && d.Outcome == messages.OutcomeOK
		})
	}
	alert := waitFor(h, 5*time.Second, "interval_too_short fires", func(e *messages.AlertChanged) bool {
		return e.Rule == "interval_too_short" && e.State == messages.AlertFiring
	})
	if alert.Subject != "lab" || !strings.Contains(alert.Detail, "interval is 1.5s") {
		t.Errorf("alert %+v", alert)
	}
}
