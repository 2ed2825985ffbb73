package web

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/go2rtc/go2rtctest"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/messages"

	"github.com/gorilla/websocket"
	"github.com/prometheus/common/expfmt"
)

// do sends a request with or without the token.
func (st *stack) do(method, path string, body []byte, token bool) (*http.Response, []byte) {
	st.t.Helper()
	req, _ := http.NewRequest(method, st.srv.URL()+strings.TrimPrefix(path, "/"), bytes.NewReader(body))
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if token {
		req.Header.Set("Authorization", "Bearer "+st.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		st.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

func TestEveryEndpointNeedsTheToken(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "c"})
	st := startStack(t, cams, nil)
	endpoints := []string{
		"GET /api/status", "GET /api/cameras", "GET /api/cameras/c/snapshot.jpg", "POST /api/cameras/c/capture",
		"POST /api/cameras/c/live", "DELETE /api/cameras/c/live", "POST /api/cameras/c/restart", "POST /api/config/reload", "GET /api/actors",
		"GET /api/processes", "GET /api/events", "GET /api/events/1/snapshot.jpg", "GET /api/samples", "GET /api/cycles",
		"GET /api/alerts", "GET /api/db/backup", "GET /api/report.html", "GET /ws", "GET /api/nonexistent",
	}
	for _, e := range endpoints {
		method, path, _ := strings.Cut(e, " ")
		if resp, body := st.do(method, path, nil, false); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d %s", e, resp.StatusCode, body)
		}
	}
	// Cookie login: a wrong token is refused, the right one opens the API.
	if resp, _ := st.do("POST", "/api/login", []byte(`{"token":"wrong-token-wrong-token"}`), false); resp.StatusCode != 401 {
		t.Errorf("login with a wrong token: %d", resp.StatusCode)
	}
	resp, _ := st.do("POST", "/api/login", []byte(fmt.Sprintf(`{"token":%q}`, st.token)), false)
	if resp.StatusCode != 204 || len(resp.Cookies()) != 1 || !resp.Cookies()[0].HttpOnly {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Cookies())
	}
	req, _ := http.NewRequest("GET", st.srv.URL()+"api/status", nil)
	req.AddCookie(resp.Cookies()[0])
	if r2, err := http.DefaultClient.Do(req); err != nil || r2.StatusCode != 200 {
		t.Errorf("status with the session cookie: %v %v", err, r2)
	}
	if resp, _ := st.do("GET", "/healthz", nil, false); resp.StatusCode != 200 {
		t.Errorf("healthz without a token: %d", resp.StatusCode)
	}
	if resp, body := st.do("GET", "/", nil, false); resp.StatusCode != 200 || !strings.Contains(string(body), "<html") {
		t.Errorf("dashboard page: %d", resp.StatusCode)
	}
}

func TestCrossOriginWebSocketRefused(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "c"})
	st := startStack(t, cams, nil)
	u := "ws" + strings.TrimPrefix(st.srv.URL(), "http") + "ws"
	h := http.Header{"Authorization": {"Bearer " + st.token}, "Origin": {"http://evil.example"}}
	_, resp, err := websocket.DefaultDialer.Dial(u, h)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin WebSocket: err %v, response %v", err, resp)
	}
	h.Set("Origin", strings.TrimSuffix(st.srv.URL(), "/"))
	conn, _, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		t.Fatalf("same-origin WebSocket refused: %v", err)
	}
	conn.Close()
}

func TestOversizedBody413(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "c"})
	st := startStack(t, cams, nil)
	big := bytes.Repeat([]byte("x"), 100<<10)
	for _, e := range []string{"POST /api/cameras/c/capture", "POST /api/cameras/c/live", "POST /api/login"} {
		method, path, _ := strings.Cut(e, " ")
		if resp, body := st.do(method, path, big, true); resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with 100 KiB: %d %s", e, resp.StatusCode, body)
		}
	}
}

func TestActorTreeAndProcesses(t *testing.T) {
	hung := camsim.Camera{Name: "attic", Hang: true}
	cams := testkit.Camsim(t, hung)
	st := startStack(t, cams, func(cfg *config.Config) { cfg.FFmpeg.CaptureTimeout = config.D(time.Minute) })
	var running osproc.Info
	testkit.Eventually(t, 10*time.Second, "the patrol's capture running", func() bool {
		procs := testkit.FFmpeg(st.env.RunID)
		if len(procs) == 1 {
			running = procs[0]
		}
		return len(procs) == 1
	})
	// A stray ffmpeg nobody owns, against the same hung camera.
	stray := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", cams.URL("attic"), "-f", "null", "-")
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stray.Process.Kill(); stray.Wait() })

	var tree map[string]any
	if code := st.get("/api/actors", &tree); code != 200 {
		t.Fatalf("GET /api/actors: %d", code)
	}
	var ffmpegNode, cameraNode map[string]any
	var visit func(n map[string]any)
	visit = func(n map[string]any) {
		for _, k := range []string{"path", "kind", "state", "started_at", "restarts", "children"} {
			if _, ok := n[k]; !ok {
				t.Errorf("node %v has no %s", n["path"], k)
			}
		}
		switch n["kind"] {
		case "ffmpeg":
			ffmpegNode = n
		case "camera":
			cameraNode = n
		}
		for _, c := range n["children"].([]any) {
			visit(c.(map[string]any))
		}
	}
	visit(tree)
	if ffmpegNode == nil || int(ffmpegNode["os_pid"].(float64)) != running.PID {
		t.Fatalf("ffmpeg node %v, /proc shows pid %d", ffmpegNode, running.PID)
	}
	if argv := fmt.Sprint(ffmpegNode["argv"]); strings.Contains(argv, testkit.CamsimPassword) || strings.Contains(argv, "admin") || !strings.Contains(argv, " -i rtsp://") {
		t.Errorf("argv in the tree: %s", argv)
	}
	if cameraNode == nil || cameraNode["slots_held"].(float64) != 1 || cameraNode["max_connections"].(float64) != 2 {
		t.Errorf("camera node %v", cameraNode)
	}

	var procs struct{ Processes []map[string]any }
	st.get("/api/processes", &procs)
	seen := map[int]map[string]any{}
	for _, p := range procs.Processes {
		seen[int(p["os_pid"].(float64))] = p
	}
	if p := seen[running.PID]; p == nil || p["owned"] != true || p["owner"] != ffmpegNode["path"] {
		t.Errorf("the patrol's process: %v", p)
	}
	if p := seen[stray.Process.Pid]; p == nil || p["owned"] != false || p["this_run"] != false {
		t.Errorf("the stray process: %v", p)
	}
	for _, p := range procs.Processes {
		if strings.Contains(fmt.Sprint(p["argv"]), testkit.CamsimPassword) {
			t.Errorf("password in /api/processes: %v", p["argv"])
		}
	}
}

func TestMetricsParseAndMatchProc(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "attic", Hang: true}, camsim.Camera{Name: "front"})
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.FFmpeg.CaptureTimeout = config.D(time.Minute)
		cfg.Subnets[0].Cameras[0].MaxConnections = 2
	})
	testkit.Eventually(t, 10*time.Second, "the hung capture running and the good one done", func() bool {
		return len(testkit.FFmpeg(st.env.RunID)) == 1 && strings.Contains(string(st.scrape()), `camvisor_captures_total{camera="front",outcome="ok"} 1`)
	})
	text := st.scrape()
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	for _, name := range []string{"camvisor_ffmpeg_processes", "camvisor_slots_held", "camvisor_slots_max", "camvisor_captures_total",
		"camvisor_capture_seconds", "camvisor_process_stops_total", "camvisor_orphans_reaped_total", "camvisor_cycle_seconds",
		"camvisor_cycle_overruns_total", "camvisor_recorder_rows_dropped_total",
		"go_goroutines", "process_cpu_seconds_total"} {
		if families[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// The process gauge against /proc, camera by camera.
	fromProc := testkit.PerCamera(testkit.FFmpeg(st.env.RunID))
	fromMetrics := map[string]int{}
	for _, m := range families["camvisor_ffmpeg_processes"].GetMetric() {
		fromMetrics[m.GetLabel()[0].GetValue()] = int(m.GetGauge().GetValue())
	}
	for camera, n := range fromProc {
		if fromMetrics[camera] != n {
			t.Errorf("camvisor_ffmpeg_processes{camera=%q} = %d, /proc shows %d", camera, fromMetrics[camera], n)
		}
	}
	if fromMetrics["attic"] != 1 {
		t.Errorf("gauge %v", fromMetrics)
	}
	var held float64
	for _, m := range families["camvisor_slots_held"].GetMetric() {
		if m.GetLabel()[0].GetValue() == "attic" && m.GetLabel()[1].GetValue() == "ffmpeg" {
			held = m.GetGauge().GetValue()
		}
	}
	if held != 1 {
		t.Errorf("camvisor_slots_held{camera=attic,kind=ffmpeg} = %v", held)
	}
	if resp, _ := st.do("GET", "/metrics", nil, false); resp.StatusCode != 401 {
		t.Errorf("/metrics without a token: %d", resp.StatusCode)
	}
}

// scrape fetches /metrics with the token.
func (st *stack) scrape() []byte {
	_, body := st.do("GET", "/metrics", nil, true)
	return body
}

// TestExternalConnectionCounted: go2rtc already has the camera as an
// operator's stream (Home Assistant's, say), and someone watches it: that
// connection counts against the camera's budget (slots_external), and the
// patrol takes its frames over it instead of opening another (via
// external), whichever way the subnet is patrolled. A camera with room
// for one is never refused.
func TestExternalConnectionCounted(t *testing.T) {
	for _, via := range []string{config.ViaFFmpeg, config.ViaGo2RTC, config.ViaAuto} {
		t.Run("via="+via, func(t *testing.T) { testExternalConnectionCounted(t, via) })
	}
}

func testExternalConnectionCounted(t *testing.T, via string) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front", MaxConnections: 1, Mode: camsim.ModeStatic})
	g2 := go2rtctest.New(t, go2rtctest.Options{})
	req, _ := http.NewRequest(http.MethodPut, g2.URL()+"/api/streams?"+url.Values{"name": {"front_cam"}, "src": {cams.URL("front")}}.Encode(), nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the operator's stream: %v %v", err, resp)
	}
	viewer := g2.Watch(t, "front_cam")
	testkit.Eventually(t, 10*time.Second, "the operator's viewer holding the camera's connection", func() bool { return cams.Stats("front").Open == 1 })
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.Go2RTC.URL = g2.URL()
		cfg.Go2RTC.RequestTimeout = config.D(2 * time.Second)
		cfg.Subnets[0].Interval = config.D(time.Second)
		cfg.Subnets[0].Via = via
		cfg.Subnets[0].Cameras[0].MaxConnections = 1
	})
	mark := st.facts.Mark()
	frames := testkit.WaitCount(t, st.facts, mark, 3, 30*time.Second, "patrol frames over the operator's connection", func(d *messages.CaptureDone) bool {
		return d.Camera == "front" && d.Cycle > 0 && d.Outcome == messages.OutcomeOK && d.Via == "external"
	})
	for _, d := range frames {
		if d.OSPID != 0 || d.Attempts != 0 {
			t.Errorf("a frame over the operator's connection started a process: %+v", d)
		}
	}
	if s := cams.Stats("front"); s.MaxOpen != 1 || s.Refused != 0 {
		t.Errorf("camsim: max_open %d refused %d; the patrol must ride on the one connection", s.MaxOpen, s.Refused)
	}
	var cameras struct {
		Cameras []map[string]any `json:"cameras"`
	}
	st.get("/api/cameras", &cameras)
	if len(cameras.Cameras) != 1 || cameras.Cameras[0]["slots_external"] != 1.0 {
		t.Errorf("/api/cameras: %v, want slots_external 1", cameras.Cameras)
	}
	if !strings.Contains(string(st.scrape()), `camvisor_slots_held{camera="front",kind="external"} 1`) {
		t.Error("/metrics has no external slot for front")
	}
	testkit.Eventually(t, 20*time.Second, "the external connection in the leak graph", func() bool {
		return st.dbInt(`SELECT COUNT(*) FROM process_samples WHERE camera = 'front' AND slots_external = 1 AND slots_held = 1`) > 0
	})

	// A live view of ours needs a slot the operator's connection holds: it
	// waits request_timeout for it, then is refused saying what holds it.
	asked := time.Now()
	resp, body := st.do(http.MethodPost, "/api/cameras/front/live", nil, true)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "not camvisor's") {
		t.Errorf("POST live with the only slot held by the operator's stream: %d %s", resp.StatusCode, body)
	}
	if waited := time.Since(asked); waited < 2*time.Second {
		t.Errorf("refused after %s, before waiting request_timeout (2s) for the slot", waited)
	}

	// The viewer leaves: the connection closes, the next cycle counts none,
	// and the patrol goes back to its own.
	viewer.Close()
	left := st.facts.Mark()
	testkit.WaitFor(t, st.facts, left, 30*time.Second, "a patrol frame of its own after the viewer left", func(d *messages.CaptureDone) bool {
		return d.Camera == "front" && d.Cycle > 0 && d.Outcome == messages.OutcomeOK && d.Via != "external"
	})
}
