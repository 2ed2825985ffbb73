package actors

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/db"
)

// BenchmarkAdaptivePatrol measures the machine-wide admission against the
// limit of the machine, from outside as an operator would: the camvisor
// binary patrols 1,000 camsim cameras (640×352, camsim in its own process)
// in 10 subnets of 100 at a 60 s interval, concurrency 4 each, for
// CAMVISOR_BENCH_MINUTES (default 3), is stopped with SIGTERM, and the
// figures come from its record and /proc. First, in the same run, one
// isolated snapshot's cost gives the machine's limit L = CPUs / CPU per
// snapshot. Then the same with 100 of the cameras hung: once their
// breakers opened they spawn at most one probe per back-off period each,
// and the other 900 keep their pace.
func BenchmarkAdaptivePatrol(b *testing.B) {
	testkit.RequireFFmpeg(b)
	minutes := 3.0
	if v, err := strconv.ParseFloat(os.Getenv("CAMVISOR_BENCH_MINUTES"), 64); err == nil && v > 0 {
		minutes = v
	}
	window := time.Duration(minutes * float64(time.Minute))

	addr, stop := startBigCamsim(b, 1000, 0)
	wall, slowest, cpu := isolatedSnapshot(b, addr, "cam0001")
	stop()
	limit := float64(runtime.NumCPU()) / cpu.Seconds()
	fmt.Printf("\nadaptive patrol, %d CPUs\n", runtime.NumCPU())
	fmt.Printf("isolated snapshot: %s wall (the slowest of 30: %s), %.3f CPU-s: the machine's limit L = %.1f snapshots/s\n",
		wall.Round(time.Millisecond), slowest.Round(time.Millisecond), cpu.Seconds(), limit)

	// 1,000 cameras every 60 s ask for 16.7 snapshots/s: where the machine
	// can do more, the patrol's demand is the bound, not the machine.
	demand := 1000 / 60.0
	bound := min(limit, demand)
	healthy := patrolRun(b, 1000, 0, window)
	fmt.Printf("1,000 cameras, %s: %s\n", window, healthy)
	fmt.Printf("  good captures/s = %.2f = %.2f × L, %.2f × min(L, demand %.1f/s) (goal ≥ 0.85); process p50 %s = %.1f × isolated wall (goal ≤ 3); timeouts %d (goal 0); ffmpeg left after SIGTERM %d (goal 0)\n",
		healthy.rate(), healthy.rate()/limit, healthy.rate()/bound, demand, healthy.p50.Round(time.Millisecond), healthy.p50.Seconds()/wall.Seconds(), healthy.timeouts, healthy.left)
	fmt.Printf("  CPU per capture: ffmpeg %.3f s, camvisor %.4f s (isolated snapshot %.3f s)\n",
		healthy.ffmpegCPU.Seconds(), healthy.selfCPU.Seconds(), cpu.Seconds())

	// Overload: the same 1,000 cameras every CAMVISOR_BENCH_OVERLOAD_INTERVAL
	// (20 s: 50 snapshots/s asked of a machine that does about 30). The
	// limit that counts is what the CPUs leave after camsim's own share
	// (its RTSP serving is the cameras' work, not the machine's for
	// camvisor).
	overInterval := envDuration("CAMVISOR_BENCH_OVERLOAD_INTERVAL", 20*time.Second)
	over := patrolRunEvery(b, 1000, 0, window, overInterval)
	left := (float64(runtime.NumCPU()) - over.camsimCPUs) / cpu.Seconds()
	fmt.Printf("1,000 cameras every %s (%.0f/s asked), %s: %s\n", overInterval, 1000/overInterval.Seconds(), window, over)
	fmt.Printf("  camsim used %.2f CPUs: the limit left L' = %.1f snapshots/s; good captures/s = %.2f = %.2f × L' (goal ≥ 0.85); process p50 %s = %.1f × the isolated median, p99 %s = %.1f × the isolated slowest (goal ≤ 2), %.1f × the isolated median; camvisor %.4f s CPU per capture\n",
		over.camsimCPUs, left, over.rate(), over.rate()/left, over.p50.Round(time.Millisecond), over.p50.Seconds()/wall.Seconds(),
		over.p99.Round(time.Millisecond), over.p99.Seconds()/slowest.Seconds(), over.p99.Seconds()/wall.Seconds(), over.selfCPU.Seconds())
	b.ReportMetric(over.rate()/left, "overload×L'")
	b.ReportMetric(over.p99.Seconds()/slowest.Seconds(), "overload-p99/isolated-slowest")

	hung := patrolRun(b, 900, 100, window)
	fmt.Printf("900 cameras + 100 hung, %s: %s\n", window, hung)
	fmt.Printf("  good captures/s = %.2f (%.2f of the healthy run); hung cameras' processes after their breakers opened: %d in %s (%d hung cameras, at most one probe per back-off period each)\n",
		hung.rate(), hung.rate()/healthy.rate(), hung.hungProcesses, hung.afterOpen.Round(time.Second), 100)
	b.ReportMetric(healthy.rate()/bound, "×min(L,demand)")
	b.ReportMetric(healthy.p50.Seconds()/wall.Seconds(), "p50/isolated")
}

// startBigCamsim runs camsim as its own process with plain cameras
// cam0001..cam<plain> and hung ones hung001..hung<hung>, at 640×352.
func startBigCamsim(b *testing.B, plain, hung int) (addr string, stop func()) {
	addr, stop, _ = startBigCamsimPID(b, plain, hung)
	return addr, stop
}

// startBigCamsimPID is startBigCamsim, with camsim's pid.
func startBigCamsimPID(b *testing.B, plain, hung int) (addr string, stop func(), pid int) {
	bin := testkit.Binary(b, "camvisor/cmd/camsim")
	port := freePort(b)
	args := []string{"-rtsp", "127.0.0.1:" + port, "-http", "", "-user", "admin", "-pass", testkit.CamsimPassword,
		"-size", "640x352", "-cameras", strconv.Itoa(plain)}
	for i := 1; i <= hung; i++ {
		args = append(args, "-camera", fmt.Sprintf("hung%03d,hang", i))
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	b.Cleanup(stop)
	addr = "127.0.0.1:" + port
	testkit.Eventually(b, 10*time.Second, "camsim listening", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr, stop, cmd.Process.Pid
}

// isolatedSnapshot takes 30 snapshots one after another and returns the
// median wall time and CPU time of one, and the slowest one's wall time:
// a capture waits for the camera's next frame (up to 200 ms at camsim's
// 5 fps), so even alone its wall time spreads.
func isolatedSnapshot(b *testing.B, addr, camera string) (wall, slowest, cpu time.Duration) {
	cfg := config.Defaults()
	url := fmt.Sprintf("rtsp://admin:%s@%s/%s", testkit.CamsimPassword, addr, camera)
	var walls, cpus []time.Duration
	for range 30 {
		cmd := exec.Command(cfg.FFmpeg.Path, snapshotArgs(cfg.FFmpeg, snapshotJob{}, url, false)...)
		start := time.Now()
		out, err := cmd.Output()
		if err != nil || !isJPEG(out) {
			b.Fatalf("isolated snapshot: %v", err)
		}
		walls = append(walls, time.Since(start))
		cpus = append(cpus, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	return walls[len(walls)/2], walls[len(walls)-1], cpus[len(cpus)/2]
}

// patrolResult is what one patrol run's record and /proc showed.
type patrolResult struct {
	good, timeouts, skipped, backoff int
	span                             time.Duration // from the first capture's end to the stop
	p50, p99                         time.Duration // process wall time of good captures
	ffmpegCPU, selfCPU               time.Duration // per good capture
	left                             int           // ffmpeg processes in /proc after SIGTERM
	camsimCPUs                       float64       // camsim's CPU over the window, in CPUs
	hungProcesses                    int           // processes of hung cameras after the last breaker opened
	afterOpen                        time.Duration
}

func (r patrolResult) rate() float64 { return float64(r.good) / r.span.Seconds() }

func (r patrolResult) String() string {
	return fmt.Sprintf("%d good captures in %s (%.2f/s), p50 %s p99 %s, %d timeouts, %d skipped, %d backoff",
		r.good, r.span.Round(time.Second), r.rate(), r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.timeouts, r.skipped, r.backoff)
}

// patrolRun runs the camvisor binary against a fresh camsim with plain and
// hung cameras for window, stops it with SIGTERM and reads the figures.
func patrolRun(b *testing.B, plain, hung int, window time.Duration) patrolResult {
	return patrolRunEvery(b, plain, hung, window, time.Minute)
}

// patrolRunEvery is patrolRun with the subnets' interval.
func patrolRunEvery(b *testing.B, plain, hung int, window, interval time.Duration) patrolResult {
	addr, stopCamsim, camsimPID := startBigCamsimPID(b, plain, hung)
	defer stopCamsim()
	var names []string
	for i := 1; i <= plain; i++ {
		names = append(names, fmt.Sprintf("cam%04d", i))
	}
	for i := 1; i <= hung; i++ {
		names = append(names, fmt.Sprintf("hung%03d", i))
	}
	// Spread the hung cameras over the subnets, as they would be.
	slices.SortFunc(names, func(x, y string) int { return strings.Compare(x[len(x)-2:], y[len(y)-2:]) })
	dir := b.TempDir()
	dbPath := filepath.Join(dir, "camvisor.db")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "listen: 127.0.0.1:0\ndb: %s\nffmpeg: { capture_timeout: 10s, kill_grace: 2s }\nrecord: { queue_rows: 100000 }\nsubnets:\n", dbPath)
	for s := range 10 {
		fmt.Fprintf(&cfg, "  - name: sub%d\n    interval: %s\n    concurrency: 4\n    cameras:\n", s, interval)
		for _, n := range names[s*len(names)/10 : (s+1)*len(names)/10] {
			fmt.Fprintf(&cfg, "      - { id: %s, url: \"rtsp://admin:%s@%s/%s\", max_connections: 2 }\n", n, testkit.CamsimPassword, addr, n)
		}
	}
	cfgPath := filepath.Join(dir, "camvisor.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(testkit.Binary(b, "camvisor/cmd/camvisor"), "run", "--config", cfgPath)
	log, err := os.Create(filepath.Join(dir, "camvisor.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	// Its ffmpeg processes read the cameras through the relay: found by
	// their installation tag, not by the camera's address.
	mine := func() []osproc.Info { return testkit.FFmpegOfHome(dbPath) }
	testkit.NoProcessesLeft(b, "the patrol benchmark", mine)
	camsim0 := processCPU(camsimPID)
	time.Sleep(window) // the load shape: a timed run
	selfCPU := processCPU(cmd.Process.Pid)
	camsimCPU := processCPU(camsimPID) - camsim0
	stopped := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		b.Fatal("camvisor did not stop within 2 minutes of SIGTERM")
	}
	r := patrolResult{left: len(mine()), camsimCPUs: camsimCPU.Seconds() / window.Seconds()}

	store, err := db.OpenReadOnly(dbPath)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	var first string
	store.DB.Get(&first, "SELECT MIN(ended_at) FROM captures WHERE outcome = 'ok'")
	if t0, err := time.Parse(db.TimeFormat, first); err == nil {
		r.span = stopped.Sub(t0)
	}
	store.DB.Get(&r.good, "SELECT COUNT(*) FROM captures WHERE outcome = 'ok'")
	store.DB.Get(&r.timeouts, "SELECT COUNT(*) FROM captures WHERE outcome = 'timeout' AND camera NOT LIKE 'hung%'")
	store.DB.Get(&r.skipped, "SELECT COUNT(*) FROM captures WHERE outcome = 'skipped'")
	store.DB.Get(&r.backoff, "SELECT COUNT(*) FROM captures WHERE outcome = 'backoff'")
	var durations []int64
	store.DB.Select(&durations, "SELECT duration_ms FROM processes WHERE stop_reason = 'done' AND exit_code = 0 ORDER BY duration_ms")
	if len(durations) > 0 {
		r.p50 = time.Duration(durations[len(durations)/2]) * time.Millisecond
		r.p99 = time.Duration(durations[len(durations)*99/100]) * time.Millisecond
	}
	var cpuMS int64
	store.DB.Get(&cpuMS, "SELECT COALESCE(SUM(cpu_ms), 0) FROM processes")
	if r.good > 0 {
		r.ffmpegCPU = time.Duration(cpuMS) * time.Millisecond / time.Duration(r.good)
		r.selfCPU = selfCPU / time.Duration(r.good)
	}
	if hung > 0 {
		var opened string
		store.DB.Get(&opened, "SELECT MAX(state_at) FROM cameras WHERE id LIKE 'hung%' AND breaker = 'open'")
		if t, err := time.Parse(db.TimeFormat, opened); err == nil {
			r.afterOpen = stopped.Sub(t)
			store.DB.Get(&r.hungProcesses, "SELECT COUNT(*) FROM processes WHERE camera LIKE 'hung%' AND started_at > ?", opened)
		}
	}
	return r
}

// processCPU is the user+system time /proc shows for pid.
func processCPU(pid int) time.Duration {
	cpu, _ := osproc.CPUTime(pid)
	return cpu
}
