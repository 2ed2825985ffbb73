package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"camvisor/actors"
	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/go2rtc/go2rtctest"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

var update = flag.Bool("update", false, "rewrite the golden answers in testdata/golden from what the server answers now")

// TestGoldenAnswers calls every endpoint of API.md on a running camvisor
// and compares each answer with its golden file in testdata/golden: the
// status, the content type, and the JSON body with its volatile values
// (times, pids, ports, durations, run ids) replaced by placeholders of the
// same JSON type. A renamed, missing, added or retyped field, or null
// where a value was (and back), fails the test. go test -run
// TestGoldenAnswers ./web/ -update rewrites the files.
//
// The stack is set up so that every answer is the same from run to run
// and shows both forms of what may be null: three cameras, one captured
// and watched live (front), one that saw motion (yard) and one that hangs
// (attic: its ffmpeg runs through the test, and has no capture yet).
func TestGoldenAnswers(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front", Mode: camsim.ModeStatic},
		camsim.Camera{Name: "yard", Mode: camsim.ModeMotion}, camsim.Camera{Name: "attic", Hang: true})
	g2 := go2rtctest.New(t, go2rtctest.Options{})
	var running *config.Config
	var next func() (*config.Config, error)
	st := startStackWith(t, cams, func(cfg *config.Config) {
		cfg.Go2RTC.URL = g2.URL()
		cfg.Go2RTC.Lease = config.D(time.Minute)
		cfg.FFmpeg.CaptureTimeout = config.D(2 * time.Minute) // attic's ffmpeg runs until restarted
		cfg.Playback.Labels = []string{"person"}              // motion is an event, never a playback
		cfg.Detector.MinScore = 0.01
		cfg.Record.SampleInterval = config.D(100 * time.Millisecond)
		lab := cfg.Subnets[0]
		lab.Via = config.ViaFFmpeg // one ffmpeg per capture: attic's hangs
		lab.Cameras = slices.DeleteFunc(slices.Clone(lab.Cameras), func(c config.Camera) bool { return c.ID == "attic" })
		cfg.Subnets = []config.Subnet{lab, {Name: "loft", Interval: config.D(time.Hour), Concurrency: 1, Via: config.ViaFFmpeg,
			Cameras: []config.Camera{{ID: "attic", URL: cams.URL("attic"), MaxConnections: 2, Queue: 8}}}}
		running = cfg
	}, stackOptions{load: func() (*config.Config, error) { return next() }})
	g := &goldens{t: t, st: st, dir: filepath.Join("testdata", "golden")}

	// The first cycle of lab ends; attic's capture hangs in its ffmpeg.
	testkit.WaitFor(t, st.facts, testkit.Start, 20*time.Second, "lab's first cycle", func(e *messages.CycleEnded) bool { return e.Subnet == "lab" })
	testkit.Eventually(t, 10*time.Second, "attic's ffmpeg alone running", func() bool {
		procs := testkit.FFmpeg(st.env.RunID)
		return len(procs) == 1 && strings.Contains(procs[0].Owner, "attic")
	})
	g.check("healthz", "GET", "/healthz", "", 200)
	g.check("login", "POST", "/api/login", fmt.Sprintf(`{"token":%q}`, st.token), 204)

	g.check("capture", "POST", "/api/cameras/front/capture", "", 200)
	// yard's frames differ: motion, an event.
	for i := 0; count(st, func(*messages.EventOpened) bool { return true }) == 0; i++ {
		if i == 10 {
			t.Fatal("10 captures of yard opened no event")
		}
		if resp, body := st.do("POST", "/api/cameras/yard/capture", nil, true); resp.StatusCode != 200 {
			t.Fatalf("capture yard: %d %s", resp.StatusCode, body)
		}
	}
	var events struct{ Events []event }
	testkit.Eventually(t, 10*time.Second, "the event in the record", func() bool {
		st.get("/api/events", &events)
		return len(events.Events) == 1
	})
	testkit.Eventually(t, 10*time.Second, "every camera sampled", func() bool {
		return st.dbInt("SELECT COUNT(DISTINCT camera) FROM process_samples") == 3
	})
	g.check("live_start", "POST", "/api/cameras/front/live", "", 200)

	g.check("status", "GET", "/api/status", "", 200)
	g.check("cameras", "GET", "/api/cameras", "", 200)
	g.check("camera_unknown", "GET", "/api/cameras/nosuch/snapshot.jpg", "", 404)
	g.check("camera_snapshot", "GET", "/api/cameras/front/snapshot.jpg", "", 200)
	g.check("actors", "GET", "/api/actors", "", 200)
	g.check("processes", "GET", "/api/processes", "", 200)
	g.check("events", "GET", "/api/events", "", 200)
	g.check("event_snapshot", "GET", events.Events[0].Snapshot, "", 200)
	g.check("samples", "GET", "/api/samples?since=1h&step=24h", "", 200)
	g.check("cycles", "GET", "/api/cycles?since=1h", "", 200)
	g.check("report", "GET", "/api/report.html", "", 200)
	g.check("backup", "GET", "/api/db/backup", "", 200)
	g.check("metrics", "GET", "/metrics", "", 200)
	g.check("cluster", "GET", "/api/cluster", "", 200)
	g.check("method_not_allowed", "POST", "/api/status", "", 405)

	g.check("live_stop", "DELETE", "/api/cameras/front/live", "", 200)
	g.check("restart", "POST", "/api/cameras/attic/restart", "", 200)

	// A maintenance pause: asked, listed, refused captures, ended.
	g.check("pause", "POST", "/api/cameras/yard/pause", `{"for": "1h", "reason": "lens cleaning"}`, 200)
	g.check("pause_bad_duration", "POST", "/api/cameras/yard/pause", `{"for": "forever"}`, 400)
	g.check("cameras_paused", "GET", "/api/cameras", "", 200)
	g.check("capture_paused", "POST", "/api/cameras/yard/capture", "", 409)
	g.check("resume", "POST", "/api/cameras/yard/resume", "", 200)
	g.check("resume_not_paused", "POST", "/api/cameras/yard/resume", "", 409)

	// The record cannot be written for a while (SQLite's own disk-full
	// error): record_write_failing fires, then resolves.
	var pages int
	if err := st.store.DB.Get(&pages, "PRAGMA page_count"); err != nil {
		t.Fatal(err)
	}
	mark := st.facts.Mark()
	if _, err := st.store.DB.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, st.facts, mark, 20*time.Second, "the record failing", func(e *messages.RecorderHealth) bool { return !e.Healthy })
	testkit.Eventually(t, 10*time.Second, "record_write_failing firing", func() bool {
		return st.alertState("record_write_failing") == messages.AlertFiring
	})
	g.check("alerts_firing", "GET", "/api/alerts", "", 200)
	if _, err := st.store.DB.Exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, st.facts, mark, 60*time.Second, "the record recovered", func(e *messages.RecorderHealth) bool { return e.Healthy })
	testkit.Eventually(t, 10*time.Second, "record_write_failing resolved", func() bool {
		return st.alertState("record_write_failing") == messages.AlertResolved
	})
	g.check("alerts", "GET", "/api/alerts", "", 200)

	// A reload that touches every list of its answer: a camera added in a
	// new subnet, one removed with its subnet, one removed, one changed,
	// and a section that waits for a restart.
	changed := *running
	changed.FFmpeg.KillGrace = config.D(running.FFmpeg.KillGrace.Duration + time.Second)
	lab := running.Subnets[0]
	lab.Cameras = slices.Clone(lab.Cameras)
	lab.Cameras = slices.DeleteFunc(lab.Cameras, func(c config.Camera) bool { return c.ID == "yard" })
	lab.Cameras[0].MaxConnections = 3
	changed.Subnets = []config.Subnet{lab, {Name: "outside", Interval: config.D(time.Hour), Concurrency: 1,
		Cameras: []config.Camera{{ID: "porch", URL: cams.URL("front"), MaxConnections: 2, Queue: 8}}}}
	if err := changed.Validate(); err != nil {
		t.Fatal(err)
	}
	next = func() (*config.Config, error) { return &changed, nil }
	g.check("reload", "POST", "/api/config/reload", "", 200)
	next = func() (*config.Config, error) {
		return nil, errors.New(`camvisor.yaml: subnets[0].cameras[0].max_connections: -1 is not from 1 to 64`)
	}
	g.check("reload_rejected", "POST", "/api/config/reload", "", 422)
	g.check("logout", "POST", "/api/logout", "", 204)
}

// goldens compares answers with their golden files.
type goldens struct {
	t   *testing.T
	st  *stack
	dir string
}

// answer is what a golden file holds: an answer with its volatile values
// replaced.
type answer struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	Body        any    `json:"body,omitempty"` // JSON answers only
}

// check asks method path (with the token, and body as JSON when set),
// wants status, and compares the answer with the golden file name.json.
func (g *goldens) check(name, method, path, body string, status int) {
	g.t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	resp, data := g.st.do(method, path, b, true)
	if resp.StatusCode != status {
		g.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, status, data)
	}
	got := answer{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type")}
	if strings.HasPrefix(got.ContentType, "application/json") {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			g.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
		got.Body = g.normalize("", v)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		g.t.Fatal(err)
	}
	text := buf.Bytes()
	file := filepath.Join(g.dir, name+".json")
	if *update {
		if err := os.MkdirAll(g.dir, 0o755); err != nil {
			g.t.Fatal(err)
		}
		if err := os.WriteFile(file, text, 0o644); err != nil {
			g.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		g.t.Fatalf("%s (run with -update to write it): %v", file, err)
	}
	if !bytes.Equal(text, want) {
		g.t.Errorf("%s %s differs from %s:\n%s", method, path, file, lineDiff(string(want), string(text)))
	}
}

var (
	portRE  = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	eventRE = regexp.MustCompile(`/api/events/\d+/`)
	// timeRE is a UTC time within a text (a refusal that says until when).
	timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
)

// volatile are the numeric fields whose values differ from run to run:
// an integer reads 0, a fraction 0.5 (an integer field turned float, or
// back, shows). Numbers elsewhere keep their values.
var volatile = map[string]bool{
	// durations, ages and sizes
	"uptime_s": true, "duration_ms": true, "capture_p50_ms": true, "capture_p95_ms": true, "age_s": true,
	"uncontended_ms": true, "last_cycle_duration_ms": true, "bytes": true, "stall_timeout_ms": true,
	// process ids
	"os_pid": true, "ppid": true, "pgid": true, "killed": true,
	// what the admission decides now, what the census and the sweep saw
	// (other tests' ffmpegs run beside this one), what waits to be written
	"limit": true, "running": true, "waiting": true, "processes": true, "slots_held": true, "ffmpeg_processes": true,
	"Foreign": true, "Unowned": true, "Untagged": true, "queued": true,
	// what the detector saw; event ids are times
	"score": true, "box": true, "detections": true, "id": true, "event_id": true,
}

// wording are the text fields whose words differ from run to run.
var wording = map[string]bool{"detail": true}

// normalize replaces the volatile values of v, found under key.
func (g *goldens) normalize(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = g.normalize(k, e)
		}
		if key == "" && x["processes"] != nil { // GET /api/processes: this run's only
			var mine []any
			for _, p := range x["processes"].([]any) {
				if p.(map[string]any)["run"] == g.st.env.RunID {
					mine = append(mine, g.normalize("", p))
				}
			}
			out["processes"] = mine
		}
		if key == "" && x["samples"] != nil { // per day: whether a test crosses midnight does not matter
			out["samples"] = unique(out["samples"].([]any))
		}
		return out
	case []any:
		if key == "argv" && len(x) > 0 { // a command line: its words are ffmpeg's business
			return []any{"<argv>"}
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = g.normalize(key, e)
		}
		return out
	case json.Number:
		switch {
		case !volatile[key]:
			return x
		case strings.ContainsAny(string(x), ".eE"):
			return json.Number("0.5")
		}
		return json.Number("0")
	case string:
		switch {
		case wording[key]:
			return "<text>"
		case isTime(x):
			return timeShape(x)
		}
		x = strings.ReplaceAll(x, g.st.env.RunID, "<run>")
		x = strings.ReplaceAll(x, filepath.Dir(g.st.env.Config.DB), "<tmp>")
		x = portRE.ReplaceAllString(x, "127.0.0.1:<port>")
		if host, _ := os.Hostname(); host != "" && x == host { // a single node's name (GET /api/cluster)
			return "<host>"
		}
		x = eventRE.ReplaceAllString(x, "/api/events/<id>/")
		x = timeRE.ReplaceAllString(x, "<time>")
		if key == "state" && len(x) == 1 { // a process's state letter in /proc
			return "<proc-state>"
		}
		return x
	}
	return v
}

// isTime reports whether s is an RFC 3339 time in UTC.
func isTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil && strings.HasSuffix(s, "Z")
}

// timeShape names a time's precision: the record's times have
// milliseconds, the tree's nanoseconds (trailing zeros cut), a few whole
// seconds; an answer that changed one for another shows.
func timeShape(s string) string {
	_, frac, ok := strings.Cut(strings.TrimSuffix(s, "Z"), ".")
	switch {
	case !ok:
		return "<time>"
	case len(frac) == 3:
		return "<time.ms>"
	}
	return "<time.ns>"
}

// unique keeps the first of equal elements.
func unique(xs []any) []any {
	var out []any
	seen := map[string]bool{}
	for _, x := range xs {
		b, _ := json.Marshal(x)
		if !seen[string(b)] {
			seen[string(b)] = true
			out = append(out, x)
		}
	}
	return out
}

// lineDiff shows the lines of want missing from got (-) and the lines of
// got not in want (+), by their longest common subsequence.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	// lcs[i][j] is the longest common subsequence of w[i:] and g[j:].
	lcs := make([][]int, len(w)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(g)+1)
	}
	for i := len(w) - 1; i >= 0; i-- {
		for j := len(g) - 1; j >= 0; j-- {
			if w[i] == g[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	i, j := 0, 0
	for i < len(w) || j < len(g) {
		switch {
		case i < len(w) && j < len(g) && w[i] == g[j]:
			i, j = i+1, j+1
		case j < len(g) && (i == len(w) || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&b, "+ %4d %s\n", j+1, g[j])
			j++
		default:
			fmt.Fprintf(&b, "- %4d %s\n", i+1, w[i])
			i++
		}
	}
	return b.String()
}

// TestGoldenWire encodes one fact of every kind a dashboard receives
// (API.md, "WebSocket") and compares the messages with
// testdata/golden/ws.json. The facts are fixed values, their times in a
// zone other than UTC: nothing needs normalizing.
func TestGoldenWire(t *testing.T) {
	zone := time.FixedZone("CET", 3600)
	at := time.Date(2026, 11, 26, 10, 30, 15, 123456789, zone)
	facts := []struct {
		name string
		fact any
	}{
		{"camera_new", &actors.CameraView{Camera: "front", Subnet: "lab", MaxConnections: 2}},
		{"camera", &actors.CameraView{Camera: "front", Subnet: "lab", SlotsFFmpeg: 1, SlotsGo2RTC: 1, SlotsLease: 1, SlotsExternal: 1,
			MaxConnections: 4, Queue: 3, Failing: true, ConsecutiveFailures: 5, NextProbe: at.Add(time.Minute), Busy: true,
			LastOutcome: messages.OutcomeTimeout, LastVia: "ffmpeg", LastCaptureAt: at, LastCapture: 1500 * time.Millisecond,
			LastError: "no frame", FrameAt: at.Add(-time.Second), Recent: []actors.RecentCapture{
				{Outcome: messages.OutcomeOK, Via: "go2rtc", At: at.Add(-time.Second), Duration: 80 * time.Millisecond},
				{Outcome: messages.OutcomeTimeout, At: at, Duration: 1500 * time.Millisecond}}}},
		{"event", &messages.EventOpened{ID: 1764149415123456, Camera: "yard", Subnet: "lab", At: at, Label: "person", Score: 0.87,
			Box: messages.Box{10, 20, 110, 220}, Detector: "http", CaptureKey: "yard-1-3", Width: 640, Height: 360}},
		{"event_updated", &messages.EventUpdated{ID: 1764149415123456, Camera: "yard", LastSeen: at, Score: 0.91, Detections: 3}},
		{"play", &messages.PlaybackStarted{Camera: "yard", Subnet: "lab", PlayerURL: "http://127.0.0.1:1984/stream.html?src=camvisor_yard",
			Until: at.Add(time.Minute), Reason: "person 0.87", EventID: 1764149415123456, Extended: true}},
		{"stop", &messages.PlaybackStopped{Camera: "yard", Reason: "lease over", At: at}},
		{"cycle", &messages.CycleEnded{Subnet: "lab", Number: 42, StartedAt: at, EndedAt: at.Add(2500 * time.Millisecond),
			Interval: 10 * time.Second, OK: 3, Failed: 1, TimedOut: 2, Skipped: 1, Overran: true, Why: "slow cameras"}},
		{"alert", &messages.AlertChanged{Rule: "camera_failing", Subject: "front", State: messages.AlertResolved, FirstSeen: at,
			LastSeen: at.Add(time.Minute), ResolvedAt: at.Add(time.Minute), Detail: "5 captures failed"}},
		{"reload", &messages.ConfigReloaded{At: at, Who: "signal SIGHUP", Outcome: messages.ReloadApplied, Added: []string{"porch"},
			Removed: []string{"attic"}, Changed: []string{"front"}, AddedSubnets: []string{"outside"}, Restart: []string{"ffmpeg"},
			Lines: []string{"camera porch: added to subnet outside"}}},
		{"reload_rejected", &messages.ConfigReloaded{At: at, Who: "api 127.0.0.1:5000", Outcome: messages.ReloadRejected, Error: "subnets[0]: no name"}},
		{"admission", &messages.AdmissionChanged{Limit: 2, Running: 2, Waiting: 5, At: at}},
		{"pong", actors.ClientPong{}},
		{"camera_paused", &actors.CameraView{Camera: "front", Subnet: "lab", MaxConnections: 2, State: messages.StatePaused,
			Pause: &messages.Pause{ID: 1764149415123456, Camera: "front", By: "session 3f9a0c1e", Reason: "lens cleaning",
				From: at, Until: at.Add(time.Hour)}}},
	}
	got := map[string]any{}
	for _, f := range facts {
		data, ok := Wire.Encode(f.fact)
		if !ok {
			t.Fatalf("%s: not encoded", f.name)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v: %s", f.name, err, data)
		}
		got[f.name] = v
	}
	if _, ok := Wire.Encode(&messages.CaptureDone{}); ok {
		t.Error("a fact dashboards do not receive was encoded")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("testdata", "golden", "ws.json")
	if *update {
		if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%s (run with -update to write it): %v", file, err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("the dashboards' messages differ from %s:\n%s", file, lineDiff(string(want), buf.String()))
	}
}
