package go2rtctest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"camvisor/actors/camsim"
)

// startCamsim serves cams with credentials on an ephemeral loopback port
// and closes the server when the test ends.
func startCamsim(t testing.TB, cams ...camsim.Camera) *camsim.Server {
	t.Helper()
	if len(cams) == 0 {
		cams = []camsim.Camera{{Name: "cam1"}}
	}
	srv, err := camsim.New(camsim.Options{User: "admin", Pass: "pw", Cameras: cams})
	if err != nil {
		t.Fatalf("start camsim: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close camsim: %v", err)
		}
	})
	return srv
}

// waitFor polls cond until it holds, failing the test when within passes
// first.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", within, what)
		}
		<-tick.C
	}
}

// openOnCamera is how many connections camsim counts open on a camera.
func openOnCamera(cams *camsim.Server, name string) func() int {
	return func() int { return cams.Stats(name).Open }
}

// client is an HTTP client of its own, so a test's idle connections are
// closed when it ends.
func client(t testing.TB) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// reply is an HTTP answer as tests compare it.
type reply struct {
	code   int
	body   string
	header http.Header
}

// call sends one request to the stand-in and reads the whole answer.
func call(t testing.TB, s *Server, method, path string, q url.Values) reply {
	t.Helper()
	r, err := tryCall(context.Background(), client(t), s, method, path, q)
	if err != nil {
		t.Fatalf("%s %s?%s: %v", method, path, q.Encode(), err)
	}
	return r
}

// tryCall sends one request and returns the error instead of failing.
func tryCall(ctx context.Context, c *http.Client, s *Server, method, path string, q url.Values) (reply, error) {
	u := s.URL() + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return reply{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{code: resp.StatusCode, body: string(b), header: resp.Header}, nil
}

// expect fails the test unless r has that status and body.
func expect(t testing.TB, what string, r reply, code int, body string) {
	t.Helper()
	if r.code != code || r.body != body {
		t.Errorf("%s: got %d %q, want %d %q", what, r.code, r.body, code, body)
	}
}

// put registers a stream with PUT ?name=&src=.
func put(t testing.TB, s *Server, name string, srcs ...string) {
	t.Helper()
	r := call(t, s, http.MethodPut, "/api/streams", url.Values{"name": {name}, "src": srcs})
	expect(t, "PUT "+name, r, http.StatusOK, "")
}

// stallProxy relays RTSP connections to a camera but passes on only the
// handshake: from the first interleaved packet ('$') on it reads and drops
// whatever the camera sends, keeping the connection open. To its client it
// is a camera that connects, agrees to play, and then stalls.
type stallProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

// newStallProxy relays to the camera server at target (host:port) until the
// test ends.
func newStallProxy(t testing.TB, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("stall proxy: %v", err)
	}
	p := &stallProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// url rewrites a camera URL to go through the proxy.
func (p *stallProxy) url(t testing.TB, camURL string) string {
	t.Helper()
	u, err := url.Parse(camURL)
	if err != nil {
		t.Fatalf("stall proxy: %v", err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

func (p *stallProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		cam, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, cam)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(cam, client)
			cam.Close()
		}()
		go func() {
			defer p.wg.Done()
			defer client.Close()
			buf := make([]byte, 32<<10)
			stalled := false
			for {
				n, err := cam.Read(buf)
				if !stalled && n > 0 {
					fwd := buf[:n]
					if i := bytes.IndexByte(fwd, '$'); i >= 0 {
						fwd, stalled = fwd[:i], true
					}
					if _, werr := client.Write(fwd); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

func (p *stallProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
