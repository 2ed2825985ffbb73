package actors

import (
	"slices"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// TestFrameCheckedBeforeDial: connections not ours are looked at right
// before each frame asked of go2rtc, not only when the cycle starts. Two
// cameras with one connection each are patrolled through go2rtc; when the
// cycle starts nothing else reads them, so each gets a camvisor_ source.
// While the first camera's slow frame is taken, the operator's go2rtc
// gets a stream of the second camera and a viewer opens it. The second
// camera's frame is then never asked of its camvisor_ source (that would
// be a second connection): the gateway's look shows the viewer's, and the
// frame rides it.
func TestFrameCheckedBeforeDial(t *testing.T) {
	slow := camsim.Camera{Name: "slow", MaxConnections: 1, Mode: camsim.ModeStatic, Slow: camsim.Duration(500 * time.Millisecond)}
	door := camsim.Camera{Name: "door", MaxConnections: 1, Mode: camsim.ModeStatic}
	cams := startCamsim(t, slow, door)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {slow, door}}, map[string]int{"slow": 1, "door": 1})
	cfg.Subnets[0].Concurrency = 1
	cfg.Subnets[0].Interval = testDuration(time.Minute)
	cfg.Subnets[0].Via = config.ViaGo2RTC
	g := withGo2RTC(t, cfg, time.Minute)
	h := startTree(t, cams, cfg)

	testkit.Eventually(t, 10*time.Second, "slow's frame asked of go2rtc", func() bool {
		return slices.ContainsFunc(g.Requests(), func(r string) bool { return strings.Contains(r, "frame.jpeg?src=camvisor_slow") })
	})
	g.Configure("frontdoor", cams.URL("door"))
	g.Watch(t, "frontdoor")
	testkit.Eventually(t, 5*time.Second, "the viewer holding door's connection", func() bool { return cams.Stats("door").Open == 1 })

	d := waitFor(h, 15*time.Second, "door's patrol frame", func(d *messages.CaptureDone) bool { return d.Camera == "door" && d.Cycle > 0 })
	if d.Outcome != messages.OutcomeOK || d.Via != viaExternal {
		t.Errorf("door's frame: %s via %s (%s); want ok via external", d.Outcome, d.Via, d.Error)
	}
	for _, r := range g.Requests() {
		if strings.Contains(r, "frame.jpeg?src=camvisor_door") {
			t.Errorf("door's frame was asked of its own source: %s", r)
		}
	}
	if s := cams.Stats("door"); s.MaxOpen != 1 || s.Refused != 0 {
		t.Errorf("door: max_open %d, refused %d; want 1 and 0", s.MaxOpen, s.Refused)
	}
	if s := all(h, func(s *messages.SlotsChanged) bool { return s.Camera == "door" && s.External == 1 }); len(s) == 0 {
		t.Error("door never counted the viewer's connection")
	}
}

// TestLookBeforeFrameWindow measures the window left: from the listing a
// frame is judged by (the gateway's look) to the frame's request, which
// go2rtc dials at once. A connection opened in between goes unseen. It
// stays a few milliseconds; the listing itself may be up to ListingMaxAge
// old (README.md states both).
func TestLookBeforeFrameWindow(t *testing.T) {
	cam := camsim.Camera{Name: "cam", MaxConnections: 1, Mode: camsim.ModeStatic}
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, map[string]int{"cam": 1})
	cfg.Subnets[0].Interval = testDuration(1200 * time.Millisecond)
	cfg.Subnets[0].Via = config.ViaGo2RTC
	g := withGo2RTC(t, cfg, time.Minute)
	h := startTree(t, cams, cfg)

	waitCount := 12
	testkit.WaitCount(t, h.facts, testkit.Start, waitCount, 30*time.Second, "patrol frames", func(d *messages.CaptureDone) bool {
		return d.Cycle > 0 && d.Outcome == messages.OutcomeOK
	})
	var gaps []time.Duration
	var listed time.Time
	for _, r := range g.RequestLog() {
		switch {
		case r.Line == "GET /api/streams":
			listed = r.At
		case strings.HasPrefix(r.Line, "GET /api/frame.jpeg") && !listed.IsZero():
			gaps = append(gaps, r.At.Sub(listed))
		}
	}
	if len(gaps) < waitCount {
		t.Fatalf("%d frames after a listing, want %d", len(gaps), waitCount)
	}
	slices.Sort(gaps)
	median, worst := gaps[len(gaps)/2], gaps[len(gaps)-1]
	t.Logf("from the listing a frame is judged by to its request: median %v, max %v over %d frames", median, worst, len(gaps))
	if worst > h.env.Policy.Gateway.ListingMaxAge {
		t.Errorf("a frame was judged by a listing %v old, older than ListingMaxAge %v", worst, h.env.Policy.Gateway.ListingMaxAge)
	}
}
