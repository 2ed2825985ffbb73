package detect

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"strings"
	"testing"
)

// The synthetic frames are 320x240, so the grid is 64x48 cells of 5x5
// pixels; rectangles on multiples of 40 pixels fall on both cell and JPEG
// block edges, which makes boxes and scores exact.
const (
	frameW, frameH = 320, 240
	gridCells      = 64 * 48
)

func TestMotionFirstFrameOnlyPrimes(t *testing.T) {
	m := NewMotion(MotionOptions{})
	busy := greyJPEG(t, frameW, frameH, 50, patch{image.Rect(0, 0, 160, 120), 250})
	if dets := detectOK(t, m, "cam", busy); dets != nil {
		t.Fatalf("first frame gave %+v, want nothing", dets)
	}
	if dets := detectOK(t, m, "cam", busy); dets != nil {
		t.Fatalf("same frame again gave %+v, want nothing", dets)
	}
}

func TestMotionExactBoxAndScore(t *testing.T) {
	cases := []struct {
		name      string
		rect      image.Rectangle
		wantScore float64
	}{
		// 8x8 cells of 3072 is 2.08 % of the frame: score 0.4167 of FullArea 5 %.
		{"small", image.Rect(120, 80, 160, 120), 64.0 / gridCells / 0.05},
		// 16x16 cells is 8.3 %: over FullArea, so 1.
		{"large", image.Rect(80, 40, 160, 120), 1},
		{"frame corner", image.Rect(280, 200, 320, 240), 64.0 / gridCells / 0.05},
		{"whole frame", image.Rect(0, 0, frameW, frameH), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewMotion(MotionOptions{})
			detectOK(t, m, "cam", greyJPEG(t, frameW, frameH, 60))
			d := one(t, detectOK(t, m, "cam", greyJPEG(t, frameW, frameH, 60, patch{c.rect, 230})))
			if d.Label != "motion" {
				t.Errorf("label %q, want motion", d.Label)
			}
			if d.Box != c.rect {
				t.Errorf("box %v, want %v", d.Box, c.rect)
			}
			if math.Abs(d.Score-c.wantScore) > 1e-9 {
				t.Errorf("score %v, want %v", d.Score, c.wantScore)
			}
			// The change back is motion too, with the same box.
			back := one(t, detectOK(t, m, "cam", greyJPEG(t, frameW, frameH, 60)))
			if back.Box != c.rect {
				t.Errorf("box of the change back %v, want %v", back.Box, c.rect)
			}
		})
	}
}

func TestMotionScoreGrowsWithArea(t *testing.T) {
	prev := 0.0
	for side := 40; side <= 200; side += 40 {
		m := NewMotion(MotionOptions{})
		detectOK(t, m, "cam", greyJPEG(t, frameW, frameH, 60))
		d := one(t, detectOK(t, m, "cam", greyJPEG(t, frameW, frameH, 60, patch{image.Rect(0, 0, side, 40), 230})))
		if d.Score <= prev && d.Score < 1 {
			t.Errorf("a %dx40 change scores %v, no more than a smaller one (%v)", side, d.Score, prev)
		}
		prev = d.Score
	}
	if prev != 1 {
		t.Errorf("a 200x40 change (10 %% of the frame) scores %v, want 1", prev)
	}
}

func TestMotionBelowMinAreaIsNothing(t *testing.T) {
	// 10x10 pixels are 4 cells, 0.13 % of the frame: under the default
	// MinArea of 0.2 % and over a MinArea of 0.1 %.
	still := greyJPEG(t, frameW, frameH, 60)
	speck := greyJPEG(t, frameW, frameH, 60, patch{image.Rect(200, 120, 210, 130), 230})

	m := NewMotion(MotionOptions{})
	detectOK(t, m, "cam", still)
	if dets := detectOK(t, m, "cam", speck); dets != nil {
		t.Errorf("default options: a 4-cell change gave %+v, want nothing", dets)
	}

	m = NewMotion(MotionOptions{MinArea: 0.001})
	detectOK(t, m, "cam", still)
	d := one(t, detectOK(t, m, "cam", speck))
	if want := image.Rect(200, 120, 210, 130); d.Box != want {
		t.Errorf("box %v, want %v", d.Box, want)
	}
}

func TestMotionPixelThreshold(t *testing.T) {
	m := NewMotion(MotionOptions{})
	detectOK(t, m, "cam", greyJPEG(t, frameW, frameH, 100))
	if dets := detectOK(t, m, "cam", greyJPEG(t, frameW, frameH, 120)); dets != nil {
		t.Errorf("the whole frame 20 levels brighter gave %+v; the default threshold is 25", dets)
	}
	d := one(t, detectOK(t, m, "cam", greyJPEG(t, frameW, frameH, 160)))
	if d.Score != 1 || d.Box != image.Rect(0, 0, frameW, frameH) {
		t.Errorf("the whole frame 40 levels brighter gave %+v, want score 1 over the whole frame", d)
	}

	m = NewMotion(MotionOptions{PixelThreshold: 10})
	detectOK(t, m, "cam", greyJPEG(t, frameW, frameH, 100))
	one(t, detectOK(t, m, "cam", greyJPEG(t, frameW, frameH, 120)))
}

// TestMotionIgnoresLoneCells checks the noise rule on exact grids: a
// changed cell counts only when one of its eight neighbours changed too.
func TestMotionIgnoresLoneCells(t *testing.T) {
	grid := func(changed ...image.Point) *greyFrame {
		g := &greyFrame{bounds: image.Rect(0, 0, 80, 60), gw: 8, gh: 6, pix: make([]uint8, 48)}
		for _, p := range changed {
			g.pix[p.Y*8+p.X] = 200
		}
		return g
	}
	m := NewMotion(MotionOptions{MinArea: 1e-9})
	still := grid()
	cases := []struct {
		name    string
		changed []image.Point
		want    image.Rectangle // in pixels of the 80x60 frame; empty: nothing
	}{
		{"lone cell", []image.Point{{3, 3}}, image.Rectangle{}},
		{"lone cells far apart", []image.Point{{0, 0}, {7, 5}, {4, 2}}, image.Rectangle{}},
		{"pair", []image.Point{{3, 3}, {4, 3}}, image.Rect(30, 30, 50, 40)},
		{"diagonal pair", []image.Point{{0, 0}, {1, 1}}, image.Rect(0, 0, 20, 20)},
		{"pair and a lone cell", []image.Point{{6, 4}, {7, 5}, {0, 0}}, image.Rect(60, 40, 80, 60)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dets := m.compare(still, grid(c.changed...), m.opts.PixelThreshold, m.opts.MinArea, nil)
			if c.want.Empty() {
				if dets != nil {
					t.Fatalf("got %+v, want nothing", dets)
				}
				return
			}
			if d := one(t, dets); d.Box != c.want {
				t.Errorf("box %v, want %v", d.Box, c.want)
			}
		})
	}
}

func TestMotionSizeChangeOnlyPrimes(t *testing.T) {
	m := NewMotion(MotionOptions{})
	detectOK(t, m, "cam", greyJPEG(t, frameW, frameH, 60))
	if dets := detectOK(t, m, "cam", greyJPEG(t, 160, 120, 200)); dets != nil {
		t.Fatalf("a frame of another size gave %+v, want nothing", dets)
	}
	d := one(t, detectOK(t, m, "cam", greyJPEG(t, 160, 120, 200, patch{image.Rect(0, 0, 80, 40), 20})))
	if want := image.Rect(0, 0, 80, 40); d.Box != want {
		t.Errorf("box in the 160x120 frame %v, want %v", d.Box, want)
	}
}

func TestMotionForget(t *testing.T) {
	m := NewMotion(MotionOptions{})
	detectOK(t, m, "cam", greyJPEG(t, frameW, frameH, 60))
	m.Forget("cam")
	m.Forget("never seen")
	if dets := detectOK(t, m, "cam", greyJPEG(t, frameW, frameH, 200)); dets != nil {
		t.Fatalf("first frame after Forget gave %+v, want nothing", dets)
	}
	one(t, detectOK(t, m, "cam", greyJPEG(t, frameW, frameH, 60)))
}

func TestMotionCamerasAreIndependent(t *testing.T) {
	m := NewMotion(MotionOptions{})
	dark := greyJPEG(t, frameW, frameH, 40)
	light := greyJPEG(t, frameW, frameH, 200)
	detectOK(t, m, "a", dark)
	if dets := detectOK(t, m, "b", light); dets != nil {
		t.Fatalf("first frame of b gave %+v: compared with a's", dets)
	}
	if dets := detectOK(t, m, "a", dark); dets != nil {
		t.Errorf("a unchanged gave %+v", dets)
	}
	if dets := detectOK(t, m, "b", light); dets != nil {
		t.Errorf("b unchanged gave %+v", dets)
	}
	one(t, detectOK(t, m, "a", light))
}

func TestMotionBadJPEG(t *testing.T) {
	m := NewMotion(MotionOptions{})
	good := greyJPEG(t, frameW, frameH, 60)
	detectOK(t, m, "front-door", good)
	for name, data := range map[string][]byte{
		"empty":       nil,
		"not jpeg":    []byte("<html>login</html>"),
		"truncated":   good[:len(good)/2],
		"header only": good[:20],
	} {
		t.Run(name, func(t *testing.T) {
			dets, err := m.Detect("front-door", data)
			if !errors.Is(err, ErrBadImage) {
				t.Fatalf("got %+v, %v; want ErrBadImage", dets, err)
			}
			if !strings.Contains(err.Error(), `"front-door"`) {
				t.Errorf("error %q does not name the camera", err)
			}
			t.Logf("error: %v", err)
		})
	}
	// A bad frame leaves the state alone: the next good frame is compared
	// with the last good one.
	if dets := detectOK(t, m, "front-door", good); dets != nil {
		t.Errorf("same good frame after bad ones gave %+v", dets)
	}
}

func TestMotionHugeJPEGRefusedBeforeDecoding(t *testing.T) {
	// A JPEG header claiming 60000x60000 pixels: refused from its header.
	hdr := greyJPEG(t, 16, 16, 60)
	i := strings.Index(string(hdr), "\xff\xc0")
	if i < 0 {
		t.Fatal("no SOF0 in the test JPEG")
	}
	big := append([]byte(nil), hdr...)
	big[i+5], big[i+6], big[i+7], big[i+8] = 0xea, 0x60, 0xea, 0x60
	_, err := NewMotion(MotionOptions{}).Detect("cam", big)
	if !errors.Is(err, ErrBadImage) || !strings.Contains(err.Error(), "60000x60000") {
		t.Fatalf("got %v, want ErrBadImage naming 60000x60000", err)
	}
}

// TestMotionImageKindsAgree checks that the fast paths (YCbCr, Gray) and
// the generic one see the same motion.
func TestMotionImageKindsAgree(t *testing.T) {
	before := greyFrameImage(frameW, frameH, 60)
	after := greyFrameImage(frameW, frameH, 60, patch{image.Rect(43, 17, 151, 99), 230})
	toGray := func(src image.Image) image.Image {
		g := image.NewGray(src.Bounds())
		draw.Draw(g, g.Rect, src, src.Bounds().Min, draw.Src)
		return g
	}
	toRGBA := func(src image.Image) image.Image {
		g := image.NewRGBA(src.Bounds())
		draw.Draw(g, g.Rect, src, src.Bounds().Min, draw.Src)
		return g
	}
	var want *Detection
	for name, conv := range map[string]func(image.Image) image.Image{
		"ycbcr": func(i image.Image) image.Image { return i },
		"gray":  toGray,
		"rgba":  toRGBA,
	} {
		m := NewMotion(MotionOptions{})
		m.detectImage("cam", conv(before))
		d := one(t, m.detectImage("cam", conv(after)))
		if want == nil {
			want = &d
		} else if d != *want {
			t.Errorf("%s: %+v, others %+v", name, d, *want)
		}
	}
	// 43..151 lies across cells 8..30 (pixels 40..155), 17..99 across
	// cells 3..19 (pixels 15..100).
	if box := image.Rect(40, 15, 155, 100); want.Box != box {
		t.Errorf("box %v, want %v", want.Box, box)
	}
}

// TestMotionOddSizes checks frames whose sides are not multiples of the
// grid: the box of a change at the far corner ends exactly at the frame's
// edge, and a frame narrower than the grid works cell per pixel.
func TestMotionOddSizes(t *testing.T) {
	for _, size := range []image.Point{{333, 211}, {1920, 1080}, {48, 40}, {641, 97}} {
		t.Run(size.String(), func(t *testing.T) {
			m := NewMotion(MotionOptions{})
			corner := image.Rect(size.X*3/4, size.Y*3/4, size.X, size.Y)
			m.detectImage("cam", greyFrameImage(size.X, size.Y, 60))
			d := one(t, m.detectImage("cam", greyFrameImage(size.X, size.Y, 60, patch{corner, 230})))
			if d.Box.Max != size {
				t.Errorf("box %v does not end at the frame's corner %v", d.Box, size)
			}
			gw := min(64, size.X)
			gh := max(1, (size.Y*gw+size.X/2)/size.X)
			cell := image.Pt((size.X+gw-1)/gw, (size.Y+gh-1)/gh)
			grown := image.Rectangle{Min: corner.Min.Sub(cell), Max: corner.Max}
			if !corner.In(d.Box) || !d.Box.In(grown) {
				t.Errorf("box %v, want one holding the change %v and less than a cell %v larger", d.Box, corner, cell)
			}
		})
	}
}

func TestMotionOptions(t *testing.T) {
	d := DefaultMotionOptions()
	if got := NewMotion(MotionOptions{}).Options(); got != d {
		t.Errorf("zero options became %+v, want the defaults %+v", got, d)
	}
	if err := (MotionOptions{}).Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
	bad := []struct {
		opts  MotionOptions
		field string
	}{
		{MotionOptions{MinArea: 1.5}, "detector.motion.min_area"},
		{MotionOptions{MinArea: -0.1}, "detector.motion.min_area"},
		{MotionOptions{MinArea: math.NaN()}, "detector.motion.min_area"},
		{MotionOptions{MinArea: 0.1, FullArea: 0.05}, "detector.motion.full_area"},
		{MotionOptions{FullArea: 2}, "detector.motion.full_area"},
	}
	for _, b := range bad {
		err := b.opts.Validate()
		if err == nil || !strings.Contains(err.Error(), b.field) {
			t.Errorf("%+v: got %v, want an error naming %s", b.opts, err, b.field)
			continue
		}
		// NewMotion never fails: it falls back to defaults.
		got := NewMotion(b.opts).Options()
		if err := got.Validate(); err != nil {
			t.Errorf("NewMotion(%+v) kept invalid options %+v: %v", b.opts, got, err)
		}
	}
}

// BenchmarkMotionDetect measures one Detect, decoding included, of a
// camsim-sized 320x240 snapshot, a 1080p and a 4K one, with a square moving
// between frames: "detect" as Detect does it (a large frame's grid from its
// JPEG blocks' means), "full-decode" decoding every pixel first, as Detect
// did before and still does for small frames:
//
//	go test -run '^$' -bench MotionDetect ./actors/detect/
func BenchmarkMotionDetect(b *testing.B) {
	for _, size := range []image.Point{{320, 240}, {1920, 1080}, {3840, 2160}} {
		var frames [2][]byte
		side := size.Y / 8
		for i := range frames {
			img := image.NewRGBA(image.Rectangle{Max: size})
			for y := range size.Y {
				for x := range size.X {
					img.Set(x, y, color.RGBA{uint8(x * 255 / size.X), uint8(y * 255 / size.Y), 90, 255})
				}
			}
			sq := image.Rect(0, 0, side, side).Add(image.Pt(size.X/8+i*size.X/3, size.Y*2/5))
			draw.Draw(img, sq, image.White, image.Point{}, draw.Src)
			frames[i] = encodeJPEG(b, img)
		}
		for _, how := range []string{"full-decode", "detect"} {
			b.Run(fmt.Sprintf("%dx%d/%s", size.X, size.Y, how), func(b *testing.B) {
				m := NewMotion(MotionOptions{})
				detect := m.Detect
				if how == "full-decode" {
					detect = func(camera string, data []byte) ([]Detection, error) {
						img, err := jpeg.Decode(bytes.NewReader(data))
						if err != nil {
							return nil, err
						}
						return m.detectImage(camera, img), nil
					}
				}
				if _, err := detect("cam", frames[1]); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					dets, err := detect("cam", frames[i%2])
					if err != nil || len(dets) != 1 {
						b.Fatalf("frame %d: %+v, %v", i, dets, err)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkMotionCompare measures Motion's own work on a decoded 320x240
// frame: shrinking and comparing, without JPEG decoding.
func BenchmarkMotionCompare(b *testing.B) {
	imgs := [2]image.Image{
		greyFrameImage(frameW, frameH, 60, patch{image.Rect(40, 96, 72, 128), 230}),
		greyFrameImage(frameW, frameH, 60, patch{image.Rect(140, 96, 172, 128), 230}),
	}
	m := NewMotion(MotionOptions{})
	m.detectImage("cam", imgs[1])
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if dets := m.detectImage("cam", imgs[i%2]); len(dets) != 1 {
			b.Fatalf("frame %d: %+v", i, dets)
		}
		i++
	}
}
