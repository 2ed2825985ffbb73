package actors

import (
	"bytes"
	"image"
	"image/jpeg"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// Stream mode: a camera patrolled often keeps one ffmpeg connected, and
// its captures take that process's newest frame. Every count is read where
// a user would read it: /proc, camsim's own connection counts, the facts
// the record is written from.

// streamConfig patrols cams every interval in stream mode (by
// patrol.stream_below, not by each camera's mode).
func streamConfig(cams *camsim.Server, list []camsim.Camera, interval time.Duration) *config.Config {
	cfg := testConfig(cams, map[string][]camsim.Camera{"hot": list}, nil)
	cfg.Subnets[0].Interval = config.D(interval)
	cfg.Patrol.StreamBelow = config.D(10 * time.Second)
	return cfg
}

// streamProcesses are the live stream children's processes of this run
// for camera, from /proc.
func (h *harness) streamProcesses(camera string) []osproc.Info {
	var out []osproc.Info
	for _, p := range h.ffmpegOf(camera) {
		if strings.HasSuffix(p.Owner, "/"+streamName) && !p.Zombie() {
			out = append(out, p)
		}
	}
	return out
}

// waitStream waits until camera has one stream process in /proc and
// returns it.
func (h *harness) waitStream(camera string) osproc.Info {
	h.t.Helper()
	var p []osproc.Info
	testkit.Eventually(h.t, 15*time.Second, "the stream ffmpeg of "+camera+" running", func() bool {
		p = h.streamProcesses(camera)
		return len(p) == 1
	})
	return p[0]
}

func TestStreamModeServesCaptures(t *testing.T) {
	codecs(t, func(t *testing.T, codec camsim.Codec) {
		list := withCodec(codec, camsim.Camera{Name: "hot", Mode: camsim.ModeStatic})
		cams := startCamsim(t, list...)
		still, err := cams.Still("hot")
		if err != nil {
			t.Fatal(err)
		}
		cfg := streamConfig(cams, list, time.Second)
		h := startTree(t, cams, cfg)
		proc := h.waitStream("hot")
		started := waitFor(h, 5*time.Second, "the stream's process start", func(e *messages.ProcessStarted) bool { return e.OSPID == proc.PID })
		if started.Purpose != "stream" || !started.Deadline.IsZero() {
			t.Errorf("process start: purpose %q deadline %v, want stream and none", started.Purpose, started.Deadline)
		}
		if argv := strings.Join(started.Argv, " "); strings.Contains(argv, testkit.CamsimPassword) || !strings.Contains(argv, "-skip_frame nokey") {
			t.Errorf("argv %q: want the password hidden and keyframes only", argv)
		}
		// Three patrol cycles and an operator's capture, all from the one
		// process.
		mark := h.mark()
		testkit.WaitCount(t, h.facts, mark, 3, 20*time.Second, "three cycles", func(e *messages.CycleEnded) bool { return true })
		op := h.capture("hot", "hot", 10*time.Second)
		for _, d := range append(all(h, func(d *messages.CaptureDone) bool { return d.Cycle > 0 }), op) {
			if d.Outcome != messages.OutcomeOK || d.Via != viaStream || d.OSPID != proc.PID || d.Attempts != 0 {
				t.Errorf("capture %s: %s via %s pid %d attempts %d (%s); want ok via stream from pid %d, no process started",
					d.Key, d.Outcome, d.Via, d.OSPID, d.Attempts, d.Error, proc.PID)
				continue
			}
			img, err := jpeg.Decode(bytes.NewReader(d.JPEG))
			if err != nil {
				t.Fatalf("capture %s: %v", d.Key, err)
			}
			if diff := meanAbsDiff(img, still); diff > 6 {
				t.Errorf("capture %s differs from camsim's picture by %.1f levels", d.Key, diff)
			}
		}
		if n := len(all(h, func(e *messages.ProcessStarted) bool { return true })); n != 1 {
			t.Errorf("%d processes started, want the stream's one", n)
		}
		if st := cams.Stats("hot"); st.Total != 1 || st.MaxOpen != 1 {
			t.Errorf("camsim saw %d connections (%d at once), want the stream's one", st.Total, st.MaxOpen)
		}
		status := h.status("hot", "hot")
		if status.SlotsFFmpeg != 1 {
			t.Errorf("camera counts %d ffmpeg slots, want the stream's one", status.SlotsFFmpeg)
		}
	})
}

// status asks a camera for its state.
func (h *harness) status(subnet, id string) *messages.CameraStatus {
	h.t.Helper()
	res, err := h.tree.System.Root.RequestFuture(h.camera(subnet, id), &messages.GetCameraStatus{}, 5*time.Second).Result()
	if err != nil {
		h.t.Fatal(err)
	}
	return res.(*messages.CameraStatus)
}

// TestJPEGSplitter cuts concatenated pictures, written in pieces of any
// size, back into the pictures.
func TestJPEGSplitter(t *testing.T) {
	var pics [][]byte
	for i := range 5 {
		var b bytes.Buffer
		img := greyImage(16+16*i, 16, uint8(40*i))
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 50 + 10*i}); err != nil {
			t.Fatal(err)
		}
		p := b.Bytes()
		if i == 2 {
			// A comment segment holding FF D9 must not end the picture.
			p = append([]byte{0xFF, 0xD8, 0xFF, 0xFE, 0, 6, 'x', 0xFF, 0xD9, 'y'}, p[2:]...)
		}
		pics = append(pics, p)
	}
	all := bytes.Join(pics, nil)
	for _, chunk := range []int{1, 2, 7, 100, 4096, len(all)} {
		var got [][]byte
		s := &jpegSplitter{max: 1 << 20, emit: func(j []byte) { got = append(got, j) }}
		for off := 0; off < len(all); off += chunk {
			s.Write(all[off:min(off+chunk, len(all))])
		}
		if len(got) != len(pics) {
			t.Fatalf("chunks of %d: %d pictures, want %d", chunk, len(got), len(pics))
		}
		for i := range got {
			if !bytes.Equal(got[i], pics[i]) {
				t.Errorf("chunks of %d: picture %d differs", chunk, i)
			}
			if _, err := jpeg.Decode(bytes.NewReader(got[i])); err != nil {
				t.Errorf("chunks of %d: picture %d: %v", chunk, i, err)
			}
		}
	}
	// Garbage before a picture is skipped; a picture over max is dropped.
	var got [][]byte
	s := &jpegSplitter{max: len(pics[0]) + 10, emit: func(j []byte) { got = append(got, j) }}
	s.Write([]byte("noise"))
	s.Write(pics[0])
	s.Write(pics[4])
	s.Write(pics[0])
	if len(got) != 2 || !bytes.Equal(got[0], pics[0]) || !bytes.Equal(got[1], pics[0]) {
		t.Errorf("got %d pictures, want the two small ones", len(got))
	}
}

// greyImage is a w x h picture of brightness v.
func greyImage(w, h int, v uint8) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	return img
}
