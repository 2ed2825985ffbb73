package go2rtctest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSourceKindsListedAsGo2RTCDoes: every source kind the stand-in
// dials is listed idle as written (credentials as ***) and, while watched,
// as doc.go's table says go2rtc lists it; each reaches the camera with
// one connection.
func TestSourceKindsListedAsGo2RTCDoes(t *testing.T) {
	cams := startCamsim(t)
	s := New(t, Options{})
	cam, _ := url.Parse(cams.URL("cam1")) // rtsp://admin:pw@127.0.0.1:PORT/cam1
	hostPort, rest := cam.Host, cam.Host+cam.Path
	s.Device("127.0.0.1", cams.URL("cam1"))
	for _, tc := range []struct {
		src, idle string
		// while watched: url ("" for none), the camera's address after
		// remote_addr's "forwarded" (or all of it), format_name
		url, remote, format string
	}{
		{"rtsp://admin:pw@" + rest, "rtsp://***@" + rest, "rtsp://***@" + rest, hostPort, "rtsp"},
		{"rtsps://admin:pw@" + rest, "rtsps://***@" + rest, "rtsps://***@" + rest, hostPort, "rtsp"},
		{"rtspx://admin:pw@" + rest, "rtspx://***@" + rest, "rtspx://***@" + rest, hostPort, "rtsp"},
		{"ffmpeg:rtsp://admin:pw@" + rest + "#video=copy", "ffmpeg:rtsp://***@" + rest + "#video=copy", "rtsp://***@" + rest, hostPort, "rtsp"},
		{"onvif://admin:pw@127.0.0.1:2020", "onvif://***@127.0.0.1:2020", "rtsp://***@" + rest, hostPort, "rtsp"},
		{"tapo://admin:pw@127.0.0.1", "tapo://***@127.0.0.1", "", "127.0.0.1:8800", "tapo"},
	} {
		kind, _, _ := strings.Cut(tc.src, ":")
		t.Run(kind, func(t *testing.T) {
			cams.ResetStats()
			put(t, s, "op", tc.src)
			if p := producers(t, s, "op"); len(p) != 1 || len(p[0]) != 1 || p[0]["url"] != tc.idle {
				t.Errorf("idle: %v, want only url %q", p, tc.idle)
			}
			v := s.Watch(t, "op")
			var p []map[string]any
			waitFor(t, 5*time.Second, "the listing to show the connection", func() bool {
				p = producers(t, s, "op")
				return len(p) == 1 && p[0]["remote_addr"] != nil
			})
			remote, _ := p[0]["remote_addr"].(string)
			if _, side, ok := strings.Cut(remote, " forwarded "); ok {
				remote = side
			}
			shown, _ := p[0]["url"].(string)
			if shown != tc.url || remote != tc.remote || p[0]["format_name"] != tc.format {
				t.Errorf("watched: %v, want url %q, camera side %q, format %q", p[0], tc.url, tc.remote, tc.format)
			}
			if kind == "ffmpeg" && !strings.Contains(p[0]["source"].(string), "exec:ffmpeg") {
				t.Errorf("an ffmpeg source watched lists no exec source: %v", p[0])
			}
			if st := cams.Stats("cam1"); st.Open != 1 || st.MaxOpen != 1 {
				t.Errorf("camera: %d open, at most %d; want one connection", st.Open, st.MaxOpen)
			}
			v.Close()
			call(t, s, http.MethodDelete, "/api/streams", url.Values{"src": {"op"}})
			waitFor(t, promptly, "the connection closed", func() bool { return openOnCamera(cams, "cam1")() == 0 })
		})
	}
}

// producers is stream name's producers as GET /api/streams?src= lists them.
func producers(t *testing.T, s *Server, name string) []map[string]any {
	t.Helper()
	var st struct {
		Producers []map[string]any `json:"producers"`
	}
	r := call(t, s, http.MethodGet, "/api/streams", url.Values{"src": {name}})
	if err := json.Unmarshal([]byte(r.body), &st); err != nil {
		t.Fatalf("GET %s: %d %q: %v", name, r.code, r.body, err)
	}
	if strings.Contains(r.body, "pw") {
		t.Errorf("GET %s shows the password: %s", name, r.body)
	}
	return st.Producers
}
