package rtsprelay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"camvisor/actors/camauth"
)

// conn is one process connection and the one camera connection it gets.
// Three goroutines at most touch it: serve (reads the process, writes the
// camera), downstream (reads the camera, writes the process; answers the
// camera's challenges) and the Path's owner (abort). The mutexes below are
// for those goroutines, which share the two sockets; no actor is involved.
type conn struct {
	relay  *Relay
	client net.Conn
	cbr    *bufio.Reader
	log    *slog.Logger
	done   chan struct{} // closed once both sockets are closed and serve returned
	path   *Path

	mu      sync.Mutex // guards camera, cancel, aborted against abort
	camera  net.Conn
	cancel  context.CancelFunc
	aborted bool

	cmu sync.Mutex // one write at a time to the camera
	wmu sync.Mutex // one write at a time to the process

	pmu     sync.Mutex // guards the requests in flight and the camera's answers to challenges
	seq     int
	pending map[int]*pending
	auth    camauth.Client
}

// pending is a request of the process in flight to the camera, kept until
// its answer: a 401 is answered by sending it again with credentials.
type pending struct {
	clientCSeq string
	req        *message // as the camera sees it, without CSeq and Authorization
	method     string
	uri        string
	answered   bool // it carried an answer to a challenge
	tries      int
	redirects  int // redirects followed so far
}

func newConn(r *Relay, nc net.Conn) *conn {
	return &conn{relay: r, client: nc, cbr: pooledReader(&lineReaders, nc), log: r.log,
		done: make(chan struct{}), pending: map[int]*pending{}}
}

// The connections' read buffers, kept from one connection to the next: a
// relayed snapshot allocated and cleared 85 KB of them, for a second's use.
var (
	lineReaders  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, lineBuffer) }}
	frameReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, frameBuffer) }}
)

// pooledReader is a reader of pool's, reading r.
func pooledReader(pool *sync.Pool, r io.Reader) *bufio.Reader {
	br := pool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

// release gives br back to pool; nothing may read it after.
func release(pool *sync.Pool, br *bufio.Reader) {
	br.Reset(nil)
	pool.Put(br)
}

// serve runs the connection from accept to close.
func (c *conn) serve() {
	defer close(c.done)
	defer release(&lineReaders, c.cbr)
	defer c.client.Close()
	who, err := c.relay.checkPeer(c.client)
	if err != nil {
		c.relay.logLimited(c.log, "peer:"+who, "rtsp relay refused a connection", "remote", c.client.RemoteAddr().String(), "reason", err.Error())
		return
	}
	_ = c.client.SetReadDeadline(time.Now().Add(c.relay.opts.FirstRequest))
	if b, err := skipBlank(c.cbr); err != nil || b == '$' {
		return
	}
	first, err := readMessage(c.cbr)
	if err != nil || first.isResponse() {
		return
	}
	_, uri, _, _ := first.requestLine()
	p := c.relay.lookup(tokenOf(uri))
	if p == nil {
		c.relay.logLimited(c.log, "path:"+who, "rtsp relay refused a request for an unknown path", "remote", c.client.RemoteAddr().String())
		c.reply(first, 404, "Not Found")
		return
	}
	if err := p.attach(c, c.relay.opts.ReleaseWait); err != nil {
		c.reply(first, 503, "relay: "+err.Error())
		return
	}
	defer p.detach(c)
	c.path = p
	c.auth.User, c.auth.Pass = p.cam.user, p.cam.pass
	c.log = c.log.With("camera_host", p.cam.hostport)
	_ = c.client.SetReadDeadline(time.Time{})

	cam, err := c.dial()
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			c.log.Debug("rtsp relay could not reach the camera", "reason", err.Error())
		}
		c.reply(first, 503, "camera unreachable: "+reason(err))
		return
	}
	defer cam.Close() // before done: a released path's camera socket is closed
	c.log.Debug("rtsp relay connected", "remote", c.client.RemoteAddr().String())
	down := make(chan struct{})
	go func() {
		defer close(down)
		br := pooledReader(&frameReaders, cam)
		defer release(&frameReaders, br)
		c.downstream(br)
	}()
	if c.fromClient(first) {
		c.upstream()
	}
	cam.Close()
	c.client.Close()
	<-down
	c.log.Debug("rtsp relay connection closed")
}

// dial connects to the camera unless the Path was released meanwhile.
func (c *conn) dial() (net.Conn, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.mu.Lock()
	if c.aborted {
		c.mu.Unlock()
		return nil, context.Canceled
	}
	c.cancel = cancel
	c.mu.Unlock()
	cam, err := c.path.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aborted {
		cam.Close()
		return nil, context.Canceled
	}
	c.camera = cam
	return cam, nil
}

// abort closes both ends now (the Path was released); serve and
// downstream then end.
func (c *conn) abort() {
	c.mu.Lock()
	c.aborted = true
	cam, cancel := c.camera, c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if cam != nil {
		cam.Close()
	}
	c.client.Close()
}

// upstream forwards what the process sends until either side ends.
func (c *conn) upstream() {
	for {
		b, err := skipBlank(c.cbr)
		if err != nil {
			return
		}
		if b == '$' { // RTCP receiver reports
			buf, err := frames(c.cbr)
			if err != nil || c.writeCamera(buf) != nil {
				return
			}
			_, _ = c.cbr.Discard(len(buf))
			continue
		}
		m, err := readMessage(c.cbr)
		if err != nil {
			return
		}
		if m.isResponse() { // to a request the camera sent
			if c.writeCamera(m.appendTo(nil)) != nil {
				return
			}
			continue
		}
		if !c.fromClient(m) {
			return
		}
	}
}

// fromClient sends a request of the process to the camera, addressed to
// the camera's URL; false when the camera can no longer be written.
func (c *conn) fromClient(m *message) bool {
	method, uri, proto, ok := m.requestLine()
	if !ok {
		c.reply(m, 400, "Bad Request")
		return true
	}
	camURI, ok := c.path.toCamera(uri)
	if !ok {
		c.reply(m, 403, "Forbidden: another path")
		return true
	}
	req := m.clone()
	req.start = method + " " + camURI + " " + proto
	req.del("Authorization", 0)
	req.del("Proxy-Authorization", 0)
	return c.send(&pending{clientCSeq: m.get("CSeq"), req: req, method: method, uri: camURI}) == nil
}

// send writes a request to the camera under a new CSeq, with the answer
// to the camera's last challenge.
func (c *conn) send(p *pending) error {
	c.pmu.Lock()
	c.seq++
	msg := p.req.clone()
	msg.set("CSeq", strconv.Itoa(c.seq))
	h := c.auth.Header(p.method, p.uri)
	if h != "" {
		msg.set("Authorization", h)
	}
	p.answered = h != ""
	c.pending[c.seq] = p
	c.pmu.Unlock()
	return c.writeCamera(msg.appendTo(nil))
}

// downstream forwards what the camera sends: frames as they are, answers
// with the process's CSeq and the relay's URLs, a 401 turned into a
// second try with the credentials.
func (c *conn) downstream(br *bufio.Reader) {
	defer c.client.Close()
	defer c.closeCamera()
	for {
		b, err := skipBlank(br)
		if err != nil {
			c.failPending(err)
			return
		}
		if b == '$' {
			buf, err := frames(br)
			if err != nil {
				c.failPending(err)
				return
			}
			if c.writeClient(buf) != nil {
				return
			}
			_, _ = br.Discard(len(buf))
			continue
		}
		m, err := readMessage(br)
		if err != nil {
			c.failPending(err)
			return
		}
		if !m.isResponse() { // the camera asks the process something
			c.path.rewriteForClient(m)
			if c.writeClient(m.appendTo(nil)) != nil {
				return
			}
			continue
		}
		if !c.onResponse(m) {
			return
		}
	}
}

// onResponse passes the camera's answer to the process, unless it is a
// challenge the credentials can answer: then the request goes again; or
// a redirect, which the relay follows or refuses itself.
func (c *conn) onResponse(m *message) bool {
	seq, _ := strconv.Atoi(m.get("CSeq"))
	c.pmu.Lock()
	p := c.pending[seq]
	delete(c.pending, seq)
	retry := p != nil && m.status() == 401 && c.path.cam.creds && p.tries < 2 &&
		c.auth.Accept(m.values("WWW-Authenticate"), p.answered)
	scheme := c.auth.Scheme()
	c.pmu.Unlock()
	if retry {
		c.path.noteAuth(scheme)
		p.tries++
		return c.send(p) == nil
	}
	if code := m.status(); code >= 300 && code < 400 {
		return c.onRedirect(p, m)
	}
	if p != nil {
		if p.clientCSeq == "" {
			m.del("CSeq", 0)
		} else {
			m.set("CSeq", p.clientCSeq)
		}
		// After a redirect the process must address what follows below
		// where the answer came from, not below its own URL.
		if p.redirects > 0 && m.get("Content-Base") == "" && m.status() == 200 {
			m.set("Content-Base", p.uri)
		}
	}
	c.path.rewriteForClient(m)
	return c.writeClient(m.appendTo(nil)) == nil
}

// onRedirect handles a camera's 3xx, which never reaches the process: a
// redirect would send ffmpeg past the relay (and the slot budget) to
// wherever the camera says, in any scheme ffmpeg follows (satip:// among
// them). One to another path on the camera's own host and port, in its
// own scheme, is followed on the relay's camera connection, with the
// credentials, up to maxRedirects times for a request; any other is
// answered 502 with why. p is nil when the answer's CSeq matches no
// request.
func (c *conn) onRedirect(p *pending, m *message) bool {
	loc := m.get("Location")
	cseq := m.get("CSeq")
	if p != nil {
		cseq = p.clientCSeq
		if to, ok := c.path.sameCamera(loc); ok && p.redirects < maxRedirects {
			p.redirects++
			p.uri = to
			_, _, proto, _ := p.req.requestLine()
			p.req.start = p.method + " " + to + " " + proto
			p.tries, p.answered = 0, false
			c.log.Debug("rtsp relay follows the camera's redirect", "status", m.status())
			return c.send(p) == nil
		}
	}
	c.relay.logLimited(c.log, "redirect:"+c.path.cam.hostport, "rtsp relay refused a camera's redirect",
		"status", m.status(), "to", redirectTarget(loc))
	c.replyCSeq(cseq, 502, fmt.Sprintf("relay: the camera redirected the request (%d); the relay follows a redirect only "+
		"to the camera's own host, at most %d times", m.status(), maxRedirects))
	return true
}

// maxRedirects bounds the redirects followed for one request.
const maxRedirects = 3

// sameCamera is the camera URL a redirect's Location names when it stays
// on the camera's own scheme, host and port (its credentials, if any,
// ignored: the Path's are used); false for anything else.
func (p *Path) sameCamera(loc string) (string, bool) {
	u, err := url.Parse(loc)
	if err != nil || !strings.EqualFold(u.Scheme, p.cam.scheme) || u.Host == "" {
		return "", false
	}
	port := "554"
	if p.cam.scheme == "rtsps" {
		port = "322"
	}
	if !strings.EqualFold(withPort(u, port), p.cam.hostport) {
		return "", false
	}
	to := p.cam.base + u.EscapedPath()
	if u.RawQuery != "" {
		to += "?" + u.RawQuery
	}
	return to, true
}

// redirectTarget is what a log line may say of a Location: its scheme
// and host, never a path or a user.
func redirectTarget(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.Scheme == "" {
		return "(not a URL)"
	}
	return u.Scheme + "://" + u.Host
}

// failPending answers the process's requests in flight when the camera
// connection ended, so ffmpeg reports why instead of a bare end of stream.
func (c *conn) failPending(err error) {
	why := "camera closed the connection"
	if !errors.Is(err, io.EOF) {
		why = "camera connection failed: " + reason(err)
	}
	c.pmu.Lock()
	var answers []*pending
	for seq, p := range c.pending {
		answers = append(answers, p)
		delete(c.pending, seq)
	}
	c.pmu.Unlock()
	for _, p := range answers {
		c.replyCSeq(p.clientCSeq, 502, why)
	}
}

// reason words a camera's failure as ffmpeg itself would on a direct
// connection — strerror's "Connection refused" — so that what reads
// ffmpeg's stderr (a busy camera's refusal) reads the same, then the
// detail.
func reason(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	s := errno.Error()
	return strings.ToUpper(s[:1]) + s[1:] + " (" + err.Error() + ")"
}

func (c *conn) closeCamera() {
	c.mu.Lock()
	cam := c.camera
	c.mu.Unlock()
	if cam != nil {
		cam.Close()
	}
}

func (c *conn) writeCamera(b []byte) error {
	c.mu.Lock()
	cam := c.camera
	c.mu.Unlock()
	if cam == nil {
		return net.ErrClosed
	}
	c.cmu.Lock()
	defer c.cmu.Unlock()
	_, err := cam.Write(b)
	return err
}

func (c *conn) writeClient(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.client.Write(b)
	return err
}

// reply answers a request of the process from the relay itself.
func (c *conn) reply(req *message, code int, reason string) {
	c.replyCSeq(req.get("CSeq"), code, reason)
}

func (c *conn) replyCSeq(cseq string, code int, reason string) {
	reason = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, reason)
	b := fmt.Appendf(nil, "RTSP/1.0 %d %s\r\n", code, reason)
	if cseq != "" {
		b = fmt.Appendf(b, "CSeq: %s\r\n", cseq)
	}
	b = append(b, "Server: camvisor-relay\r\n\r\n"...)
	_ = c.writeClient(b)
}
