package camsim

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// newServer starts a server on ephemeral loopback ports and closes it when
// the test ends.
func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.RTSPAddr == "" {
		opts.RTSPAddr = "127.0.0.1:0"
	}
	if opts.HTTPAddr == "" {
		opts.HTTPAddr = "127.0.0.1:0"
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return s
}

// uniqueName is a camera name no other test (or concurrent test run) uses,
// so leftover processes can be found by it in /proc.
func uniqueName(t *testing.T) string {
	t.Helper()
	base := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name())
	return fmt.Sprintf("%s-%d-%08x", base, os.Getpid(), rand.Uint32())
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// dial is Dial with a deadline, failing the test on error.
func dial(t *testing.T, url string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// nextFrame is NextFrame with a deadline, failing the test on error.
func nextFrame(t *testing.T, c *Client) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f, err := c.NextFrame(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// decode decodes a JPEG and checks its size.
func decode(t *testing.T, b []byte, w, h int) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode %d-byte frame: %v", len(b), err)
	}
	if got := img.Bounds().Size(); got != image.Pt(w, h) {
		t.Fatalf("frame is %v, want %dx%d", got, w, h)
	}
	return img
}

// ffmpegPath finds ffmpeg or skips the test.
func ffmpegPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	return p
}

// ffmpegSnapshotArgs are camvisor's snapshot arguments for url (see
// snapshotArgs in camvisor/actors).
func ffmpegSnapshotArgs(url string, timeoutMicros int) []string {
	return []string{"-nostdin", "-hide_banner", "-loglevel", "error",
		"-rtsp_transport", "tcp", "-timeout", fmt.Sprint(timeoutMicros),
		"-skip_frame", "nokey", "-threads", "1", "-analyzeduration", "1", "-probesize", "32768",
		"-i", url, "-frames:v", "1", "-f", "image2pipe", "-c:v", "mjpeg", "-threads", "1", "pipe:1"}
}

// ffmpegRun is one ffmpeg process a test started.
type ffmpegRun struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	started        time.Time
	done           chan struct{} // closed when Wait has returned
	err            error         // Wait's result
	elapsed        time.Duration // from start to exit
}

// startFFmpeg starts ffmpeg with args (no shell). When the test ends it
// kills ffmpeg if still running and checks in /proc that no ffmpeg whose
// command line contains marker is left.
func startFFmpeg(t *testing.T, marker string, args ...string) *ffmpegRun {
	t.Helper()
	r := &ffmpegRun{cmd: exec.Command(ffmpegPath(t), args...), done: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	r.started = time.Now()
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start ffmpeg: %v", err)
	}
	go func() {
		r.err = r.cmd.Wait()
		r.elapsed = time.Since(r.started)
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = r.cmd.Process.Kill()
			<-r.done
		}
		if left := procsMatching("ffmpeg", marker); len(left) > 0 {
			t.Errorf("ffmpeg processes left for %s: %v", marker, left)
		}
	})
	return r
}

// wait waits for ffmpeg to exit, within a deadline, and returns Wait's
// result.
func (r *ffmpegRun) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(within):
		_ = r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("ffmpeg still running after %v; stderr: %s", within, r.stderr.String())
		return nil
	}
}

// running reports whether ffmpeg has not exited yet.
func (r *ffmpegRun) running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// procsMatching lists pids whose argv[0] ends in name and whose command
// line contains marker.
func procsMatching(name, marker string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		argv := strings.Split(string(b), "\x00")
		if filepath.Base(argv[0]) == name && bytes.Contains(b, []byte(marker)) {
			var pid int
			fmt.Sscan(filepath.Base(d), &pid)
			pids = append(pids, pid)
		}
	}
	return pids
}

// goroutines waits for the goroutine count to settle at or below want.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), want, buf[:n])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
