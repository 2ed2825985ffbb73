package actors

import (
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/messages"
)

// detected publishes a detection as the detector would.
func (h *harness) detected(camera, label string, score float64) {
	h.tree.system.EventStream.Publish(&messages.Detected{EventID: time.Now().UnixMicro(), New: true, Camera: camera, Subnet: "lab",
		At: time.Now(), Label: label, Score: score})
}

func TestPlaybackPolicy(t *testing.T) {
	list := []camsim.Camera{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	// Long enough that a and b still play when c's detection comes, on a
	// busy machine too.
	g := withGo2RTC(t, cfg, 4*time.Second)
	cfg.Playback.Labels = []string{"person"}
	cfg.Playback.MinScore = 0.6
	cfg.Playback.Cooldown = testDuration(time.Hour)
	cfg.Playback.MaxLive = 2
	h := startTree(t, cams, cfg)
	for _, c := range list {
		h.waitCamera("lab", c.Name)
	}
	waitFor(h, 10*time.Second, "first cycle", func(e *messages.CycleEnded) bool { return e.Number == 1 })
	plays := func(camera string, extended bool) int {
		return len(all(h, func(e *messages.PlaybackStarted) bool { return e.Camera == camera && e.Extended == extended }))
	}
	leases := func(camera string) int {
		return len(all(h, func(e *messages.LeaseGranted) bool { return e.Camera == camera && !e.Extended }))
	}

	// Not qualifying: wrong label, low score.
	h.detected("a", "cat", 0.99)
	h.detected("a", "person", 0.4)
	// Qualifying: exactly one lease and one play.
	h.detected("a", "person", 0.9)
	first := waitFor(h, 10*time.Second, "play a", func(e *messages.PlaybackStarted) bool { return e.Camera == "a" })
	if first.Extended || first.PlayerURL == "" || first.Until.Before(time.Now()) {
		t.Fatalf("play %+v", first)
	}
	if _, ok := g.Streams()["camvisor_a"]; !ok {
		t.Error("no go2rtc stream for the playing camera")
	}
	// A second event extends: still one lease, a play with a later until.
	h.detected("a", "person", 0.95)
	ext := waitFor(h, 5*time.Second, "play a extended", func(e *messages.PlaybackStarted) bool { return e.Camera == "a" && e.Extended })
	if !ext.Until.After(first.Until) {
		t.Errorf("extension until %s not after %s", ext.Until, first.Until)
	}
	if n := leases("a"); n != 1 {
		t.Errorf("%d leases for camera a, want 1", n)
	}
	// At most P = 2 live: b plays, c does not.
	h.detected("b", "person", 0.9)
	waitFor(h, 10*time.Second, "play b", func(e *messages.PlaybackStarted) bool { return e.Camera == "b" })
	h.detected("c", "person", 0.9)
	// stop follows until.
	stop := waitFor(h, 10*time.Second, "stop a", func(e *messages.PlaybackStopped) bool { return e.Camera == "a" })
	if late := stop.At.Sub(ext.Until); late < 0 || late > 5*time.Second {
		t.Errorf("stop %s after until", late)
	}
	if plays("c", false) != 0 || leases("c") != 0 {
		t.Error("camera c played although two cameras were live")
	}
	// The cooldown holds: a new event on a right after its stop plays nothing.
	h.detected("a", "person", 0.99)
	waitFor(h, 10*time.Second, "stop b", func(e *messages.PlaybackStopped) bool { return e.Camera == "b" })
	if plays("a", false) != 1 || leases("a") != 1 {
		t.Errorf("camera a played again within its cooldown: %d plays, %d leases", plays("a", false), leases("a"))
	}
	waitFor(h, 10*time.Second, "a's lease ended", func(e *messages.LeaseEnded) bool { return e.Camera == "a" })
}

func TestPlaybackWithoutGo2RTCShowsSnapshots(t *testing.T) {
	cam := camsim.Camera{Name: "a"}
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, nil)
	cfg.Go2RTC.Lease = testDuration(time.Second)
	h := startTree(t, cams, cfg)
	h.waitCamera("lab", "a")
	h.detected("a", "person", 0.9)
	p := waitFor(h, 5*time.Second, "play", func(e *messages.PlaybackStarted) bool { return e.Camera == "a" })
	if p.PlayerURL != "" {
		t.Errorf("play carries a player URL without go2rtc: %q", p.PlayerURL)
	}
	waitFor(h, 5*time.Second, "stop", func(e *messages.PlaybackStopped) bool { return e.Camera == "a" })
	if n := len(all(h, func(e *messages.LeaseGranted) bool { return true })); n != 0 {
		t.Errorf("%d leases without go2rtc", n)
	}
}
