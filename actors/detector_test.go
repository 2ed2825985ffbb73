package actors

import (
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/detect/detecttest"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

func TestMotionEventsOnlyWhereSomethingMoves(t *testing.T) {
	list := []camsim.Camera{{Name: "mover", Mode: camsim.ModeMotion}, {Name: "still", Mode: camsim.ModeStatic}}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	cfg.Subnets[0].Interval = testDuration(time.Second)
	cfg.Detector.EventGap = testDuration(time.Millisecond) // every detection its own event here
	h, store := startRecordedTree(t, cams, cfg)

	waitFor(h, 30*time.Second, "six cycles", func(e *messages.CycleEnded) bool { return e.Number >= 6 })
	// The last frames are still being examined: count the events once the
	// tree has stopped, as the record does.
	h.shutdown()
	moved := all(h, func(e *messages.EventOpened) bool { return e.Camera == "mover" })
	still := all(h, func(e *messages.EventOpened) bool { return e.Camera == "still" })
	if len(moved) < 3 {
		t.Errorf("%d motion events for the moving camera in six cycles, want at least 3", len(moved))
	}
	if len(still) != 0 {
		t.Errorf("%d motion events for the static camera: %+v", len(still), still[0])
	}
	for _, e := range moved {
		if e.Label != "motion" || e.Score <= 0 || e.Box[2] <= e.Box[0] || e.Box[3] <= e.Box[1] || e.Box[2] > e.Width || e.Box[3] > e.Height || len(e.JPEG) == 0 {
			t.Errorf("event %+v", e)
		}
	}
	var rows, snaps int
	store.DB.Get(&rows, "SELECT COUNT(*) FROM events WHERE camera = 'mover'")
	store.DB.Get(&snaps, "SELECT COUNT(*) FROM events WHERE camera = 'mover' AND length(snapshot) > 1000")
	if rows != len(moved) || snaps != rows {
		t.Errorf("%d event rows (%d with a snapshot) for %d events", rows, snaps, len(moved))
	}
	var examined int
	store.DB.Get(&examined, "SELECT COUNT(*) FROM captures WHERE camera = 'mover' AND detection LIKE 'event %'")
	if examined == 0 {
		t.Error("no capture row names the event its frame opened")
	}
}

func TestEventsMergeWithinGap(t *testing.T) {
	cam := camsim.Camera{Name: "mover", Mode: camsim.ModeMotion}
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, nil)
	cfg.Subnets[0].Interval = testDuration(time.Second)
	cfg.Detector.EventGap = testDuration(time.Minute)
	h := startTree(t, cams, cfg)
	waitFor(h, 30*time.Second, "three merged detections", func(e *messages.EventUpdated) bool { return e.Detections >= 3 })
	if n := len(all(h, func(e *messages.EventOpened) bool { return true })); n != 1 {
		t.Errorf("%d events opened; detections within the gap belong to one", n)
	}
}

func TestHTTPDetector(t *testing.T) {
	cam := camsim.Camera{Name: "door"}
	cams := startCamsim(t, cam)
	server := detecttest.New(t)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, nil)
	cfg.Subnets[0].Interval = testDuration(time.Second)
	cfg.Detector.Kind = "http"
	cfg.Detector.URL = server.URL()
	cfg.Detector.MinScore = 0.5
	cfg.Detector.Labels = []string{"person", "car"}
	cfg.Detector.Timeout = testDuration(time.Second)
	cfg.Detector.Queue = 2
	cfg.Detector.EventGap = testDuration(time.Millisecond)
	h, store := startRecordedTree(t, cams, cfg)

	// Below min_score or outside labels: no event.
	server.Answer(detecttest.Answer{Predictions: []detecttest.Prediction{
		{Label: "person", Confidence: 0.3, XMin: 1, YMin: 1, XMax: 10, YMax: 10},
		{Label: "dog", Confidence: 0.99, XMin: 1, YMin: 1, XMax: 10, YMax: 10},
	}})
	waitFor(h, 15*time.Second, "three cycles", func(e *messages.CycleEnded) bool { return e.Number >= 3 })
	if n := len(all(h, func(e *messages.EventOpened) bool { return true })); n != 0 {
		t.Fatalf("%d events from predictions that do not qualify", n)
	}
	// A qualifying prediction: an event with the model's box.
	server.Answer(detecttest.Answer{Predictions: []detecttest.Prediction{{Label: "person", Confidence: 0.91, XMin: 10, YMin: 20, XMax: 100, YMax: 200}}})
	ev := waitFor(h, 15*time.Second, "person event", func(e *messages.EventOpened) bool { return e.Label == "person" })
	if ev.Score != 0.91 || ev.Box != (messages.Box{10, 20, 100, 200}) || ev.Detector != "http" {
		t.Errorf("event %+v", ev)
	}

	// Every malformed answer is recorded against its capture; the patrol goes on.
	faults := []struct {
		name   string
		answer detecttest.Answer
		want   string
	}{
		{"timeout", detecttest.Answer{Hang: true}, "timeout"},
		{"not json", detecttest.Answer{Body: "<html>oops</html>"}, "JSON"},
		{"success false", detecttest.Answer{SuccessFalse: true}, "success"},
		{"huge body", detecttest.Answer{Huge: true}, "large"},
		{"missing fields", detecttest.Answer{MissingPredictions: true}, "predictions"},
		{"server error", detecttest.Answer{Status: 500, Body: "model crashed"}, "500"},
	}
	for _, f := range faults {
		server.Answer(f.answer)
		from := time.Now()
		failed := waitFor(h, 20*time.Second, f.name+" recorded", func(e *messages.DetectionFailed) bool {
			return e.At.After(from) && !e.Dropped && strings.Contains(strings.ToLower(e.Error), strings.ToLower(f.want))
		})
		mark, at := h.mark(), time.Now()
		waitAfter(h, mark, 20*time.Second, "patrol goes on after "+f.name, func(e *messages.CycleEnded) bool { return e.StartedAt.After(at) && e.OK == 1 })
		testkit.Eventually(t, 10*time.Second, f.name+" in the record", func() bool {
			var hits int
			store.DB.Get(&hits, "SELECT COUNT(*) FROM captures WHERE capture_key = ? AND detection LIKE 'error:%'", failed.CaptureKey)
			return hits == 1
		})
	}

	// A detector that is down: the patrol keeps its pace; frames are
	// dropped with a counter rather than queued without bound.
	server.Answer(detecttest.Answer{Hang: true})
	for range 6 { // frames faster than a hanging detector takes them
		if d := h.capture("lab", "door", 10*time.Second); d.Outcome != messages.OutcomeOK {
			t.Fatalf("capture while the detector hangs: %s %s", d.Outcome, d.Error)
		}
	}
	// Each cycle ends as soon as its capture is answered: it never waits
	// for the detector (which takes its whole 1 s timeout on every frame).
	mark, at := h.mark(), time.Now()
	cycles := testkit.WaitCount(t, h.facts, mark, 5, 30*time.Second, "cycles while the detector hangs", func(e *messages.CycleEnded) bool {
		return e.StartedAt.After(at)
	})
	for _, e := range cycles {
		d := waitAfter(h, mark, time.Second, "the capture of a cycle", func(d *messages.CaptureDone) bool { return d.Cycle == e.Number })
		if wait := e.EndedAt.Sub(d.EndedAt); wait >= cfg.Detector.Timeout.Duration {
			t.Errorf("cycle %d ended %s after its capture was answered: it waited for the detector", e.Number, wait)
		}
	}
	if n := len(all(h, func(e *messages.DetectionFailed) bool { return e.Dropped })); n == 0 {
		t.Error("no frame dropped although six frames came faster than a hanging detector (1 s timeout, queue of 2) takes them")
	}
}
