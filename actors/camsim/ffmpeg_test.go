package camsim

import (
	"syscall"
	"testing"
	"time"
)

// Tests that check camsim against the RTSP client it exists for: Debian's
// ffmpeg 5.1 with camvisor's arguments.

func TestFFmpegSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name       string
		user, pass string
		fps        int
		args       func(url string) []string
	}{
		{name: "camvisor-args", args: func(url string) []string { return ffmpegSnapshotArgs(url, 5000000) }},
		{name: "digest-auth", user: "admin", pass: "s3cret:x", args: func(url string) []string { return ffmpegSnapshotArgs(url, 5000000) }},
		// Without -probesize ffmpeg waits for about 20 frames to estimate the
		// frame rate, so this camera runs at 25 fps to keep the test short.
		{name: "default-probing", fps: 25, args: func(url string) []string {
			return []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
				"-i", url, "-frames:v", "1", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := uniqueName(t)
			s := newServer(t, Options{User: tc.user, Pass: tc.pass, Width: 320, Height: 240,
				Cameras: []Camera{{Name: name, FPS: tc.fps}}})
			r := startFFmpeg(t, name, tc.args(s.URL(name))...)
			if err := r.wait(t, 15*time.Second); err != nil {
				t.Fatalf("ffmpeg: %v; stderr: %s", err, r.stderr.String())
			}
			t.Logf("ffmpeg snapshot took %v", r.elapsed.Round(time.Millisecond))
			decode(t, r.stdout.Bytes(), 320, 240)
			st := s.Stats(name)
			if st.Total != 1 || st.MaxOpen != 1 || st.Refused != 0 {
				t.Errorf("stats %+v, want one connection", st)
			}
			waitFor(t, time.Second, "open back to 0", func() bool { return s.Stats(name).Open == 0 })
		})
	}
}

func TestFFmpegWrongPasswordFails(t *testing.T) {
	name := uniqueName(t)
	s := newServer(t, Options{User: "admin", Pass: "right", Cameras: []Camera{{Name: name}}})
	url := "rtsp://admin:wrong@" + s.RTSPAddr() + "/" + name
	r := startFFmpeg(t, name, ffmpegSnapshotArgs(url, 2000000)...)
	if err := r.wait(t, 10*time.Second); err == nil {
		t.Fatal("ffmpeg succeeded with a wrong password")
	}
	if r.stdout.Len() != 0 {
		t.Errorf("ffmpeg wrote %d bytes", r.stdout.Len())
	}
}

func TestFFmpegHangTimesOut(t *testing.T) {
	name := uniqueName(t)
	s := newServer(t, Options{Cameras: []Camera{{Name: name, Hang: true}}})
	r := startFFmpeg(t, name, ffmpegSnapshotArgs(s.URL(name), 1000000)...)
	waitFor(t, 5*time.Second, "the hung connection to count as open", func() bool {
		return s.Stats(name).Open == 1 || !r.running()
	})
	if !r.running() {
		t.Fatalf("ffmpeg exited before the camera counted it; stderr: %s", r.stderr.String())
	}
	if err := r.wait(t, 5*time.Second); err == nil {
		t.Fatal("ffmpeg succeeded against a hung camera")
	}
	t.Logf("ffmpeg gave up after %v", r.elapsed.Round(time.Millisecond))
	waitFor(t, time.Second, "open back to 0", func() bool { return s.Stats(name).Open == 0 })
	if st := s.Stats(name); st.Total != 1 || st.MaxOpen != 1 {
		t.Errorf("stats %+v, want total 1 max_open 1", st)
	}
}

func TestFFmpegRefused(t *testing.T) {
	name := uniqueName(t)
	s := newServer(t, Options{Cameras: []Camera{{Name: name, Refuse: true}}})
	r := startFFmpeg(t, name, ffmpegSnapshotArgs(s.URL(name), 5000000)...)
	if err := r.wait(t, 5*time.Second); err == nil {
		t.Fatal("ffmpeg succeeded against a refusing camera")
	}
	// A reset, not a silence: ffmpeg gives up long before its 5 s socket
	// timeout (at once on a quiet machine; a busy one only delays it).
	if r.elapsed > 2500*time.Millisecond {
		t.Errorf("ffmpeg took %v to see the reset, as if it had waited for its socket timeout", r.elapsed)
	}
	if st := s.Stats(name); st.Refused != 1 || st.Total != 0 || st.Open != 0 {
		t.Errorf("stats %+v, want refused 1 and nothing else", st)
	}
}

// TestOpenDropsWhenClientProcessDies kills a streaming ffmpeg with SIGKILL
// and expects the camera's count to fall within milliseconds.
func TestOpenDropsWhenClientProcessDies(t *testing.T) {
	name := uniqueName(t)
	s := newServer(t, Options{Cameras: []Camera{{Name: name}}})
	r := startFFmpeg(t, name, "-nostdin", "-hide_banner", "-loglevel", "error",
		"-rtsp_transport", "tcp", "-i", s.URL(name), "-f", "null", "-")
	waitFor(t, 5*time.Second, "ffmpeg to connect", func() bool { return s.Stats(name).Open == 1 })
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-r.done
	exited := time.Now()
	waitFor(t, time.Second, "open back to 0", func() bool { return s.Stats(name).Open == 0 })
	t.Logf("open fell to 0 %v after ffmpeg was reaped", time.Since(exited).Round(time.Microsecond))
}

func TestFFmpegDropEndsStream(t *testing.T) {
	name := uniqueName(t)
	drop := 700 * time.Millisecond
	s := newServer(t, Options{Cameras: []Camera{{Name: name, Drop: Duration(drop)}}})
	r := startFFmpeg(t, name, "-nostdin", "-hide_banner", "-loglevel", "error",
		"-rtsp_transport", "tcp", "-timeout", "3000000", "-i", s.URL(name), "-f", "null", "-")
	_ = r.wait(t, 10*time.Second) // ffmpeg ends with or without error on EOF
	if r.elapsed < drop {
		t.Errorf("ffmpeg ended after %v, before the drop at %v", r.elapsed, drop)
	}
	t.Logf("ffmpeg ended after %v (drop %v)", r.elapsed.Round(time.Millisecond), drop)
	waitFor(t, time.Second, "open back to 0", func() bool { return s.Stats(name).Open == 0 })
}
