package detect

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"testing"
	"time"

	"camvisor/actors/camsim"
)

// TestMotionOnCamsim runs Motion on camsim's cameras the way the patrol
// sees them: one snapshot per visit, from a fresh connection, visits
// about a second apart (the patrol's are seconds apart).
func TestMotionOnCamsim(t *testing.T) {
	srv, err := camsim.New(camsim.Options{Cameras: []camsim.Camera{
		{Name: "m", Mode: camsim.ModeMotion},
		{Name: "s", Mode: camsim.ModeStatic},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	t.Run("static camera never detects", func(t *testing.T) {
		t.Parallel()
		m := NewMotion(MotionOptions{})
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for i := range 15 {
			if i > 0 {
				<-tick.C // pacing the visits
			}
			if dets := detectOK(t, m, "s", snapshot(t, srv.URL("s"))); dets != nil {
				t.Fatalf("snapshot %d of a static camera: %+v", i, dets)
			}
		}
	})

	t.Run("moving square detected a second apart", func(t *testing.T) {
		t.Parallel()
		m := NewMotion(MotionOptions{})
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		prev := snapshot(t, srv.URL("m"))
		if dets := detectOK(t, m, "m", prev); dets != nil {
			t.Fatalf("first snapshot detected %+v", dets)
		}
		for i := 1; i <= 8; i++ {
			<-tick.C // pacing the visits, not waiting for a condition
			cur := snapshot(t, srv.URL("m"))
			checkMotion(t, i, prev, cur, one(t, detectOK(t, m, "m", cur)))
			prev = cur
		}
	})

	t.Run("moving square detected frame to frame", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := camsim.Dial(ctx, srv.URL("m"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		m := NewMotion(MotionOptions{})
		var prev []byte
		for i := range 6 {
			cur, err := c.NextFrame(ctx)
			if err != nil {
				t.Fatal(err)
			}
			dets := detectOK(t, m, "m", cur)
			if i == 0 {
				if dets != nil {
					t.Fatalf("first frame detected %+v", dets)
				}
			} else {
				checkMotion(t, i, prev, cur, one(t, dets))
			}
			prev = cur
		}
	})
}

// snapshot takes one frame from a fresh connection, as a patrol visit
// does.
func snapshot(t *testing.T, url string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := camsim.Dial(ctx, url)
	if err != nil {
		t.Fatalf("snapshot %s: %v", url, err)
	}
	defer c.Close()
	f, err := c.NextFrame(ctx)
	if err != nil {
		t.Fatalf("snapshot %s: %v", url, err)
	}
	return f
}

// checkMotion compares a motion detection between two frames with their
// difference computed here, pixel by pixel: the box must hold every pixel
// that changed a lot (the square, where it was and where it is) and stay
// within a cell of every pixel that changed at all.
func checkMotion(t *testing.T, i int, prev, cur []byte, d Detection) {
	t.Helper()
	a, b := decodeY(t, prev), decodeY(t, cur)
	frame := a.Rect
	strong, weak := diffBox(a, b, 100), diffBox(a, b, 12)
	cell := image.Pt(frame.Dx()/64, frame.Dx()/64)
	t.Logf("pair %d: score %.2f box %v; pixels changed by >100 in %v, by >12 in %v", i, d.Score, d.Box, strong, weak)
	switch {
	case d.Label != "motion" || !(d.Score > 0 && d.Score <= 1):
		t.Errorf("pair %d: %+v, want label motion and a score in (0, 1]", i, d)
	case d.Box.Empty() || !d.Box.In(frame):
		t.Errorf("pair %d: box %v is empty or outside the frame %v", i, d.Box, frame)
	case strong.Empty():
		t.Errorf("pair %d: the frames hardly differ (largest change box %v), yet Motion saw %+v", i, weak, d)
	case !strong.In(d.Box):
		t.Errorf("pair %d: box %v misses part of the strong change %v", i, d.Box, strong)
	case !d.Box.In(image.Rectangle{Min: weak.Min.Sub(cell), Max: weak.Max.Add(cell)}):
		t.Errorf("pair %d: box %v reaches over a cell beyond any change %v", i, d.Box, weak)
	}
}

// decodeY decodes a camsim JPEG to its YCbCr planes.
func decodeY(t *testing.T, data []byte) *image.YCbCr {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode camsim frame: %v", err)
	}
	y, ok := img.(*image.YCbCr)
	if !ok {
		t.Fatalf("camsim frame decodes to %T, want *image.YCbCr", img)
	}
	return y
}

// diffBox is the bounding box of the pixels whose brightness differs by
// more than thr between a and b.
func diffBox(a, b *image.YCbCr, thr int) image.Rectangle {
	var box image.Rectangle
	for y := a.Rect.Min.Y; y < a.Rect.Max.Y; y++ {
		for x := a.Rect.Min.X; x < a.Rect.Max.X; x++ {
			d := int(a.Y[a.YOffset(x, y)]) - int(b.Y[b.YOffset(x, y)])
			if d > thr || -d > thr {
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return box
}
