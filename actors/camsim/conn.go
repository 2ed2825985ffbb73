package camsim

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// writeTimeout bounds one write of a response or frame; a client that
	// stops reading for this long is disconnected, as a camera would.
	writeTimeout = 10 * time.Second
	// sessionTimeout is announced in the Session header, in seconds. camsim
	// never expires sessions; clients use it to pace keepalives.
	sessionTimeout = 60
	// slowQueue is how many requests a slow camera holds before it drops
	// new ones.
	slowQueue = 32

	publicMethods = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
)

// conn is one RTSP connection, from accept until the server sees it
// closed. One goroutine (serve) reads it for its whole life, so a client
// that goes away is noticed at once; requests are handled on that goroutine,
// or on a second one that delays them when the camera is slow; a third
// writes frames while playing.
type conn struct {
	srv  *Server
	nc   net.Conn
	br   *bufio.Reader
	log  *slog.Logger
	done chan struct{} // closed when serve sees the connection end

	// Set by serve when the first request names a camera, before any
	// handler runs.
	cam *camera
	cfg Camera // the camera as it was then; kept for the connection's life

	slowq    chan *request // non-nil when the camera is slow (and not hanging)
	slowDone chan struct{}

	// Used only by the handling goroutine (and by finish once it is gone).
	session  string
	trackURL string
	stream   *stream
	frames   chan frame // created with the writer at the first PLAY
	drop     *time.Timer

	wmu     sync.Mutex // serialises writes; guards the fields below
	channel byte
	ssrc    uint32
	nextSeq uint16
	nextTS  uint32
	tsShift uint32
	rebase  bool // the next frame's timestamp is the one announced in RTP-Info
	sent    int  // frames written
	lastN   int64
	resync  bool // H.264: a frame was missed; wait for the next keyframe
	hdrs    []byte
	bufs    net.Buffers
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		srv:  s,
		nc:   nc,
		br:   bufio.NewReaderSize(nc, readBufferSize),
		log:  s.log.With("remote", nc.RemoteAddr().String()),
		done: make(chan struct{}),
	}
}

// serve reads the connection until it ends.
func (c *conn) serve() {
	defer c.srv.wg.Done()
	defer c.finish()
	for {
		b, err := c.br.Peek(1)
		if err != nil {
			return
		}
		switch b[0] {
		case '$': // RTCP or anything else interleaved: not needed.
			if err := skipInterleaved(c.br); err != nil {
				return
			}
			continue
		case '\r', '\n': // stray line ends some clients send as keepalive
			_, _ = c.br.Discard(1)
			continue
		}
		req, err := readRequestLine(c.br)
		if err != nil {
			c.badRequest(err)
			return
		}
		if c.cam == nil && req.camera != "" {
			if !c.bind(req) {
				return
			}
			if c.cam != nil && c.cfg.Hang {
				_, _ = io.Copy(io.Discard, c.br)
				return
			}
		}
		if req.header, _, err = readHeader(c.br); err != nil {
			c.badRequest(err)
			return
		}
		if c.cam != nil && c.cam.hung() {
			continue // hung at run time: it reads, and never answers
		}
		if c.slowq != nil {
			select {
			case c.slowq <- req:
			default:
				c.log.Warn("slow camera dropped a request", "method", req.method, "reason", "queue full")
			}
			continue
		}
		if !c.handle(req) {
			return
		}
	}
}

// bind attributes the connection to the camera its first request names and
// lets the camera admit or refuse it. It returns false when the connection
// must end.
func (c *conn) bind(req *request) bool {
	cam := c.srv.camera(req.camera)
	if cam == nil {
		return true // answered 404 by handle; a later request may bind
	}
	adm, cfg := cam.admit(c)
	switch adm {
	case refusedGone:
		return true
	case refusedReset:
		c.log.Debug("refused: camera is down", "camera", cam.name)
		if tc, ok := c.nc.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // Close now sends RST
		}
		return false
	case refusedFull:
		c.log.Debug("refused: too many connections", "camera", cam.name, "max_connections", cfg.MaxConnections)
		if h, _, err := readHeader(c.br); err == nil {
			req.header = h
			c.respond(req, 453, nil, nil)
		}
		return false
	}
	c.cam, c.cfg = cam, cfg
	c.log = c.log.With("camera", cam.name)
	c.log.Debug("connection admitted", "faults", cfg.Faults())
	if cfg.Slow > 0 && !cfg.Hang {
		c.slowq = make(chan *request, slowQueue)
		c.slowDone = make(chan struct{})
		c.srv.wg.Add(1)
		go c.slowLoop()
	}
	return true
}

// slowLoop answers requests of a slow camera, each after the delay.
func (c *conn) slowLoop() {
	defer c.srv.wg.Done()
	defer close(c.slowDone)
	for {
		select {
		case <-c.done:
			return
		case req := <-c.slowq:
			t := time.NewTimer(time.Duration(c.cfg.Slow))
			select {
			case <-c.done:
				t.Stop()
				return
			case <-t.C:
			}
			if !c.handle(req) {
				c.nc.Close()
				return
			}
		}
	}
}

// finish runs when serve sees the connection end: the count drops at once,
// then playback stops.
func (c *conn) finish() {
	c.nc.Close()
	close(c.done)
	if c.cam != nil {
		c.cam.release(c)
	}
	if c.slowDone != nil {
		<-c.slowDone
	}
	c.stopPlaying()
	if c.drop != nil {
		c.drop.Stop()
	}
	c.srv.forget(c)
	c.log.Debug("connection closed")
}

func (c *conn) badRequest(err error) {
	if errors.Is(err, errBadMessage) {
		c.log.Debug("bad request", "reason", err)
		c.write(appendResponse(nil, 400, "", nil, nil))
	}
}

// handle answers one request and reports whether the connection goes on.
func (c *conn) handle(req *request) bool {
	if c.cam == nil && (req.camera != "" || req.method != "OPTIONS") {
		c.respond(req, 404, nil, nil)
		return true
	}
	if !c.srv.authorized(req) {
		c.respond(req, 401, c.srv.challenges(), nil)
		return true
	}
	switch req.method {
	case "OPTIONS":
		c.respond(req, 200, []string{"Public: " + publicMethods}, nil)
	case "DESCRIBE":
		c.onDescribe(req)
	case "SETUP":
		c.onSetup(req)
	case "PLAY":
		return c.onPlay(req)
	case "PAUSE":
		if c.checkSession(req) {
			c.stopPlaying()
			c.respond(req, 200, c.sessionField(), nil)
		}
	case "TEARDOWN":
		c.stopPlaying()
		c.respond(req, 200, nil, nil)
		return false
	case "GET_PARAMETER", "SET_PARAMETER":
		if req.session() == "" || c.checkSession(req) {
			c.respond(req, 200, c.sessionField(), nil)
		}
	default:
		c.respond(req, 501, nil, nil)
	}
	return true
}

func (c *conn) onDescribe(req *request) {
	base := c.contentBase(req)
	media := fmt.Sprintf("m=video 0 RTP/AVP %d\r\n"+
		"a=rtpmap:%d JPEG/90000\r\n", payloadTypeJPEG, payloadTypeJPEG)
	if c.cfg.Codec == CodecH264 {
		k := streamKeyOf(c.cfg)
		loop, err := c.srv.lib.h264Loop(h264Key{mode: k.mode, fps: k.fps, gopFrames: k.gop})
		if err != nil {
			c.log.Error("describe: no h264 loop", "reason", err)
			c.respond(req, 500, nil, nil)
			return
		}
		media = fmt.Sprintf("m=video 0 RTP/AVP %d\r\n"+
			"a=rtpmap:%d H264/90000\r\n"+
			"a=fmtp:%d packetization-mode=1;profile-level-id=%s;sprop-parameter-sets=%s,%s\r\n",
			payloadTypeH264, payloadTypeH264, payloadTypeH264, profileLevelID(loop.sps),
			base64.StdEncoding.EncodeToString(loop.sps), base64.StdEncoding.EncodeToString(loop.pps))
	}
	sdp := fmt.Sprintf("v=0\r\n"+
		"o=- %d 1 IN IP4 127.0.0.1\r\n"+
		"s=camsim %s\r\n"+
		"c=IN IP4 0.0.0.0\r\n"+
		"t=0 0\r\n"+
		"a=control:*\r\n"+
		"a=range:npt=0-\r\n"+
		"%s"+
		"a=control:trackID=0\r\n"+
		"a=framerate:%d\r\n",
		rand.Uint32(), c.cam.name, media, c.cfg.FPS)
	c.respond(req, 200, []string{"Content-Base: " + base, "Content-Type: application/sdp"}, []byte(sdp))
}

// contentBase is the camera's URL as the client addressed the server, with
// a trailing slash, without credentials.
func (c *conn) contentBase(req *request) string {
	host := c.srv.RTSPAddr()
	if rest, ok := strings.CutPrefix(req.url, "rtsp://"); ok {
		h, _, _ := strings.Cut(rest, "/")
		if i := strings.LastIndexByte(h, '@'); i >= 0 {
			h = h[i+1:]
		}
		host = h
	}
	return "rtsp://" + host + "/" + c.cam.name + "/"
}

func (c *conn) onSetup(req *request) {
	tr := req.header.get("transport")
	if !strings.Contains(strings.ToUpper(tr), "RTP/AVP/TCP") {
		c.respond(req, 461, nil, nil)
		return
	}
	channel := 0
	for _, p := range strings.Split(tr, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "interleaved="); ok {
			first, _, _ := strings.Cut(v, "-")
			if n, err := strconv.Atoi(first); err == nil && n >= 0 && n < 254 {
				channel = n
			}
		}
	}
	if s := req.session(); s != "" && c.session != "" && s != c.session {
		c.respond(req, 454, nil, nil)
		return
	}
	c.wmu.Lock()
	if c.session == "" {
		c.session = strconv.FormatUint(rand.Uint64(), 16)
		c.ssrc = rand.Uint32()
		c.nextSeq = uint16(rand.Uint32())
		c.nextTS = rand.Uint32()
	}
	c.channel = byte(channel)
	ssrc := c.ssrc
	c.wmu.Unlock()
	c.trackURL = req.url
	c.respond(req, 200, []string{
		fmt.Sprintf("Transport: RTP/AVP/TCP;unicast;interleaved=%d-%d;ssrc=%08X", channel, channel+1, ssrc),
		c.sessionField()[0],
	}, nil)
}

func (c *conn) onPlay(req *request) bool {
	if c.session == "" {
		c.respond(req, 455, nil, nil)
		return true
	}
	if !c.checkSession(req) {
		return true
	}
	c.wmu.Lock()
	seq, ts := c.nextSeq, c.nextTS
	c.rebase = true
	c.wmu.Unlock()
	c.respond(req, 200, []string{
		c.sessionField()[0],
		"Range: npt=0.000-",
		fmt.Sprintf("RTP-Info: url=%s;seq=%d;rtptime=%d", c.trackURL, seq, ts),
	}, nil)
	if c.stream == nil {
		if c.frames == nil {
			c.frames = make(chan frame, 1)
			c.srv.wg.Add(1)
			go c.writeLoop()
		}
		st, err := c.cam.subscribe(c, streamKeyOf(c.cfg))
		if err != nil {
			c.log.Debug("play failed", "reason", err)
			return false
		}
		c.stream = st
	}
	if c.cfg.Drop > 0 && c.drop == nil {
		c.drop = time.AfterFunc(time.Duration(c.cfg.Drop), func() {
			c.log.Debug("dropping connection", "reason", "drop fault")
			c.nc.Close()
		})
	}
	return true
}

// checkSession answers 454 and returns false when the request names
// another session.
func (c *conn) checkSession(req *request) bool {
	if s := req.session(); s != "" && s == c.session {
		return true
	}
	c.respond(req, 454, nil, nil)
	return false
}

func (c *conn) sessionField() []string {
	if c.session == "" {
		return nil
	}
	return []string{fmt.Sprintf("Session: %s;timeout=%d", c.session, sessionTimeout)}
}

func (c *conn) stopPlaying() {
	if c.stream != nil {
		c.cam.unsubscribe(c, c.stream)
		c.stream = nil
	}
}

// offer hands a frame to the writer unless it is still busy with the
// previous one; a client too slow for the frame rate misses frames.
// Called with cam.mu held.
func (c *conn) offer(f frame) {
	select {
	case c.frames <- f:
	default:
	}
}

func (c *conn) writeLoop() {
	defer c.srv.wg.Done()
	for {
		select {
		case <-c.done:
			return
		case f := <-c.frames:
			if err := c.writeFrame(f); err != nil {
				c.log.Debug("write frame failed", "reason", err)
				c.nc.Close()
				return
			}
		}
	}
}

func (c *conn) writeFrame(f frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.cfg.Codec == CodecH264 {
		// A missed H.264 frame breaks every frame up to the next
		// keyframe: skip them, as a decoder would have to. (The first
		// frames of a connection are sent as they come, keyframe or not,
		// as a camera does.)
		if c.sent > 0 && f.n != c.lastN+1 {
			c.resync = true
		}
		c.lastN = f.n
		if c.resync && !f.pic.key {
			return nil
		}
		c.resync = false
	}
	if c.rebase {
		c.tsShift = c.nextTS - f.pts
		c.rebase = false
	}
	ts := f.pts + c.tsShift
	pkt := f.pic.pkt
	if c.sent == 0 && c.srv.opts.FirstFrameBytes > 0 && f.pic.rows != nil {
		pkt = f.pic.first(c.srv.lib, c.srv.opts.FirstFrameBytes)
	}
	c.sent++
	c.hdrs, c.bufs, c.nextSeq = pkt.buffers(c.hdrs, c.bufs, c.channel, c.nextSeq, ts, c.ssrc)
	c.nextTS = ts + uint32(90000/c.cfg.FPS)
	_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	bufs := c.bufs // WriteTo consumes its receiver
	_, err := bufs.WriteTo(c.nc)
	return err
}

func (c *conn) respond(req *request, code int, fields []string, body []byte) {
	c.write(appendResponse(nil, code, req.cseq(), fields, body))
}

// write sends one response; errors surface to serve as a closed
// connection.
func (c *conn) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, _ = c.nc.Write(b)
}
