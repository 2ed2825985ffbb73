package go2rtctest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// GO2RTC.md's "Connections to the camera" table, judged by camsim's own
// count of open connections.

// promptly is how soon after the last consumer leaves the camera connection
// must be closed (go2rtc: about 60 ms).
const promptly = 200 * time.Millisecond

func TestRegisteredStreamHoldsNoConnection(t *testing.T) {
	cams := startCamsim(t)
	s := New(t, Options{})
	put(t, s, "cam1", cams.URL("cam1"))
	call(t, s, http.MethodGet, "/api/streams", nil)
	call(t, s, http.MethodGet, "/api/streams", url.Values{"src": {"cam1"}})
	if st := cams.Stats("cam1"); st.Open != 0 || st.Total != 0 {
		t.Errorf("camera with a registered, unwatched stream: %d open, %d ever; want none", st.Open, st.Total)
	}
	if n := s.Connections("cam1"); n != 0 {
		t.Errorf("Connections = %d, want 0", n)
	}
}

func TestViewersShareOneConnection(t *testing.T) {
	cams := startCamsim(t)
	s := New(t, Options{})
	put(t, s, "cam1", cams.URL("cam1"))
	v1 := s.Watch(t, "cam1")
	v2 := s.Watch(t, "cam1")
	waitFor(t, 5*time.Second, "both viewers to get frames", func() bool {
		n1, _ := v1.Received()
		n2, _ := v2.Received()
		return n1 > 0 && n2 > 0
	})
	if st := cams.Stats("cam1"); st.Open != 1 || st.MaxOpen != 1 {
		t.Errorf("two viewers: camera has %d open (at most %d); want exactly 1", st.Open, st.MaxOpen)
	}
	if n := s.Connections("cam1"); n != 1 {
		t.Errorf("Connections = %d, want 1", n)
	}
	if n := s.Consumers("cam1"); n != 2 {
		t.Errorf("Consumers = %d, want 2", n)
	}
}

func TestLastViewerLeavingClosesConnection(t *testing.T) {
	cams := startCamsim(t)
	s := New(t, Options{})
	put(t, s, "cam1", cams.URL("cam1"))
	v1 := s.Watch(t, "cam1")
	v2 := s.Watch(t, "cam1")
	waitFor(t, 5*time.Second, "one camera connection", func() bool { return openOnCamera(cams, "cam1")() == 1 })

	v1.Close()
	waitFor(t, 5*time.Second, "the first viewer to be detached", func() bool { return s.Consumers("cam1") == 1 })
	if n := openOnCamera(cams, "cam1")(); n != 1 {
		t.Fatalf("one viewer left: camera has %d open, want 1", n)
	}

	left := time.Now()
	v2.Close()
	waitFor(t, promptly, "the camera connection to close after the last viewer left", func() bool {
		return openOnCamera(cams, "cam1")() == 0
	})
	t.Logf("camera connection closed %v after the last viewer left", time.Since(left))
	if n := s.Connections("cam1"); n != 0 {
		t.Errorf("Connections = %d, want 0", n)
	}
}

func TestDeleteWhileWatchedKeepsConnectionUntilViewerLeaves(t *testing.T) {
	cams := startCamsim(t)
	s := New(t, Options{})
	put(t, s, "cam1", cams.URL("cam1"))
	v := s.Watch(t, "cam1")
	waitFor(t, 5*time.Second, "one camera connection", func() bool { return openOnCamera(cams, "cam1")() == 1 })

	r := call(t, s, http.MethodDelete, "/api/streams", url.Values{"src": {"cam1"}})
	expect(t, "DELETE while watched", r, http.StatusOK, "")
	if n := openOnCamera(cams, "cam1")(); n != 1 {
		t.Errorf("after DELETE with a viewer attached: camera has %d open, want 1", n)
	}
	if n := s.Connections("cam1"); n != 1 {
		t.Errorf("Connections = %d, want 1 (the deleted stream object keeps its connection)", n)
	}

	if _, code, err := s.DialViewer("cam1", nil); code != http.StatusNotFound {
		t.Errorf("new viewer of a deleted stream: status %d (%v), want 404", code, err)
	}
	r = call(t, s, http.MethodGet, "/api/frame.jpeg", url.Values{"src": {"cam1"}})
	expect(t, "frame.jpeg of a deleted stream", r, http.StatusNotFound, "stream not found\n")
	if st := cams.Stats("cam1"); st.Open != 1 || st.MaxOpen != 1 {
		t.Errorf("refused consumers opened connections: %d open, at most %d", st.Open, st.MaxOpen)
	}

	v.Close()
	waitFor(t, promptly, "the camera connection to close when the viewer left", func() bool {
		return openOnCamera(cams, "cam1")() == 0
	})
}

func TestRePutWhileWatchedThenNewViewerHoldsTwo(t *testing.T) {
	cams := startCamsim(t)
	s := New(t, Options{})
	put(t, s, "cam1", cams.URL("cam1"))
	v1 := s.Watch(t, "cam1")
	waitFor(t, 5*time.Second, "one camera connection", func() bool { return openOnCamera(cams, "cam1")() == 1 })

	put(t, s, "cam1", cams.URL("cam1"))
	v2 := s.Watch(t, "cam1")
	waitFor(t, 5*time.Second, "a second camera connection for the new stream object", func() bool {
		return openOnCamera(cams, "cam1")() == 2
	})
	if n := s.Connections("cam1"); n != 2 {
		t.Errorf("Connections = %d, want 2", n)
	}

	v1.Close()
	waitFor(t, promptly, "the old stream object's connection to close", func() bool { return openOnCamera(cams, "cam1")() == 1 })
	v2.Close()
	waitFor(t, promptly, "the new stream object's connection to close", func() bool { return openOnCamera(cams, "cam1")() == 0 })
}

func TestListShowsConsumersWhileAttached(t *testing.T) {
	cams := startCamsim(t)
	s := New(t, Options{})
	put(t, s, "cam1", cams.URL("cam1"))
	v := s.Watch(t, "cam1")
	waitFor(t, 5*time.Second, "the viewer to be attached", func() bool { return s.Consumers("cam1") == 1 })
	waitFor(t, 5*time.Second, "the camera connection open", func() bool { return openOnCamera(cams, "cam1")() == 1 })

	var list map[string]struct {
		Producers []map[string]any `json:"producers"`
		Consumers []map[string]any `json:"consumers"`
	}
	var r reply
	// The camera counts the connection when it accepts it; go2rtc shows it
	// once the RTSP handshake is done.
	waitFor(t, 5*time.Second, "the listing to show the camera connection", func() bool {
		r = call(t, s, http.MethodGet, "/api/streams", nil)
		if err := json.Unmarshal([]byte(r.body), &list); err != nil {
			t.Fatalf("GET list %q: %v", r.body, err)
		}
		p := list["cam1"].Producers
		return len(p) == 1 && p[0]["remote_addr"] != nil
	})
	if c := list["cam1"].Consumers; len(c) != 1 || c[0]["format_name"] != "mjpeg" || c[0]["protocol"] != "ws" {
		t.Errorf("consumers while watched: %v, want one ws viewer", c)
	}
	// The producer of a watched stream shows its connection; its URL hides
	// the user and password as go2rtc does.
	u, _ := url.Parse(cams.URL("cam1"))
	if p := list["cam1"].Producers; len(p) != 1 || p[0]["remote_addr"] != u.Host || p[0]["format_name"] != "rtsp" ||
		p[0]["url"] != "rtsp://***@"+u.Host+u.Path || strings.Contains(r.body, "admin") {
		t.Errorf("producers while watched: %v", p)
	}

	v.Close()
	waitFor(t, 5*time.Second, "the viewer to be detached", func() bool { return s.Consumers("cam1") == 0 })
	expect(t, "GET list after the viewer left", call(t, s, http.MethodGet, "/api/streams", nil), http.StatusOK,
		`{"cam1":{"producers":[{"url":"`+maskUserinfo(cams.URL("cam1"))+`"}],"consumers":null}}`+"\n")
}
