package rtsprelay

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Limits on what either side may send in one RTSP message, so that a
// confused peer cannot grow memory.
const (
	maxHeaderLines = 64
	maxBody        = 256 << 10
	// frameBuffer holds the largest interleaved frame ($, channel, 16-bit
	// length, payload) whole, so a frame is forwarded with one write.
	frameBuffer = 4 + 65535 + 4096
	// lineBuffer bounds a request's or header's line from ffmpeg.
	lineBuffer = 16 << 10
)

var errBadMessage = errors.New("malformed RTSP message")

// message is one RTSP request or response, its header fields in order.
type message struct {
	start  string // request line or status line
	fields []field
	body   []byte
}

type field struct{ name, value string }

func (m *message) isResponse() bool { return strings.HasPrefix(m.start, "RTSP/") }

// get is the first value of a field, by case-insensitive name.
func (m *message) get(name string) string {
	for _, f := range m.fields {
		if strings.EqualFold(f.name, name) {
			return f.value
		}
	}
	return ""
}

// values are every value of a field (WWW-Authenticate repeats).
func (m *message) values(name string) []string {
	var out []string
	for _, f := range m.fields {
		if strings.EqualFold(f.name, name) {
			out = append(out, f.value)
		}
	}
	return out
}

// set replaces a field's value, or appends the field.
func (m *message) set(name, value string) {
	for i, f := range m.fields {
		if strings.EqualFold(f.name, name) {
			m.fields[i].value = value
			m.del(name, i+1)
			return
		}
	}
	m.fields = append(m.fields, field{name, value})
}

// del removes every field of that name from index from on.
func (m *message) del(name string, from int) {
	out := m.fields[:from]
	for _, f := range m.fields[from:] {
		if !strings.EqualFold(f.name, name) {
			out = append(out, f)
		}
	}
	m.fields = out
}

// clone is a copy whose fields may change independently.
func (m *message) clone() *message {
	c := *m
	c.fields = append([]field(nil), m.fields...)
	return &c
}

// requestLine splits "METHOD URI RTSP/1.0".
func (m *message) requestLine() (method, uri, proto string, ok bool) {
	f := strings.Fields(m.start)
	if len(f) != 3 {
		return "", "", "", false
	}
	return f[0], f[1], f[2], true
}

// status is a response's code.
func (m *message) status() int {
	f := strings.Fields(m.start)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// appendTo serializes m, with its Content-Length recomputed.
func (m *message) appendTo(b []byte) []byte {
	b = append(b, m.start...)
	b = append(b, "\r\n"...)
	for _, f := range m.fields {
		if strings.EqualFold(f.name, "Content-Length") {
			continue
		}
		b = append(b, f.name...)
		b = append(b, ": "...)
		b = append(b, f.value...)
		b = append(b, "\r\n"...)
	}
	if len(m.body) > 0 {
		b = fmt.Appendf(b, "Content-Length: %d\r\n", len(m.body))
	}
	b = append(b, "\r\n"...)
	return append(b, m.body...)
}

// readLine reads one CRLF- or LF-terminated line.
func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("%w: line longer than %d bytes", errBadMessage, br.Size())
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// readMessage reads a message whose first byte is not '$'.
func readMessage(br *bufio.Reader) (*message, error) {
	start, err := readLine(br)
	if err != nil {
		return nil, err
	}
	m := &message{start: start}
	for n := 0; ; n++ {
		if n == maxHeaderLines {
			return nil, fmt.Errorf("%w: more than %d header lines", errBadMessage, maxHeaderLines)
		}
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%w: header line %q", errBadMessage, line)
		}
		m.fields = append(m.fields, field{strings.TrimSpace(k), strings.TrimSpace(v)})
	}
	if cl := m.get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > maxBody {
			return nil, fmt.Errorf("%w: content-length %q", errBadMessage, cl)
		}
		m.body = make([]byte, n)
		if _, err := io.ReadFull(br, m.body); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// skipBlank drops the stray line ends some peers send as keep-alive; it
// returns the next byte without consuming it.
func skipBlank(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0, err
		}
		if b[0] != '\r' && b[0] != '\n' {
			return b[0], nil
		}
		_, _ = br.Discard(1)
	}
}

// frames returns the interleaved frames at the head of br, as many whole
// ones as are already buffered (at least one, waiting for it): forwarded
// with one write, then discarded by the caller.
func frames(br *bufio.Reader) ([]byte, error) {
	hdr, err := br.Peek(4)
	if err != nil {
		return nil, err
	}
	total := 4 + (int(hdr[2])<<8 | int(hdr[3]))
	if _, err := br.Peek(total); err != nil {
		return nil, err
	}
	for {
		avail := br.Buffered()
		if total+4 > avail {
			break
		}
		more, _ := br.Peek(total + 4)
		if more[total] != '$' {
			break
		}
		next := total + 4 + (int(more[total+2])<<8 | int(more[total+3]))
		if next > avail {
			break
		}
		total = next
	}
	return br.Peek(total)
}

// absoluteURL matches an absolute URL's scheme and authority in a header
// value or an SDP body, whatever its scheme: a camera may name any
// (satip://, http://), and every one the process sees must be the
// relay's.
var absoluteURL = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s;,"'<>]*`)

// cameraURLs are the fields that carry the camera's URLs, which the
// process must see as the relay's. Location is not among them: it is
// never passed on (see conn.onRedirect).
var cameraURLs = []string{"Content-Base", "Content-Location", "RTP-Info"}

// rewriteForClient turns the camera's URLs in a response (or in a request
// the camera sends) into the Path's, its query and a path holding
// credentials into their stand-ins, drops any Location, and scrubs the
// camera's credentials wherever the camera quotes them (ffmpeg prints a
// status line's reason). The body is rewritten whatever its Content-Type:
// an SDP sent without one still names the camera's URLs.
func (p *Path) rewriteForClient(m *message) {
	m.del("Location", 0)
	for i, f := range m.fields {
		for _, name := range cameraURLs {
			if strings.EqualFold(f.name, name) {
				m.fields[i].value = p.toClient(f.value)
			}
		}
		m.fields[i].name = p.scrub.Scrub(m.fields[i].name)
		m.fields[i].value = p.scrub.Scrub(m.fields[i].value)
	}
	if len(m.body) > 0 {
		m.body = []byte(p.scrub.Scrub(p.toClient(string(m.body))))
	}
	if method, uri, proto, ok := m.requestLine(); ok && !m.isResponse() {
		m.start = method + " " + p.toClient(uri) + " " + proto
	}
	m.start = p.scrub.Scrub(m.start)
}

func (p *Path) toClient(s string) string {
	if p.cam.pathStandIn {
		s = strings.ReplaceAll(s, p.cam.path, pathStandIn)
	}
	if p.cam.query != "" {
		s = strings.ReplaceAll(s, "?"+p.cam.query, queryStandIn)
	}
	return absoluteURL.ReplaceAllLiteralString(s, p.prefix)
}

// toCamera turns a URI the process sent into the camera's; false when it
// addresses no Path of this connection.
func (p *Path) toCamera(uri string) (string, bool) {
	if uri == "*" {
		return uri, true
	}
	if tokenOf(uri) != p.token {
		return "", false
	}
	rest, _ := strings.CutPrefix(uri, "rtsp://")
	_, rest, _ = strings.Cut(rest, "/")
	rest = strings.TrimPrefix(rest, p.token)
	if p.cam.pathStandIn {
		if after, ok := strings.CutPrefix(rest, pathStandIn); ok {
			rest = p.cam.path + after
		}
	}
	if p.cam.query != "" {
		rest = strings.Replace(rest, queryStandIn, "?"+p.cam.query, 1)
	}
	if rest == "" || rest[0] != '/' {
		rest = "/" + rest
	}
	return p.cam.base + rest, true
}

// tlsClient starts TLS on an rtsps camera connection. Like ffmpeg's own
// default (tls_verify=0) it does not verify the certificate: cameras ship
// self-signed ones. The relay checks no less than ffmpeg did.
func tlsClient(ctx context.Context, nc net.Conn, host string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tc := tls.Client(nc, &tls.Config{ServerName: host, InsecureSkipVerify: true}) //nolint:gosec // see above
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}
