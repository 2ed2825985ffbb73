package camsim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestClientFramesDecode(t *testing.T) {
	for _, mode := range []Mode{ModePattern, ModeMotion, ModeStatic} {
		t.Run(string(mode), func(t *testing.T) {
			s := newServer(t, Options{Width: 160, Height: 96, Cameras: []Camera{{Name: "cam1", Mode: mode, FPS: 30}}})
			c := dial(t, s.URL("cam1"))
			for range 3 {
				decode(t, nextFrame(t, c), 160, 96)
			}
		})
	}
}

func TestStaticFramesIdentical(t *testing.T) {
	s := newServer(t, Options{Cameras: []Camera{{Name: "cam1", Mode: ModeStatic, FPS: 30}}})
	c := dial(t, s.URL("cam1"))
	nextFrame(t, c) // the first frame of a connection is padded
	prev := nextFrame(t, c)
	for range 5 {
		f := nextFrame(t, c)
		if !bytes.Equal(f, prev) {
			t.Fatal("static camera sent two different frames")
		}
		prev = f
	}
}

func TestMovingFramesDiffer(t *testing.T) {
	for _, mode := range []Mode{ModeMotion, ModePattern} {
		t.Run(string(mode), func(t *testing.T) {
			s := newServer(t, Options{Cameras: []Camera{{Name: "cam1", Mode: mode, FPS: 30}}})
			c := dial(t, s.URL("cam1"))
			prev := nextFrame(t, c)
			for range 5 {
				f := nextFrame(t, c)
				if bytes.Equal(f, prev) {
					t.Fatalf("%s camera sent two identical frames in a row", mode)
				}
				prev = f
			}
		})
	}
}

func TestMaxConnections(t *testing.T) {
	s := newServer(t, Options{Cameras: []Camera{{Name: "tapo", MaxConnections: 2}}})
	a := dial(t, s.URL("tapo"))
	b := dial(t, s.URL("tapo"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, s.URL("tapo"))
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 453 || se.Method != "OPTIONS" {
		t.Fatalf("third connection: %v, want 453 to OPTIONS", err)
	}
	want := CameraStats{Open: 2, MaxOpen: 2, Total: 2, Refused: 1, MaxConnections: 2, Mode: ModePattern, FPS: DefaultFPS, Codec: CodecMJPEG}
	if st := s.Stats("tapo"); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	nextFrame(t, a)
	a.Close()
	b.Close()
	waitFor(t, time.Second, "open back to 0", func() bool { return s.Stats("tapo").Open == 0 })
	if st := s.Stats("tapo"); st.MaxOpen != 2 || st.Total != 2 {
		t.Errorf("after close: %+v", st)
	}
	dial(t, s.URL("tapo")) // room again
}

func TestRefuseResets(t *testing.T) {
	s := newServer(t, Options{Cameras: []Camera{{Name: "down", Refuse: true}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, s.URL("down"))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("dial: %v, want connection reset", err)
	}
	if st := s.Stats("down"); st.Refused != 1 || st.Open != 0 || st.Total != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSlowAnswersLate(t *testing.T) {
	slow := 150 * time.Millisecond
	s := newServer(t, Options{Cameras: []Camera{{Name: "slow", Slow: Duration(slow)}}})
	start := time.Now()
	c := dial(t, s.URL("slow"))
	// OPTIONS, DESCRIBE, SETUP and PLAY each wait.
	if took := time.Since(start); took < 4*slow {
		t.Errorf("handshake took %v, want at least %v", took, 4*slow)
	}
	nextFrame(t, c)
}

func TestDropClosesAfterPlay(t *testing.T) {
	drop := 300 * time.Millisecond
	s := newServer(t, Options{Cameras: []Camera{{Name: "flaky", Drop: Duration(drop), FPS: 20}, {Name: "warm", FPS: 20}}})
	// The first picture a server sends is encoded then (1.5 s under -race):
	// not part of the time to the drop.
	nextFrame(t, dial(t, s.URL("warm")))
	c := dial(t, s.URL("flaky"))
	played := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	frames := 0
	var err error
	for err == nil {
		_, err = c.NextFrame(ctx)
		frames++
	}
	took := time.Since(played)
	if took < drop-50*time.Millisecond || took > drop+time.Second || frames < 2 {
		t.Errorf("stream ended after %v and %d frames with %v, want about %v", took, frames, err, drop)
	}
	waitFor(t, time.Second, "open back to 0", func() bool { return s.Stats("flaky").Open == 0 })
}

// rawConn is a plain TCP connection for requests the client does not make.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func rawDial(t *testing.T, s *Server) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.RTSPAddr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{Conn: nc, br: bufio.NewReader(nc)}
}

// roundTrip sends a raw request and reads the reply, skipping interleaved
// packets.
func (r *rawConn) roundTrip(t *testing.T, req string) *response {
	t.Helper()
	r.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	c := &Client{br: r.br}
	res, err := c.readResponse()
	if err != nil {
		t.Fatalf("reply to %q: %v", strings.SplitN(req, "\r\n", 2)[0], err)
	}
	return res
}

func TestProtocolErrors(t *testing.T) {
	s := newServer(t, Options{Cameras: []Camera{{Name: "cam1"}}})
	r := rawDial(t, s)
	u := "rtsp://" + s.RTSPAddr()
	for _, tc := range []struct {
		req  string
		code int
	}{
		{"OPTIONS " + u + "/nope RTSP/1.0\r\nCSeq: 7\r\n\r\n", 404},
		{"DESCRIBE " + u + "/nope RTSP/1.0\r\nCSeq: 8\r\n\r\n", 404},
		{"OPTIONS " + u + "/cam1 RTSP/1.0\r\nCSeq: 9\r\n\r\n", 200},
		{"SETUP " + u + "/cam1/trackID=0 RTSP/1.0\r\nCSeq: 10\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n", 461},
		{"PLAY " + u + "/cam1/ RTSP/1.0\r\nCSeq: 11\r\n\r\n", 455},
		{"RECORD " + u + "/cam1/ RTSP/1.0\r\nCSeq: 12\r\n\r\n", 501},
		{"GET_PARAMETER " + u + "/cam1/ RTSP/1.0\r\nCSeq: 13\r\n\r\n", 200},
	} {
		res := r.roundTrip(t, tc.req)
		cseq := strings.TrimSpace(strings.SplitN(strings.SplitN(tc.req, "CSeq:", 2)[1], "\r\n", 2)[0])
		if res.code != tc.code || res.header.get("cseq") != cseq {
			t.Errorf("%q: %d CSeq %q, want %d CSeq %s", strings.SplitN(tc.req, "\r\n", 2)[0], res.code, res.header.get("cseq"), tc.code, cseq)
		}
	}
	if st := s.Stats("cam1"); st.Open != 1 || st.Total != 1 {
		t.Errorf("stats %+v, want the connection counted once, when it named cam1", st)
	}
}

// TestRequestsAfterPlay sends RTCP and requests on the connection while
// frames flow, as ffmpeg does.
func TestRequestsAfterPlay(t *testing.T) {
	s := newServer(t, Options{Cameras: []Camera{{Name: "cam1", FPS: 30}}})
	c := dial(t, s.URL("cam1"))
	nextFrame(t, c)
	rr := []byte{'$', 1, 0, 8, 0x81, 201, 0, 1, 1, 2, 3, 4} // RTCP receiver report header
	if _, err := c.nc.Write(rr); err != nil {
		t.Fatal(err)
	}
	if err := c.send("GET_PARAMETER", c.base, "Session: "+c.session); err != nil {
		t.Fatal(err)
	}
	c.nc.SetDeadline(time.Now().Add(5 * time.Second))
	packets := 0
	for {
		_, payload, res, err := c.readMessage()
		if err != nil {
			t.Fatal(err)
		}
		if res != nil {
			if res.code != 200 || res.header.get("cseq") != "5" || !strings.HasPrefix(res.header.get("session"), c.session) {
				t.Fatalf("GET_PARAMETER reply %d %v", res.code, res.header)
			}
			break
		}
		if payload != nil {
			packets++
		}
	}
	c.nc.SetDeadline(time.Time{})
	decode(t, nextFrame(t, c), DefaultWidth, DefaultHeight)
	if err := c.send("TEARDOWN", c.base, "Session: "+c.session); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "TEARDOWN to close the connection", func() bool { return s.Stats("cam1").Open == 0 })
}

func TestAuth(t *testing.T) {
	s := newServer(t, Options{User: "admin", Pass: "pw", Cameras: []Camera{{Name: "cam1"}}})
	t.Run("digest", func(t *testing.T) {
		decode(t, nextFrame(t, dial(t, s.URL("cam1"))), DefaultWidth, DefaultHeight)
	})
	t.Run("basic", func(t *testing.T) {
		r := rawDial(t, s)
		tok := base64.StdEncoding.EncodeToString([]byte("admin:pw"))
		res := r.roundTrip(t, "OPTIONS rtsp://"+s.RTSPAddr()+"/cam1 RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Basic "+tok+"\r\n\r\n")
		if res.code != 200 {
			t.Errorf("basic auth: %d", res.code)
		}
	})
	for name, url := range map[string]string{
		"none":  "rtsp://" + s.RTSPAddr() + "/cam1",
		"wrong": "rtsp://admin:nope@" + s.RTSPAddr() + "/cam1",
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := Dial(ctx, url)
			var se *StatusError
			if !errors.As(err, &se) || se.Code != 401 {
				t.Fatalf("dial: %v, want 401", err)
			}
		})
	}
	t.Run("challenge", func(t *testing.T) {
		r := rawDial(t, s)
		res := r.roundTrip(t, "DESCRIBE rtsp://"+s.RTSPAddr()+"/cam1 RTSP/1.0\r\nCSeq: 1\r\n\r\n")
		ch := strings.Join(res.header["www-authenticate"], "\n")
		if res.code != 401 || !strings.Contains(ch, "Digest realm=") || !strings.Contains(ch, "Basic realm=") {
			t.Errorf("%d with challenges %q", res.code, ch)
		}
	})
}

func TestHangHoldsConnection(t *testing.T) {
	s := newServer(t, Options{Cameras: []Camera{{Name: "stuck", Hang: true}}})
	r := rawDial(t, s)
	if _, err := r.Write([]byte("OPTIONS rtsp://" + s.RTSPAddr() + "/stuck RTSP/1.0\r\nCSeq: 1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "the hung connection to count", func() bool { return s.Stats("stuck").Open == 1 })
	r.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := r.Read(make([]byte, 1)); n > 0 || !errors.Is(err, syscall.ETIMEDOUT) && !isTimeout(err) {
		t.Fatalf("hung camera answered: %d bytes, %v", n, err)
	}
	r.Close()
	waitFor(t, time.Second, "open back to 0", func() bool { return s.Stats("stuck").Open == 0 })
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestRemoveCameraClosesConnections(t *testing.T) {
	s := newServer(t, Options{Cameras: []Camera{{Name: "cam1", FPS: 30}}})
	c := dial(t, s.URL("cam1"))
	nextFrame(t, c)
	if err := s.RemoveCamera("cam1"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, err := c.NextFrame(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatalf("stream went on after the camera was removed: %v", err)
			}
			break
		}
	}
	if err := s.RemoveCamera("cam1"); !errors.Is(err, ErrNoCamera) {
		t.Errorf("second remove: %v", err)
	}
}

// TestIdleCamerasCostNothing adds many cameras and expects no goroutine
// and no picture for them.
func TestIdleCamerasCostNothing(t *testing.T) {
	s := newServer(t, Options{})
	before := runtime.NumGoroutine()
	for i := range 1000 {
		codec := CodecMJPEG
		if i%2 == 1 {
			codec = CodecH264
		}
		if err := s.AddCamera(Camera{Name: fmt.Sprintf("idle%04d", i), Codec: codec}); err != nil {
			t.Fatal(err)
		}
	}
	// Fewer is fine: an earlier test's goroutine may end meanwhile.
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines went from %d to %d", before, after)
	}
	if s.lib.bg != nil || s.lib.pattern != nil || s.lib.motion != nil || len(s.lib.h264) > 0 {
		t.Error("pictures were encoded for idle cameras")
	}
}

// TestCloseStopsEverything plays, hangs and slows connections, closes the
// server and expects every goroutine it started to be gone.
func TestCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := New(Options{Cameras: []Camera{
		{Name: "play", FPS: 30}, {Name: "hang", Hang: true}, {Name: "slow", Slow: Duration(time.Hour)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.URL("play"))
	nextFrame(t, c)
	for _, name := range []string{"hang", "slow"} {
		r := rawDial(t, s)
		r.Write([]byte("OPTIONS rtsp://" + s.RTSPAddr() + "/" + name + " RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
		waitFor(t, time.Second, name+" to count", func() bool { return s.Stats(name).Open == 1 })
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitGoroutines(t, before)
}

// TestCloseBeforeConnectFreesThePlace: a client that closes its connection
// and then opens a new one stays within the camera's limit, even when the
// old connection's reader has not yet seen the close (goroutines may see
// the two in either order; a camera sees them in the order they came).
// A connection the client still holds keeps its place.
func TestCloseBeforeConnectFreesThePlace(t *testing.T) {
	s := newServer(t, Options{Cameras: []Camera{{Name: "tapo", MaxConnections: 1}}})
	cam := s.camera("tapo")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// pair returns the camera's end of a fresh connection (nobody reads
	// it: the reader that would notice the close is not scheduled) and the
	// client's end.
	pair := func() (*conn, net.Conn) {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		server, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close(); server.Close() })
		return newConn(s, server), client
	}
	first, firstClient := pair()
	if adm, _ := cam.admit(first); adm != admitted {
		t.Fatalf("first connection: admission %d", adm)
	}
	second, _ := pair()
	if adm, _ := cam.admit(second); adm != refusedFull {
		t.Fatalf("second connection while the first is held: admission %d, want refused", adm)
	}
	firstClient.Close()
	waitFor(t, 5*time.Second, "the close to reach the camera's kernel", func() bool { return peerClosed(first.nc) })
	third, _ := pair()
	if adm, _ := cam.admit(third); adm != admitted {
		t.Fatalf("connection after the first was closed: admission %d, want admitted", adm)
	}
	if st := s.Stats("tapo"); st.Open != 1 || st.MaxOpen != 1 || st.Refused != 1 {
		t.Errorf("stats %+v, want 1 open, max 1, 1 refused", st)
	}

	// With room for two, a closed connection is not counted beside the next.
	if err := s.AddCamera(Camera{Name: "wide", MaxConnections: 2}); err != nil {
		t.Fatal(err)
	}
	wide := s.camera("wide")
	old, oldClient := pair()
	wide.admit(old)
	oldClient.Close()
	waitFor(t, 5*time.Second, "the close to reach the camera's kernel", func() bool { return peerClosed(old.nc) })
	next, _ := pair()
	wide.admit(next)
	if st := s.Stats("wide"); st.Open != 1 || st.MaxOpen != 1 {
		t.Errorf("stats %+v, want the closed connection not counted beside the new one", st)
	}
}

// TestReconnectRightAfterClose: a client that closes and at once connects
// again, hundreds of times, is never refused by a camera with room for
// one: whichever of camsim's goroutines runs first, the close counts first.
func TestReconnectRightAfterClose(t *testing.T) {
	s := newServer(t, Options{Cameras: []Camera{{Name: "tapo", MaxConnections: 1}}})
	for i := range 300 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := Dial(ctx, s.URL("tapo"))
		cancel()
		if err != nil {
			t.Fatalf("connection %d, right after the previous one closed: %v", i, err)
		}
		nextFrame(t, c)
		c.Close()
	}
	if st := s.Stats("tapo"); st.Refused != 0 || st.MaxOpen != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestClockBurntIn: a static camera with a clock shows the time, large,
// at the top left, and its picture changes there, and only there, from
// one second to the next: the rest of it stays the still picture.
func TestClockBurntIn(t *testing.T) {
	const w, h = 640, 384
	s := newServer(t, Options{Width: w, Height: h, Cameras: []Camera{{Name: "cam1", Mode: ModeStatic, Clock: true, FPS: 10}}})
	if st := s.Stats("cam1"); !st.Clock {
		t.Errorf("stats do not say the camera has a clock: %+v", st)
	}
	still, err := s.Still("cam1")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.URL("cam1"))
	first := decode(t, nextFrame(t, c), w, h)
	rows := s.lib.overlayRowCount()
	if rows < 2 {
		t.Fatalf("a %dx%d picture's clock takes %d rows, want a large one", w, h, rows)
	}
	band := image.Rect(0, mcuSide, w, (1+rows)*mcuSide)
	below := image.Rect(0, (1+rows)*mcuSide, w, h)
	var later image.Image
	waitFor(t, 3*time.Second, "the clock to tick", func() bool {
		later = decode(t, nextFrame(t, c), w, h)
		return changedIn(later, first, band, 80) > 20 // a digit's strokes, at least
	})
	if d := meanDiffIn(later, first, below); d > 1 {
		t.Errorf("below the clock the picture changed by %.1f levels", d)
	}
	if d := MeanAbsDiff(later.(*image.YCbCr).SubImage(below), still); d > 6 {
		t.Errorf("below the clock the picture is %.1f levels from the still picture", d)
	}
}

// changedIn counts the pixels within r whose brightness differs by more
// than thr between a and b.
func changedIn(a, b image.Image, r image.Rectangle, thr int) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			d := int(color.GrayModel.Convert(a.At(x, y)).(color.Gray).Y) - int(color.GrayModel.Convert(b.At(x, y)).(color.Gray).Y)
			if d > thr || -d > thr {
				n++
			}
		}
	}
	return n
}

// meanDiffIn is the mean absolute difference of a and b's brightness
// within r, in levels of 255.
func meanDiffIn(a, b image.Image, r image.Rectangle) float64 {
	var sum float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ya := color.GrayModel.Convert(a.At(x, y)).(color.Gray).Y
			yb := color.GrayModel.Convert(b.At(x, y)).(color.Gray).Y
			sum += math.Abs(float64(ya) - float64(yb))
		}
	}
	return sum / float64(max(1, r.Dx()*r.Dy()))
}
