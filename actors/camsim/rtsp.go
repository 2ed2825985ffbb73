package camsim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits on what a peer may send, so a confused client cannot grow memory.
const (
	readBufferSize = 4 << 10 // longest request or status line
	maxHeaderLines = 64
	maxBody        = 64 << 10
)

var errBadMessage = errors.New("malformed RTSP message")

// header holds RTSP header fields by lower-case name; a field may repeat
// (WWW-Authenticate does).
type header map[string][]string

func (h header) get(name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// request is one RTSP request as camsim needs it.
type request struct {
	method string
	url    string
	camera string // first path segment of url
	header header
}

func (r *request) cseq() string { return r.header.get("cseq") }

// session returns the session id of the request, without parameters.
func (r *request) session() string {
	s, _, _ := strings.Cut(r.header.get("session"), ";")
	return strings.TrimSpace(s)
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

// readRequestLine reads "METHOD URL RTSP/1.0".
func readRequestLine(br *bufio.Reader) (*request, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(line)
	if len(f) != 3 || !strings.HasPrefix(f[2], "RTSP/") {
		return nil, fmt.Errorf("%w: request line %q", errBadMessage, line)
	}
	return &request{method: f[0], url: f[1], camera: cameraName(f[1]), header: header{}}, nil
}

// readHeader reads header lines up to the blank line, then discards any
// body.
func readHeader(br *bufio.Reader) (header, []byte, error) {
	h := header{}
	for n := 0; ; n++ {
		if n == maxHeaderLines {
			return nil, nil, fmt.Errorf("%w: more than %d header lines", errBadMessage, maxHeaderLines)
		}
		line, err := readLine(br)
		if err != nil {
			return nil, nil, err
		}
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, nil, fmt.Errorf("%w: header line %q", errBadMessage, line)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		h[k] = append(h[k], strings.TrimSpace(v))
	}
	var body []byte
	if cl := h.get("content-length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > maxBody {
			return nil, nil, fmt.Errorf("%w: content-length %q", errBadMessage, cl)
		}
		body = make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			return nil, nil, err
		}
	}
	return h, body, nil
}

// readInterleaved reads one "$" frame (RFC 2326 10.12) and returns its
// channel and payload; the payload aliases buf when it fits.
func readInterleaved(br *bufio.Reader, buf []byte) (byte, []byte, error) {
	var hdr [interleaveLen]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(hdr[2])<<8 | int(hdr[3])
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(br, buf); err != nil {
		return 0, nil, err
	}
	return hdr[1], buf, nil
}

// skipInterleaved discards one "$" frame.
func skipInterleaved(br *bufio.Reader) error {
	hdr, err := br.Peek(interleaveLen)
	if err != nil {
		return err
	}
	n := int(hdr[2])<<8 | int(hdr[3])
	_, err = br.Discard(interleaveLen + n)
	return err
}

// cameraName returns the first path segment of an RTSP URL or path, or ""
// for "*" and "/".
func cameraName(raw string) string {
	p := raw
	if i := strings.Index(p, "://"); i >= 0 {
		p = p[i+3:]
		j := strings.IndexByte(p, '/')
		if j < 0 {
			return ""
		}
		p = p[j:]
	}
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexAny(p, "/?;"); i >= 0 {
		p = p[:i]
	}
	return p
}

var statusText = map[int]string{
	200: "OK",
	400: "Bad Request",
	401: "Unauthorized",
	404: "Not Found",
	453: "Not Enough Bandwidth",
	454: "Session Not Found",
	455: "Method Not Valid in This State",
	461: "Unsupported Transport",
	500: "Internal Server Error",
	501: "Not Implemented",
}

// appendResponse writes an RTSP response with the CSeq echoed.
func appendResponse(b []byte, code int, cseq string, fields []string, body []byte) []byte {
	b = fmt.Appendf(b, "RTSP/1.0 %d %s\r\n", code, statusText[code])
	if cseq != "" {
		b = fmt.Appendf(b, "CSeq: %s\r\n", cseq)
	}
	b = append(b, "Server: camsim\r\n"...)
	for _, f := range fields {
		b = append(b, f...)
		b = append(b, "\r\n"...)
	}
	if len(body) > 0 {
		b = fmt.Appendf(b, "Content-Length: %d\r\n", len(body))
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}
