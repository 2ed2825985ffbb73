// Package hostile is a camera that attacks its client: an RTSP server for
// the tests of whatever reads cameras (camvisor's relay, and ffmpeg behind
// it) that answers in one of the ways a broken or malicious camera does —
// an endless 401 loop, a 10 MB SDP, a Content-Length of 2^40, 100,000
// header lines, one byte a second, wrong or missing CSeq, RTP before
// SETUP, a flood of 65,535-byte garbage frames, silence, a close, a reset,
// a stall mid-stream, a Digest challenge followed by a Basic one, an error
// text quoting the Authorization it received, a redirect anywhere.
//
// camsim (the parent package) is a camera with faults a camera may have;
// this one is an adversary. It accepts any credentials (it is not a
// gatekeeper, it only wants them sent) and records every Authorization it
// receives and every connection, so a test can count what reached it.
package hostile

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Mode is how the camera answers.
type Mode string

// The modes. Each names what the camera does; where it does not say
// otherwise, the camera asks for Digest credentials, accepts any answer,
// and plays a stream that never completes a frame.
const (
	// AuthLoop answers every request with a 401 and a fresh nonce, marked
	// stale: a client that believes it retries forever.
	AuthLoop Mode = "auth-loop"
	// HugeSDP answers DESCRIBE with a 10 MB SDP.
	HugeSDP Mode = "huge-sdp"
	// HugeLength answers DESCRIBE with Content-Length 2^40, then a byte
	// of the body every 100 ms.
	HugeLength Mode = "huge-length"
	// ManyHeaders answers DESCRIBE with 100,000 header lines.
	ManyHeaders Mode = "many-headers"
	// Trickle writes every answer one byte a second.
	Trickle Mode = "trickle"
	// WrongCSeq answers every request under another CSeq.
	WrongCSeq Mode = "wrong-cseq"
	// NoCSeq answers without CSeq.
	NoCSeq Mode = "no-cseq"
	// RTPBeforeSetup sends interleaved RTP before each answer, from the
	// first request on.
	RTPBeforeSetup Mode = "rtp-before-setup"
	// GarbageFlood sends 65,535-byte interleaved frames of garbage, as
	// fast as they are read, from the first request on, and answers none.
	GarbageFlood Mode = "garbage-flood"
	// Silent reads requests and never answers.
	Silent Mode = "silent"
	// Close closes the connection on the first request.
	Close Mode = "close"
	// Reset resets the connection (RST) on the first request.
	Reset Mode = "reset"
	// Stall plays, sends part of a frame and then nothing, the connection
	// left open.
	Stall Mode = "stall"
	// DigestThenBasic asks for Digest, then answers the Digest answer with
	// a challenge for Basic only: a client that complies sends the
	// password in clear.
	DigestThenBasic Mode = "digest-then-basic"
	// EchoBasic asks for Basic and refuses the answer with an error text
	// (status line and body) that quotes the Authorization received.
	EchoBasic Mode = "echo-basic"
	// EchoDigest asks for Digest and refuses the answer with an error
	// text that quotes the Authorization received.
	EchoDigest Mode = "echo-digest"
	// Redirect answers every request with 302 to Options.Location.
	Redirect Mode = "redirect"
)

// Modes lists every mode, for tests that run them all.
var Modes = []Mode{AuthLoop, HugeSDP, HugeLength, ManyHeaders, Trickle, WrongCSeq, NoCSeq, RTPBeforeSetup,
	GarbageFlood, Silent, Close, Reset, Stall, DigestThenBasic, EchoBasic, EchoDigest, Redirect}

// Sizes of the attacks.
const (
	HugeSDPBytes    = 10 << 20
	HugeLengthValue = 1 << 40
	ManyHeaderLines = 100_000
	FloodFrameBytes = 65_535
)

// Options configure a Server.
type Options struct {
	Mode Mode
	// User and Pass are what URL puts in the camera's URL; the camera
	// accepts any credentials.
	User, Pass string
	// Location is where Redirect sends the client.
	Location string
	// Listen is a loopback address; default 127.0.0.1:0.
	Listen string
	// Log receives a line per connection; default discards.
	Log *slog.Logger
}

// Stats count the connections the camera saw.
type Stats struct {
	Open    int // open now
	MaxOpen int // most open at once
	Total   int // accepted
}

// Server is a running hostile camera.
type Server struct {
	opts Options
	log  *slog.Logger
	ln   net.Listener
	done chan struct{} // closed by Close: trickles and floods stop
	wg   sync.WaitGroup

	// mu guards what the connections' goroutines record and Close reads.
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	stats  Stats
	auths  []string
	lines  []string
	closed bool
}

// New listens and serves until Close.
func New(opts Options) (*Server, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	host, _, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("hostile camera: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("hostile camera: %q is not a loopback address", opts.Listen)
	}
	if opts.Mode == Redirect && opts.Location == "" {
		return nil, errors.New("hostile camera: redirect needs a Location")
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("hostile camera: %w", err)
	}
	s := &Server{opts: opts, log: opts.Log.With("mode", string(opts.Mode)), ln: ln, done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr is the address the camera listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the camera's URL for path, with the credentials of Options.
func (s *Server) URL(path string) string {
	u := url.URL{Scheme: "rtsp", Host: s.Addr(), Path: "/" + strings.TrimPrefix(path, "/")}
	if s.opts.User != "" {
		u.User = url.UserPassword(s.opts.User, s.opts.Pass)
	}
	return u.String()
}

// Stats are the connection counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Authorizations are the Authorization values received, in order.
func (s *Server) Authorizations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

// RequestLines are the request lines received, in order.
func (s *Server) RequestLines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// Close stops listening, closes every connection and waits for every
// goroutine of the server.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	for nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[nc] = struct{}{}
		s.stats.Open++
		s.stats.Total++
		s.stats.MaxOpen = max(s.stats.MaxOpen, s.stats.Open)
		s.mu.Unlock()
		s.log.Debug("connection", "remote", nc.RemoteAddr().String())
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c := &conn{srv: s, nc: nc, br: bufio.NewReaderSize(nc, 8<<10), nonce: randomHex(16), gone: make(chan struct{})}
			c.serve()
			s.mu.Lock()
			delete(s.conns, nc)
			s.stats.Open--
			s.mu.Unlock()
		}()
	}
}

func (s *Server) record(line, auth string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, line)
	if auth != "" {
		s.auths = append(s.auths, auth)
	}
}

// conn is one client connection. One goroutine reads it for its whole
// life, so a client that goes away is noticed at once (and counted gone)
// even while another answers, trickles or floods.
type conn struct {
	srv   *Server
	nc    net.Conn
	br    *bufio.Reader
	nonce string
	seq   uint16
	gone  chan struct{} // closed when the reader sees the connection end
}

// request is what the camera reads of one request.
type request struct {
	line, method, uri string
	fields            map[string]string // lower-case names, last value
}

// serve answers the requests the reader hands it until either side ends
// the connection.
func (c *conn) serve() {
	reqs := make(chan *request, 16)
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer close(c.gone)
		defer c.nc.Close() // writes in progress fail at once
		for {
			req, err := c.read()
			if err != nil {
				return
			}
			c.srv.record(req.line, req.fields["authorization"])
			select {
			case reqs <- req:
			default: // busy answering: a camera drops what it cannot handle
			}
		}
	}()
	defer func() { c.nc.Close(); <-read }()
	for {
		select {
		case <-c.gone:
			return
		case req := <-reqs:
			if !c.answer(req) {
				return
			}
		}
	}
}

// read reads the next request, skipping interleaved frames (RTCP).
func (c *conn) read() (*request, error) {
	for {
		b, err := c.br.Peek(1)
		if err != nil {
			return nil, err
		}
		switch b[0] {
		case '\r', '\n':
			_, _ = c.br.Discard(1)
			continue
		case '$':
			hdr, err := c.br.Peek(4)
			if err != nil {
				return nil, err
			}
			if _, err := c.br.Discard(4 + int(binary.BigEndian.Uint16(hdr[2:]))); err != nil {
				return nil, err
			}
			continue
		}
		break
	}
	line, err := c.line()
	if err != nil {
		return nil, err
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		return nil, fmt.Errorf("request line %q", line)
	}
	req := &request{line: line, method: f[0], uri: f[1], fields: map[string]string{}}
	for n := 0; ; n++ {
		if n == 64 {
			return nil, errors.New("too many header lines")
		}
		h, err := c.line()
		if err != nil {
			return nil, err
		}
		if h == "" {
			break
		}
		k, v, _ := strings.Cut(h, ":")
		req.fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if n, _ := strconv.Atoi(req.fields["content-length"]); n > 0 {
		if _, err := c.br.Discard(min(n, 64<<10)); err != nil {
			return nil, err
		}
	}
	return req, nil
}

func (c *conn) line() (string, error) {
	l, err := c.br.ReadSlice('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(l), "\r\n"), nil
}

// answer answers one request the mode's way; false ends the connection.
func (c *conn) answer(req *request) bool {
	s := c.srv
	switch s.opts.Mode {
	case Silent:
		return true
	case Close:
		return false
	case Reset:
		if tc, ok := c.nc.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		return false
	case GarbageFlood:
		c.flood()
		return false
	case Redirect:
		return c.respond(req, 302, "Moved Temporarily", []string{"Location: " + s.opts.Location}, nil)
	case AuthLoop:
		c.nonce = randomHex(16)
		return c.respond(req, 401, "Unauthorized", []string{
			fmt.Sprintf(`WWW-Authenticate: Digest realm="hostile", nonce="%s", stale=true`, c.nonce),
			`WWW-Authenticate: Basic realm="hostile"`}, nil)
	case RTPBeforeSetup:
		if err := c.write(rtpPacket(0, c.next(), true, 200)); err != nil {
			return false
		}
	}
	if req.method == "OPTIONS" {
		return c.respond(req, 200, "OK", []string{"Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER"}, nil)
	}
	if ok, goOn := c.authorize(req); !ok {
		return goOn
	}
	switch req.method {
	case "DESCRIBE":
		return c.describe(req)
	case "SETUP":
		return c.respond(req, 200, "OK", []string{"Transport: RTP/AVP/TCP;unicast;interleaved=0-1", "Session: 5eed;timeout=60"}, nil)
	case "PLAY":
		if !c.respond(req, 200, "OK", []string{"Session: 5eed;timeout=60", "Range: npt=0.000-"}, nil) {
			return false
		}
		// Part of a frame (no marker), then nothing: the client waits for
		// the rest, which never comes. Every mode that reaches PLAY stalls
		// so; Stall is the one that does nothing else.
		for range 2 {
			if c.write(rtpPacket(0, c.next(), false, 1000)) != nil {
				return false
			}
		}
		return true
	case "TEARDOWN":
		c.respond(req, 200, "OK", nil, nil)
		return false
	}
	return c.respond(req, 200, "OK", []string{"Session: 5eed;timeout=60"}, nil)
}

// authorize asks for credentials the mode's way: ok when the request may
// be answered, else goOn tells whether the connection goes on.
func (c *conn) authorize(req *request) (ok, goOn bool) {
	auth := req.fields["authorization"]
	scheme, _, _ := strings.Cut(auth, " ")
	digest := fmt.Sprintf(`WWW-Authenticate: Digest realm="hostile", nonce="%s"`, c.nonce)
	basic := `WWW-Authenticate: Basic realm="hostile"`
	switch c.srv.opts.Mode {
	case DigestThenBasic:
		switch strings.ToLower(scheme) {
		case "basic":
			return true, true // the password arrived in clear
		case "digest":
			return false, c.respond(req, 401, "Unauthorized", []string{basic}, nil)
		}
		return false, c.respond(req, 401, "Unauthorized", []string{digest}, nil)
	case EchoBasic:
		if auth == "" {
			return false, c.respond(req, 401, "Unauthorized", []string{basic}, nil)
		}
		return false, c.respond(req, 403, "Forbidden: refused Authorization: "+auth, []string{"Content-Type: text/plain"},
			[]byte("you sent Authorization: "+auth+"\r\n"))
	case EchoDigest:
		if auth == "" {
			return false, c.respond(req, 401, "Unauthorized", []string{digest}, nil)
		}
		return false, c.respond(req, 400, "Bad Request: cannot check Authorization: "+auth, []string{"Content-Type: text/plain"},
			[]byte("you sent Authorization: "+auth+"\r\n"))
	}
	if c.srv.opts.User != "" && auth == "" {
		return false, c.respond(req, 401, "Unauthorized", []string{digest}, nil)
	}
	return true, true
}

const sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=hostile\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\n" +
	"m=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\na=control:trackID=0\r\n"

func (c *conn) describe(req *request) bool {
	base := "Content-Base: " + strings.TrimSuffix(req.uri, "/") + "/"
	switch c.srv.opts.Mode {
	case HugeSDP:
		body := make([]byte, HugeSDPBytes)
		copy(body, sdp)
		for i := len(sdp); i < len(body); i++ {
			body[i] = 'a' + byte(i%26)
		}
		return c.respond(req, 200, "OK", []string{base, "Content-Type: application/sdp"}, body)
	case HugeLength:
		head := c.head(req, 200, "OK", []string{base, "Content-Type: application/sdp", fmt.Sprintf("Content-Length: %d", int64(HugeLengthValue))})
		if c.write(append(head, "\r\n"...)) != nil {
			return false
		}
		return c.drip([]byte(strings.Repeat(sdp, 1000)), 100*time.Millisecond)
	case ManyHeaders:
		fields := make([]string, 0, ManyHeaderLines+2)
		fields = append(fields, base, "Content-Type: application/sdp")
		for i := range ManyHeaderLines {
			fields = append(fields, fmt.Sprintf("X-Hostile-%d: %d", i, i))
		}
		return c.respond(req, 200, "OK", fields, []byte(sdp))
	}
	return c.respond(req, 200, "OK", []string{base, "Content-Type: application/sdp"}, []byte(sdp))
}

// head is a response's status line and fields, CSeq the mode's way.
func (c *conn) head(req *request, code int, reason string, fields []string) []byte {
	b := fmt.Appendf(nil, "RTSP/1.0 %d %s\r\n", code, reason)
	switch cseq := req.fields["cseq"]; c.srv.opts.Mode {
	case NoCSeq:
	case WrongCSeq:
		n, _ := strconv.Atoi(cseq)
		b = fmt.Appendf(b, "CSeq: %d\r\n", n+1000)
	default:
		if cseq != "" {
			b = fmt.Appendf(b, "CSeq: %s\r\n", cseq)
		}
	}
	b = append(b, "Server: hostile\r\n"...)
	for _, f := range fields {
		b = append(b, f...)
		b = append(b, "\r\n"...)
	}
	return b
}

// respond writes a whole response (one byte a second in Trickle mode).
func (c *conn) respond(req *request, code int, reason string, fields []string, body []byte) bool {
	b := c.head(req, code, reason, fields)
	if len(body) > 0 {
		b = fmt.Appendf(b, "Content-Length: %d\r\n", len(body))
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	if c.srv.opts.Mode == Trickle {
		return c.drip(b, time.Second)
	}
	return c.write(b) == nil
}

// drip writes b a byte at a time, every pace, until it is written, the
// connection fails or the server closes.
func (c *conn) drip(b []byte, pace time.Duration) bool {
	t := time.NewTicker(pace)
	defer t.Stop()
	for i := range b {
		if c.write(b[i:i+1]) != nil {
			return false
		}
		select {
		case <-c.srv.done:
			return false
		case <-c.gone:
			return false
		case <-t.C:
		}
	}
	return true
}

// flood writes garbage frames until the connection fails or the server
// closes.
func (c *conn) flood() {
	frame := make([]byte, 4+FloodFrameBytes)
	frame[0], frame[1] = '$', 0
	binary.BigEndian.PutUint16(frame[2:], FloodFrameBytes)
	_, _ = rand.Read(frame[4:])
	for {
		select {
		case <-c.srv.done:
			return
		case <-c.gone:
			return
		default:
		}
		if c.write(frame) != nil {
			return
		}
	}
}

func (c *conn) write(b []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

func (c *conn) next() uint16 { c.seq++; return c.seq }

// rtpPacket is an interleaved RTP/JPEG packet on channel ch carrying n
// bytes of scan data at the start of a frame, its marker set or not.
func rtpPacket(ch byte, seq uint16, marker bool, n int) []byte {
	const rtpHeader, jpegHeader = 12, 8
	b := make([]byte, 4+rtpHeader+jpegHeader+n)
	b[0], b[1] = '$', ch
	binary.BigEndian.PutUint16(b[2:], uint16(rtpHeader+jpegHeader+n))
	p := b[4:]
	p[0], p[1] = 0x80, 26
	if marker {
		p[1] |= 0x80
	}
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], 90000)
	binary.BigEndian.PutUint32(p[8:], 0x5eed)
	j := p[rtpHeader:]
	j[4], j[5], j[6], j[7] = 1, 50, 640/8, 352/8 // type 1, Q 50, 640×352; fragment offset 0
	_, _ = io.ReadFull(rand.Reader, j[jpegHeader:])
	return b
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
