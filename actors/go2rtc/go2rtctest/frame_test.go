package go2rtctest

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"net/http"
	"net/url"
	"testing"
	"time"

	"camvisor/actors/camsim"
)

// GO2RTC.md's "Snapshots" section.

func frame(t *testing.T, s *Server, name string) reply {
	t.Helper()
	return call(t, s, http.MethodGet, "/api/frame.jpeg", url.Values{"src": {name}})
}

// failedEmpty fails the test unless r is go2rtc's failed snapshot: 200, no
// body, no Content-Type.
func failedEmpty(t *testing.T, r reply) {
	t.Helper()
	if r.code != http.StatusOK || r.body != "" {
		t.Errorf("failed snapshot: got %d with %d bytes, want 200 and empty", r.code, len(r.body))
	}
	if ct, ok := r.header["Content-Type"]; ok {
		t.Errorf("failed snapshot has Content-Type %q, want none", ct)
	}
}

func TestFrameReturnsJPEG(t *testing.T) {
	cams := startCamsim(t)
	s := New(t, Options{})
	put(t, s, "cam1", cams.URL("cam1"))
	r := frame(t, s, "cam1")
	if r.code != http.StatusOK || r.header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("frame.jpeg: %d %q, want 200 image/jpeg", r.code, r.header.Get("Content-Type"))
	}
	img, err := jpeg.Decode(bytes.NewReader([]byte(r.body)))
	if err != nil {
		t.Fatalf("frame.jpeg body of %d bytes: %v", len(r.body), err)
	}
	if b := img.Bounds(); b.Dx() != camsim.DefaultWidth || b.Dy() != camsim.DefaultHeight {
		t.Errorf("frame is %v, want %dx%d", b, camsim.DefaultWidth, camsim.DefaultHeight)
	}
	waitFor(t, promptly, "the snapshot's camera connection to close", func() bool {
		return openOnCamera(cams, "cam1")() == 0
	})
	if st := cams.Stats("cam1"); st.Total != 1 {
		t.Errorf("one snapshot made %d camera connections, want 1", st.Total)
	}
}

func TestFrameWhileWatchedTakesNoExtraConnection(t *testing.T) {
	cams := startCamsim(t)
	s := New(t, Options{})
	put(t, s, "cam1", cams.URL("cam1"))
	s.Watch(t, "cam1")
	waitFor(t, 5*time.Second, "one camera connection", func() bool { return openOnCamera(cams, "cam1")() == 1 })
	for range 3 {
		if r := frame(t, s, "cam1"); r.code != http.StatusOK || r.header.Get("Content-Type") != "image/jpeg" || r.body == "" {
			t.Fatalf("frame.jpeg while watched: %d %q, %d bytes", r.code, r.header.Get("Content-Type"), len(r.body))
		}
	}
	if st := cams.Stats("cam1"); st.MaxOpen != 1 || st.Total != 1 {
		t.Errorf("snapshots while watched: at most %d open, %d ever; want 1 and 1", st.MaxOpen, st.Total)
	}
}

func TestFrameFromRefusingCameraIsEmpty200(t *testing.T) {
	cams := startCamsim(t, camsim.Camera{Name: "cam1", Refuse: true})
	s := New(t, Options{})
	put(t, s, "cam1", cams.URL("cam1"))
	start := time.Now()
	r := frame(t, s, "cam1")
	took := time.Since(start)
	failedEmpty(t, r)
	if took > time.Second {
		t.Errorf("refused snapshot took %v; go2rtc answers in about 1 ms", took)
	}
	if n := s.Connections("cam1"); n != 0 {
		t.Errorf("Connections after a refused dial = %d, want 0", n)
	}
}

func TestFrameFromHangingCameraIsEmpty200AfterDialTimeout(t *testing.T) {
	const dialTimeout = 300 * time.Millisecond
	cams := startCamsim(t, camsim.Camera{Name: "cam1", Hang: true})
	s := New(t, Options{DialTimeout: dialTimeout})
	put(t, s, "cam1", cams.URL("cam1"))
	start := time.Now()
	r := frame(t, s, "cam1")
	took := time.Since(start)
	failedEmpty(t, r)
	if took < dialTimeout || took > dialTimeout+2*time.Second {
		t.Errorf("snapshot of a hanging camera took %v, want about %v", took, dialTimeout)
	}
	waitFor(t, promptly, "the hanging connection to close", func() bool { return openOnCamera(cams, "cam1")() == 0 })
}

func TestFrameUnknownStreamIs404(t *testing.T) {
	s := New(t, Options{})
	expect(t, "frame.jpeg of an unknown stream", frame(t, s, "nope"), http.StatusNotFound, "stream not found\n")
}

func TestViewerOfFailingCameraGetsErrorAndIsDetached(t *testing.T) {
	cams := startCamsim(t, camsim.Camera{Name: "cam1", Refuse: true})
	s := New(t, Options{})
	put(t, s, "cam1", cams.URL("cam1"))
	v := s.Watch(t, "cam1")
	select {
	case <-v.done:
	case <-time.After(5 * time.Second):
		t.Fatal("viewer of a refusing camera still open after 5 s")
	}
	if _, texts := v.Received(); len(texts) != 2 || texts[0] != `{"type":"mjpeg"}` {
		t.Errorf("viewer got %q, want the mjpeg greeting and an error", texts)
	}
	waitFor(t, 5*time.Second, "the viewer to be detached", func() bool { return s.Consumers("cam1") == 0 })
}

func TestFrameFromStalledCameraWaitsUntilClientGivesUp(t *testing.T) {
	const patience = 500 * time.Millisecond
	cams := startCamsim(t)
	proxy := newStallProxy(t, cams.RTSPAddr())
	s := New(t, Options{DialTimeout: 100 * time.Millisecond}) // no bearing on a camera that answered
	put(t, s, "cam1", proxy.url(t, cams.URL("cam1")))

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	start := time.Now()
	r, err := tryCall(ctx, client(t), s, http.MethodGet, "/api/frame.jpeg", url.Values{"src": {"cam1"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("snapshot of a stalled camera: got %d %q (%v); want no answer until the client gives up", r.code, r.body, err)
	}
	if took := time.Since(start); took < patience {
		t.Errorf("gave up after %v, before the client's %v", took, patience)
	}
	waitFor(t, promptly, "the abandoned snapshot to let go of the camera", func() bool {
		return s.Consumers("cam1") == 0 && openOnCamera(cams, "cam1")() == 0
	})
}
