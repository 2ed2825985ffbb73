package actors

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/messages"
)

// The snapshot child against both codecs real cameras send.

// captureModes runs test once per patrol path against MJPEG cameras
// (viaModes), and once more patrolling by ffmpeg against H.264 cameras:
// the capture core must work for both codecs. (go2rtc's stand-in serves
// frames of MJPEG cameras only.)
func captureModes(t *testing.T, test func(t *testing.T, patrol func(*config.Config), codec camsim.Codec)) {
	viaModes(t, func(t *testing.T, patrol func(*config.Config)) { test(t, patrol, camsim.CodecMJPEG) })
	t.Run("via=ffmpeg,codec=h264", func(t *testing.T) {
		test(t, func(cfg *config.Config) {
			for i := range cfg.Subnets {
				cfg.Subnets[i].Via = config.ViaFFmpeg
			}
		}, camsim.CodecH264)
	})
}

// codecs runs test once per codec.
func codecs(t *testing.T, test func(t *testing.T, codec camsim.Codec)) {
	for _, c := range []camsim.Codec{camsim.CodecMJPEG, camsim.CodecH264} {
		t.Run("codec="+string(c), func(t *testing.T) { test(t, c) })
	}
}

// testGOP is the keyframe interval of the tests' H.264 cameras: short, so
// that a snapshot's wait for a keyframe stays short, and still several
// frames, so that a client joins mid-GOP.
const (
	testGOP = 400 * time.Millisecond
	testFPS = 10
)

// withCodec returns cams as cameras of codec; H.264 ones get the tests'
// GOP and frame rate unless they set their own.
func withCodec(codec camsim.Codec, cams ...camsim.Camera) []camsim.Camera {
	out := make([]camsim.Camera, len(cams))
	for i, c := range cams {
		c.Codec = codec
		if codec == camsim.CodecH264 {
			if c.GOP == 0 {
				c.GOP = camsim.Duration(testGOP)
			}
			if c.FPS == 0 {
				c.FPS = testFPS
			}
		}
		out[i] = c
	}
	return out
}

// TestSnapshotIsCompletePicture: a snapshot of an H.264 camera, joined
// mid-GOP, is the camera's whole picture, never the grey or smeared frame
// a decoder makes of P-frames without their keyframe. Each capture is
// compared with the picture camsim encoded.
func TestSnapshotIsCompletePicture(t *testing.T) {
	codecs(t, func(t *testing.T, codec camsim.Codec) {
		// 25 frames per GOP: a snapshot starts on a keyframe one time in 25.
		cam := camsim.Camera{Name: "still", Mode: camsim.ModeStatic, Codec: codec, FPS: 25, GOP: camsim.Duration(time.Second)}
		cams := startCamsim(t, cam)
		still, err := cams.Still("still")
		if err != nil {
			t.Fatal(err)
		}
		// JPEG and H.264 at camsim's quality stay within a few levels of
		// the picture; a grey frame is tens of levels off.
		const tolerance = 6
		if d := camsim.MeanAbsDiff(greyFrame, still); d < 4*tolerance {
			t.Fatalf("a grey frame is only %.1f levels from the picture: the comparison could not tell them apart", d)
		}
		cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, nil)
		h := startTree(t, cams, cfg)
		for i := range 3 {
			done := h.capture("lab", "still", 20*time.Second)
			if done.Outcome != messages.OutcomeOK {
				t.Fatalf("capture %d: %s %s", i, done.Outcome, done.Error)
			}
			img, err := jpeg.Decode(bytes.NewReader(done.JPEG))
			if err != nil {
				t.Fatalf("capture %d: %v", i, err)
			}
			if img.Bounds() != still.Rect {
				t.Fatalf("capture %d is %v, camsim's picture %v", i, img.Bounds(), still.Rect)
			}
			if d := camsim.MeanAbsDiff(img, still); d > tolerance {
				t.Errorf("capture %d differs from camsim's picture by %.1f levels on average", i, d)
			}
		}
	})
}

// greyFrame is what an H.264 decoder shows for P-frames whose keyframe it
// never received.
var greyFrame = image.NewUniform(color.Gray{Y: 128})
