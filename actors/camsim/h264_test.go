package camsim

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image/jpeg"
	"strings"
	"testing"
	"time"
)

// H.264 cameras: the loop, its RTP packets, and what clients (camsim's own
// and Debian's ffmpeg) make of them.

func TestH264LoopKeyframesEveryGOP(t *testing.T) {
	lib, err := newLibrary(64, 48, 75, ffmpegPath(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []h264Key{
		{mode: ModePattern, fps: 5, gopFrames: 10},
		{mode: ModeMotion, fps: 10, gopFrames: 7},
		{mode: ModeStatic, fps: 5, gopFrames: 1},
	} {
		loop, err := lib.h264Loop(key)
		if err != nil {
			t.Fatalf("%+v: %v", key, err)
		}
		if n := len(loop.frames); n != loopLength(key) || n%key.gopFrames != 0 {
			t.Errorf("%+v: %d frames, want %d (whole GOPs)", key, n, loopLength(key))
		}
		for i, f := range loop.frames {
			if f.key != (i%key.gopFrames == 0) {
				t.Errorf("%+v: frame %d keyframe %v", key, i, f.key)
			}
		}
		if loop.sps[0]&0x1F != nalSPS || loop.pps[0]&0x1F != nalPPS {
			t.Errorf("%+v: parameter sets %x %x", key, loop.sps[:1], loop.pps[:1])
		}
		if again, _ := lib.h264Loop(key); again != loop {
			t.Errorf("%+v: encoded twice", key)
		}
		if (loop.still != nil) != (key.mode == ModeStatic) {
			t.Errorf("%+v: still picture %v", key, loop.still != nil)
		}
	}
}

// TestH264PacketsRebuildAccessUnit cuts an access unit with a NAL unit
// larger than a packet into RTP packets and rebuilds it, as a receiver
// does.
func TestH264PacketsRebuildAccessUnit(t *testing.T) {
	big := make([]byte, 5000)
	big[0] = 0x65 // IDR, nal_ref_idc 3
	for i := 1; i < len(big); i++ {
		big[i] = byte(i*7 + 1)
	}
	au := [][]byte{{0x67, 0x4d, 0x40, 0x0b}, {0x68, 0xef}, big}
	p := packetizeH264(au)
	if len(p.headers) < 5 {
		t.Fatalf("%d packets for a %d-byte NAL unit: not fragmented", len(p.headers), len(big))
	}
	var d h264Depacketizer
	var got []byte
	for i, h := range p.headers {
		end := len(p.data)
		if i+1 < len(p.headers) {
			end = p.headers[i+1] - interleaveLen
		}
		pkt := p.data[h:end]
		if len(pkt) > maxRTPPacket {
			t.Errorf("packet %d is %d bytes, over %d", i, len(pkt), maxRTPPacket)
		}
		marker := pkt[1]&0x80 != 0
		if marker != (i == len(p.headers)-1) {
			t.Errorf("packet %d marker %v", i, marker)
		}
		if r := d.push(uint16(i), 1234, marker, pkt[rtpHeaderLen:]); r != nil {
			got = r
		}
	}
	var want []byte
	for _, nal := range au {
		want = append(append(want, 0, 0, 0, 1), nal...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("rebuilt %d bytes, want %d", len(got), len(want))
	}
	if !keyframe(got) {
		t.Error("the rebuilt IDR access unit is not a keyframe")
	}
	// A lost fragment drops the access unit rather than pass a broken one.
	d = h264Depacketizer{}
	for i, h := range p.headers {
		if i == 2 {
			continue
		}
		end := len(p.data)
		if i+1 < len(p.headers) {
			end = p.headers[i+1] - interleaveLen
		}
		pkt := p.data[h:end]
		if r := d.push(uint16(i), 99, pkt[1]&0x80 != 0, pkt[rtpHeaderLen:]); r != nil {
			t.Fatal("an access unit with a lost packet was passed on")
		}
	}
}

// TestH264Stream reads an H.264 camera with camsim's client: the SDP
// carries the parameter sets, and keyframes come exactly every GOP.
func TestH264Stream(t *testing.T) {
	const fps, gop = 25, 10
	s := newServer(t, Options{Width: 160, Height: 96, Cameras: []Camera{
		{Name: "h", Codec: CodecH264, FPS: fps, GOP: Duration(gop * time.Second / fps), Mode: ModeMotion}}})
	if st := s.Stats("h"); st.Codec != CodecH264 || st.GOP != Duration(400*time.Millisecond) {
		t.Errorf("stats say codec %q gop %v", st.Codec, st.GOP)
	}
	c := dial(t, s.URL("h"))
	if c.Codec() != CodecH264 {
		t.Fatalf("client sees codec %q", c.Codec())
	}
	var since int // frames since the last keyframe, -1 before the first
	since = -1
	keys := 0
	for range 3*gop + 1 {
		au := nextFrame(t, c)
		if keyframe(au) {
			if since >= 0 && since+1 != gop {
				t.Errorf("keyframe %d frames after the previous one, want %d", since+1, gop)
			}
			nals := splitAnnexB(au)
			if len(nals) < 3 || nals[0][0]&0x1F != nalSPS || nals[1][0]&0x1F != nalPPS {
				t.Error("a keyframe without SPS and PPS in band")
			}
			since, keys = 0, keys+1
			continue
		}
		if since >= 0 {
			since++
		}
	}
	if keys < 3 {
		t.Errorf("%d keyframes in %d frames of a %d-frame GOP", keys, 3*gop+1, gop)
	}
}

func TestH264SDPCarriesParameterSets(t *testing.T) {
	s := newServer(t, Options{Cameras: []Camera{{Name: "h", Codec: CodecH264}}})
	r := rawDial(t, s)
	res := r.roundTrip(t, "DESCRIBE rtsp://"+s.RTSPAddr()+"/h RTSP/1.0\r\nCSeq: 1\r\n\r\n")
	sdp := string(res.body)
	if res.code != 200 || !strings.Contains(sdp, "a=rtpmap:96 H264/90000") || !strings.Contains(sdp, "packetization-mode=1") {
		t.Fatalf("%d %s", res.code, sdp)
	}
	_, after, ok := strings.Cut(sdp, "sprop-parameter-sets=")
	if !ok {
		t.Fatalf("no sprop-parameter-sets in %s", sdp)
	}
	sets, _, _ := strings.Cut(after, "\r\n")
	sps64, pps64, _ := strings.Cut(sets, ",")
	sps, err1 := base64.StdEncoding.DecodeString(sps64)
	pps, err2 := base64.StdEncoding.DecodeString(pps64)
	if err1 != nil || err2 != nil || sps[0]&0x1F != nalSPS || pps[0]&0x1F != nalPPS {
		t.Errorf("sprop-parameter-sets %q: %v %v", sets, err1, err2)
	}
	if !strings.Contains(sdp, "profile-level-id="+profileLevelID(sps)) {
		t.Errorf("profile-level-id does not match the SPS: %s", sdp)
	}
}

// TestFFmpegSnapshotH264 takes snapshots of an H.264 camera with
// camvisor's arguments: each is the whole picture camsim drew, although
// ffmpeg joins the stream mid-GOP.
func TestFFmpegSnapshotH264(t *testing.T) {
	name := uniqueName(t)
	s := newServer(t, Options{Width: 320, Height: 240, Cameras: []Camera{
		{Name: name, Codec: CodecH264, Mode: ModeStatic, FPS: 10, GOP: Duration(time.Second)}}})
	still, err := s.Still(name)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r := startFFmpeg(t, name, ffmpegSnapshotArgs(s.URL(name), 5000000)...)
		if err := r.wait(t, 15*time.Second); err != nil {
			t.Fatalf("ffmpeg: %v; stderr: %s", err, r.stderr.String())
		}
		img := decode(t, r.stdout.Bytes(), 320, 240)
		if d := MeanAbsDiff(img, still); d > 6 {
			t.Errorf("snapshot differs from camsim's picture by %.1f levels on average", d)
		}
		t.Logf("snapshot took %v", r.elapsed.Round(time.Millisecond))
	}
}

// TestHangAtRunTime: a camera hung while clients watch stops sending them
// frames and answering them, and picks up again when healed.
func TestHangAtRunTime(t *testing.T) {
	for _, codec := range []Codec{CodecMJPEG, CodecH264} {
		t.Run(string(codec), func(t *testing.T) {
			s := newServer(t, Options{Width: 64, Height: 48, Cameras: []Camera{{Name: "cam", Codec: codec, FPS: 25, GOP: Duration(200 * time.Millisecond)}}})
			c := dial(t, s.URL("cam"))
			nextFrame(t, c)
			hang := true
			if err := s.Update("cam", CameraPatch{Hang: &hang}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			// At most the frame already on its way, then nothing.
			for got := 0; ; got++ {
				_, err := c.NextFrame(ctx)
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
						t.Fatalf("hung camera: %v, want a frame that never comes", err)
					}
					break
				}
				if got == 1 {
					t.Fatal("a hung camera kept sending frames")
				}
			}
			if st := s.Stats("cam"); st.Open != 1 {
				t.Errorf("open %d: the hung camera must keep the connection", st.Open)
			}
			hang = false
			if err := s.Update("cam", CameraPatch{Hang: &hang}); err != nil {
				t.Fatal(err)
			}
			c2 := dial(t, s.URL("cam")) // the old connection's deadline broke it
			f := nextFrame(t, c2)
			if codec == CodecH264 && len(f) == 0 {
				t.Fatal("empty access unit")
			}
		})
	}
}

// TestStillOfMJPEG: the MJPEG still is what a client decodes too.
func TestStillOfMJPEG(t *testing.T) {
	s := newServer(t, Options{Width: 160, Height: 96, Cameras: []Camera{{Name: "m", Mode: ModeStatic}, {Name: "p"}}})
	still, err := s.Still("m")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.URL("m"))
	img, err := jpeg.Decode(bytes.NewReader(nextFrame(t, c)))
	if err != nil {
		t.Fatal(err)
	}
	if d := MeanAbsDiff(img, still); d > 6 {
		t.Errorf("frame differs from the still by %.1f levels", d)
	}
	if _, err := s.Still("p"); err == nil {
		t.Error("a pattern camera has a still")
	}
}
