package actors

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"image"
	"image/jpeg"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"camvisor/actors/camauth"
	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// jpegCamera is a camera's HTTP snapshot endpoint on loopback, as IP
// cameras serve one: Digest auth (MD5, qop=auth), a JPEG at /snap.jpg, a
// request that never answers at /hang. It counts the connections open to
// it, as the camera would.
type jpegCamera struct {
	*httptest.Server
	user, pass string
	mu         sync.Mutex
	conns      map[net.Conn]bool // open, as the server sees them
	serving    int               // requests being answered now
	most       int               // requests answered at once, at most
	requests   int
}

func newJPEGCamera(t *testing.T, user, pass string) *jpegCamera {
	c := &jpegCamera{user: user, pass: pass, conns: map[net.Conn]bool{}}
	var pic bytes.Buffer
	jpeg.Encode(&pic, image.NewGray(image.Rect(0, 0, 64, 48)), nil)
	c.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notes a connection's close only when it reads its end:
		// what the camera serves at once is what its handlers do.
		c.mu.Lock()
		c.requests++
		c.serving++
		c.most = max(c.most, c.serving)
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.serving--
			c.mu.Unlock()
		}()
		if !c.authorized(r) {
			w.Header().Add("WWW-Authenticate", `Digest realm="cam", nonce="abc123", qop="auth", algorithm=MD5`)
			w.Header().Add("WWW-Authenticate", `Basic realm="cam"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/hang":
			<-r.Context().Done()
		default:
			time.Sleep(150 * time.Millisecond) // a camera encodes its JPEG
			w.Header().Set("Content-Type", "image/jpeg")
			w.Write(pic.Bytes())
		}
	}))
	c.Config.ConnState = func(conn net.Conn, s http.ConnState) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if s == http.StateClosed || s == http.StateHijacked {
			delete(c.conns, conn)
			return
		}
		c.conns[conn] = true
	}
	c.Start()
	t.Cleanup(c.Close)
	return c
}

func (c *jpegCamera) authorized(r *http.Request) bool {
	scheme, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if scheme != "Digest" {
		return false
	}
	p := camauth.ParseParams(rest)
	h := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
	ha1, ha2 := h(c.user+":cam:"+c.pass), h(r.Method+":"+p["uri"])
	return p["username"] == c.user && p["nonce"] == "abc123" && p["uri"] == r.URL.RequestURI() &&
		p["response"] == h(ha1+":abc123:"+p["nc"]+":"+p["cnonce"]+":auth:"+ha2)
}

// counts are the connections open, the most requests served at once, and
// the requests served.
func (c *jpegCamera) counts() (open, most, requests int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns), c.most, c.requests
}

func (c *jpegCamera) url(user, pass, path string) string {
	return strings.Replace(c.URL, "http://", fmt.Sprintf("http://%s:%s@", user, pass), 1) + path
}

// TestSnapshotURL: a camera with a snapshot_url gives its frames over
// HTTP with Digest auth, no ffmpeg started; its HTTP connections count
// against max_connections (five captures at once, one connection at a
// time at the camera); a fetch that does not answer ends at the deadline
// with its connection closed; a wrong password fails without showing it.
func TestSnapshotURL(t *testing.T) {
	cam := newJPEGCamera(t, "admin", testkit.CamsimPassword)
	cams := startCamsim(t, camsim.Camera{Name: "rtsp"})
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {{Name: "rtsp"}}}, nil)
	cfg.FFmpeg.CaptureTimeout = config.D(3 * time.Second)
	rtspURL := cfg.Subnets[0].Cameras[0].URL
	cfg.Subnets[0].Cameras = []config.Camera{
		{ID: "snap", URL: rtspURL, SnapshotURL: cam.url("admin", testkit.CamsimPassword, "/snap.jpg"), MaxConnections: 1, Queue: 8},
		{ID: "hung", URL: rtspURL, SnapshotURL: cam.url("admin", testkit.CamsimPassword, "/hang"), MaxConnections: 1, Queue: 8},
		{ID: "wrong", URL: rtspURL, SnapshotURL: cam.url("admin", "not-the-password", "/snap.jpg"), MaxConnections: 1, Queue: 8},
	}
	h := startTree(t, cams, cfg)
	h.waitCamera("lab", "snap")
	h.waitCamera("lab", "hung")
	h.waitCamera("lab", "wrong")
	// The first cycle over, so only this test's captures reach the camera.
	waitFor(h, 20*time.Second, "first cycle", func(e *messages.CycleEnded) bool { return true })
	testkit.Eventually(t, 5*time.Second, "no connection left from the first cycle", func() bool { open, _, _ := cam.counts(); return open == 0 })
	cam.mu.Lock()
	cam.most = 0
	cam.mu.Unlock()

	var wg sync.WaitGroup
	results := make([]*messages.CaptureDone, 5)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.tree.system.Root.RequestFuture(h.camera("lab", "snap"), &messages.Capture{Camera: "snap", Reason: "operator"}, 20*time.Second).Result()
			if err == nil {
				results[i] = res.(*messages.CaptureDone)
			}
		}()
	}
	wg.Wait()
	for i, d := range results {
		if d == nil || d.Outcome != messages.OutcomeOK || d.Via != "http" || d.Bytes == 0 || d.OSPID != 0 {
			t.Errorf("capture %d: %+v", i, d)
		}
	}
	if _, most, _ := cam.counts(); most != 1 {
		t.Errorf("the camera served %d requests at once; its budget is 1", most)
	}

	d := h.capture("lab", "hung", 20*time.Second)
	if d.Outcome != messages.OutcomeTimeout {
		t.Errorf("hung snapshot_url: %s %s", d.Outcome, d.Error)
	}
	testkit.Eventually(t, 5*time.Second, "the hung fetch's connection closed", func() bool { open, _, _ := cam.counts(); return open == 0 })

	d = h.capture("lab", "wrong", 20*time.Second)
	if d.Outcome != messages.OutcomeHTTPError || !strings.Contains(d.Error, "401") || strings.Contains(d.Error, "not-the-password") {
		t.Errorf("wrong password: %s %q", d.Outcome, d.Error)
	}
	if n := len(all(h, func(e *messages.ProcessStarted) bool { return e.Camera != "rtsp" })); n != 0 {
		t.Errorf("%d ffmpeg processes started for cameras with a snapshot_url", n)
	}
}

// TestLiveViewPreemptsHTTPSnapshot: a live view asked while a patrol
// fetch from the camera's snapshot_url holds its only slot takes the slot
// as it would an ffmpeg capture's: the fetch is stopped (its connection
// closed), recorded as preempted and taken again through the live view;
// the camera does not restart.
func TestLiveViewPreemptsHTTPSnapshot(t *testing.T) {
	cam := newJPEGCamera(t, "admin", testkit.CamsimPassword)
	cams := startCamsim(t, camsim.Camera{Name: "rtsp"})
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {{Name: "rtsp"}}}, nil)
	cfg.FFmpeg.CaptureTimeout = config.D(8 * time.Second)
	rtspURL := cfg.Subnets[0].Cameras[0].URL
	cfg.Subnets[0].Cameras = []config.Camera{
		{ID: "hung", URL: rtspURL, SnapshotURL: cam.url("admin", testkit.CamsimPassword, "/hang"), MaxConnections: 1, Queue: 8},
	}
	withGo2RTC(t, cfg, time.Minute)
	patrolByFFmpeg(cfg)
	h := startTree(t, cams, cfg)
	waitFor(h, 10*time.Second, "the patrol's fetch holding the slot", func(e *messages.SlotsChanged) bool { return e.Camera == "hung" && e.FFmpeg == 1 })

	mark := h.mark()
	ans := h.lease("lab", "hung", time.Time{})
	if !ans.Granted {
		t.Fatalf("live view refused: %s", ans.Reason)
	}
	d := waitAfter(h, mark, 10*time.Second, "the patrol capture's first answer", func(e *messages.CaptureDone) bool { return e.Camera == "hung" })
	if d.Outcome != messages.OutcomePreempted || d.Cycle == 0 {
		t.Errorf("the patrol fetch: %s (cycle %d) %s; want preempted", d.Outcome, d.Cycle, d.Error)
	}
	testkit.Eventually(t, 5*time.Second, "the preempted fetch's connection closed", func() bool { open, _, _ := cam.counts(); return open == 0 })
	if r := all(h, func(e *messages.ActorRestarted) bool { return strings.HasSuffix(e.Actor, CameraPath("lab", "hung")) }); len(r) != 0 {
		t.Errorf("the camera restarted: %s", r[0].Reason)
	}
}
