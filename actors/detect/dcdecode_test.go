package detect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"os/exec"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/testkit"
)

// blockMeans decodes a JPEG in full and averages its luma over 8x8
// blocks: what decodeLumaDC must find without decoding.
func blockMeans(t testing.TB, data []byte) (bw, bh int, means []float64) {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	luma := func(x, y int) uint8 {
		switch p := img.(type) {
		case *image.YCbCr:
			return p.Y[p.YOffset(x, y)]
		case *image.Gray:
			return p.GrayAt(x, y).Y
		}
		t.Fatalf("decoded as %T", img)
		return 0
	}
	bw, bh = (b.Dx()+7)/8, (b.Dy()+7)/8
	means = make([]float64, bw*bh)
	for by := range bh {
		for bx := range bw {
			var sum float64
			n := 0
			for y := by * 8; y < min(b.Dy(), by*8+8); y++ {
				for x := bx * 8; x < min(b.Dx(), bx*8+8); x++ {
					sum += float64(luma(b.Min.X+x, b.Min.Y+y))
					n++
				}
			}
			means[by*bw+bx] = sum / float64(n)
		}
	}
	return bw, bh, means
}

// busyPicture is a w x h picture with gradients, edges and fine detail, so
// that blocks carry many AC coefficients.
func busyPicture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(x*255/w) ^ uint8((x*y)>>3)
			img.Set(x, y, color.RGBA{v, uint8(y * 255 / h), uint8((x + y) * 3), 255})
		}
	}
	draw.Draw(img, image.Rect(w/3, h/3, w/2, h/2), image.White, image.Point{}, draw.Src)
	return img
}

// TestLumaDCMatchesDecodedBlocks: the block means read from the JPEG are
// those of the decoded picture, for what cameras and camvisor hand the
// detector: Go's encoder (4:2:0 and grey), ffmpeg's (optimal Huffman
// tables, as camvisor's snapshots are encoded), and a JPEG with restart
// markers (as RTP/JPEG cameras send), at sizes that are not whole MCUs.
func TestLumaDCMatchesDecodedBlocks(t *testing.T) {
	frames := map[string][]byte{}
	for _, size := range []image.Point{{64, 48}, {100, 75}, {333, 201}} {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, busyPicture(size.X, size.Y), &jpeg.Options{Quality: 85}); err != nil {
			t.Fatal(err)
		}
		frames[fmt.Sprintf("go %dx%d", size.X, size.Y)] = buf.Bytes()
	}
	grey := image.NewGray(image.Rect(0, 0, 90, 70))
	draw.Draw(grey, grey.Rect, busyPicture(90, 70), image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, grey, &jpeg.Options{Quality: 70}); err != nil {
		t.Fatal(err)
	}
	frames["go grey"] = buf.Bytes()
	frames["ffmpeg"] = ffmpegJPEG(t, busyPicture(200, 120))
	frames["camsim rtp/jpeg"] = camsimJPEG(t)

	for name, data := range frames {
		t.Run(name, func(t *testing.T) {
			dc, err := decodeLumaDC(data)
			if err != nil {
				t.Fatal(err)
			}
			bw, bh, want := blockMeans(t, data)
			if dc.bw != bw || dc.bh != bh {
				t.Fatalf("%dx%d blocks, want %dx%d", dc.bw, dc.bh, bw, bh)
			}
			worst := 0.0
			for i, m := range want {
				// Edge blocks are averaged over the pixels inside the
				// frame only; the DC covers the padding too.
				x, y := i%bw, i/bw
				if x == bw-1 && dc.w%8 != 0 || y == bh-1 && dc.h%8 != 0 {
					continue
				}
				worst = max(worst, math.Abs(float64(dc.mean[i])-m))
			}
			// A decoder clamps samples to 0..255 after the inverse DCT; the
			// DC does not. Near black and white that is a level or two,
			// against a motion threshold of 25.
			if worst > 3 {
				t.Errorf("a block mean is %.1f levels off the decoded picture's", worst)
			}
		})
	}
}

func TestLumaDCRefuses(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, busyPicture(64, 48), nil); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	progressive := bytes.Replace(bytes.Clone(good), []byte{0xFF, 0xC0}, []byte{0xFF, 0xC2}, 1)
	if _, err := decodeLumaDC(progressive); !errors.Is(err, errNotBaseline) {
		t.Errorf("progressive: %v, want errNotBaseline (decoded in full instead)", err)
	}
	// A frame that claims 65535x65535 in a few hundred bytes (what a
	// hostile snapshot_url may answer), and a 4096x4096 one cut after its
	// first rows: refused at once, not after decoding millions of blocks
	// of zeros.
	huge := bytes.Clone(good)
	sof := bytes.Index(huge, []byte{0xFF, 0xC0})
	copy(huge[sof+5:], []byte{0xFF, 0xFF, 0xFF, 0xFF})
	buf.Reset()
	if err := jpeg.Encode(&buf, busyPicture(4096, 4096), nil); err != nil {
		t.Fatal(err)
	}
	big := buf.Bytes()
	for name, data := range map[string][]byte{
		"truncated":         good[:len(good)*2/3],
		"header":            good[:40],
		"not jpeg":          []byte("<html></html>"),
		"65535x65535":       huge,
		"4096x4096 cut off": big[:len(big)/50],
	} {
		start := time.Now()
		if _, err := decodeLumaDC(data); err == nil || errors.Is(err, errNotBaseline) {
			t.Errorf("%s: %v, want an error", name, err)
		}
		if took := time.Since(start); took > 100*time.Millisecond {
			t.Errorf("%s: refused after %s", name, took)
		}
	}
}

// TestMotionLargeFramesFromBlockMeans: frames whose cells span several
// blocks are compared from their block means, and see the same motion as
// from their pixels; a cut-short frame is refused.
func TestMotionLargeFramesFromBlockMeans(t *testing.T) {
	const w, h = 1920, 1080
	before := greyFrameImage(w, h, 70, patch{image.Rect(300, 240, 540, 480), 200})
	after := greyFrameImage(w, h, 70, patch{image.Rect(900, 480, 1140, 720), 200})
	fromJPEG := NewMotion(MotionOptions{})
	detectOK(t, fromJPEG, "cam", encodeJPEG(t, before))
	a := detectOK(t, fromJPEG, "cam", encodeJPEG(t, after))
	fromPixels := NewMotion(MotionOptions{})
	fromPixels.detectImage("cam", before)
	b := fromPixels.detectImage("cam", after)
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("detections from block means %+v, from pixels %+v", a, b)
	}
	if a[0].Box != b[0].Box || math.Abs(a[0].Score-b[0].Score) > 0.02 {
		t.Errorf("from block means %+v, from pixels %+v", a[0], b[0])
	}
	good := encodeJPEG(t, after)
	if _, err := fromJPEG.Detect("cam", good[:len(good)/2]); !errors.Is(err, ErrBadImage) {
		t.Errorf("cut-short 1080p frame: %v, want ErrBadImage", err)
	}
}

// ffmpegJPEG encodes img with ffmpeg as camvisor's snapshots are encoded.
func ffmpegJPEG(t *testing.T, img *image.RGBA) []byte {
	t.Helper()
	testkit.RequireFFmpeg(t)
	b := img.Bounds()
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgba",
		"-s", fmt.Sprintf("%dx%d", b.Dx(), b.Dy()), "-i", "pipe:0", "-frames:v", "1", "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", "4", "pipe:1")
	cmd.Stdin = bytes.NewReader(img.Pix)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	return out
}

// camsimJPEG is a frame as an RTP/JPEG camera sends it (rebuilt by camsim's
// client as ffmpeg's rtpdec does): restart markers every MCU row.
func camsimJPEG(t *testing.T) []byte {
	t.Helper()
	s := testkit.Camsim(t, camsim.Camera{Name: "c", Mode: camsim.ModeMotion})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := camsim.Dial(ctx, s.URL("c"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.NextFrame(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(f, []byte{0xFF, mDRI}) {
		t.Fatal("camsim's frame has no restart interval")
	}
	return f
}
