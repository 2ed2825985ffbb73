package go2rtctest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/testkit"
)

// inFlight starts a request in the background and waits until the stand-in
// has received it; the returned channel gives its outcome.
func inFlight(t *testing.T, s *Server, method, path string, q url.Values) <-chan error {
	t.Helper()
	before := len(s.Requests())
	done := make(chan error, 1)
	c := client(t)
	go func() {
		_, err := tryCall(context.Background(), c, s, method, path, q)
		done <- err
	}()
	waitFor(t, 5*time.Second, method+" "+path+" to arrive", func() bool { return len(s.Requests()) > before })
	return done
}

func TestOverlappingRequestsFailTheTest(t *testing.T) {
	rec := &testkit.RecordingTB{TB: t}
	s := New(rec, Options{})
	s.SetDelay(300 * time.Millisecond)
	first := inFlight(t, s, http.MethodGet, "/api/streams", nil)
	put(t, s, "cam1", srcA)
	if err := <-first; err != nil {
		t.Fatalf("first request: %v", err)
	}
	errs := rec.Errors()
	want := fmt.Sprintf("go2rtc stand-in: overlapping requests %q and %q: go2rtc crashes on this (GO2RTC.md)",
		"GET /api/streams", "PUT /api/streams?"+url.Values{"name": {"cam1"}, "src": {srcA}}.Encode())
	if len(errs) != 1 || errs[0] != want {
		t.Fatalf("reported %q, want exactly %q", errs, want)
	}

	// Answered one after the other, the same requests are fine, and the
	// stand-in kept serving after the report.
	s.SetDelay(0)
	call(t, s, http.MethodGet, "/api/streams", nil)
	put(t, s, "cam1", srcA)
	if errs := rec.Errors(); len(errs) != 1 {
		t.Errorf("sequential requests reported: %q", errs[1:])
	}
}

func TestSnapshotOverlappingListIsReported(t *testing.T) {
	cams := startCamsim(t, camsim.Camera{Name: "cam1", Hang: true})
	rec := &testkit.RecordingTB{TB: t}
	s := New(rec, Options{DialTimeout: 500 * time.Millisecond})
	put(t, s, "cam1", cams.URL("cam1"))
	snap := inFlight(t, s, http.MethodGet, "/api/frame.jpeg", url.Values{"src": {"cam1"}})
	call(t, s, http.MethodGet, "/api/streams", nil)
	if err := <-snap; err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if errs := rec.Errors(); len(errs) != 1 || !strings.Contains(errs[0], `"GET /api/frame.jpeg?src=cam1" and "GET /api/streams"`) {
		t.Errorf("reported %q, want the snapshot and the list named", errs)
	}
}

// TestAbandonedRequestIsNotOverlap: a client whose frame.jpeg timed out
// (it closed the connection) and that sends its next request at once kept
// to one request at a time, though go2rtc may still wait on the camera
// for the first: not reported.
func TestAbandonedRequestIsNotOverlap(t *testing.T) {
	cams := startCamsim(t, camsim.Camera{Name: "cam1", Hang: true})
	rec := &testkit.RecordingTB{TB: t}
	s := New(rec, Options{DialTimeout: time.Minute})
	put(t, s, "cam1", cams.URL("cam1"))
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := tryCall(ctx, client(t), s, http.MethodGet, "/api/frame.jpeg", url.Values{"src": {"cam1"}})
		cancel()
		if err == nil {
			t.Fatal("a frame of a hung camera arrived")
		}
		call(t, s, http.MethodGet, "/api/streams", nil)
	}
	if errs := rec.Errors(); len(errs) != 0 {
		t.Errorf("reported %q", errs)
	}
}

func TestPlayerAndViewersAreNotAPIRequests(t *testing.T) {
	cams := startCamsim(t)
	rec := &testkit.RecordingTB{TB: t}
	s := New(rec, Options{})
	put(t, s, "cam1", cams.URL("cam1"))
	s.Watch(t, "cam1")
	call(t, s, http.MethodGet, "/stream.html", url.Values{"src": {"cam1"}})
	call(t, s, http.MethodGet, "/api/streams", nil)
	if errs := rec.Errors(); len(errs) != 0 {
		t.Errorf("a REST request beside an open viewer was reported: %q", errs)
	}
}

func TestDelayHoldsEveryAnswer(t *testing.T) {
	const delay = 200 * time.Millisecond
	s := New(t, Options{})
	s.SetDelay(delay)
	start := time.Now()
	expect(t, "GET list", call(t, s, http.MethodGet, "/api/streams", nil), http.StatusOK, "{}\n")
	if took := time.Since(start); took < delay {
		t.Errorf("answered after %v, want at least %v", took, delay)
	}
}

func TestDownRefusesAndUpRestores(t *testing.T) {
	cams := startCamsim(t)
	s := New(t, Options{})
	put(t, s, "cam1", cams.URL("cam1"))
	v := s.Watch(t, "cam1")
	waitFor(t, 5*time.Second, "one camera connection", func() bool { return openOnCamera(cams, "cam1")() == 1 })

	s.Down()
	select {
	case <-v.done:
	case <-time.After(5 * time.Second):
		t.Fatal("viewer still open after Down")
	}
	waitFor(t, promptly, "the camera connection to close after Down", func() bool { return openOnCamera(cams, "cam1")() == 0 })
	_, err := tryCall(context.Background(), client(t), s, http.MethodGet, "/api/streams", nil)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("GET while down: %v, want connection refused", err)
	}

	s.Up()
	expect(t, "GET list after Up", call(t, s, http.MethodGet, "/api/streams", nil), http.StatusOK,
		`{"cam1":{"producers":[{"url":"`+maskUserinfo(cams.URL("cam1"))+`"}],"consumers":null}}`+"\n")
	if _, ok := s.ConfigFile()["cam1"]; !ok {
		t.Errorf("config file lost cam1 across Down and Up: %v", s.ConfigFile())
	}
	if r := frame(t, s, "cam1"); r.header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("frame.jpeg after Up: %d %q", r.code, r.header.Get("Content-Type"))
	}
}

func TestDownDropsRequestInFlight(t *testing.T) {
	s := New(t, Options{})
	s.SetDelay(time.Minute)
	pending := inFlight(t, s, http.MethodGet, "/api/streams", nil)
	start := time.Now()
	s.Down()
	select {
	case err := <-pending:
		if err == nil {
			t.Error("request in flight at Down got an answer, want a dropped connection")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("request in flight still pending 5 s after Down")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Down took %v", took)
	}
}

func TestStreamPageCanBeFramed(t *testing.T) {
	s := New(t, Options{})
	r := call(t, s, http.MethodGet, "/stream.html", url.Values{"src": {"cam1"}})
	if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("stream.html: %d %q", r.code, r.header.Get("Content-Type"))
	}
	if h := r.header.Get("X-Frame-Options"); h != "" {
		t.Errorf("X-Frame-Options %q blocks the dashboard's iframe", h)
	}
	if h := r.header.Get("Content-Security-Policy"); strings.Contains(h, "frame-ancestors") {
		t.Errorf("Content-Security-Policy %q blocks the dashboard's iframe", h)
	}
	if !strings.Contains(r.body, `"/api/ws?src="`) || !strings.Contains(r.body, "location.host") {
		t.Errorf("stream.html does not open /api/ws on its own host:\n%s", r.body)
	}
}

func TestCrossOriginWebSocketRefused(t *testing.T) {
	cams := startCamsim(t)
	s := New(t, Options{})
	put(t, s, "cam1", cams.URL("cam1"))
	if _, code, err := s.DialViewer("cam1", http.Header{"Origin": {"http://dashboard.example:8080"}}); code != http.StatusForbidden {
		t.Errorf("cross-origin WebSocket: status %d (%v), want 403", code, err)
	}
	v, code, err := s.DialViewer("cam1", http.Header{"Origin": {s.URL()}})
	if err != nil {
		t.Fatalf("same-origin WebSocket (the iframe's): status %d: %v", code, err)
	}
	v.Close()
}

func TestNoGoroutineLeftAfterCleanup(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Run("busy", func(t *testing.T) {
		cams := startCamsim(t, camsim.Camera{Name: "cam1"}, camsim.Camera{Name: "hang", Hang: true})
		s := New(t, Options{DialTimeout: time.Minute})
		put(t, s, "cam1", cams.URL("cam1"))
		put(t, s, "hang", cams.URL("hang"))
		s.Watch(t, "cam1")
		v := s.Watch(t, "cam1")
		waitFor(t, 5*time.Second, "frames", func() bool { n, _ := v.Received(); return n > 0 })
		frame(t, s, "cam1")
		// Left waiting on the hanging camera when the test ends.
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		c := client(t)
		go func() { _, _ = tryCall(ctx, c, s, http.MethodGet, "/api/frame.jpeg", url.Values{"src": {"hang"}}) }()
		waitFor(t, 5*time.Second, "the hanging dial", func() bool { return s.Connections("hang") == 1 })
	})
	var after int
	deadline := time.Now().Add(5 * time.Second)
	for after = runtime.NumGoroutine(); after > before && time.Now().Before(deadline); after = runtime.NumGoroutine() {
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
	if after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after cleanup:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}
