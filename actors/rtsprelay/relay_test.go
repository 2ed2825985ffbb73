package rtsprelay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/testkit"
)

// A password that needs escaping in a URL: '@', '/', ':' and '%'.
const password = "S3cr3t-P@ss/w:rd%"

// newCamsim serves cams with user admin and the password above.
func newCamsim(t *testing.T, cams ...camsim.Camera) *camsim.Server {
	t.Helper()
	s, err := camsim.New(camsim.Options{User: "admin", Pass: password, Cameras: cams, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newRelay(t *testing.T, opts Options) *Relay {
	t.Helper()
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		if n := r.Paths(); n != 0 {
			t.Errorf("%d paths open after Close", n)
		}
	})
	return r
}

func open(t *testing.T, r *Relay, rawURL string) *Path {
	t.Helper()
	p, err := r.Open(rawURL, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func dial(t *testing.T, rawURL string) (*camsim.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return camsim.Dial(ctx, rawURL)
}

func nextFrame(t *testing.T, c *camsim.Client) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := c.NextFrame(ctx)
	if err != nil {
		t.Fatalf("no frame through the relay: %v", err)
	}
	return f
}

func openAt(s *camsim.Server, name string) func() bool {
	return func() bool { return s.Stats(name).Open == 0 }
}

// TestRelayAnswersDigest: a client without credentials reads the camera
// through the relay, which answers camsim's Digest challenge; the Path's
// URL holds no secret; one camera connection per client connection, gone
// when the client goes.
func TestRelayAnswersDigest(t *testing.T) {
	cams := newCamsim(t, camsim.Camera{Name: "front"})
	r := newRelay(t, Options{})
	p := open(t, r, cams.URL("front"))
	if u := p.URL(); strings.Contains(u, "admin") || strings.Contains(u, url.PathEscape(password)) || strings.Contains(u, "S3cr3t") {
		t.Fatalf("the relay URL %q holds the credentials", u)
	}
	c, err := dial(t, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	if f := nextFrame(t, c); !bytes.HasPrefix(f, []byte{0xFF, 0xD8}) {
		t.Fatalf("frame is not a JPEG: % x", f[:min(8, len(f))])
	}
	if st := cams.Stats("front"); st.Open != 1 || st.MaxOpen != 1 {
		t.Errorf("camsim counts %+v, want exactly one connection", st)
	}
	c.Close()
	testkit.Eventually(t, 10*time.Second, "the camera connection closed after the client's", openAt(cams, "front"))

	// The same Path serves the process's next connection (a stream-mode
	// child reconnecting), again with one camera connection.
	c, err = dial(t, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	nextFrame(t, c)
	c.Close()
	testkit.Eventually(t, 10*time.Second, "the second camera connection closed", openAt(cams, "front"))
	if st := cams.Stats("front"); st.MaxOpen != 1 || st.Total != 2 {
		t.Errorf("camsim counts %+v, want two connections, one at a time", st)
	}
}

// TestRelayAnswersBasic: a camera that offers only Basic gets Basic.
func TestRelayAnswersBasic(t *testing.T) {
	cams := newCamsim(t, camsim.Camera{Name: "front"})
	tap := newTap(t, cams.RTSPAddr(), true)
	r := newRelay(t, Options{})
	p := open(t, r, "rtsp://admin:"+url.PathEscape(password)+"@"+tap.addr()+"/front")
	c, err := dial(t, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	nextFrame(t, c)
	c.Close()
	if schemes := tap.authSchemes(); len(schemes) == 0 || schemes[0] != "Basic" {
		t.Errorf("the camera saw Authorization schemes %v, want Basic", schemes)
	}
}

// TestRelayPassesQueryAndHidesIt: a camera URL's query (where some cameras
// take their password) reaches the camera and never the client.
func TestRelayPassesQueryAndHidesIt(t *testing.T) {
	cams := newCamsim(t, camsim.Camera{Name: "front"})
	tap := newTap(t, cams.RTSPAddr(), false)
	r := newRelay(t, Options{})
	p := open(t, r, "rtsp://admin:"+url.PathEscape(password)+"@"+tap.addr()+"/front?user=admin&pwd=qsecret")
	if strings.Contains(p.URL(), "qsecret") {
		t.Fatalf("relay URL %q holds the query", p.URL())
	}
	// DESCRIBE by hand, to read exactly what the client is told.
	nc, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "DESCRIBE %s RTSP/1.0\r\nCSeq: 7\r\nAccept: application/sdp\r\n\r\n", p.URL())
	res, err := readMessage(bufio.NewReader(nc))
	if err != nil {
		t.Fatal(err)
	}
	shown := string(res.appendTo(nil))
	if res.status() != 200 || res.get("CSeq") != "7" || !strings.HasPrefix(res.get("Content-Base"), p.prefix+"/front") {
		t.Errorf("the client was answered:\n%s", shown)
	}
	if strings.Contains(shown, "qsecret") || strings.Contains(shown, tap.addr()) {
		t.Errorf("the client saw the camera's query or address:\n%s", shown)
	}
	lines := tap.requestLines()
	if len(lines) == 0 || !strings.Contains(lines[0], "/front?user=admin&pwd=qsecret ") {
		t.Errorf("the camera saw %q, want its query restored", lines)
	}
}

// TestRelayWrongPassword: a refused answer reaches the client as the
// camera's 401; nothing is retried forever.
func TestRelayWrongPassword(t *testing.T) {
	cams := newCamsim(t, camsim.Camera{Name: "front"})
	r := newRelay(t, Options{})
	p := open(t, r, "rtsp://admin:wrong@"+cams.RTSPAddr()+"/front")
	_, err := dial(t, p.URL())
	var se *camsim.StatusError
	if !errors.As(err, &se) || se.Code != 401 {
		t.Fatalf("dial with a wrong password: %v, want a 401", err)
	}
	testkit.Eventually(t, 10*time.Second, "the camera connection closed", openAt(cams, "front"))
}

// TestRelayReleaseClosesBothEnds: closing the Path (its actor stopped)
// closes the camera connection before Close returns and the client's too;
// the Path then accepts nothing.
func TestRelayReleaseClosesBothEnds(t *testing.T) {
	cams := newCamsim(t, camsim.Camera{Name: "front"})
	r := newRelay(t, Options{})
	p, err := r.Open(cams.URL("front"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dial(t, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nextFrame(t, c)
	p.Close()
	testkit.Eventually(t, 10*time.Second, "camsim sees the camera connection gone", openAt(cams, "front"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if _, err := c.NextFrame(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the client's connection stayed open after the release")
			}
			break
		}
	}
	if _, err := dial(t, p.URL()); err == nil {
		t.Error("a released path still serves")
	}
	if r.Paths() != 0 {
		t.Errorf("%d paths registered after the release", r.Paths())
	}
	if st := cams.Stats("front"); st.Total != 1 {
		t.Errorf("camsim counts %+v, want the one connection only", st)
	}
}

// TestRelayOneConnectionAtATime: a second connection to a Path in use is
// refused without a camera connection.
func TestRelayOneConnectionAtATime(t *testing.T) {
	cams := newCamsim(t, camsim.Camera{Name: "front", MaxConnections: 4})
	r := newRelay(t, Options{})
	p := open(t, r, cams.URL("front"))
	c, err := dial(t, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nextFrame(t, c)
	_, err = dial(t, p.URL())
	var se *camsim.StatusError
	if !errors.As(err, &se) || se.Code != 503 {
		t.Fatalf("second connection: %v, want a 503", err)
	}
	if st := cams.Stats("front"); st.Total != 1 || st.MaxOpen != 1 {
		t.Errorf("camsim counts %+v, want one connection", st)
	}
}

// TestRelayRefusesStrangers: an unknown path gets a 404 and no camera
// connection; a connection from a user the relay does not allow gets
// nothing at all.
func TestRelayRefusesStrangers(t *testing.T) {
	cams := newCamsim(t, camsim.Camera{Name: "front"})
	r := newRelay(t, Options{})
	p := open(t, r, cams.URL("front"))
	_, err := dial(t, "rtsp://"+r.Addr()+"/0123456789abcdef0123456789abcdef/front")
	var se *camsim.StatusError
	if !errors.As(err, &se) || se.Code != 404 {
		t.Errorf("unknown path: %v, want a 404", err)
	}

	nobody := newRelay(t, Options{AllowUID: func(uint32) bool { return false }})
	q := open(t, nobody, cams.URL("front"))
	if _, err := dial(t, q.URL()); err == nil {
		t.Error("a connection from a user not allowed was served")
	}
	if st := cams.Stats("front"); st.Total != 0 {
		t.Errorf("camsim counts %+v, want no connection", st)
	}

	// With the default rule, a real process of another user is refused
	// while ours is served.
	if os.Getuid() != 0 {
		t.Log("not root: another user's process cannot be started; the rule was checked above with AllowUID")
		return
	}
	testkit.RequireFFmpeg(t)
	cmd := exec.Command("ffmpeg", snapshot(p.URL())...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err == nil || len(out) > 0 {
		t.Errorf("ffmpeg as uid 65534 read %d bytes through the relay (err %v)", len(out), err)
	}
	if st := cams.Stats("front"); st.Total != 0 {
		t.Errorf("camsim counts %+v after another user's attempt, want no connection", st)
	}
	if out, err := exec.Command("ffmpeg", snapshot(p.URL())...).Output(); err != nil || !bytes.HasPrefix(out, []byte{0xFF, 0xD8}) {
		t.Errorf("ffmpeg as camvisor's user: %v, %d bytes", err, len(out))
	}
}

// TestRelayFFmpegSnapshot: Debian's ffmpeg takes a snapshot through the
// relay with no credentials on its command line.
func TestRelayFFmpegSnapshot(t *testing.T) {
	testkit.RequireFFmpeg(t)
	cams := newCamsim(t, camsim.Camera{Name: "front"})
	r := newRelay(t, Options{})
	p := open(t, r, cams.URL("front"))
	var stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", snapshot(p.URL())...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || !bytes.HasPrefix(out, []byte{0xFF, 0xD8}) {
		t.Fatalf("ffmpeg through the relay: %v, %d bytes; stderr:\n%s", err, len(out), stderr.String())
	}
	testkit.Eventually(t, 10*time.Second, "the camera connection closed with ffmpeg's", openAt(cams, "front"))
	if st := cams.Stats("front"); st.Total != 1 {
		t.Errorf("camsim counts %+v, want one connection for one ffmpeg", st)
	}
}

// TestRelayCameraUnreachable: ffmpeg hears why, in the relay's answer.
func TestRelayCameraUnreachable(t *testing.T) {
	testkit.RequireFFmpeg(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	r := newRelay(t, Options{})
	p := open(t, r, "rtsp://admin:"+url.PathEscape(password)+"@"+addr+"/x")
	var stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", snapshot(p.URL())...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatal("ffmpeg succeeded against nothing")
	}
	// In ffmpeg's own words too ("Connection refused"), as a direct
	// connection's failure reads.
	if s := stderr.String(); !strings.Contains(s, "camera unreachable") || !strings.Contains(s, "Connection refused") {
		t.Errorf("ffmpeg's stderr does not say why:\n%s", s)
	}
}

func snapshot(u string) []string {
	return []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-timeout", "10000000",
		"-analyzeduration", "0", "-probesize", "32768", "-i", u, "-an", "-frames:v", "1", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1"}
}

// tap is a TCP proxy in front of camsim that records what passes and can
// hide camsim's Digest challenge, as a Basic-only camera would answer.
type tap struct {
	ln          net.Listener
	camera      string
	stripDigest bool

	mu       sync.Mutex
	requests []string
	schemes  []string
	// sessionTimeout, when set, replaces the session timeout camsim
	// announces (the pace of a client's keepalives).
	sessionTimeout string
	// toCamera and toClient, when set, change a request on its way to
	// camsim and what camsim sends on its way back; toClient returns false
	// to drop the message and answer the request itself (it may write to
	// the client).
	toCamera func(m *message)
	toClient func(client net.Conn, m *message) bool
}

func newTap(t *testing.T, camera string, stripDigest bool) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{ln: ln, camera: camera, stripDigest: stripDigest}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				tp.serve(nc)
			}()
		}
	}()
	return tp
}

func (tp *tap) addr() string { return tp.ln.Addr().String() }

func (tp *tap) serve(client net.Conn) {
	defer client.Close()
	cam, err := net.Dial("tcp", tp.camera)
	if err != nil {
		return
	}
	defer cam.Close()
	go func() { // client → camera
		defer cam.Close()
		br := bufio.NewReader(client)
		for {
			b, err := skipBlank(br)
			if err != nil {
				return
			}
			if b == '$' {
				buf, err := frames(br)
				if err != nil {
					return
				}
				cam.Write(buf)
				br.Discard(len(buf))
				continue
			}
			m, err := readMessage(br)
			if err != nil {
				return
			}
			tp.mu.Lock()
			tp.requests = append(tp.requests, m.start)
			if a := m.get("Authorization"); a != "" {
				scheme, _, _ := strings.Cut(a, " ")
				tp.schemes = append(tp.schemes, scheme)
			}
			tp.mu.Unlock()
			if tp.toCamera != nil {
				tp.toCamera(m)
			}
			cam.Write(m.appendTo(nil))
		}
	}()
	br := bufio.NewReaderSize(cam, frameBuffer)
	for { // camera → client
		b, err := skipBlank(br)
		if err != nil {
			return
		}
		if b == '$' {
			buf, err := frames(br)
			if err != nil {
				return
			}
			client.Write(buf)
			br.Discard(len(buf))
			continue
		}
		m, err := readMessage(br)
		if err != nil {
			return
		}
		tp.mu.Lock()
		timeout := tp.sessionTimeout
		tp.mu.Unlock()
		if s := m.get("Session"); timeout != "" && s != "" {
			id, _, _ := strings.Cut(s, ";")
			m.set("Session", id+";timeout="+timeout)
		}
		if tp.stripDigest {
			kept := m.fields[:0]
			for _, f := range m.fields {
				if !(strings.EqualFold(f.name, "WWW-Authenticate") && strings.HasPrefix(f.value, "Digest")) {
					kept = append(kept, f)
				}
			}
			m.fields = kept
		}
		if tp.toClient != nil && !tp.toClient(client, m) {
			continue
		}
		client.Write(m.appendTo(nil))
	}
}

func (tp *tap) requestLines() []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]string(nil), tp.requests...)
}

func (tp *tap) authSchemes() []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]string(nil), tp.schemes...)
}
