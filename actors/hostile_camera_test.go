package actors

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim/hostile"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// hostilePassword needs escaping in a URL, so that its escaped forms
// differ from it and are looked for too.
const hostilePassword = "h0stile-P@ss/w:rd"

// hostileRun is one tree patrolling one hostile camera, recording to
// SQLite, with its log kept.
type hostileRun struct {
	*harness
	cam  *hostile.Server
	db   string
	logs *testkit.SyncBuffer
}

// hostileCapture time budget: the capture's deadline, and the kill grace
// of its process. The patrol never runs: the subnet's interval is an hour
// and its first cycle is the operator's capture's only company.
const (
	hostileDeadline  = 2 * time.Second
	hostileKillGrace = 500 * time.Millisecond
	hostileMaxConn   = 2
)

// startHostileRun starts a hostile camera on listen (default: any free
// loopback port) and a tree for it.
func startHostileRun(t *testing.T, mode hostile.Mode, location, listen string) *hostileRun {
	t.Helper()
	cam, err := hostile.New(hostile.Options{Mode: mode, User: "admin", Pass: hostilePassword, Location: location, Listen: listen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cam.Close() })
	cfg := config.Defaults()
	cfg.FFmpeg.CaptureTimeout = config.D(hostileDeadline)
	cfg.FFmpeg.KillGrace = config.D(hostileKillGrace)
	cfg.FFmpeg.RTSPTimeout = config.D(time.Minute) // only camvisor's deadline ends a capture
	cfg.DB = filepath.Join(t.TempDir(), "camvisor.db")
	cfg.Subnets = []config.Subnet{{Name: "lab", Interval: config.D(time.Hour), Concurrency: 1,
		Cameras: []config.Camera{{ID: "evil", URL: cam.URL("cam"), MaxConnections: hostileMaxConn, Queue: config.DefaultQueue}}}}
	run := &hostileRun{cam: cam, db: cfg.DB, logs: &testkit.SyncBuffer{}}
	run.harness = startTreeWith(t, nil, cfg, func(env *Env) {
		env.Record = true
		env.Log = slog.New(slog.NewTextHandler(run.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("camvisor log:\n%s", run.logs.String())
		}
	})
	return run
}

// captureWithinBudget asks for a capture and checks that the answer came
// within the capture's deadline plus the kill grace (and a margin for a
// loaded machine), the camera's connections within its budget, and that
// no process of the camera is left.
func (r *hostileRun) captureWithinBudget() *messages.CaptureDone {
	t := r.t
	t.Helper()
	r.waitCamera("lab", "evil")
	start := time.Now()
	res := r.capture("lab", "evil", 30*time.Second)
	took := time.Since(start)
	if limit := hostileDeadline + hostileKillGrace + 1500*time.Millisecond; took > limit {
		t.Errorf("the capture took %s (%s, %q); its deadline and kill grace allow %s", took.Round(time.Millisecond), res.Outcome, res.Error, limit)
	}
	testkit.Eventually(t, 5*time.Second, "no ffmpeg of the camera left", func() bool { return len(r.ffmpegOf("evil")) == 0 })
	if st := r.cam.Stats(); st.MaxOpen > hostileMaxConn {
		t.Errorf("the camera saw %d connections at once; its budget is %d", st.MaxOpen, hostileMaxConn)
	}
	return res
}

// noSecretStored shuts the tree down and looks for the camera's
// credentials, in every form, in the record (database, WAL) and the log.
func (r *hostileRun) noSecretStored() {
	t := r.t
	t.Helper()
	r.shutdown()
	secrets := map[string]string{
		"password":                hostilePassword,
		"password, path-escaped":  url.PathEscape(hostilePassword),
		"password, query-escaped": url.QueryEscape(hostilePassword),
		"base64 of user:pass":     base64.StdEncoding.EncodeToString([]byte("admin:" + hostilePassword)),
		"base64url of user:pass":  base64.URLEncoding.EncodeToString([]byte("admin:" + hostilePassword)),
		"raw base64 of user:pass": base64.RawStdEncoding.EncodeToString([]byte("admin:" + hostilePassword)),
	}
	for _, a := range r.cam.Authorizations() {
		if _, proof, ok := strings.Cut(a, `response="`); ok {
			if i := strings.IndexByte(proof, '"'); i > 0 {
				secrets["Digest response "+proof[:i]] = proof[:i]
			}
		}
	}
	texts := map[string][]byte{"the log": []byte(r.logs.String())}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if data, err := os.ReadFile(r.db + suffix); err == nil {
			texts[filepath.Base(r.db+suffix)] = data
		}
	}
	if len(texts) < 2 {
		t.Error("no record was written")
	}
	for where, text := range texts {
		for what, s := range secrets {
			if bytes.Contains(text, []byte(s)) {
				t.Errorf("%s holds the camera's %s", where, what)
			}
		}
	}
}

// TestHostileCameras: a camera that answers each way a broken or
// malicious one does, through the relay, with the tree's real camera
// actor and ffmpeg: every capture ends within its deadline plus the kill
// grace, the camera never sees more than its budget of connections, no
// process is left, and its credentials, in no form, reach the record or
// the log.
func TestHostileCameras(t *testing.T) {
	testkit.RequireFFmpeg(t)
	type row struct {
		name     string
		mode     hostile.Mode
		location func(self string, bystander string) string
	}
	var rows []row
	for _, m := range hostile.Modes {
		if m != hostile.Redirect {
			rows = append(rows, row{name: string(m), mode: m})
		}
	}
	for _, scheme := range []string{"satip", "rtsp", "rtsps", "http", "tcp", "file"} {
		rows = append(rows, row{name: "redirect-" + scheme + "-elsewhere", mode: hostile.Redirect,
			location: func(_, b string) string { return scheme + "://" + b + "/elsewhere" }})
	}
	rows = append(rows, row{name: "redirect-to-itself", mode: hostile.Redirect,
		location: func(self, _ string) string { return "rtsp://" + self + "/again" }})
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			by := testkit.Bystander(t)
			location, listen := "", ""
			if tc.location != nil {
				// A camera redirecting to itself names its address before
				// it listens: a free port, taken a moment later.
				listen = freeLoopback(t)
				location = tc.location(listen, by.Addr())
			}
			startHostileRun(t, tc.mode, location, listen).check(tc.mode)
			if n := by.Connections(); n != 0 {
				t.Errorf("the redirect's target saw %d connections", n)
			}
		})
	}
}

func (r *hostileRun) check(mode hostile.Mode) {
	res := r.captureWithinBudget()
	if res.Outcome == messages.OutcomeOK {
		r.t.Errorf("a capture from a %s camera succeeded", mode)
	}
	r.t.Logf("%s: %s: %.200s", mode, res.Outcome, res.Error)
	r.noSecretStored()
}

// freeLoopback is a loopback address with a port free a moment ago.
func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRedirectNeverEscapesRelay: whatever a camera's 3xx names — another
// host in rtsp://, satip:// (which Debian's ffmpeg follows on its own), a
// scheme ffmpeg does not speak — a listener there sees no connection from
// a capture of the tree, and the capture fails within its budget.
func TestRedirectNeverEscapesRelay(t *testing.T) {
	testkit.RequireFFmpeg(t)
	for _, scheme := range []string{"rtsp", "rtsps", "satip", "http", "https", "rtmp", "tcp", "udp", "tls"} {
		t.Run(scheme, func(t *testing.T) {
			by := testkit.Bystander(t)
			run := startHostileRun(t, hostile.Redirect, scheme+"://"+by.Addr()+"/elsewhere", "")
			res := run.captureWithinBudget()
			// On a loaded machine the retry may time out instead: the
			// relay's refusal is in the log either way.
			if res.Outcome == messages.OutcomeOK || !strings.Contains(run.logs.String(), "rtsp relay refused a camera's redirect") {
				t.Errorf("capture: %s %q, want a failure, and the relay's refusal of the redirect in the log", res.Outcome, res.Error)
			}
			if n := by.Connections(); n != 0 {
				t.Errorf("the redirect's target saw %d connections", n)
			}
		})
	}
}
