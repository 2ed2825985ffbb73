package actors

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"strings"
	"syscall"
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
// patrol.stream_below: they are patrolled that often; not by each camera's
// mode).
func streamConfig(cams *camsim.Server, list []camsim.Camera, interval time.Duration) *config.Config {
	cfg := testConfig(cams, map[string][]camsim.Camera{"hot": list}, nil)
	cfg.Subnets[0].Interval = config.D(interval)
	cfg.Patrol.StreamBelow = config.D(interval)
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
		h, store := startRecordedTree(t, cams, cfg)
		proc := h.waitStream("hot")
		started := waitFor(h, 5*time.Second, "the stream's process start", func(e *messages.ProcessStarted) bool { return e.OSPID == proc.PID })
		if started.Purpose != "stream" || !started.Deadline.IsZero() {
			t.Errorf("process start: purpose %q deadline %v, want stream and none", started.Purpose, started.Deadline)
		}
		if argv := strings.Join(started.Argv, " "); strings.Contains(argv, testkit.CamsimPassword) || !strings.Contains(argv, "-skip_frame nokey") {
			t.Errorf("argv %q: want the password hidden and keyframes only", argv)
		}
		// Once the stream has its first frame (a fresh stream waits for the
		// camera's keyframe as a snapshot does): three patrol cycles and an
		// operator's capture, all from the one process.
		op := h.capture("hot", "hot", 10*time.Second)
		mark := h.mark()
		captures := testkit.WaitCount(t, h.facts, mark, 3, 20*time.Second, "three patrol captures", func(d *messages.CaptureDone) bool { return d.Cycle > 0 })
		for _, d := range append(captures, op) {
			if d.Outcome != messages.OutcomeOK || d.Via != viaStream || d.OSPID != proc.PID || d.Attempts != 0 {
				t.Errorf("capture %s: %s via %s pid %d attempts %d (%s); want ok via stream from pid %d, no process started",
					d.Key, d.Outcome, d.Via, d.OSPID, d.Attempts, d.Error, proc.PID)
				continue
			}
			img, err := jpeg.Decode(bytes.NewReader(d.JPEG))
			if err != nil {
				t.Fatalf("capture %s: %v", d.Key, err)
			}
			if diff := camsim.MeanAbsDiff(img, still); diff > 6 {
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
		// The stream's start went through the machine-wide admission, and
		// its grant was given back at its first frame: a stream does not
		// hold one for its life.
		if n := len(all(h, func(e *messages.AdmissionChanged) bool { return e.Running > 0 })); n == 0 {
			t.Error("the stream's process started without the admission granting it")
		}
		testkit.Eventually(t, 10*time.Second, "the admission's grants all back", func() bool {
			res, err := h.tree.system.Root.RequestFuture(h.tree.pid(AdmissionName), &messages.GetAdmission{}, 5*time.Second).Result()
			return err == nil && res.(*messages.AdmissionStatus).Running == 0
		})
		// The reaper's sweep finds the stream's process owned.
		res, err := h.tree.system.Root.RequestFuture(h.tree.pid(ReaperName), &messages.Sweep{}, 20*time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		if sw := res.(*messages.SweepDone); sw.Unowned != 0 {
			t.Errorf("the reaper killed %d processes of this run as unowned", sw.Unowned)
		}
		if p := h.streamProcesses("hot"); len(p) != 1 || p[0].PID != proc.PID {
			t.Errorf("after the sweep the stream processes are %v, want pid %d", p, proc.PID)
		}
		// The record, as an operator reads it.
		testkit.Eventually(t, 10*time.Second, "the stream's captures and process in the record", func() bool {
			var captures, streams int
			store.DB.Get(&captures, `SELECT COUNT(*) FROM captures WHERE camera = 'hot' AND via = 'stream' AND outcome = 'ok' AND os_pid = ? AND attempts = 0`, proc.PID)
			store.DB.Get(&streams, `SELECT COUNT(*) FROM processes WHERE camera = 'hot' AND purpose = 'stream' AND deadline IS NULL AND os_pid = ?`, proc.PID)
			return captures >= 4 && streams == 1
		})
	})
}

// status asks a camera for its state.
func (h *harness) status(subnet, id string) *messages.CameraStatus {
	h.t.Helper()
	res, err := h.tree.system.Root.RequestFuture(h.camera(subnet, id), &messages.GetCameraStatus{}, 5*time.Second).Result()
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

// TestStreamModeRestartsOnStall: a camera that stops sending without
// closing the connection (camsim switched to hang at run time) leaves its
// stream ffmpeg waiting: the watchdog kills it after the stall timeout and
// the camera's supervision starts another; the old one is gone from /proc.
func TestStreamModeRestartsOnStall(t *testing.T) {
	list := withCodec(camsim.CodecH264, camsim.Camera{Name: "cam"})
	cams := startCamsim(t, list...)
	cfg := streamConfig(cams, list, time.Hour)
	const stall = 2 * time.Second
	cfg.FFmpeg.StallTimeout = config.D(stall)
	h := startTree(t, cams, cfg)
	old := h.waitStream("cam")
	if d := h.capture("hot", "cam", 10*time.Second); d.Outcome != messages.OutcomeOK || d.OSPID != old.PID {
		t.Fatalf("capture before the stall: %s via %s pid %d (%s), want a frame of pid %d", d.Outcome, d.Via, d.OSPID, d.Error, old.PID)
	}

	mark := h.mark()
	hang := true
	if err := cams.Update("cam", camsim.CameraPatch{Hang: &hang}); err != nil {
		t.Fatal(err)
	}
	hungAt := time.Now()
	exited := waitAfter(h, mark, 20*time.Second, fmt.Sprintf("the stalled pid %d's exit", old.PID), func(e *messages.ProcessExited) bool { return e.OSPID == old.PID })
	if exited.StopReason != messages.StopStalled {
		t.Errorf("pid %d ended %s (exit %d %s), want killed as stalled", old.PID, exited.StopReason, exited.ExitCode, exited.Signal)
	}
	// The watchdog waited for the stall timeout: the last frame came at
	// most a GOP before the hang.
	if waited := exited.EndedAt.Sub(hungAt); waited < stall-testGOP {
		t.Errorf("killed %v after the camera hung, before the %v stall timeout", waited, stall)
	}
	if info, ok := osproc.Read(old.PID); ok && !info.Zombie() && info.StartAt == old.StartAt {
		t.Errorf("pid %d still in /proc after its exit was recorded", old.PID)
	}
	next := waitAfter(h, mark, 20*time.Second, "a new stream ffmpeg", func(e *messages.ProcessStarted) bool {
		return e.Camera == "cam" && e.Purpose == "stream" && e.OSPID != old.PID
	})
	if next.StartedAt.Before(exited.EndedAt) {
		t.Errorf("the new stream started at %v, before the old one was reaped at %v", next.StartedAt, exited.EndedAt)
	}
	if r := waitAfter(h, mark, 5*time.Second, "the stream's restart on record", func(e *messages.ActorRestarted) bool {
		return strings.HasSuffix(e.Actor, "/camera/cam/"+streamName)
	}); r.Kind != "stream" || !strings.Contains(r.Reason, "stalled") {
		t.Errorf("restart recorded as kind %q reason %q", r.Kind, r.Reason)
	}

	// Healed, the camera's frames come through a new stream again.
	hang = false
	if err := cams.Update("cam", camsim.CameraPatch{Hang: &hang}); err != nil {
		t.Fatal(err)
	}
	// (Captures that time out meanwhile may open the camera's breaker; its
	// probe is a snapshot, and the stream comes back once one succeeds.)
	var d *messages.CaptureDone
	for deadline := time.Now().Add(40 * time.Second); ; {
		d = h.capture("hot", "cam", 10*time.Second)
		if d.Outcome == messages.OutcomeOK && d.Via == viaStream || time.Now().After(deadline) {
			break
		}
	}
	if d.Outcome != messages.OutcomeOK || d.Via != viaStream || d.OSPID == old.PID {
		t.Errorf("capture after the camera healed: %s via %s pid %d (%s), want one from a new stream", d.Outcome, d.Via, d.OSPID, d.Error)
	}
	if st := cams.Stats("cam"); st.MaxOpen > 1 {
		t.Errorf("camsim saw %d connections at once: a stream was replaced before the old one was gone", st.MaxOpen)
	}
}

// TestNoOrphanInStreamMode is invariant 1 for the stream child: whatever
// ends it, or the actors above it, its process is killed and reaped first.
func TestNoOrphanInStreamMode(t *testing.T) {
	t.Run("stop", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			path string
			want messages.StopReason
		}{
			{"camera", CameraPath("hot", "cam"), messages.StopParentStopped},
			{"subnet", SubnetPath("hot"), messages.StopParentStopped},
			{"root", "", messages.StopShutdown},
		} {
			t.Run(tc.name, func(t *testing.T) {
				list := withCodec(camsim.CodecH264, camsim.Camera{Name: "cam"})
				cams := startCamsim(t, list...)
				h := startTree(t, cams, streamConfig(cams, list, time.Hour))
				p := h.waitStream("cam")
				pid := h.tree.root
				if tc.path != "" {
					pid = h.tree.pid(tc.path)
				}
				if err := h.tree.system.Root.StopFuture(pid).Wait(); err != nil {
					t.Fatal(err)
				}
				if info, ok := osproc.Read(p.PID); ok && info.StartAt == p.StartAt {
					t.Fatalf("the stop of %s returned with pid %d still in /proc (state %s)", pid.Id, p.PID, info.State)
				}
				e := waitFor(h, 5*time.Second, "the exit recorded", func(e *messages.ProcessExited) bool { return e.OSPID == p.PID })
				if e.StopReason != tc.want {
					t.Errorf("stop reason %q, want %q", e.StopReason, tc.want)
				}
				testkit.Eventually(t, 5*time.Second, "camsim sees the connection closed", func() bool { return cams.Stats("cam").Open == 0 })
			})
		}
	})

	t.Run("restart", func(t *testing.T) {
		// The camera drops the connection a second after PLAY: the process
		// exits and the child is started again, each time after the last
		// one is reaped.
		list := withCodec(camsim.CodecH264, camsim.Camera{Name: "cam", Drop: camsim.Duration(time.Second)})
		cams := startCamsim(t, list...)
		h := startTree(t, cams, streamConfig(cams, list, time.Hour))
		first := h.waitStream("cam")
		worst := 0
		var ended []*messages.ProcessExited
		testkit.Eventually(t, 30*time.Second, "the stream restarted twice", func() bool {
			worst = max(worst, len(h.streamProcesses("cam")))
			ended = all(h, func(e *messages.ProcessExited) bool { return e.Camera == "cam" })
			return len(ended) >= 2 && len(h.streamProcesses("cam")) == 1
		})
		for _, e := range ended {
			if e.StopReason != messages.StopDone {
				t.Errorf("pid %d ended %s, want done (the camera dropped it)", e.OSPID, e.StopReason)
			}
			if info, ok := osproc.Read(e.OSPID); ok && !info.Zombie() && info.Run == h.env.RunID {
				t.Errorf("pid %d still in /proc after its exit", e.OSPID)
			}
		}
		if ended[0].OSPID != first.PID {
			t.Errorf("the first exit recorded is pid %d's, not the first stream's (%d)", ended[0].OSPID, first.PID)
		}
		if worst > 1 {
			t.Errorf("/proc showed %d stream processes of the camera at once", worst)
		}
		if st := cams.Stats("cam"); st.MaxOpen > 1 {
			t.Errorf("camsim saw %d connections at once", st.MaxOpen)
		}
	})

	t.Run("panic", func(t *testing.T) {
		list := withCodec(camsim.CodecH264, camsim.Camera{Name: "cam"})
		cams := startCamsim(t, list...)
		h := startTree(t, cams, streamConfig(cams, list, time.Hour))
		old := h.waitStream("cam")
		mark := h.mark()
		h.tree.system.Root.Send(h.camera("hot", "cam"), &messages.RestartCamera{Reason: "test"})
		e := waitAfter(h, mark, 10*time.Second, "the old stream's exit", func(e *messages.ProcessExited) bool { return e.OSPID == old.PID })
		if e.StopReason != messages.StopRestart {
			t.Errorf("stop reason %q, want restart", e.StopReason)
		}
		if info, ok := osproc.Read(old.PID); ok && !info.Zombie() && info.StartAt == old.StartAt {
			t.Errorf("pid %d still in /proc after the camera's restart", old.PID)
		}
		next := h.waitStream("cam")
		if next.PID == old.PID {
			t.Error("no new stream after the camera's restart")
		}
		if d := h.capture("hot", "cam", 10*time.Second); d.Outcome != messages.OutcomeOK || d.OSPID != next.PID {
			t.Errorf("capture after the restart: %s pid %d (%s), want a frame of pid %d", d.Outcome, d.OSPID, d.Error, next.PID)
		}
		// The old process's relay path was closed, its camera connection
		// with it, before the new one connected.
		if st := cams.Stats("cam"); st.MaxOpen > 1 {
			t.Errorf("camsim counts %+v, want one connection at a time", st)
		}
		if n := h.env.Relay.Paths(); n != 1 {
			t.Errorf("the relay holds %d paths, want the new stream's one", n)
		}
	})

	t.Run("parent kill", func(t *testing.T) {
		var victims []osproc.Info
		testkit.AdoptOrphans(t, func() []int { return pids(victims) })
		cam := camsim.Camera{Name: "cam", Codec: camsim.CodecH264}
		cams := startCamsim(t, cam)
		cmd, home := startBinaryYAML(t, cams, fmt.Sprintf("      - id: cam\n        url: %s\n        max_connections: 2\n        mode: stream\n", cams.URL("cam")))
		mine := func() []osproc.Info {
			var live []osproc.Info
			for _, p := range testkit.FFmpegOfHome(home) {
				if !p.Zombie() {
					live = append(live, p)
				}
			}
			return live
		}
		testkit.Eventually(t, 15*time.Second, "the stream ffmpeg running", func() bool { return len(mine()) == 1 && cams.Stats("cam").Open == 1 })
		victims = mine()
		if !strings.HasSuffix(victims[0].Owner, "/"+streamName) {
			t.Fatalf("the process running is %s's, not a stream's", victims[0].Owner)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitExit(t, cmd, 5*time.Second)
		testkit.Eventually(t, 2*time.Second, "the stream ffmpeg dead after camvisor's SIGKILL", func() bool {
			info, ok := osproc.Read(victims[0].PID)
			return !ok || info.Zombie()
		})
		testkit.Eventually(t, 5*time.Second, "camsim sees the connection closed", func() bool { return cams.Stats("cam").Open == 0 })
	})
}

// TestStreamYieldsToLiveView: on a camera with room for one connection,
// held by its stream, a live view is granted: the stream gives its slot
// up (its process killed, recorded preempted), the live view serves the
// frames meanwhile, and the stream comes back when the view has ended.
func TestStreamYieldsToLiveView(t *testing.T) {
	list := []camsim.Camera{{Name: "cam", MaxConnections: 1}}
	cams := startCamsim(t, list...)
	cfg := streamConfig(cams, list, time.Hour)
	cfg.Subnets[0].Cameras[0].MaxConnections = 1
	patrolByFFmpeg(cfg)
	withGo2RTC(t, cfg, time.Minute)
	// Only the operator's live view: a motion event (camsim's moving
	// picture, seen by the first cycle) would start another one for a
	// minute, and the stream would not come back within the test.
	cfg.Playback.Labels = []string{"person"}
	h := startTree(t, cams, cfg)
	stream := h.waitStream("cam")
	mark := h.mark()
	if a := h.lease("hot", "cam", time.Now().Add(time.Minute)); !a.Granted {
		t.Fatalf("live view refused: %s", a.Reason)
	}
	e := waitAfter(h, mark, 10*time.Second, "the stream's exit", func(e *messages.ProcessExited) bool { return e.OSPID == stream.PID })
	if e.StopReason != messages.StopPreempted {
		t.Errorf("stream ended %s, want preempted", e.StopReason)
	}
	if d := h.capture("hot", "cam", 10*time.Second); d.Outcome != messages.OutcomeOK || d.Via != viaLease {
		t.Errorf("capture during the live view: %s via %s (%s), want ok via lease", d.Outcome, d.Via, d.Error)
	}
	if len(h.streamProcesses("cam")) != 0 {
		t.Error("a stream runs beside the live view on a camera with one connection")
	}
	mark = h.mark()
	h.tree.system.Root.Send(h.camera("hot", "cam"), &messages.ReleaseLease{Camera: "cam", Reason: "test"})
	waitAfter(h, mark, 20*time.Second, "the stream back after the live view", func(e *messages.ProcessStarted) bool {
		return e.Camera == "cam" && e.Purpose == "stream"
	})
	if st := cams.Stats("cam"); st.MaxOpen > 1 || st.Refused > 0 {
		t.Errorf("camsim: max_open %d refused %d, budget 1", st.MaxOpen, st.Refused)
	}
}

// TestStreamLeftAloneWhileBreakerOpen: a stream-mode camera that is down
// fails its captures until its breaker opens; then it costs no process
// but the breaker's probes (one-shot snapshots), and its stream comes back
// once a probe succeeds.
func TestStreamLeftAloneWhileBreakerOpen(t *testing.T) {
	list := withCodec(camsim.CodecH264, camsim.Camera{Name: "cam", Refuse: true})
	cams := startCamsim(t, list...)
	cfg := streamConfig(cams, list, time.Second)
	cfg.FFmpeg.CaptureTimeout = config.D(time.Second)
	cfg.Patrol.MaxBackoff = config.D(2 * time.Second)
	h := startTree(t, cams, cfg)
	open := waitFor(h, 30*time.Second, "the breaker open", func(e *messages.CameraStateChanged) bool { return e.Camera == "cam" && e.Failing })
	// The stream child is stopped: within a stop's time no stream process
	// is left, and none starts while the breaker stays open.
	testkit.Eventually(t, 5*time.Second, "no stream process", func() bool { return len(h.streamProcesses("cam")) == 0 })
	mark := h.mark()
	for until := time.Now().Add(3 * time.Second); time.Now().Before(until); {
		if p := h.streamProcesses("cam"); len(p) > 0 {
			t.Fatalf("a stream process (pid %d) runs while the camera's breaker is open", p[0].PID)
		}
		time.Sleep(20 * time.Millisecond) // sampling /proc, nothing to wait for
	}
	if n := testkit.Count(h.facts, mark, func(e *messages.ProcessStarted) bool { return e.Purpose == "stream" }); n > 0 {
		t.Errorf("%d stream processes started while the breaker was open", n)
	}
	if n := testkit.Count(h.facts, mark, func(e *messages.ProcessStarted) bool { return e.Purpose == "snapshot" }); n == 0 {
		t.Errorf("no probe in 3 s of a breaker open since %v with a %v back-off at most", open.At, cfg.Patrol.MaxBackoff.Duration)
	}
	// Healed: a probe succeeds, the breaker closes, the stream is back.
	refuse := false
	if err := cams.Update("cam", camsim.CameraPatch{Refuse: &refuse}); err != nil {
		t.Fatal(err)
	}
	waitAfter(h, mark, 20*time.Second, "the breaker closed", func(e *messages.CameraStateChanged) bool { return e.Camera == "cam" && !e.Failing })
	waitAfter(h, mark, 20*time.Second, "the stream back", func(e *messages.ProcessStarted) bool { return e.Camera == "cam" && e.Purpose == "stream" })
	waitAfter(h, mark, 20*time.Second, "a patrol frame from the stream", func(d *messages.CaptureDone) bool {
		return d.Outcome == messages.OutcomeOK && d.Via == viaStream
	})
}

// TestStreamReleasesCameraWhenProcessDies: a stream's ffmpeg killed from
// outside camvisor (the OOM killer, an operator's kill -9) reads its
// password-protected camera through the relay; its death closes its relay
// path, and with it the camera connection the relay held: camsim counts
// none open while the child waits for its restart, and the relay holds no
// path.
func TestStreamReleasesCameraWhenProcessDies(t *testing.T) {
	list := withCodec(camsim.CodecH264, camsim.Camera{Name: "cam"})
	cams := startCamsim(t, list...)
	h := startTreeWith(t, cams, streamConfig(cams, list, time.Hour), func(env *Env) {
		env.Policy = DefaultPolicy()
		env.Policy.Supervision.Stream.Initial = time.Hour // the restart never comes within the test
	})
	p := h.waitStream("cam")
	started := waitFor(h, 5*time.Second, "the stream's start", func(e *messages.ProcessStarted) bool { return e.OSPID == p.PID })
	if !strings.Contains(strings.Join(started.Argv, " "), "rtsp://"+h.env.Relay.Addr()+"/") {
		t.Fatalf("the stream does not read its camera through the relay: %q", started.Argv)
	}
	testkit.Eventually(t, 10*time.Second, "the stream connected to camsim, through one relay path", func() bool {
		return cams.Stats("cam").Open == 1 && h.env.Relay.Paths() == 1
	})
	mark := h.mark()
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e := waitAfter(h, mark, 10*time.Second, "the killed stream's exit", func(e *messages.ProcessExited) bool { return e.OSPID == p.PID })
	if e.Signal != "SIGKILL" || e.StopReason != messages.StopDone {
		t.Errorf("exit recorded as %s / %q, want SIGKILL, done", e.StopReason, e.Signal)
	}
	testkit.Eventually(t, 10*time.Second, "the camera connection closed and the relay path released", func() bool {
		return cams.Stats("cam").Open == 0 && h.env.Relay.Paths() == 0
	})
	if st := cams.Stats("cam"); st.Total != 1 || st.MaxOpen != 1 {
		t.Errorf("camsim counts %+v, want the one stream connection", st)
	}
}

// TestStreamReadsDetectURL: a streaming camera with a detect_url keeps its
// stream on the sub-stream, which the patrol's captures take; an
// operator's capture reads the main stream with a snapshot of its own.
// Counted at camsim, where the two streams are two cameras.
func TestStreamReadsDetectURL(t *testing.T) {
	list := []camsim.Camera{{Name: "cam", Mode: camsim.ModeStatic, MaxConnections: 2}}
	cams := startCamsim(t, append(list, camsim.Camera{Name: "cam-sub", Mode: camsim.ModeStatic, MaxConnections: 2})...)
	cfg := streamConfig(cams, list, time.Second)
	cfg.Subnets[0].Cameras[0].DetectURL = cams.URL("cam-sub")
	h := startTree(t, cams, cfg)
	proc := h.waitStream("cam")
	mark := h.mark()
	testkit.WaitCount(t, h.facts, mark, 2, 20*time.Second, "two patrol captures from the stream", func(d *messages.CaptureDone) bool {
		return d.Cycle > 0 && d.Outcome == messages.OutcomeOK && d.Via == viaStream && d.OSPID == proc.PID
	})
	if main, sub := cams.Stats("cam").Total, cams.Stats("cam-sub").Total; main != 0 || sub != 1 {
		t.Errorf("with the stream running camsim saw %d connections to url and %d to detect_url; want 0 and the stream's 1", main, sub)
	}
	op := h.capture("hot", "cam", 20*time.Second)
	if op.Outcome != messages.OutcomeOK || op.Via != viaFFmpeg || op.OSPID == proc.PID {
		t.Errorf("operator's capture: %s via %s from pid %d (%s); want ok via its own ffmpeg", op.Outcome, op.Via, op.OSPID, op.Error)
	}
	if main := cams.Stats("cam").Total; main != 1 {
		t.Errorf("the operator's capture made %d connections to url; want 1", main)
	}
	if st := cams.Stats("cam"); st.MaxOpen+cams.Stats("cam-sub").MaxOpen > 2 {
		t.Errorf("the camera's two streams held %d and %d connections at once; budget 2", st.MaxOpen, cams.Stats("cam-sub").MaxOpen)
	}
}
