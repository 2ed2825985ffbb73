package detect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"camvisor/actors/redact"
)

// Defaults of HTTPOptions fields left zero. They live here and nowhere
// else.
const (
	// DefaultHTTPTimeout bounds one detection request, connection
	// included. A CPU-only YOLO on a small box answers a 320x240 frame in
	// 100-500 ms and a 1080p frame in about a second; 5 s leaves room for a
	// busy server without letting a hung one hold a frame for long.
	DefaultHTTPTimeout = 5 * time.Second
	// DefaultHTTPMaxBody bounds the answer read. A real answer is a few
	// hundred bytes per prediction, so 1 MiB holds thousands of them while
	// keeping a runaway server from filling memory.
	DefaultHTTPMaxBody = 1 << 20

	// statusBodyQuote is how much of a non-2xx answer's body an error
	// quotes: enough for a server's error message, not a whole HTML page.
	statusBodyQuote = 200
	// maxRedirects bounds same-host redirects followed.
	maxRedirects = 3
	// maxCoordinate is the largest box coordinate accepted: larger than
	// any camera frame, small enough to be an int everywhere.
	maxCoordinate = 1 << 20
	// imageField and imageFilename are the multipart part the API expects.
	imageField    = "image"
	imageFilename = "frame.jpg"
)

// HTTPOptions configure an HTTP detector. Zero Timeout and MaxBody take
// DefaultHTTPTimeout and DefaultHTTPMaxBody.
type HTTPOptions struct {
	// URL is the detection endpoint, e.g.
	// http://127.0.0.1:32168/v1/vision/detection (CodeProject.AI) or
	// http://127.0.0.1:5000/v1/vision/detection (DeepStack).
	URL string
	// Timeout bounds one Detect: connecting, sending, waiting, reading.
	Timeout time.Duration
	// MaxBody is the longest answer read, in bytes.
	MaxBody int64
}

// HTTP is a client of an object-detection server speaking the DeepStack /
// CodeProject.AI API (which Blue Iris, Agent DVR and Home Assistant use as
// well). It is safe for concurrent use and reuses its connections.
type HTTP struct {
	url     string // as configured, for requests
	shown   string // with any password hidden, for errors
	host    string // scheme://host:port redirects must stay on
	timeout time.Duration
	maxBody int64
	client  *http.Client
	seq     atomic.Uint64 // numbers requests for Idempotency-Key
}

// errTimeoutCause marks the request context's own deadline, to tell it
// apart from the caller's.
var errTimeoutCause = errors.New("detector.timeout elapsed")

// NewHTTP checks opts and returns a detector for opts.URL. It does not
// contact the server.
func NewHTTP(opts HTTPOptions) (*HTTP, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("detector.url: %q must be an http:// or https:// URL with a host", redact.URL(opts.URL))
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("detector.timeout: must be positive, got %v", opts.Timeout)
	}
	if opts.MaxBody < 0 {
		return nil, fmt.Errorf("detector.max_body: must be positive, got %d", opts.MaxBody)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultHTTPTimeout
	}
	if opts.MaxBody == 0 {
		opts.MaxBody = DefaultHTTPMaxBody
	}
	d := &HTTP{
		url:     opts.URL,
		shown:   redact.URL(opts.URL),
		host:    u.Scheme + "://" + u.Host,
		timeout: opts.Timeout,
		maxBody: opts.MaxBody,
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the detector is ours: an environment proxy must not see frames
	tr.MaxIdleConnsPerHost = 8
	d.client = &http.Client{Transport: tr, CheckRedirect: d.checkRedirect}
	return d, nil
}

// checkRedirect follows a redirect only to the same scheme, host and port:
// frames must never be sent to a server nobody configured.
func (d *HTTP) checkRedirect(req *http.Request, via []*http.Request) error {
	if to := req.URL.Scheme + "://" + req.URL.Host; to != d.host {
		return fmt.Errorf("%w: redirected to %s, another host; not followed (point detector.url at the detector itself)", ErrBadAnswer, redact.URL(req.URL.String()))
	}
	if len(via) > maxRedirects {
		return fmt.Errorf("%w: more than %d redirects", ErrBadAnswer, maxRedirects)
	}
	return nil
}

// Close closes idle connections to the detector.
func (d *HTTP) Close() {
	d.client.CloseIdleConnections()
}

// Detect sends one JPEG to the detector and returns every valid
// prediction it answers with, unfiltered. Failures are errors wrapping
// ErrTimeout, ErrUnreachable, ErrStatus, ErrTooLarge or ErrBadAnswer; a
// ctx cancelled by the caller gives an error wrapping ctx's error.
func (d *HTTP) Detect(ctx context.Context, jpeg []byte) ([]Detection, error) {
	if len(jpeg) == 0 {
		return nil, fmt.Errorf("detect via %s: %w: the frame is empty", d.shown, ErrBadImage)
	}
	body, contentType, err := multipartImage(jpeg)
	if err != nil {
		return nil, fmt.Errorf("detect via %s: build request: %w", d.shown, err)
	}
	rctx, cancel := context.WithTimeoutCause(ctx, d.timeout, errTimeoutCause)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("detect via %s: build request: %w", d.shown, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "camvisor")
	// Detection is idempotent. Saying so lets net/http resend the request
	// on a fresh connection when a kept-alive one turns out to have been
	// closed by the server (idle timeout, restart) as the request went out,
	// instead of failing with EOF.
	req.Header.Set("Idempotency-Key", strconv.FormatUint(d.seq.Add(1), 10))

	res, err := d.client.Do(req)
	if err != nil {
		return nil, d.transportError(ctx, rctx, "", err)
	}
	defer res.Body.Close()

	if res.StatusCode < 200 || res.StatusCode > 299 {
		head, _ := io.ReadAll(io.LimitReader(res.Body, statusBodyQuote))
		return nil, fmt.Errorf("detect via %s: %w: %s, body %s", d.shown, ErrStatus, res.Status, quote(head, res.ContentLength))
	}
	if res.ContentLength > d.maxBody {
		return nil, fmt.Errorf("detect via %s: %w: the answer is %d bytes, over detector.max_body %d; not read", d.shown, ErrTooLarge, res.ContentLength, d.maxBody)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, d.maxBody+1))
	if err != nil {
		return nil, d.transportError(ctx, rctx, "reading the answer: ", err)
	}
	if int64(len(data)) > d.maxBody {
		return nil, fmt.Errorf("detect via %s: %w: the answer is over detector.max_body %d bytes; stopped reading there", d.shown, ErrTooLarge, d.maxBody)
	}
	dets, err := parseAnswer(data, res.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("detect via %s: %w", d.shown, err)
	}
	return dets, nil
}

// multipartImage builds the form the API expects: the JPEG in field
// "image", as a file with Content-Type image/jpeg.
func multipartImage(jpeg []byte) (body []byte, contentType string, err error) {
	var buf bytes.Buffer
	buf.Grow(len(jpeg) + 512)
	mw := multipart.NewWriter(&buf)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, imageField, imageFilename))
	h.Set("Content-Type", "image/jpeg")
	part, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := part.Write(jpeg); err != nil {
		return nil, "", err
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// transportError explains a failure to exchange a request and an answer:
// our timeout, the caller's deadline or cancellation, or an unreachable
// detector.
func (d *HTTP) transportError(ctx, rctx context.Context, doing string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text repeats the method and URL
	}
	var ne net.Error
	switch {
	case errors.Is(err, ErrBadAnswer): // from checkRedirect
		return fmt.Errorf("detect via %s: %s%w", d.shown, doing, err)
	case context.Cause(rctx) == errTimeoutCause:
		return fmt.Errorf("detect via %s: %s%w: no answer within detector.timeout %v", d.shown, doing, ErrTimeout, d.timeout)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("detect via %s: %s%w: no answer before the caller's deadline: %w", d.shown, doing, ErrTimeout, ctx.Err())
	case ctx.Err() != nil:
		return fmt.Errorf("detect via %s: %scancelled by the caller: %w", d.shown, doing, ctx.Err())
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("detect via %s: %s%w: %w", d.shown, doing, ErrTimeout, err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("detect via %s: %s%w: the detector closed the connection without answering: %w", d.shown, doing, ErrUnreachable, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("detect via %s: %s%w: %w (is the detection server running?)", d.shown, doing, ErrUnreachable, err)
	default:
		return fmt.Errorf("detect via %s: %s%w: %w", d.shown, doing, ErrUnreachable, err)
	}
}

// wireAnswer is the API's JSON answer. Pointers tell a missing field from
// a zero one; fields not listed (code, inferenceMs, processMs, moduleId,
// count, ...) are ignored.
type wireAnswer struct {
	Success     *bool             `json:"success"`
	Predictions *[]wirePrediction `json:"predictions"`
	Error       json.RawMessage   `json:"error"`
	Message     json.RawMessage   `json:"message"`
}

// wirePrediction is one entry of "predictions". Coordinates are numbers:
// DeepStack and CodeProject.AI send integers, some servers fractions.
type wirePrediction struct {
	Label      *string  `json:"label"`
	Confidence *float64 `json:"confidence"`
	XMin       *float64 `json:"x_min"`
	YMin       *float64 `json:"y_min"`
	XMax       *float64 `json:"x_max"`
	YMax       *float64 `json:"y_max"`
}

// parseAnswer checks an answer body and turns its predictions into
// Detections; any problem is an error wrapping ErrBadAnswer that names the
// field and the value.
func parseAnswer(data []byte, contentType string) ([]Detection, error) {
	var a wireAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se) || len(bytes.TrimSpace(data)) == 0:
			return nil, fmt.Errorf("%w: not JSON (Content-Type %q): %v; it begins %s", ErrBadAnswer, contentType, err, quote(data, int64(len(data))))
		case errors.As(err, &te) && te.Field == "":
			return nil, fmt.Errorf("%w: the answer is a JSON %s, want an object; it begins %s", ErrBadAnswer, te.Value, quote(data, int64(len(data))))
		case errors.As(err, &te):
			return nil, fmt.Errorf("%w: field %q holds a JSON %s, want %s", ErrBadAnswer, te.Field, te.Value, te.Type)
		default:
			return nil, fmt.Errorf("%w: %v", ErrBadAnswer, err)
		}
	}
	if a.Success == nil {
		return nil, fmt.Errorf("%w: field \"success\" is missing; it begins %s", ErrBadAnswer, quote(data, int64(len(data))))
	}
	if !*a.Success {
		return nil, fmt.Errorf("%w: success is false: error %s, message %s", ErrBadAnswer, rawText(a.Error), rawText(a.Message))
	}
	if a.Predictions == nil {
		return nil, fmt.Errorf("%w: field \"predictions\" is missing or null", ErrBadAnswer)
	}
	dets := make([]Detection, 0, len(*a.Predictions))
	for i, p := range *a.Predictions {
		d, err := p.detection()
		if err != nil {
			return nil, fmt.Errorf("%w: predictions[%d]: %w", ErrBadAnswer, i, err)
		}
		dets = append(dets, d)
	}
	return dets, nil
}

// detection checks one prediction.
func (p wirePrediction) detection() (Detection, error) {
	if p.Label == nil {
		return Detection{}, errors.New(`field "label" is missing or null`)
	}
	if strings.TrimSpace(*p.Label) == "" {
		return Detection{}, fmt.Errorf(`label %q is empty`, *p.Label)
	}
	if p.Confidence == nil {
		return Detection{}, fmt.Errorf(`label %q: field "confidence" is missing or null`, *p.Label)
	}
	if c := *p.Confidence; !(c >= 0 && c <= 1) {
		return Detection{}, fmt.Errorf(`label %q: confidence %v is outside 0..1`, *p.Label, c)
	}
	coords := []struct {
		name string
		v    *float64
	}{{"x_min", p.XMin}, {"y_min", p.YMin}, {"x_max", p.XMax}, {"y_max", p.YMax}}
	for _, c := range coords {
		switch {
		case c.v == nil:
			return Detection{}, fmt.Errorf(`label %q: field %q is missing or null`, *p.Label, c.name)
		case math.IsNaN(*c.v) || *c.v < 0 || *c.v > maxCoordinate:
			return Detection{}, fmt.Errorf(`label %q: %s %v is not a pixel coordinate (0..%d)`, *p.Label, c.name, *c.v, maxCoordinate)
		}
	}
	if *p.XMax < *p.XMin {
		return Detection{}, fmt.Errorf(`label %q: x_max %v is left of x_min %v`, *p.Label, *p.XMax, *p.XMin)
	}
	if *p.YMax < *p.YMin {
		return Detection{}, fmt.Errorf(`label %q: y_max %v is above y_min %v`, *p.Label, *p.YMax, *p.YMin)
	}
	// Fractions widen the box to whole pixels, so it still holds the object.
	box := image.Rectangle{
		Min: image.Pt(int(math.Floor(*p.XMin)), int(math.Floor(*p.YMin))),
		Max: image.Pt(int(math.Ceil(*p.XMax)), int(math.Ceil(*p.YMax))),
	}
	return Detection{Label: *p.Label, Score: *p.Confidence, Box: box}, nil
}

// rawText shows an "error" or "message" field: a string as its text, any
// other JSON as written, absence as "(none)".
func rawText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "(none)"
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return quote([]byte(s), int64(len(s)))
	}
	return quote(raw, int64(len(raw)))
}

// quote shows the start of a body in an error: at most statusBodyQuote
// bytes, quoted, valid UTF-8, with how much more there was.
func quote(b []byte, total int64) string {
	if len(b) == 0 && total <= 0 {
		return "(empty)"
	}
	cut := b
	if len(cut) > statusBodyQuote {
		cut = cut[:statusBodyQuote]
	}
	for i := 0; i < utf8.UTFMax-1 && len(cut) < len(b) && !utf8.RuneStart(b[len(cut)]); i++ {
		cut = cut[:len(cut)-1] // do not split a character
	}
	s := fmt.Sprintf("%q", strings.ToValidUTF8(string(cut), "\uFFFD"))
	switch {
	case total > int64(len(cut)):
		s += fmt.Sprintf(" (first %d of %d bytes)", len(cut), total)
	case total < 0 && len(cut) == statusBodyQuote:
		s += fmt.Sprintf(" (first %d bytes)", len(cut))
	}
	return s
}
