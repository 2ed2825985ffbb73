package detect

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"
)

// patch is a rectangle of one brightness painted on a synthetic frame.
type patch struct {
	r image.Rectangle
	y uint8
}

// greyFrameImage returns a w x h colourless YCbCr frame of brightness bg
// with patches painted over it.
func greyFrameImage(w, h int, bg uint8, patches ...patch) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for i := range img.Y {
		img.Y[i] = bg
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = 128, 128
	}
	for _, p := range patches {
		r := p.r.Intersect(img.Rect)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				img.Y[img.YOffset(x, y)] = p.y
			}
		}
	}
	return img
}

// encodeJPEG encodes img as camera snapshots are: baseline JPEG.
func encodeJPEG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		tb.Fatalf("encode test frame: %v", err)
	}
	return buf.Bytes()
}

// greyJPEG is greyFrameImage encoded.
func greyJPEG(tb testing.TB, w, h int, bg uint8, patches ...patch) []byte {
	tb.Helper()
	return encodeJPEG(tb, greyFrameImage(w, h, bg, patches...))
}

// detectOK is Detect failing the test on error.
func detectOK(t *testing.T, m *Motion, camera string, frame []byte) []Detection {
	t.Helper()
	dets, err := m.Detect(camera, frame)
	if err != nil {
		t.Fatalf("Detect(%q): %v", camera, err)
	}
	return dets
}

// one returns the only detection, failing the test unless there is
// exactly one.
func one(t *testing.T, dets []Detection) Detection {
	t.Helper()
	if len(dets) != 1 {
		t.Fatalf("got %d detections %+v, want 1", len(dets), dets)
	}
	return dets[0]
}
