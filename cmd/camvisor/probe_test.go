package main

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
)

// probeChildren are the ffprobe and ffmpeg processes camvisor probe
// started in this test process (zombies included).
func probeChildren() []osproc.Info {
	var out []osproc.Info
	for _, name := range []string{"ffprobe", "ffmpeg"} {
		for _, p := range osproc.Scan(name) {
			if p.PPID == os.Getpid() && strings.HasPrefix(p.Run, "probe-") {
				out = append(out, p)
			}
		}
	}
	return out
}

// watchCommandLines records the command lines of the probe's processes
// while it runs, to see what every local user could read.
func watchCommandLines(t *testing.T) func() []string {
	var mu sync.Mutex
	var seen []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			for _, p := range probeChildren() {
				mu.Lock()
				seen = append(seen, strings.Join(p.Argv, " "))
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() []string {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// TestProbeCamsim: camvisor probe says what camsim's MJPEG and H.264
// cameras send — codec, resolution, frame rate, a 2 s keyframe interval
// within 10 %, Basic or Digest as the camera asked — over one connection,
// with the password on no command line, and suggests a config: the
// sub-stream of a well-known URL pattern, and max_connections measured
// with --connections, which stops at the first refusal. Nothing is left
// running.
func TestProbeCamsim(t *testing.T) {
	testkit.RequireFFmpeg(t)
	testkit.NoProcessesLeft(t, "camvisor probe", probeChildren)
	const pass = "pr0be-Secret"
	pwFile := writeFile(t, "pw", pass+"\n")
	for _, auth := range []camsim.Auth{camsim.AuthBasic, camsim.AuthDigest} {
		srv, err := camsim.New(camsim.Options{User: "admin", Pass: pass, Auth: auth, Cameras: []camsim.Camera{
			{Name: "mjpeg"}, {Name: "h264", Codec: camsim.CodecH264, GOP: camsim.Duration(2 * time.Second)},
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		for _, cam := range []string{"mjpeg", "h264"} {
			url := "rtsp://admin@" + srv.RTSPAddr() + "/" + cam
			watch := watchCommandLines(t)
			code, stdout, stderr := runSplit("probe", url, "--password-file", pwFile, "--json")
			lines := watch()
			if code != 0 {
				t.Fatalf("probe %s (%s): exit %d\n%s", cam, auth, code, stderr)
			}
			var rep probeReport
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatalf("probe --json: %v\n%s", err, stdout)
			}
			if rep.Codec != cam || rep.Width != camsim.DefaultWidth || rep.Height != camsim.DefaultHeight ||
				math.Abs(rep.FPS-camsim.DefaultFPS) > 0.5 || rep.Auth != string(auth) {
				t.Errorf("%s (%s): %+v", cam, auth, rep)
			}
			switch cam {
			case "mjpeg":
				if !rep.EveryFrameKey || rep.Suggested.Mode != "snapshot" {
					t.Errorf("MJPEG: every frame key %v, mode %s", rep.EveryFrameKey, rep.Suggested.Mode)
				}
			case "h264":
				if math.Abs(rep.KeyframeInterval-2) > 0.2 || rep.EveryFrameKey {
					t.Errorf("H.264 with a 2 s GOP: keyframe interval %.2f s", rep.KeyframeInterval)
				}
				// A whole picture comes with the first keyframe: up to a
				// GOP after the first frame.
				if rep.FirstPicture < rep.Connect || rep.FirstPicture > rep.Connect+2.3 {
					t.Errorf("H.264: first picture %.2f s, first frame %.2f s", rep.FirstPicture, rep.Connect)
				}
			}
			if st := srv.Stats(cam); st.Total != 1 {
				t.Errorf("%s (%s): camsim admitted %d connections, want the probe's one", cam, auth, st.Total)
			}
			if len(lines) == 0 {
				t.Errorf("%s: no ffprobe seen while the probe ran", cam)
			}
			for _, l := range append(lines, stdout, stderr) {
				if strings.Contains(l, pass) {
					t.Errorf("the password is in %q", l)
				}
			}
			if !strings.Contains(rep.Suggested.YAML, "password_file:") || !strings.Contains(rep.Suggested.YAML, "url: rtsp://admin@") {
				t.Errorf("suggested YAML:\n%s", rep.Suggested.YAML)
			}
		}
	}

	// The text report, a sub-stream guessed from Tapo's pattern, and
	// max_connections measured: two connections stream, the third is
	// refused, the probe stops there.
	srv, err := camsim.New(camsim.Options{User: "admin", Pass: pass, Cameras: []camsim.Camera{
		{Name: "stream1", Codec: camsim.CodecH264, GOP: camsim.Duration(time.Second), MaxConnections: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	code, stdout, stderr := runSplit("probe", "rtsp://admin@"+srv.RTSPAddr()+"/stream1", "--password-file", pwFile, "--connections", "4")
	if code != 0 {
		t.Fatalf("probe --connections: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"codec             h264", "resolution        320x240", "keyframe interval 1.00 s", "auth              digest",
		"connections       2 of 4 at once; connection 3: refused with 453", "max_connections: 2",
		"detect_url: rtsp://admin@" + srv.RTSPAddr() + "/stream2   # guessed, not probed", "Tapo pattern, not probed"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the report lacks %q:\n%s", want, stdout)
		}
	}
	if st := srv.Stats("stream1"); st.MaxOpen != 2 || st.Refused != 1 || st.Total != 3 {
		t.Errorf("camsim: %d open at most, %d refused, %d admitted; want 2, 1 and 3 (the probe, then two)", st.MaxOpen, st.Refused, st.Total)
	}

	// A wrong password: a failure that says so, and nothing else to see.
	bad := writeFile(t, "bad", "wrong-Password")
	code, stdout, stderr = runSplit("probe", "rtsp://admin@"+srv.RTSPAddr()+"/stream1", "--password-file", bad)
	if code != exitFailure || stdout != "" || !strings.Contains(stderr, "401") || strings.Contains(stderr, "wrong-Password") {
		t.Errorf("a wrong password: exit %d, %q %q", code, stdout, stderr)
	}
	testkit.Eventually(t, 5*time.Second, "no probe process left", func() bool { return len(probeChildren()) == 0 })
}

// TestGuessSubStream: the well-known main-stream patterns CAMERAS.md
// lists give their sub-streams; the user and query stay, nothing else is
// guessed.
func TestGuessSubStream(t *testing.T) {
	for main, want := range map[string]string{
		"rtsp://u@10.0.0.5:554/Streaming/Channels/101":                 "rtsp://u@10.0.0.5:554/Streaming/Channels/102",
		"rtsp://u@10.0.0.5/Streaming/Channels/201":                     "rtsp://u@10.0.0.5/Streaming/Channels/202",
		"rtsp://u@10.0.0.5/h264/ch1/main/av_stream":                    "rtsp://u@10.0.0.5/h264/ch1/sub/av_stream",
		"rtsp://u@10.0.0.5:554/cam/realmonitor?channel=1&subtype=0":    "rtsp://u@10.0.0.5:554/cam/realmonitor?channel=1&subtype=1",
		"rtsp://u@10.0.0.5:554/stream1":                                "rtsp://u@10.0.0.5:554/stream2",
		"rtsp://u@10.0.0.5:554/h265Preview_01_main":                    "rtsp://u@10.0.0.5:554/h265Preview_01_sub",
		"rtsp://u@10.0.0.5:554/Preview_01_main":                        "rtsp://u@10.0.0.5:554/Preview_01_sub",
		"rtsp://u@10.0.0.5:554/media/video1":                           "rtsp://u@10.0.0.5:554/media/video2",
		"rtsp://u@10.0.0.5:554/unicast/c1/s0/live":                     "rtsp://u@10.0.0.5:554/unicast/c1/s1/live",
		"rtsp://u@10.0.0.5/axis-media/media.amp?videocodec=h264":       "rtsp://u@10.0.0.5/axis-media/media.amp?resolution=640x360&videocodec=h264",
		"rtsp://u@10.0.0.5:554/live/main":                              "",
		"rtsp://u@10.0.0.5:554/cam/realmonitor?channel=1&subtype=1":    "",
		"rtsp://u:secret@10.0.0.5:554/Streaming/Channels/101?x=secret": "rtsp://u:secret@10.0.0.5:554/Streaming/Channels/102?x=secret",
	} {
		if got, _ := guessSubStream(main); got != want {
			t.Errorf("%s: %q, want %q", main, got, want)
		}
	}
}

// TestProbeFailureReadsTheStatus: the probe words a refusal from the
// status ffmpeg reports, not from digits anywhere in its lines — the
// relay's random token, its port and ffmpeg's pointer spell "401" or
// "404" about once in a hundred runs, and a camera that refused a third
// connection with 453 was then reported as refusing the password. The
// lines are ffmpeg 5.1's, as it printed them through the relay.
func TestProbeFailureReadsTheStatus(t *testing.T) {
	for _, c := range []struct {
		tail []string
		want string
	}{
		{[]string{"[rtsp @ 0x558ae5cd39c0] method OPTIONS failed: 453 Not Enough Bandwidth",
			"rtsp://127.0.0.1:42041/4d87d0ee7fc08553dc00a2bad28401fc/stream1: Server returned 4XX Client Error, but not one of 40{0,1,3,4}"}, "453"},
		{[]string{"[rtsp @ 0x5640401b39c0] method OPTIONS failed: 453 Not Enough Bandwidth",
			"rtsp://127.0.0.1:40404/16ece605a7149f15c2140bf072b88c/stream1: Server returned 4XX Client Error, but not one of 40{0,1,3,4}"}, "453"},
		{[]string{"[rtsp @ 0x559ae7cb19c0] method OPTIONS failed: 401 Unauthorized",
			"rtsp://127.0.0.1:39355/e51f268959ecea6240f0544dc4d9ee1b/stream1: Server returned 401 Unauthorized (authorization failed)"}, "401"},
		{[]string{"[rtsp @ 0x5572e126d9c0] method DESCRIBE failed: 404 Not Found",
			"rtsp://127.0.0.1:45301/0fe00b964880fab7c2ace3cde589058a/nothere: Server returned 404 Not Found"}, "404"},
		{[]string{"[rtsp @ 0x5625300529c0] method OPTIONS failed: 503 camera unreachable: Connection refused (dial tcp 127.0.0.1:4010: connect: connection refused)",
			"rtsp://127.0.0.1:39355/ea846f4784cb41ad69d23e9c1835328b/x: Server returned 5XX Server Error reply"}, "5xx"},
		{[]string{"rtsp://127.0.0.1:40100/a401b/x: Server returned 401 Unauthorized (authorization failed)"}, "401"},
		{[]string{"rtsp://127.0.0.1:40100/a401b/x: Connection timed out"}, "Connection timed out"},
	} {
		if got := probeFailure(c.tail); !strings.Contains(got, c.want) {
			t.Errorf("%q: %q, want it to say %s", c.tail, got, c.want)
		}
	}
}
