package detect

import (
	"image"
	"testing"
)

// TestMotionMasks: a change inside a mask is no motion, on both paths a
// frame takes (decoded pixels for a small frame, the JPEG's block means
// for a large one); a change outside it still is, and its box leaves the
// masked change out.
func TestMotionMasks(t *testing.T) {
	for _, size := range []struct {
		name string
		w, h int
	}{{"decoded pixels", 320, 240}, {"block means", 1280, 720}} {
		t.Run(size.name, func(t *testing.T) {
			w, h := size.w, size.h
			// A timestamp in the top left corner, as cameras draw it.
			clock := image.Rect(w/40, h/40, w*3/10, h/10)
			// Something that moves, lower right.
			walker := image.Rect(w*6/10, h*6/10, w*7/10, h*8/10)
			still := greyJPEG(t, w, h, 60)
			ticked := greyJPEG(t, w, h, 60, patch{clock, 230})
			both := greyJPEG(t, w, h, 60, patch{clock, 20}, patch{walker, 230})
			if size.w >= 64*dcMinCell {
				if _, err := decodeLumaDC(still); err != nil {
					t.Fatalf("the large frame does not take the block-means path: %v", err)
				}
			}
			// The mask: the clock's area and a little around it, as an
			// operator would draw it over the picture.
			mask := [][]float64{{0, 0, 0.32, 0, 0.32, 0.12, 0, 0.12}}

			plain := NewMotion(MotionOptions{})
			detectOK(t, plain, "cam", still)
			if d := one(t, detectOK(t, plain, "cam", ticked)); !d.Box.Overlaps(clock) {
				t.Errorf("unmasked, the clock's change is reported at %v, want it over %v", d.Box, clock)
			}

			masked := NewMotion(MotionOptions{})
			with := CameraMotion{Masks: mask}
			for i, frame := range [][]byte{still, ticked, still, ticked} {
				dets, err := masked.DetectWith("cam", frame, with)
				if err != nil {
					t.Fatal(err)
				}
				if dets != nil {
					t.Fatalf("frame %d: masked clock reported as motion %+v", i, dets)
				}
			}
			dets, err := masked.DetectWith("cam", both, with)
			if err != nil {
				t.Fatal(err)
			}
			d := one(t, dets)
			if d.Box.Overlaps(clock) || !d.Box.Overlaps(walker) {
				t.Errorf("with the clock masked, the box %v should cover the walker %v and not the clock %v", d.Box, walker, clock)
			}
		})
	}
}

// TestMotionCameraSettings: a camera's own threshold and least area
// override the detector's.
func TestMotionCameraSettings(t *testing.T) {
	still := greyJPEG(t, 320, 240, 100)
	faint := greyJPEG(t, 320, 240, 100, patch{image.Rect(100, 100, 160, 160), 140}) // +40, 4.7 % of the frame
	m := NewMotion(MotionOptions{})
	for _, tc := range []struct {
		name string
		c    CameraMotion
		want bool
	}{
		{"defaults", CameraMotion{}, true},
		{"threshold above the change", CameraMotion{PixelThreshold: 60}, false},
		{"threshold below it", CameraMotion{PixelThreshold: 10}, true},
		{"least area above the change", CameraMotion{MinArea: 0.10}, false},
		{"least area below it", CameraMotion{MinArea: 0.01}, true},
	} {
		m.Forget("cam")
		if _, err := m.DetectWith("cam", still, tc.c); err != nil {
			t.Fatal(err)
		}
		dets, err := m.DetectWith("cam", faint, tc.c)
		if err != nil {
			t.Fatal(err)
		}
		if got := dets != nil; got != tc.want {
			t.Errorf("%s: detected %v, want %v (%+v)", tc.name, got, tc.want, dets)
		}
	}
}

// TestMaskCells: a polygon covers the cells it touches, and only those.
func TestMaskCells(t *testing.T) {
	m := NewMotion(MotionOptions{})
	g := &greyFrame{bounds: image.Rect(0, 0, 640, 480), gw: 64, gh: 48}
	// A triangle over the left half's top: from (0,0) to (0.5,0) to (0,0.5).
	c := m.maskFor("cam", g, [][]float64{{0, 0, 0.5, 0, 0, 0.5}})
	at := func(x, y int) bool { return c.masked[y*64+x] }
	if !at(0, 0) || !at(10, 10) || !at(31, 0) || !at(0, 23) {
		t.Error("cells inside the triangle are not masked")
	}
	if at(40, 40) || at(63, 0) || at(20, 20) || at(0, 30) {
		t.Error("cells outside the triangle are masked")
	}
	if again := m.maskFor("cam", g, [][]float64{{0, 0, 0.5, 0, 0, 0.5}}); again != c {
		t.Error("the same masks on the same grid were laid again")
	}
	if m.maskFor("cam", g, nil) != nil {
		t.Error("no masks, yet a mask")
	}
}
