package actors

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/db"
)

// BenchmarkOwnCostPerCapture measures camvisor's own CPU per capture, and
// where it goes, as an operator would see it: the camvisor binary (info
// logs as JSON to a file, the record, the HTTP server with web.pprof on)
// patrols camsim's cameras (640×352 MJPEG, camsim in its own process) at
// a load the machine carries; after a cycle to warm up, Go's CPU profile
// is taken from GET /debug/pprof/profile for the measured window, and
// /proc gives camvisor's own CPU and its reaped ffmpeg children's over
// the same window. The profile's samples are sorted into stages
// (costStages) and each stage's share is turned into CPU per capture.
// Two runs: the detector off, and motion on (its own cost is the
// detector's stage: work the operator asked for, not overhead).
//
//	make bench-cost
//	go test -run '^$' -bench OwnCostPerCapture -benchtime 1x ./actors/
//
// CAMVISOR_BENCH_CAMERAS (default 200), CAMVISOR_BENCH_INTERVAL (20s: 10
// captures/s) and CAMVISOR_BENCH_WINDOW (30s) set the load and the
// window; CAMVISOR_BENCH_BINARY runs another camvisor build (one with
// web.pprof, to compare a change with what came before it);
// CAMVISOR_BENCH_PROFILES keeps the profiles in that directory
// (go tool pprof -top FILE reads one).
func BenchmarkOwnCostPerCapture(b *testing.B) {
	testkit.RequireFFmpeg(b)
	cameras := envInt("CAMVISOR_BENCH_CAMERAS", 200)
	interval := envDuration("CAMVISOR_BENCH_INTERVAL", 20*time.Second)
	window := envDuration("CAMVISOR_BENCH_WINDOW", 30*time.Second)
	bin := os.Getenv("CAMVISOR_BENCH_BINARY")
	if bin == "" {
		bin = testkit.Binary(b, "camvisor/cmd/camvisor")
	}
	addr, _ := startBigCamsim(b, cameras, 0)
	fmt.Printf("\ncamvisor's own CPU per capture: %d cameras every %s (%.1f captures/s asked), %s measured after a cycle, 640x352 MJPEG, %d CPUs, load %s\n",
		cameras, interval, float64(cameras)/interval.Seconds(), window, runtime.NumCPU(), loadAvg())
	for _, kind := range []string{"off", "motion"} {
		r := costRun(b, bin, addr, cameras, interval, window, kind)
		fmt.Printf("\ndetector %s: %d good captures in %s (%.1f/s); per capture: camvisor %.2f ms CPU, its ffmpeg %.1f ms (camvisor %.1f %% of ffmpeg); load after %s\n",
			kind, r.good, window, float64(r.good)/window.Seconds(), r.selfMS(), r.ffmpegMS(), 100*r.selfMS()/r.ffmpegMS(), loadAvg())
		r.printStages(os.Stdout)
		b.ReportMetric(r.selfMS(), "camvisor-ms/capture-detector-"+kind)
		if kind == "motion" {
			b.ReportMetric(r.stageMS("detector"), "detector-ms/capture")
		}
	}
}

// costResult is one run of BenchmarkOwnCostPerCapture.
type costResult struct {
	good         int
	self, ffmpeg time.Duration // over the window: camvisor's own CPU, and its reaped children's
	stages       map[string]time.Duration
	sampled      time.Duration // the profile's total
}

func (r costResult) selfMS() float64 {
	return 1000 * r.self.Seconds() / float64(max(r.good, 1))
}

func (r costResult) ffmpegMS() float64 {
	return 1000 * r.ffmpeg.Seconds() / float64(max(r.good, 1))
}

// stageMS is a stage's CPU per capture: its share of the profile times
// camvisor's CPU per capture as /proc counted it.
func (r costResult) stageMS(stage string) float64 {
	if r.sampled == 0 {
		return 0
	}
	return r.selfMS() * float64(r.stages[stage]) / float64(r.sampled)
}

func (r costResult) printStages(w io.Writer) {
	fmt.Fprintf(w, "  %-44s %8s %14s\n", "stage (Go CPU profile)", "share", "ms per capture")
	for _, s := range costStages {
		if r.stages[s.name] == 0 {
			continue
		}
		fmt.Fprintf(w, "  %-44s %7.1f%% %14.3f\n", s.name, 100*float64(r.stages[s.name])/float64(r.sampled), r.stageMS(s.name))
	}
	fmt.Fprintf(w, "  %-44s %7.1f%% %14.3f  (profile: %s sampled)\n", "total", 100.0, r.selfMS(), r.sampled.Round(10*time.Millisecond))
}

// costRun runs the binary with the detector of kind and measures one
// window.
func costRun(b *testing.B, bin, addr string, cameras int, interval, window time.Duration, kind string) costResult {
	const token = "bench-token-0123456789abcdef"
	dir := b.TempDir()
	dbPath := filepath.Join(dir, "camvisor.db")
	port := freePort(b)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "listen: 127.0.0.1:%s\ndb: %s\nauth: { token: %s }\nweb: { pprof: true }\ndetector: { kind: %s }\n", port, dbPath, token, kind)
	fmt.Fprintf(&cfg, "ffmpeg: { capture_timeout: 10s, kill_grace: 2s }\nrecord: { queue_rows: 100000 }\nsubnets:\n")
	perSubnet := 100
	for s := 0; s*perSubnet < cameras; s++ {
		fmt.Fprintf(&cfg, "  - name: sub%d\n    interval: %s\n    concurrency: 4\n    cameras:\n", s, interval)
		for i := s*perSubnet + 1; i <= min(cameras, (s+1)*perSubnet); i++ {
			fmt.Fprintf(&cfg, "      - { id: cam%04d, url: \"rtsp://admin:%s@%s/cam%04d\", max_connections: 2 }\n", i, testkit.CamsimPassword, addr, i)
		}
	}
	cfgPath := filepath.Join(dir, "camvisor.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "camvisor.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			<-done
			b.Error("camvisor did not stop within 2 minutes of SIGTERM")
		}
	}
	defer stop()
	testkit.NoProcessesLeft(b, "the cost benchmark", func() []osproc.Info { return testkit.FFmpegOfHome(dbPath) })
	base := "http://127.0.0.1:" + port
	testkit.Eventually(b, 30*time.Second, "camvisor answering", func() bool { _, err := httpGet(base + "/healthz"); return err == nil })

	store, err := db.OpenReadOnly(dbPath)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	good := func(from, to time.Time) int {
		var n int
		store.DB.Get(&n, "SELECT COUNT(*) FROM captures WHERE outcome = 'ok' AND ended_at >= ? AND ended_at < ?",
			from.UTC().Format(db.TimeFormat), to.UTC().Format(db.TimeFormat))
		return n
	}
	// A whole cycle to warm up: every camera seen once, every actor and
	// buffer made.
	warm := time.Now()
	testkit.Eventually(b, interval+time.Minute, "a cycle's captures", func() bool { return good(warm.Add(-time.Hour), time.Now()) >= cameras })
	time.Sleep(interval / 4) // into the steady state: the load shape, not a wait for a condition

	self0, kids0 := procTimes(cmd.Process.Pid)
	from := time.Now()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, int(window.Seconds())), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	profile, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	to := time.Now()
	self1, kids1 := procTimes(cmd.Process.Pid)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("profile: %s: %.300s", resp.Status, profile)
	}
	stop() // every process reaped, every row written
	r := costResult{good: good(from, to), self: self1 - self0, ffmpeg: kids1 - kids0}
	profPath := filepath.Join(dir, "cpu-"+kind+".pprof")
	if keep := os.Getenv("CAMVISOR_BENCH_PROFILES"); keep != "" {
		os.MkdirAll(keep, 0o755)
		profPath = filepath.Join(keep, fmt.Sprintf("cpu-%s-%s.pprof", kind, time.Now().Format("150405")))
	}
	if err := os.WriteFile(profPath, profile, 0o644); err != nil {
		b.Fatal(err)
	}
	r.stages, r.sampled = profileStages(b, profPath)
	return r
}

// procTimes are a process's own user+system CPU time and that of its
// children it has waited for (/proc/PID/stat: utime, stime, cutime,
// cstime).
func procTimes(pid int) (self, children time.Duration) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	// The command may hold spaces: fields count from after its ')'.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	tick := func(i int) time.Duration {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		return time.Duration(v) * (time.Second / 100)
	}
	// f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
	return tick(11) + tick(12), tick(13) + tick(14)
}

// costStages sort a CPU profile's samples by what they were for. A
// sample belongs to the stage of the frame nearest its leaf that matches
// one of the stages' function prefixes (a log line written by the camera
// actor is logging; an allocation in the hub is fan-out); one that
// matches none of them goes to the first of the fallbacks its stack
// matches, from the leaf too.
var costStages = []struct {
	name     string
	prefixes []string
	fallback bool
}{
	{name: "logging", prefixes: []string{"log/slog.", "github.com/lmittmann/tint."}},
	{name: "relay", prefixes: []string{"camvisor/actors/rtsprelay.", "camvisor/actors/camauth."}},
	{name: "/proc: admission (schedstat, /proc/stat)", prefixes: []string{"camvisor/actors/osproc.ReadSched", "camvisor/actors.(*cpuSampler)",
		"camvisor/actors.(*ffmpegActor).onIdleCheck"}},
	{name: "/proc: census, sweeps, metrics", prefixes: []string{"camvisor/actors/osproc.Scan", "camvisor/actors/osproc.stats",
		"camvisor/actors/osproc.read", "camvisor/actors/osproc.Read", "camvisor/actors/osproc.CPUTime", "camvisor/actors.(*reaperActor)"}},
	{name: "spawn, read, reap (os/exec)", prefixes: []string{"camvisor/actors/osproc.", "camvisor/actors.(*process)",
		"camvisor/actors.(*ffmpegActor)", "camvisor/actors.ffmpegProps", "camvisor/actors.snapshotArgs", "camvisor/actors.inputArgs",
		"os/exec.", "os.StartProcess", "syscall.forkExec", "syscall.StartProcess"}},
	{name: "detector", prefixes: []string{"camvisor/actors/detect.", "camvisor/actors.(*detectorActor)", "camvisor/actors.detectorProps",
		"camvisor/actors.startWorker", "camvisor/actors.(*worker"}},
	{name: "recorder (SQLite)", prefixes: []string{"camvisor/db.", "github.com/mattn/go-sqlite3", "github.com/jmoiron/sqlx",
		"database/sql.", "camvisor/actors.(*recorderActor)", "camvisor/actors.recorded", "_cgo"}},
	{name: "WebSocket fan-out (hub, wire)", prefixes: []string{"camvisor/actors.(*hubActor)", "camvisor/actors.hubWants",
		"camvisor/actors.(*wsClient", "camvisor/web.", "github.com/gorilla/websocket"}},
	{name: "metrics, alerts", prefixes: []string{"camvisor/actors.(*metricsActor)", "camvisor/actors.metricsWant", "camvisor/actors.(*Metrics)",
		"github.com/prometheus", "camvisor/actors.(*alertsActor)", "camvisor/actors.alertsWant"}},
	{name: "admission", prefixes: []string{"camvisor/actors.(*admissionActor)", "camvisor/actors.AdmissionPolicy"}},
	{name: "camera, subnet, patrol actors", prefixes: []string{"camvisor/actors.(*cameraActor)", "camvisor/actors.(*subnetActor)",
		"camvisor/actors.(*patrolActor)", "camvisor/actors.cameraProps"}},
	{name: "facts on the event stream", prefixes: []string{"camvisor/actors.forward", "github.com/asynkron/protoactor-go/eventstream."}},
	{name: "HTTP server", prefixes: []string{"net/http."}, fallback: true},
	{name: "actor runtime (mailboxes, messages)", prefixes: []string{"github.com/asynkron/protoactor-go"}, fallback: true},
	{name: "Go runtime: GC", prefixes: []string{"runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcStart",
		"runtime.forEachG", "runtime.markroot"}, fallback: true},
	{name: "Go runtime: scheduler, timers, other", prefixes: []string{""}, fallback: true},
}

// stageOf is the stage of a sample whose stack is frames, leaf first.
func stageOf(frames []string) string {
	for _, fallback := range []bool{false, true} {
		for _, f := range frames {
			for _, s := range costStages {
				if s.fallback != fallback {
					continue
				}
				for _, p := range s.prefixes {
					if strings.HasPrefix(f, p) {
						return s.name
					}
				}
			}
		}
	}
	return costStages[len(costStages)-1].name
}

// profileStages reads a CPU profile with `go tool pprof -traces` and sums
// its samples by stage.
func profileStages(b *testing.B, path string) (map[string]time.Duration, time.Duration) {
	out, err := exec.Command(goTool(), "tool", "pprof", "-traces", path).Output()
	if err != nil {
		b.Fatalf("go tool pprof -traces %s: %v", path, err)
	}
	stages := map[string]time.Duration{}
	var total time.Duration
	var value time.Duration
	var frames []string
	flush := func() {
		if value > 0 {
			stages[stageOf(frames)] += value
			total += value
		}
		value, frames = 0, frames[:0]
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(line, " ") {
			continue // the header
		}
		if d, err := time.ParseDuration(f[0]); err == nil && len(f) >= 2 && !strings.HasPrefix(line, "            ") {
			value = d
			frames = append(frames, f[1])
			continue
		}
		frames = append(frames, f[0])
	}
	flush()
	return stages, total
}

// goTool is the go command: the one in PATH (go test's), else Go's
// usual place.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// loadAvg is the machine's 1-minute load average, for the figures' record.
func loadAvg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
