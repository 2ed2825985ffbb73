package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/messages"

	"github.com/gorilla/websocket"
	"github.com/prometheus/common/expfmt"
)

// configFile writes a config for cams (each "name" or "name:max") and
// returns its path; the secrets come from the environment and a file.
func configFile(t *testing.T, dir string, cams *camsim.Server, names ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("subnets:\n  - name: lab\n    interval: 1h\n    cameras:\n")
	for _, n := range names {
		id, max, _ := strings.Cut(n, ":")
		if max == "" {
			max = "2"
		}
		// One camera's password from the environment, the others' from a file.
		u := strings.Replace(cams.URL(id), ":"+testkit.CamsimPassword+"@", ":${CAMVISOR_TEST_SECRET}@", 1)
		extra := ""
		if id != "envcam" {
			u = strings.Replace(cams.URL(id), ":"+testkit.CamsimPassword+"@", "@", 1)
			extra = "password_file: cam.pw, "
		}
		fmt.Fprintf(&b, "      - { id: %s, url: %q, %smax_connections: %s }\n", id, u, extra, max)
	}
	path := filepath.Join(dir, "camvisor.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// reloadableStack runs a recorded stack on the config file at path.
func reloadableStack(t *testing.T, cams *camsim.Server, path string) *stack {
	t.Helper()
	load := func() (*config.Config, error) { return config.Load(path) }
	loaded, err := load()
	if err != nil {
		t.Fatal(err)
	}
	var db, listen string // as the command line would override them
	return startStackWith(t, cams, func(cfg *config.Config) {
		db, listen = cfg.DB, cfg.Listen
		*cfg = *loaded
		cfg.DB, cfg.Listen = db, listen
	}, stackOptions{load: func() (*config.Config, error) {
		c, err := load()
		if err == nil {
			c.DB, c.Listen = db, listen
		}
		return c, err
	}})
}

// TestSecretFromEnvAndFileNeverShown: a camera's password from the
// environment (${NAME}) and another's from a password_file work against
// the camera, and are never logged, recorded (file and WAL, the reload's
// row included), nor shown by the API or the metrics.
func TestSecretFromEnvAndFileNeverShown(t *testing.T) {
	t.Setenv("CAMVISOR_TEST_SECRET", testkit.CamsimPassword)
	cams := testkit.Camsim(t, camsim.Camera{Name: "envcam"}, camsim.Camera{Name: "filecam"})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cam.pw"), []byte(testkit.CamsimPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := configFile(t, dir, cams, "envcam", "filecam")
	st := reloadableStack(t, cams, path)
	for _, c := range []string{"envcam", "filecam"} {
		resp, body := st.do("POST", "/api/cameras/"+c+"/capture", nil, true)
		var d map[string]any
		json.Unmarshal(body, &d)
		if resp.StatusCode != 200 || d["outcome"] != "ok" {
			t.Errorf("capture %s with the secret: %d %s", c, resp.StatusCode, body)
		}
	}
	// A reload (filecam's budget changes) records the configuration again.
	configFile(t, dir, cams, "envcam", "filecam:3")
	resp, reloaded := st.do("POST", "/api/config/reload", nil, true)
	var ans map[string]any
	json.Unmarshal(reloaded, &ans)
	if resp.StatusCode != 200 || fmt.Sprint(ans["changed"]) != "[filecam]" || fmt.Sprint(ans["restart_needed"]) != "[]" {
		t.Fatalf("reload: %d %s", resp.StatusCode, reloaded)
	}
	shown := map[string][]byte{"reload answer": reloaded}
	for _, p := range []string{"/api/status", "/api/cameras", "/api/actors", "/api/processes", "/metrics", "/api/alerts"} {
		_, shown[p] = st.do("GET", p, nil, true)
	}
	testkit.Eventually(t, 10*time.Second, "the reload on record", func() bool {
		var n int
		st.store.DB.Get(&n, "SELECT COUNT(*) FROM config_changes WHERE outcome = 'applied'")
		return n == 1
	})
	var recorded string
	st.store.DB.Get(&recorded, "SELECT config FROM config_changes")
	if !strings.Contains(recorded, "envcam") || !strings.Contains(recorded, "password_file: cam.pw") || !strings.Contains(recorded, "admin:***@") {
		t.Errorf("the recorded configuration does not say where the secrets come from:\n%s", recorded)
	}
	shown["log"] = []byte(st.logs())
	for _, f := range []string{st.env.Config.DB, st.env.Config.DB + "-wal"} {
		shown[f], _ = os.ReadFile(f)
	}
	for where, data := range shown {
		if bytes.Contains(data, []byte(testkit.CamsimPassword)) {
			t.Errorf("the password shows in %s", where)
		}
	}
}

// TestReloadEndpoint: POST /api/config/reload applies a new camera and
// answers what changed; a bad file is 422 naming the field, and changes
// nothing; the dashboards are told.
func TestReloadEndpoint(t *testing.T) {
	t.Setenv("CAMVISOR_TEST_SECRET", testkit.CamsimPassword)
	cams := testkit.Camsim(t, camsim.Camera{Name: "envcam"}, camsim.Camera{Name: "added"})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cam.pw"), []byte(testkit.CamsimPassword), 0o600)
	path := configFile(t, dir, cams, "envcam")
	st := reloadableStack(t, cams, path)
	dash := st.connect(true)
	testkit.Eventually(t, 10*time.Second, "the dashboard joined", func() bool {
		return count(st, func(*messages.ClientJoined) bool { return true }) == 1
	})

	configFile(t, dir, cams, "envcam", "added")
	resp, body := st.do("POST", "/api/config/reload", nil, true)
	var ans map[string]any
	json.Unmarshal(body, &ans)
	if resp.StatusCode != 200 || ans["outcome"] != "applied" || fmt.Sprint(ans["added"]) != "[added]" {
		t.Fatalf("reload: %d %s", resp.StatusCode, body)
	}
	var cams2 map[string][]map[string]any
	st.get("/api/cameras", &cams2)
	if len(cams2["cameras"]) != 2 {
		t.Errorf("/api/cameras after the reload: %v", cams2)
	}
	if resp, _ := st.do("POST", "/api/cameras/added/capture", nil, true); resp.StatusCode != 200 {
		t.Errorf("capture on the added camera: %d", resp.StatusCode)
	}
	// Its series exist from the reload on.
	text := st.scrape()
	var parser expfmt.TextParser
	if _, err := parser.TextToMetricFamilies(bytes.NewReader(text)); err != nil || !strings.Contains(string(text), `camvisor_slots_max{camera="added"} 2`) {
		t.Errorf("metrics after the reload (%v):\n%s", err, text)
	}

	os.WriteFile(path, []byte("subnets:\n  - name: lab\n    cameras: []\n"), 0o600)
	resp, body = st.do("POST", "/api/config/reload", nil, true)
	ans = nil
	json.Unmarshal(body, &ans)
	if resp.StatusCode != 422 || !strings.Contains(fmt.Sprint(ans["error"]), "subnets[0].cameras") || ans["outcome"] != "rejected" {
		t.Errorf("bad file: %d %s", resp.StatusCode, body)
	}
	if st.tree.Config().Cameras()[1].ID != "added" {
		t.Error("a rejected reload changed the cameras")
	}
	testkit.Eventually(t, 10*time.Second, "both reloads pushed to the dashboard", func() bool {
		r := dash.of("reload")
		return len(r) == 2 && r[0]["outcome"] == "applied" && r[1]["outcome"] == "rejected"
	})
}

// TestMetricsSeriesForIdleCamera: a camera that has done nothing yet has
// its series, at 0 (a dashboard tells idle from missing); the build is
// named; go2rtc's gauges are absent without a go2rtc.
func TestMetricsSeriesForIdleCamera(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "busy"}, camsim.Camera{Name: "idle", Hang: true})
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.Subnets[0].Cameras = cfg.Subnets[0].Cameras[:1] // idle is added by hand below
		cfg.Subnets = append(cfg.Subnets, config.Subnet{Name: "quiet", Interval: config.D(time.Hour), Concurrency: 1,
			Cameras: []config.Camera{{ID: "idle", URL: cams.URL("idle"), MaxConnections: 2, Queue: 8}}})
	})
	// quiet's first cycle: idle hangs; its capture runs for a minute. Wait
	// for busy's first frame, then scrape while idle has no process done.
	testkit.Eventually(t, 20*time.Second, "busy's first frame examined", func() bool {
		return count(st, func(e *messages.FrameExamined) bool { return e.Camera == "busy" }) > 0
	})
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(bytes.NewReader(st.scrape()))
	if err != nil {
		t.Fatal(err)
	}
	series := func(name string, labels ...string) (float64, bool) {
		f := families[name]
		if f == nil {
			return 0, false
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
			return 0, true
		}
		return 0, false
	}
	for _, want := range []struct {
		name   string
		labels []string
	}{
		{"camvisor_captures_total", []string{"camera", "idle", "outcome", "ok"}},
		{"camvisor_last_capture_timestamp_seconds", []string{"camera", "idle", "outcome", "ok"}},
		{"camvisor_events_total", []string{"camera", "idle", "label", "motion"}},
		{"camvisor_camera_breaker_open", []string{"camera", "idle"}},
		{"camvisor_subnet_interval_too_short", []string{"subnet", "quiet"}},
	} {
		if v, ok := series(want.name, want.labels...); !ok || v != 0 {
			t.Errorf("%s%v: %v (present %v), want a 0 series", want.name, want.labels, v, ok)
		}
	}
	if v, ok := series("camvisor_last_capture_timestamp_seconds", "camera", "busy", "outcome", "ok"); !ok || v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("busy's last good capture: %v", v)
	}
	if _, ok := series("camvisor_ffmpeg_processes", "camera", "busy"); !ok {
		t.Error("no camvisor_ffmpeg_processes series for a camera with no process")
	}
	if _, ok := series("camvisor_build_info", "version", "test"); !ok || families["camvisor_build_info"].GetMetric()[0].GetLabel()[1].GetName() != "revision" {
		t.Errorf("camvisor_build_info: %v", families["camvisor_build_info"])
	}
	for _, name := range []string{"camvisor_detector_up", "camvisor_recorder_up"} {
		if v, ok := series(name); !ok || v != 1 {
			t.Errorf("%s = %v (%v)", name, v, ok)
		}
	}
	if v, ok := series("camvisor_detector_seconds"); !ok || v < 1 {
		t.Errorf("camvisor_detector_seconds has %v observations", v)
	}
	if v, ok := series("camvisor_record_bytes"); !ok || v <= 0 {
		t.Errorf("camvisor_record_bytes = %v", v)
	}
	if _, ok := series("camvisor_detector_dropped_total"); !ok {
		t.Error("no camvisor_detector_dropped_total")
	}
	for _, name := range []string{"camvisor_go2rtc_up", "camvisor_go2rtc_streams"} {
		if families[name] != nil {
			t.Errorf("%s without a go2rtc configured", name)
		}
	}
}

// TestRemovedCameraNotSentToNewClients: a camera a reload removed is
// forgotten by the hub: a dashboard that connects after the reload gets
// the cameras that run, not the removed one.
func TestRemovedCameraNotSentToNewClients(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "kept"}, camsim.Camera{Name: "gone"})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cam.pw"), []byte(testkit.CamsimPassword), 0o600)
	path := configFile(t, dir, cams, "kept", "gone")
	st := reloadableStack(t, cams, path)
	before := st.connect(true)
	testkit.Eventually(t, 20*time.Second, "both cameras on the dashboard", func() bool {
		return cameraOn(before, "kept") && cameraOn(before, "gone")
	})
	configFile(t, dir, cams, "kept")
	if resp, body := st.do("POST", "/api/config/reload", nil, true); resp.StatusCode != 200 || !strings.Contains(string(body), `"removed": [
    "gone"`) {
		t.Fatalf("reload: %d %s", resp.StatusCode, body)
	}
	after := st.connect(true)
	// The pong comes after every message the client was first given.
	if err := after.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the new dashboard's pong", func() bool { return len(after.of("pong")) > 0 })
	if !cameraOn(after, "kept") {
		t.Error("the new dashboard was not given the camera that runs")
	}
	if cameraOn(after, "gone") {
		t.Error("the new dashboard was given the camera the reload removed")
	}
}

// cameraOn reports whether d received a camera message of camera.
func cameraOn(d *dashboard, camera string) bool {
	for _, m := range d.of("camera") {
		if m["camera"] == camera {
			return true
		}
	}
	return false
}
