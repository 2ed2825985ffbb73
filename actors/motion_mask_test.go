package actors

import (
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// TestMotionMaskIgnoresTimestamp: two cameras show the same still street
// with a timestamp burnt in at the top left, as real cameras draw theirs,
// in 720p (large enough that the motion detector reads the JPEG's block
// means rather than decoding it). Unmasked, the ticking clock is motion,
// frame after frame. With a mask over the clock (cameras[].motion.masks)
// the other camera reports nothing; when something moves in its picture
// outside the mask, that is motion again.
func TestMotionMaskIgnoresTimestamp(t *testing.T) {
	cams := testkit.CamsimWith(t, camsim.Options{Width: 1280, Height: 720, FPS: 5},
		camsim.Camera{Name: "plain", Mode: camsim.ModeStatic, Clock: true},
		camsim.Camera{Name: "masked", Mode: camsim.ModeStatic, Clock: true})
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {{Name: "plain"}, {Name: "masked"}}}, nil)
	cfg.Subnets[0].Interval = config.D(time.Second)
	cfg.Subnets[0].Cameras[0].Mode = config.ModeSnapshot
	cfg.Subnets[0].Cameras[1].Mode = config.ModeSnapshot
	cfg.Detector.MinScore = 0.01 // a clock's digits are a small share of the picture
	// The same settings on both, a camera's own: sensitive (a dark scene),
	// and a least area of a digit or two of 720p.
	for i := range cfg.Subnets[0].Cameras {
		cfg.Subnets[0].Cameras[i].Motion = config.Motion{Threshold: 8, MinArea: 0.0005}
	}
	// The clock's corner of the picture, drawn generously around it.
	cfg.Subnets[0].Cameras[1].Motion.Masks = [][]float64{{0, 0, 0.6, 0, 0.6, 0.12, 0, 0.12}}
	h := startTree(t, cams, cfg)

	detected := func(camera string) int {
		return testkit.Count(h.facts, testkit.Start, func(d *messages.Detected) bool { return d.Camera == camera })
	}
	examined := func(camera string) int {
		return testkit.Count(h.facts, testkit.Start, func(d *messages.CaptureDone) bool {
			return d.Camera == camera && d.Outcome == messages.OutcomeOK
		})
	}
	// The clock ticks between two captures a second apart: the unmasked
	// camera sees motion, again and again.
	testkit.Eventually(t, 30*time.Second, "the unmasked camera's clock detected as motion three times", func() bool {
		return detected("plain") >= 3
	})
	testkit.Eventually(t, 10*time.Second, "the masked camera captured as often", func() bool { return examined("masked") >= 5 })
	if n := detected("masked"); n != 0 {
		t.Fatalf("the masked camera's clock made %d detections over %d frames", n, examined("masked"))
	}
	for _, d := range testkit.All(h.facts, testkit.Start, func(d *messages.Detected) bool { return d.Camera == "plain" }) {
		if d.Box[1] > 720/8 {
			t.Errorf("the unmasked camera's motion at %v is not the clock's (top left)", d.Box)
		}
	}

	// Something moves outside the mask: that is motion.
	mark := h.mark()
	motion := camsim.ModeMotion
	if err := cams.Update("masked", camsim.CameraPatch{Mode: &motion}); err != nil {
		t.Fatal(err)
	}
	d := waitAfter(h, mark, 30*time.Second, "motion outside the mask detected", func(d *messages.Detected) bool { return d.Camera == "masked" })
	if d.Box[1] < 720/8 {
		t.Errorf("the masked camera's motion box %v reaches into the masked clock", d.Box)
	}
}
