package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/testkit"
)

// TestMain lets the benchmark run this test binary as camsim itself
// (CAMSIM_AS_MAIN=1), so camsim's CPU is measured in its own process.
func TestMain(m *testing.M) {
	if os.Getenv("CAMSIM_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-size", "320x250"}, `invalid value "320x250" for flag -size`},
		{[]string{"-size", "big"}, `invalid value "big" for flag -size`},
		{[]string{"-camera", "c1,max=two"}, `invalid value "c1,max=two" for flag -camera: camera spec "c1,max=two": option max`},
		{[]string{"-camera", "c1,mode=fancy"}, `invalid value "c1,mode=fancy" for flag -camera`},
		{[]string{"-fps", "0"}, `invalid value "0" for flag -fps`},
		{[]string{"-fps", "fast"}, `invalid value "fast" for flag -fps`},
		{[]string{"-cameras", "-3"}, `invalid value "-3" for flag -cameras`},
		{[]string{"-quality", "101"}, `invalid value "101" for flag -quality`},
		{[]string{"-codec", "h265"}, `invalid value "h265" for flag -codec`},
		{[]string{"-camera", "c1,codec=vp8"}, `invalid value "c1,codec=vp8" for flag -camera`},
		{[]string{"-camera", "c1,gop=1m"}, `invalid value "c1,gop=1m" for flag -camera`},
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var stdout, stderr testkit.SyncBuffer
		err := run(context.Background(), tc.args, &stdout, &stderr)
		if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%q: %v, stderr %q; want usage error with %q", tc.args, err, firstLine(stderr.String()), tc.msg)
		}
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-rtsp", "0.0.0.0:0"}, "-allow-remote"},
		{[]string{"-http", "192.0.2.1:8555"}, "-allow-remote"},
		{[]string{"-config", "/nonexistent/cams.json"}, "flag -config"},
		{[]string{"-camera", "a", "-camera", "a"}, "camera a is defined twice"},
	} {
		var stdout, stderr testkit.SyncBuffer
		err := run(context.Background(), tc.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: %v, want an error with %q", tc.args, err, tc.msg)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var stdout, stderr testkit.SyncBuffer
	if err := run(context.Background(), []string{"-help"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-help: %v", err)
	}
	for _, f := range []string{"-rtsp", "-http", "-user", "-pass", "-size", "-fps", "-camera", "-cameras",
		"-config", "-allow-remote", "-quality", "-v", "-codec", "-ffmpeg", "max=N", "hang", "slow=DUR", "drop=DUR", "refuse", "mode",
		"codec", "gop=DUR"} {
		if !strings.Contains(stderr.String(), f) {
			t.Errorf("help does not mention %s", f)
		}
	}
}

// startRun runs camsim in-process until the test ends and returns its
// output once it is ready.
func startRun(t *testing.T, args ...string) *testkit.SyncBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testkit.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stdout.String(), "ready\n") {
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v; stderr: %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("camsim not ready; stderr: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return &stdout
}

func TestRunServesConfiguredCameras(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "cams.json")
	if err := os.WriteFile(cfgFile, []byte(`{"cameras":[{"name":"door","max_connections":1,"slow":"100ms","mode":"static"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := startRun(t, "-rtsp", "127.0.0.1:0", "-http", "127.0.0.1:0", "-size", "160x96", "-fps", "7",
		"-user", "u", "-pass", "p", "-config", cfgFile, "-camera", "gate,hang", "-cameras", "2")
	var statsURL string
	urls := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "camera":
			urls[f[1]] = f[2]
		case len(f) == 2 && f[0] == "stats":
			statsURL = f[1]
		}
	}
	for _, name := range []string{"door", "gate", "cam0001", "cam0002"} {
		if !strings.HasPrefix(urls[name], "rtsp://u:p@127.0.0.1:") || !strings.HasSuffix(urls[name], "/"+name) {
			t.Errorf("camera %s: URL %q", name, urls[name])
		}
	}
	res, err := http.Get(strings.TrimSuffix(statsURL, "/stats") + "/cameras")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var cams []camsim.Camera
	if err := json.NewDecoder(res.Body).Decode(&cams); err != nil {
		t.Fatal(err)
	}
	want := map[string]camsim.Camera{
		"door":    {Name: "door", MaxConnections: 1, Slow: camsim.Duration(100 * time.Millisecond), Mode: camsim.ModeStatic, FPS: 7, Codec: camsim.CodecMJPEG},
		"gate":    {Name: "gate", Hang: true, Mode: camsim.ModePattern, FPS: 7, Codec: camsim.CodecMJPEG},
		"cam0001": {Name: "cam0001", Mode: camsim.ModePattern, FPS: 7, Codec: camsim.CodecMJPEG},
		"cam0002": {Name: "cam0002", Mode: camsim.ModePattern, FPS: 7, Codec: camsim.CodecMJPEG},
	}
	if len(cams) != len(want) {
		t.Fatalf("cameras %+v", cams)
	}
	for _, c := range cams {
		if c != want[c.Name] {
			t.Errorf("camera %+v, want %+v", c, want[c.Name])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := camsim.Dial(ctx, urls["door"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.NextFrame(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestBinaryStopsOnSIGTERM runs camsim as a process of its own and stops
// it the way a test harness or an operator does.
func TestBinaryStopsOnSIGTERM(t *testing.T) {
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		cmd := exec.Command(os.Args[0], "-rtsp", "127.0.0.1:0", "-http", "127.0.0.1:0", "-cameras", "3")
		cmd.Env = append(os.Environ(), "CAMSIM_AS_MAIN=1")
		if os.Getenv("GORACE") == "" {
			// A -race binary otherwise sleeps a second before exiting.
			cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0")
		}
		var stdout testkit.SyncBuffer
		cmd.Stdout = &stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		exited := make(chan struct{}) // closed once Wait has returned
		var waitErr error
		go func() { waitErr = cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				t.Errorf("camsim pid %d still in /proc", pid)
			}
		})
		deadline := time.Now().Add(10 * time.Second)
		for !strings.HasSuffix(stdout.String(), "ready\n") {
			if time.Now().After(deadline) {
				t.Fatalf("camsim not ready: %q", stdout.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if lines := strings.Count(stdout.String(), "\n"); lines != 5 {
			t.Errorf("camsim printed %q, want 3 cameras, the stats address and ready", stdout.String())
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		signalled := time.Now()
		select {
		case <-exited:
			if waitErr != nil {
				t.Errorf("after %v: %v", sig, waitErr)
			}
			t.Logf("camsim exited %v after %v", time.Since(signalled).Round(time.Millisecond), sig)
		case <-time.After(5 * time.Second):
			t.Fatalf("camsim still running 5s after %v", sig)
		}
	}
}

// BenchmarkThousandCameras measures camsim's cost with 1,000 cameras, each
// watched by one connection, in a camsim process of its own, once with
// MJPEG cameras and once with H.264 ones (2 s GOP):
//
//	go test -run '^$' -bench ThousandCameras -benchtime 1x ./cmd/camsim/
//
// CAMSIM_BENCH_SECONDS sets the measured time (default 10) and
// CAMSIM_BENCH_MODE the picture mode (default pattern). It reports camsim's
// CPU seconds per wall second and RSS, idle and watched, and the frames the
// clients received.
func BenchmarkThousandCameras(b *testing.B) {
	for _, codec := range []camsim.Codec{camsim.CodecMJPEG, camsim.CodecH264} {
		b.Run(string(codec), func(b *testing.B) { benchThousandCameras(b, codec) })
	}
}

func benchThousandCameras(b *testing.B, codec camsim.Codec) {
	const cameras = 1000
	seconds := 10
	if s, err := strconv.Atoi(os.Getenv("CAMSIM_BENCH_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	mode := os.Getenv("CAMSIM_BENCH_MODE")
	if mode == "" {
		mode = "pattern"
	}
	args := []string{"-rtsp", "127.0.0.1:0", "-http", "", "-config", writeBenchConfig(b, cameras, mode, codec)}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CAMSIM_AS_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	started := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	pid := cmd.Process.Pid
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			b.Errorf("camsim pid %d still in /proc", pid)
		}
	})
	var urls []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "ready" {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "camera" {
			urls = append(urls, f[2])
		}
	}
	ready := time.Since(started)
	go io.Copy(io.Discard, stdout)
	if len(urls) != cameras {
		b.Fatalf("camsim printed %d camera URLs", len(urls))
	}

	measure := func(d time.Duration) (cpuPerSec float64) {
		c0, t0 := procCPU(b, pid), time.Now()
		time.Sleep(d) // measuring a rate over wall time; nothing to wait for
		return (procCPU(b, pid) - c0) / time.Since(t0).Seconds()
	}
	b.ResetTimer()
	idleCPU := measure(2 * time.Second)
	idleRSS := procRSS(b, pid)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var frames, failures atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // dial in parallel, not all at once
	dialStart := time.Now()
	for _, u := range urls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
			c, err := camsim.Dial(dctx, u)
			dcancel()
			<-sem
			if err != nil {
				failures.Add(1)
				return
			}
			defer c.Close()
			for {
				if _, err := c.NextFrame(ctx); err != nil {
					return
				}
				frames.Add(1)
			}
		}()
	}
	for len(sem) > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	dialTime := time.Since(dialStart)
	time.Sleep(time.Second) // let every sender start before measuring
	f0 := frames.Load()
	t0 := time.Now()
	watchedCPU := measure(time.Duration(seconds) * time.Second)
	fps := float64(frames.Load()-f0) / time.Since(t0).Seconds()
	watchedRSS := procRSS(b, pid)
	b.StopTimer()
	cancel()
	wg.Wait()
	if n := failures.Load(); n > 0 {
		b.Errorf("%d of %d clients failed to connect", n, cameras)
	}
	b.ReportMetric(idleCPU, "idle-cpu-s/s")
	b.ReportMetric(idleRSS/1e6, "idle-rss-MB")
	b.ReportMetric(watchedCPU, "cpu-s/s")
	b.ReportMetric(watchedRSS/1e6, "rss-MB")
	b.ReportMetric(fps, "frames/s")
	b.Logf("%d %s %s cameras, ready in %v (H.264: its loop encoded), one client each, dialled in %v: camsim %.3f CPU s/s and %.0f MB RSS watched (idle %.3f CPU s/s, %.0f MB); clients got %.0f frames/s",
		cameras, codec, mode, ready.Round(time.Millisecond), dialTime.Round(time.Millisecond), watchedCPU, watchedRSS/1e6, idleCPU, idleRSS/1e6, fps)
}

func writeBenchConfig(b *testing.B, n int, mode string, codec camsim.Codec) string {
	type cam struct {
		Name  string       `json:"name"`
		Mode  string       `json:"mode"`
		Codec camsim.Codec `json:"codec"`
	}
	var cfg struct {
		Cameras []cam `json:"cameras"`
	}
	for i := 1; i <= n; i++ {
		cfg.Cameras = append(cfg.Cameras, cam{Name: fmt.Sprintf("cam%04d", i), Mode: mode, Codec: codec})
	}
	data, _ := json.Marshal(cfg)
	path := filepath.Join(b.TempDir(), "cams.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times: 100 on Linux.
const clockTick = 100

// procCPU returns the user plus system CPU seconds of a process.
func procCPU(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTick
}

// procRSS returns the resident set size of a process in bytes.
func procRSS(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
