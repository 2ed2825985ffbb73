package web

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/go2rtc/go2rtctest"
	"camvisor/actors/testkit"
	"camvisor/db"
	"camvisor/messages"
)

// closedPort is a loopback address nothing listens on: a connection to
// it is refused at once.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// leakyGo2RTC stands in front of go2rtc and answers each stream's first
// removal with a 400 whose body quotes a source URL, credentials and all,
// as go2rtc's errors may.
func leakyGo2RTC(t *testing.T, g2 *go2rtctest.Server, quoted string) string {
	t.Helper()
	target, _ := url.Parse(g2.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	failed := map[string]bool{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			src := r.URL.Query().Get("src")
			mu.Lock()
			first := !failed[src]
			failed[src] = true
			mu.Unlock()
			if first {
				http.Error(w, "streams: can't remove "+src+" ("+quoted+"): producer busy", http.StatusBadRequest)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestNoSecretAnywhere (invariant 6, issue 22): with a secret planted in
// every place one can be configured — a camera's URL password, its query,
// its password_file, its snapshot_url and detect_url credentials, go2rtc's
// URL credentials, the webhook's path and query, the detector URL's
// credentials and query, the operator token — none shows in any answer of
// any endpoint, in any WebSocket message, in the log, in any text column
// of any table of the record, nor in the reports (text and HTML) or the
// backup. Each secret is used for real on the way: the cameras captured,
// a live view played through go2rtc (whose error bodies quote a source),
// the webhook was tried, the detector was asked.
func TestNoSecretAnywhere(t *testing.T) {
	const (
		querySecret  = "QRY-s3cret-4471"
		snapSecret   = "SNAP-s3cret-9013"
		snapQuery    = "SNAPQ-s3cret-5520"
		detectSecret = "DETURL-s3cret-2284"
		g2Secret     = "G2-s3cret-6635"
		hookPath     = "HOOKPATH-s3cret-1902"
		hookQuery    = "HOOKQ-s3cret-3318"
		detPass      = "DETPASS-s3cret-7740"
		detQuery     = "DETQ-s3cret-8856"
		authToken    = "AUTHTOKEN-s3cret-0123456789"
		mqttPass     = "MQTTPASS-s3cret-6127"
	)
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"}, camsim.Camera{Name: "filecam"}, camsim.Camera{Name: "quer"})
	g2 := go2rtctest.New(t, go2rtctest.Options{})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cam.pw"), []byte(testkit.CamsimPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withoutPass := func(name string) string {
		return strings.Replace(cams.URL(name), ":"+testkit.CamsimPassword+"@", "@", 1)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "subnets:\n  - name: lab\n    interval: 2s\n    cameras:\n")
	fmt.Fprintf(&b, "      - { id: front, url: %q, max_connections: 2 }\n", cams.URL("front"))
	fmt.Fprintf(&b, "      - { id: filecam, url: %q, password_file: cam.pw, max_connections: 2 }\n", withoutPass("filecam"))
	fmt.Fprintf(&b, "      - { id: quer, url: %q, max_connections: 2 }\n", cams.URL("quer")+"?usr=admin&pwd="+querySecret)
	fmt.Fprintf(&b, "      - { id: snap, url: %q, snapshot_url: %q, max_connections: 1 }\n", cams.URL("front"),
		"http://snapper:"+snapSecret+"@"+closedPort(t)+"/snap.jpg?key="+snapQuery)
	fmt.Fprintf(&b, "      - { id: sub, url: %q, detect_url: %q, max_connections: 1 }\n", cams.URL("front"),
		"rtsp://admin:"+detectSecret+"@"+closedPort(t)+"/sub")
	fmt.Fprintf(&b, "go2rtc: { url: %q, lease: 3s }\n", "http://g2user:"+g2Secret+"@"+leakyGo2RTC(t, g2, cams.URL("front")))
	fmt.Fprintf(&b, "detector: { kind: http, url: %q, timeout: 1s }\n", "http://det:"+detPass+"@"+closedPort(t)+"/v1/vision/detection?api_key="+detQuery)
	fmt.Fprintf(&b, "alerts: { camera_failing_after: 1, webhook: { url: %q, max_attempts: 2 } }\n",
		"http://"+closedPort(t)+"/services/T000/B000/"+hookPath+"?token="+hookQuery)
	fmt.Fprintf(&b, "auth: { token: %q }\n", authToken)
	// A broker that is not there: camvisor tries it, and logs and records
	// its failures (service_health) with the URL.
	fmt.Fprintf(&b, "mqtt: { url: %q, username: camvisor, password: %q }\n", "mqtt://"+closedPort(t), mqttPass)
	path := filepath.Join(dir, "camvisor.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	st := reloadableStack(t, cams, path)
	secrets := []string{testkit.CamsimPassword, querySecret, snapSecret, snapQuery, detectSecret, g2Secret, hookPath, hookQuery,
		detPass, detQuery, authToken, mqttPass, st.token}

	dash := st.connect(true)
	shown := map[string][]byte{}
	ask := func(method, path string) {
		resp, body := st.do(method, path, nil, true)
		shown[fmt.Sprintf("%s %s (%d)", method, path, resp.StatusCode)] = body
	}
	// Every secret in use: captures of each camera (the failing ones
	// fire the webhook), a live view through go2rtc, stopped (go2rtc
	// refuses the first removal, quoting a source).
	for _, c := range []string{"front", "filecam", "quer", "snap", "sub"} {
		ask("POST", "/api/cameras/"+c+"/capture")
	}
	ask("POST", "/api/cameras/front/live")
	testkit.Eventually(t, 20*time.Second, "the live view on the dashboard", func() bool { return len(dash.of("play")) > 0 })
	for _, p := range []string{"/api/cameras", "/api/status", "/api/actors"} {
		ask("GET", p)
	}
	ask("DELETE", "/api/cameras/front/live")
	testkit.Eventually(t, 30*time.Second, "the webhook tried, go2rtc's refusal and the detector's failure logged", func() bool {
		l := st.logs()
		return strings.Contains(l, "alert webhook failed") && strings.Contains(l, "can't remove") &&
			count(st, func(e *messages.DetectionFailed) bool { return true }) > 0
	})
	testkit.Eventually(t, 20*time.Second, "the stream removed from go2rtc after all", func() bool { return len(g2.Streams()) == 0 })
	ask("POST", "/api/config/reload")
	ask("POST", "/api/cameras/quer/restart")
	for _, p := range []string{"/api/status", "/api/cameras", "/api/actors", "/api/processes", "/api/events", "/api/samples?since=1h",
		"/api/cycles", "/api/alerts", "/api/report.html", "/metrics", "/healthz", "/api/cameras/front/snapshot.jpg", "/api/db/backup"} {
		ask("GET", p)
	}
	testkit.Eventually(t, 20*time.Second, "the alert and the live view on record", func() bool {
		var alerts, leases int
		st.store.DB.Get(&alerts, "SELECT COUNT(*) FROM alerts")
		st.store.DB.Get(&leases, "SELECT COUNT(*) FROM leases WHERE released_at IS NOT NULL")
		return alerts > 0 && leases > 0
	})
	dash.mu.Lock()
	for i, m := range dash.msgs {
		shown[fmt.Sprintf("websocket message %d (%v)", i, m["type"])] = []byte(fmt.Sprint(m))
	}
	dash.mu.Unlock()

	// The record: every text column of every table.
	var tables []string
	if err := st.store.DB.Select(&tables, "SELECT name FROM sqlite_master WHERE type = 'table'"); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		rows, err := st.store.DB.Queryx("SELECT * FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			row := map[string]any{}
			rows.MapScan(row)
			for col, v := range row {
				if s, ok := v.(string); ok {
					shown["record "+table+"."+col] = append(shown["record "+table+"."+col], s...)
				} else if bs, ok := v.([]byte); ok && col != "snapshot" {
					shown["record "+table+"."+col] = append(shown["record "+table+"."+col], bs...)
				}
			}
		}
		rows.Close()
	}
	// The reports, as `camvisor db report` writes them from the record.
	ro, err := db.OpenReadOnly(st.env.Config.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var text, page bytes.Buffer
	if err := ro.Report(&text, db.ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ro.HTMLReport(&page, db.ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	shown["db report"], shown["db report --html"] = text.Bytes(), page.Bytes()
	shown["log"] = []byte(st.logs())

	for where, data := range shown {
		for _, s := range secrets {
			if i := bytes.Index(data, []byte(s)); i >= 0 {
				t.Errorf("%s shows %q: …%s…", where, s, data[max(0, i-120):min(len(data), i+len(s)+40)])
			}
		}
	}
	// And the answers that must still be useful: the player is go2rtc's,
	// without its credentials.
	for where, data := range shown {
		if strings.Contains(where, "/api/status") && !bytes.Contains(data, []byte(`"player_url": "http://`)) {
			t.Errorf("%s lost go2rtc's player URL: %s", where, data)
		}
	}
}
