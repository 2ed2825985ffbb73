package camsim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// call makes one HTTP request to the server's API and decodes the JSON
// reply into out (when non-nil).
func call(t *testing.T, s *Server, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.HTTPAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	client := http.Client{Timeout: 5 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

func TestHTTPStats(t *testing.T) {
	s := newServer(t, Options{Cameras: []Camera{
		{Name: "cam1", MaxConnections: 2}, {Name: "cam2", Hang: true, Slow: Duration(2 * time.Second)},
	}})
	c := dial(t, s.URL("cam1"))
	nextFrame(t, c)

	var all struct {
		Cameras map[string]map[string]any `json:"cameras"`
	}
	if code := call(t, s, "GET", "/stats", "", &all); code != 200 {
		t.Fatalf("GET /stats: %d", code)
	}
	if got := all.Cameras["cam1"]; got["open"] != 1.0 || got["max_open"] != 1.0 || got["total"] != 1.0 ||
		got["refused"] != 0.0 || got["max_connections"] != 2.0 || got["faults"] != "" {
		t.Errorf("cam1: %v", got)
	}
	if got := all.Cameras["cam2"]["faults"]; got != "hang,slow=2s" {
		t.Errorf("cam2 faults %v", got)
	}
	var one CameraStats
	if code := call(t, s, "GET", "/stats?camera=cam1", "", &one); code != 200 || one.Open != 1 {
		t.Errorf("GET /stats?camera=cam1: %d %+v", code, one)
	}
	if code := call(t, s, "GET", "/stats?camera=nope", "", nil); code != 404 {
		t.Errorf("unknown camera: %d", code)
	}
	c.Close()
	waitFor(t, time.Second, "open back to 0", func() bool { return s.Stats("cam1").Open == 0 })
	if code := call(t, s, "POST", "/stats/reset?camera=cam1", "", &one); code != 200 || one != (CameraStats{MaxConnections: 2, Mode: ModePattern, FPS: DefaultFPS, Codec: CodecMJPEG}) {
		t.Errorf("reset: %d %+v", code, one)
	}
	if code := call(t, s, "POST", "/stats/reset", "", nil); code != 200 {
		t.Errorf("reset all: %d", code)
	}
}

func TestHTTPCameras(t *testing.T) {
	s := newServer(t, Options{})
	var c Camera
	if code := call(t, s, "POST", "/cameras/new1", `{"max_connections":3,"mode":"motion","slow":"1.5s"}`, &c); code != 201 {
		t.Fatalf("create: %d", code)
	}
	want := Camera{Name: "new1", MaxConnections: 3, Mode: ModeMotion, Slow: Duration(1500 * time.Millisecond), FPS: DefaultFPS, Codec: CodecMJPEG}
	if c != want {
		t.Errorf("created %+v, want %+v", c, want)
	}
	if code := call(t, s, "POST", "/cameras/new1", `{"fps":10,"drop":2}`, &c); code != 200 {
		t.Fatalf("update: %d", code)
	}
	want.FPS, want.Drop = 10, Duration(2*time.Second)
	if got, _ := s.Camera("new1"); got != want || c != want {
		t.Errorf("updated %+v, want %+v", got, want)
	}
	for _, body := range []string{`{"fps":1000}`, `{"mode":"fancy"}`, `{"codec":"h265"}`, `{"gop":"-1s"}`, `{"hnag":true}`, `{"name":"other"}`, `not json`} {
		if code := call(t, s, "POST", "/cameras/new1", body, nil); code != 400 {
			t.Errorf("POST %s: %d, want 400", body, code)
		}
	}
	if code := call(t, s, "POST", "/cameras/bad%20name", `{}`, nil); code != 400 {
		t.Errorf("bad name: %d", code)
	}
	var list []Camera
	if code := call(t, s, "GET", "/cameras", "", &list); code != 200 || len(list) != 1 {
		t.Errorf("list: %d %v", code, list)
	}
	if code := call(t, s, "DELETE", "/cameras/new1", "", nil); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code := call(t, s, "DELETE", "/cameras/new1", "", nil); code != 404 {
		t.Errorf("delete again: %d", code)
	}
}

// TestHTTPUpdateHealsHungCamera hangs a client on a camera, heals the
// camera over HTTP and expects the next client to get frames while the
// hung connection stays as it was.
func TestHTTPUpdateHealsHungCamera(t *testing.T) {
	s := newServer(t, Options{Cameras: []Camera{{Name: "cam1", Hang: true}}})
	ctx, cancel := contextWithTimeout(300 * time.Millisecond)
	defer cancel()
	if _, err := Dial(ctx, s.URL("cam1")); err == nil {
		t.Fatal("dial to a hung camera succeeded")
	}
	r := rawDial(t, s) // held across the change
	r.Write([]byte("OPTIONS rtsp://" + s.RTSPAddr() + "/cam1 RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
	waitFor(t, time.Second, "the held connection to count", func() bool { return s.Stats("cam1").Open == 1 })

	var c Camera
	if code := call(t, s, "POST", "/cameras/cam1", `{"hang":false}`, &c); code != 200 || c.Hang {
		t.Fatalf("heal: %d %+v", code, c)
	}
	decode(t, nextFrame(t, dial(t, s.URL("cam1"))), DefaultWidth, DefaultHeight)

	r.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _ := r.Read(make([]byte, 1)); n != 0 {
		t.Error("the connection that hung before the change got an answer")
	}
}
