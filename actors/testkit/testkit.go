// Package testkit holds what camvisor's tests share: waiting on conditions
// with deadlines, counting processes in /proc (never trusting camvisor's own
// bookkeeping), and starting camsim cameras. Only tests import it.
package testkit

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"camvisor/actors/osproc"
)

// Eventually polls cond until it holds or timeout passes, then fails t
// naming what it waited for.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s still waiting for: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RunID returns a run id unique to this test, for tagging its processes.
func RunID(t testing.TB) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return fmt.Sprintf("test-%s-%s", name, hex.EncodeToString(b))
}

// FFmpeg lists the ffmpeg processes in /proc (zombies included: an
// unreaped process is not gone) whose CAMVISOR_RUN is run.
func FFmpeg(run string) []osproc.Info {
	var out []osproc.Info
	for _, p := range osproc.Scan("ffmpeg") {
		if p.Run == run {
			out = append(out, p)
		}
	}
	return out
}

// FFmpegMatching lists the ffmpeg processes whose command line contains s
// (a camsim port is unique to a test), tagged or not.
func FFmpegMatching(s string) []osproc.Info {
	var out []osproc.Info
	for _, p := range osproc.Scan("ffmpeg") {
		if strings.Contains(strings.Join(p.Argv, " "), s) {
			out = append(out, p)
		}
	}
	return out
}

// FFmpegOfHome lists the ffmpeg processes (zombies included) tagged with
// CAMVISOR_HOME home: a camvisor binary's children, whatever its run id.
// Their command lines name no camera (see actors/rtsprelay), so they are
// found by their tag.
func FFmpegOfHome(home string) []osproc.Info {
	var out []osproc.Info
	for _, p := range osproc.Scan("ffmpeg") {
		if p.Home == home {
			out = append(out, p)
		}
	}
	return out
}

// PerCamera counts processes by the camera in their owner path.
func PerCamera(procs []osproc.Info) map[string]int {
	out := map[string]int{}
	for _, p := range procs {
		out[p.Camera()]++
	}
	return out
}

// NoProcessesLeft registers a cleanup that fails t if any ffmpeg process
// selected by list is still in /proc, then kills them so one failed test
// does not leave work for the next.
func NoProcessesLeft(t testing.TB, what string, list func() []osproc.Info) {
	t.Helper()
	t.Cleanup(func() {
		left := list()
		for _, p := range left {
			_ = osproc.KillGroup(p)
		}
		if len(left) > 0 {
			t.Errorf("%d ffmpeg processes of %s left in /proc: %s", len(left), what, Describe(left))
		}
	})
}

// Describe formats processes for a failure message.
func Describe(procs []osproc.Info) string {
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "\n  pid %d state %s owner %s", p.PID, p.State, p.Owner)
	}
	return b.String()
}

var (
	buildOnce sync.Map // binary name -> *builtBinary
)

type builtBinary struct {
	once sync.Once
	path string
	err  error
}

// Binary builds the command at pkg ("camvisor/cmd/camvisor") once per test
// process and returns its path.
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	v, _ := buildOnce.LoadOrStore(pkg, &builtBinary{})
	b := v.(*builtBinary)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "camvisor-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(pkg))
		out, err := exec.Command("go", "build", "-o", b.path, pkg).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// RequireFFmpeg fails (not skips: a skipped test is not a passing one) when
// ffmpeg is missing.
func RequireFFmpeg(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is not installed: run `make deps` (apt-get install ffmpeg)")
	}
}

// SyncBuffer is a bytes.Buffer safe to read while a process or logger
// writes to it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// RecordingTB is a testing.TB whose Errorf is recorded instead of failing
// the test: for checking that a stand-in fails the tests of a client that
// misbehaves.
type RecordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

// Errorf records the message.
func (r *RecordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// Errors returns the messages recorded so far.
func (r *RecordingTB) Errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}
