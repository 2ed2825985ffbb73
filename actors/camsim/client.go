package camsim

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client is a minimal RTSP-over-TCP client for what camsim sends: one
// RTP/JPEG or RTP H.264 video track, TCP-interleaved, Basic or Digest
// authentication. It reads frames for tests and for stand-ins of other
// RTSP consumers. It is not safe for concurrent use, except that Close may
// be called while NextFrame waits.
type Client struct {
	nc      net.Conn
	br      *bufio.Reader
	target  string // URL without credentials
	base    string // Content-Base: what PLAY and TEARDOWN address
	user    string
	pass    string
	creds   bool
	authHdr func(method, uri string) string // nil until a 401 told how
	cseq    int
	session string
	channel byte
	codec   Codec

	asm    assembler
	h264   h264Depacketizer
	buf    []byte
	closer sync.Once
	wmu    sync.Mutex
}

// StatusError is an RTSP reply other than 200 OK, such as 453 from a camera
// with all its connections taken.
type StatusError struct {
	Method string
	Code   int
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("rtsp %s: %d %s", e.Method, e.Code, e.Reason)
}

// response is an RTSP reply.
type response struct {
	code   int
	reason string
	header header
	body   []byte
}

// Dial connects to an rtsp:// URL (credentials in it are used when the
// server asks) and does OPTIONS, DESCRIBE, SETUP (TCP interleaved) and
// PLAY. ctx bounds the whole handshake.
func Dial(ctx context.Context, rawURL string) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("rtsp dial: %w", err)
	}
	if u.Scheme != "rtsp" {
		return nil, fmt.Errorf("rtsp dial %s: scheme is not rtsp", u.Redacted())
	}
	c := &Client{}
	if u.User != nil {
		c.user = u.User.Username()
		c.pass, _ = u.User.Password()
		c.creds = true
		u.User = nil
	}
	c.target = u.String()
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "554")
	}
	var d net.Dialer
	c.nc, err = d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("rtsp dial %s: %w", c.target, err)
	}
	c.br = bufio.NewReaderSize(c.nc, readBufferSize)
	stop := c.bound(ctx)
	defer stop()
	if err := c.handshake(); err != nil {
		c.nc.Close()
		return nil, fmt.Errorf("rtsp dial %s: %w", c.target, withContext(ctx, err))
	}
	return c, nil
}

// bound makes I/O on the connection give up when ctx ends, until the
// returned function is called.
func (c *Client) bound(ctx context.Context) func() {
	dl, _ := ctx.Deadline()
	_ = c.nc.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	return func() {
		if stop() {
			_ = c.nc.SetDeadline(time.Time{})
		}
	}
}

// withContext makes a timeout caused by ctx match ctx.Err() with errors.Is.
func withContext(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

func (c *Client) handshake() error {
	if _, err := c.do("OPTIONS", c.target); err != nil {
		return err
	}
	res, err := c.do("DESCRIBE", c.target, "Accept: application/sdp")
	if err != nil {
		return err
	}
	c.codec = CodecMJPEG
	if strings.Contains(strings.ToUpper(string(res.body)), " H264/90000") {
		c.codec = CodecH264
	}
	c.base = res.header.get("content-base")
	if c.base == "" {
		c.base = c.target
	}
	if !strings.HasSuffix(c.base, "/") {
		c.base += "/"
	}
	track := c.base
	if ctl := mediaControl(string(res.body)); strings.Contains(ctl, "://") {
		track = ctl
	} else if ctl != "" && ctl != "*" {
		track = c.base + ctl
	}
	res, err = c.do("SETUP", track, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1")
	if err != nil {
		return err
	}
	c.session, _, _ = strings.Cut(res.header.get("session"), ";")
	c.session = strings.TrimSpace(c.session)
	for _, p := range strings.Split(res.header.get("transport"), ";") {
		if v, ok := strings.CutPrefix(p, "interleaved="); ok {
			first, _, _ := strings.Cut(v, "-")
			if n, err := strconv.Atoi(first); err == nil {
				c.channel = byte(n)
			}
		}
	}
	_, err = c.do("PLAY", c.base, "Session: "+c.session, "Range: npt=0.000-")
	return err
}

// mediaControl returns the a=control of the first video media of an SDP.
func mediaControl(sdp string) string {
	inVideo := false
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "m=") {
			inVideo = strings.HasPrefix(line, "m=video")
			continue
		}
		if v, ok := strings.CutPrefix(line, "a=control:"); ok && inVideo {
			return v
		}
	}
	return ""
}

// do sends a request and returns its 200 reply, answering one 401 with
// the URL's credentials.
func (c *Client) do(method, uri string, fields ...string) (*response, error) {
	for attempt := 0; ; attempt++ {
		if err := c.send(method, uri, fields...); err != nil {
			return nil, err
		}
		res, err := c.readResponse()
		if err != nil {
			return nil, fmt.Errorf("rtsp %s: %w", method, err)
		}
		if got := res.header.get("cseq"); got != strconv.Itoa(c.cseq) {
			return nil, fmt.Errorf("rtsp %s: reply has CSeq %q, want %d", method, got, c.cseq)
		}
		if res.code == 401 && c.creds && attempt == 0 {
			if c.authHdr = c.authFor(res.header["www-authenticate"]); c.authHdr != nil {
				continue
			}
		}
		if res.code != 200 {
			return nil, &StatusError{Method: method, Code: res.code, Reason: res.reason}
		}
		return res, nil
	}
}

// send writes one request.
func (c *Client) send(method, uri string, fields ...string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.cseq++
	b := fmt.Appendf(nil, "%s %s RTSP/1.0\r\nCSeq: %d\r\nUser-Agent: camsim-client\r\n", method, uri, c.cseq)
	if c.authHdr != nil {
		b = fmt.Appendf(b, "Authorization: %s\r\n", c.authHdr(method, uri))
	}
	for _, f := range fields {
		b = append(b, f...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("rtsp %s: %w", method, err)
	}
	return nil
}

// authFor chooses Digest over Basic among a 401's challenges.
func (c *Client) authFor(challenges []string) func(method, uri string) string {
	var basic bool
	for _, ch := range challenges {
		scheme, rest, _ := strings.Cut(ch, " ")
		switch strings.ToLower(scheme) {
		case "digest":
			p := parseAuthParams(rest)
			qop := ""
			for _, q := range strings.Split(p["qop"], ",") {
				if strings.TrimSpace(q) == "auth" {
					qop = "auth"
				}
			}
			nc := 0
			return func(method, uri string) string {
				h := fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s"`, c.user, p["realm"], p["nonce"], uri)
				var ncs, cnonce string
				if qop != "" {
					nc++
					ncs = fmt.Sprintf("%08x", nc)
					b := make([]byte, 8)
					_, _ = rand.Read(b)
					cnonce = hex.EncodeToString(b)
					h += fmt.Sprintf(`, qop=%s, nc=%s, cnonce="%s"`, qop, ncs, cnonce)
				}
				if o, ok := p["opaque"]; ok {
					h += fmt.Sprintf(`, opaque="%s"`, o)
				}
				resp := digestResponse(c.user, c.pass, p["realm"], p["nonce"], method, uri, qop, ncs, cnonce)
				return h + fmt.Sprintf(`, response="%s"`, resp)
			}
		case "basic":
			basic = true
		}
	}
	if basic {
		token := base64.StdEncoding.EncodeToString([]byte(c.user + ":" + c.pass))
		return func(string, string) string { return "Basic " + token }
	}
	return nil
}

// readMessage reads the next interleaved packet or reply; exactly one of
// payload and res is non-nil on success. payload is valid until the next
// call.
func (c *Client) readMessage() (channel byte, payload []byte, res *response, err error) {
	b, err := c.br.Peek(1)
	if err != nil {
		return 0, nil, nil, err
	}
	if b[0] == '$' {
		channel, c.buf, err = readInterleaved(c.br, c.buf)
		return channel, c.buf, nil, err
	}
	line, err := readLine(c.br)
	if err != nil {
		return 0, nil, nil, err
	}
	proto, rest, _ := strings.Cut(line, " ")
	codeText, reason, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeText)
	if !strings.HasPrefix(proto, "RTSP/") || err != nil {
		return 0, nil, nil, fmt.Errorf("%w: status line %q", errBadMessage, line)
	}
	h, body, err := readHeader(c.br)
	if err != nil {
		return 0, nil, nil, err
	}
	return 0, nil, &response{code: code, reason: reason, header: h, body: body}, nil
}

// readResponse skips interleaved packets until a reply comes.
func (c *Client) readResponse() (*response, error) {
	for {
		_, _, res, err := c.readMessage()
		if err != nil || res != nil {
			return res, err
		}
	}
}

// Codec is what the camera's SDP announced.
func (c *Client) Codec() Codec { return c.codec }

// NextFrame returns the next complete frame: for RTP/JPEG a standalone
// JPEG, rebuilt from the packets the way ffmpeg's rtpdec_jpeg does; for
// H.264 an access unit in Annex B form (start codes before each NAL unit),
// rebuilt from single NAL unit, STAP-A and FU-A packets. Frames with
// missing packets are skipped.
func (c *Client) NextFrame(ctx context.Context) ([]byte, error) {
	stop := c.bound(ctx)
	defer stop()
	for {
		ch, payload, _, err := c.readMessage()
		if err != nil {
			return nil, fmt.Errorf("rtsp next frame from %s: %w", c.target, withContext(ctx, err))
		}
		if payload == nil || ch != c.channel {
			continue
		}
		if c.codec == CodecH264 {
			if au := c.pushH264(payload); au != nil {
				return au, nil
			}
			continue
		}
		if jpeg := c.asm.push(payload); jpeg != nil {
			return jpeg, nil
		}
	}
}

// Close sends TEARDOWN, without waiting for the reply, and closes the
// connection.
func (c *Client) Close() error {
	var err error
	c.closer.Do(func() {
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_ = c.send("TEARDOWN", c.base, "Session: "+c.session)
		err = c.nc.Close()
	})
	return err
}

// pushH264 takes one RTP packet of an H.264 track.
func (c *Client) pushH264(pkt []byte) []byte {
	if len(pkt) < rtpHeaderLen || len(pkt) < rtpHeaderLen+4*int(pkt[0]&0x0f) || pkt[0]>>6 != 2 || pkt[1]&0x7f != payloadTypeH264 {
		return nil // short, or its CSRC list overruns it
	}
	p := pkt[rtpHeaderLen+4*int(pkt[0]&0x0f):]
	if pkt[0]&0x10 != 0 { // header extension
		if len(p) < 4 {
			return nil
		}
		p = p[min(len(p), 4+4*int(binary.BigEndian.Uint16(p[2:]))):]
	}
	if pkt[0]&0x20 != 0 && len(p) > 0 { // padding
		p = p[:max(0, len(p)-int(pkt[len(pkt)-1]))]
	}
	return c.h264.push(binary.BigEndian.Uint16(pkt[2:]), binary.BigEndian.Uint32(pkt[4:]), pkt[1]&0x80 != 0, p)
}

// assembler rebuilds JPEG frames from RTP/JPEG packets.
type assembler struct {
	started bool
	ts      uint32
	typ     int
	w, h    int
	dri     int
	qtables []byte
	scan    []byte
}

// push takes one RTP packet and returns a JPEG when it completes a frame.
func (a *assembler) push(pkt []byte) []byte {
	if len(pkt) < rtpHeaderLen || len(pkt) < rtpHeaderLen+4*int(pkt[0]&0x0f) || pkt[0]>>6 != 2 || pkt[1]&0x7f != payloadTypeJPEG {
		return nil // short, or its CSRC list overruns it
	}
	marker := pkt[1]&0x80 != 0
	ts := binary.BigEndian.Uint32(pkt[4:])
	p := pkt[rtpHeaderLen+4*int(pkt[0]&0x0f):]
	if pkt[0]&0x10 != 0 { // header extension
		if len(p) < 4 {
			return nil
		}
		p = p[min(len(p), 4+4*int(binary.BigEndian.Uint16(p[2:]))):]
	}
	if pkt[0]&0x20 != 0 && len(p) > 0 { // padding
		p = p[:max(0, len(p)-int(pkt[len(pkt)-1]))]
	}
	if len(p) < jpegHeaderLen {
		return nil
	}
	off := int(p[1])<<16 | int(p[2])<<8 | int(p[3])
	typ, q, w, h := int(p[4]), int(p[5]), int(p[6])*8, int(p[7])*8
	p = p[jpegHeaderLen:]
	dri := 0
	if typ&0x40 != 0 {
		if len(p) < restartHdrLen {
			return nil
		}
		dri = int(binary.BigEndian.Uint16(p))
		p = p[restartHdrLen:]
		typ &^= 0x40
	}
	if typ > 1 {
		a.started = false
		return nil
	}
	if off == 0 {
		a.started = false
		if q < 128 || len(p) < qtableHdrLen {
			return nil // camsim always sends its tables in band
		}
		n := int(binary.BigEndian.Uint16(p[2:]))
		p = p[qtableHdrLen:]
		if n == 0 || n%64 != 0 || len(p) < n {
			return nil
		}
		a.qtables = append(a.qtables[:0], p[:n]...)
		p = p[n:]
		a.started, a.ts, a.typ, a.w, a.h, a.dri = true, ts, typ, w, h, dri
		a.scan = a.scan[:0]
	} else if !a.started || ts != a.ts || off != len(a.scan) {
		a.started = false // a packet went missing: wait for the next frame
		return nil
	}
	a.scan = append(a.scan, p...)
	if !marker {
		return nil
	}
	a.started = false
	return buildJPEG(a.typ, a.w, a.h, a.dri, a.qtables, a.scan)
}
