// Package detecttest runs a scriptable stand-in for an object-detection
// server (the DeepStack / CodeProject.AI API) in tests, the way
// net/http/httptest runs an HTTP server: New starts one on 127.0.0.1 and
// stops it when the test ends. It is test code and never part of the
// server.
//
// It answers POST {URL()} with what the last Answer set: predictions, or a
// fault (delay, error status, raw body, a huge body, success false, no
// predictions, hanging). Every detection request must be a multipart POST
// with a decodable JPEG in field "image"; anything else fails the test,
// so a detector that sends garbage cannot pass unnoticed. Down makes the
// server refuse connections, Up brings it back on the same address.
package detecttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Path is the endpoint the server answers, DeepStack's and
// CodeProject.AI's object detection.
const Path = "/v1/vision/detection"

// What the fault answers hold. Tests may look for these texts in errors.
const (
	// FailureMessage is the "error" of a SuccessFalse answer.
	FailureMessage = "simulated failure: the model is not loaded"
	// HugeBytes is about the length of a Huge answer: far over any sane
	// detector.max_body, so a client that read it all would be slow and
	// would allocate for it.
	HugeBytes = 64 << 20
	// maxImageBytes bounds what the server reads of one request.
	maxImageBytes = 32 << 20
)

// Prediction is one object in a good answer, written with the API's field
// names. Values are sent as given, so out-of-range ones can be scripted.
type Prediction struct {
	Label      string  `json:"label"`
	Confidence float64 `json:"confidence"`
	XMin       int     `json:"x_min"`
	YMin       int     `json:"y_min"`
	XMax       int     `json:"x_max"`
	YMax       int     `json:"y_max"`
}

// Answer is how the server answers detection requests until the next
// call to Server.Answer. The zero value is a good answer with no
// predictions. When several faults are set the first one in this order
// wins: Hang, Status, Body, Huge, SuccessFalse, MissingPredictions;
// Delay applies before any of them but Hang.
type Answer struct {
	// Predictions of a good answer.
	Predictions []Prediction
	// Delay holds the answer this long (less if the client goes away).
	Delay time.Duration
	// Status answers with this HTTP status and Body (or a short text
	// when Body is empty).
	Status int
	// Body answers 200 with this raw body, e.g. "not json" or JSON with a
	// field missing.
	Body string
	// Huge answers 200 with HugeBytes of JSON, sent as it is read,
	// without a Content-Length.
	Huge bool
	// SuccessFalse answers {"success": false, "error": FailureMessage}.
	SuccessFalse bool
	// MissingPredictions answers {"success": true} only.
	MissingPredictions bool
	// Hang never answers: the request waits until the client goes away or
	// the server stops.
	Hang bool
}

// Server is a scriptable detection server. Its methods are safe for
// concurrent use.
type Server struct {
	tb   testing.TB
	addr string // host:port, kept across Down and Up

	// mu guards what the test's goroutine and the handlers' goroutines
	// share; this is test scaffolding, not an actor.
	mu       sync.Mutex
	answer   Answer
	requests int
	life     *life // nil while down
	closed   bool
}

// life is one period the server is up: Down ends it.
type life struct {
	srv      *http.Server
	quit     chan struct{}  // closed by Down: releases hanging handlers
	handlers sync.WaitGroup // handlers running, waited for by Down
}

// New starts a server on 127.0.0.1 with an ephemeral port, answering with
// no predictions until told otherwise, and stops it when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("detecttest: listen: %v", err)
	}
	s := &Server{tb: tb, addr: ln.Addr().String()}
	s.serve(ln)
	tb.Cleanup(s.Close)
	return s
}

// URL is the full detection endpoint, e.g.
// http://127.0.0.1:PORT/v1/vision/detection.
func (s *Server) URL() string { return "http://" + s.addr + Path }

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Answer sets how the following requests are answered; requests already
// being answered keep the answer they started with.
func (s *Server) Answer(a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = a
}

// Requests is how many detection requests the server has received, good
// or bad, answered or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Down stops the server as a crashed detector stops: the port refuses
// connections and open ones are closed, hanging requests included. It
// returns once every handler has finished.
func (s *Server) Down() {
	s.mu.Lock()
	l := s.life
	s.life = nil
	s.mu.Unlock()
	if l == nil {
		return
	}
	_ = l.srv.Close()
	close(l.quit)
	l.handlers.Wait()
}

// Up starts a server that is Down again on the same address.
func (s *Server) Up() {
	s.tb.Helper()
	s.mu.Lock()
	up, closed := s.life != nil, s.closed
	s.mu.Unlock()
	if up || closed {
		return
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.tb.Fatalf("detecttest: listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// Close stops the server for good; New arranges it at the end of the test.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.Down()
}

// serve starts a life on ln.
func (s *Server) serve(ln net.Listener) {
	l := &life{quit: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc(Path, func(w http.ResponseWriter, r *http.Request) { s.handle(l, w, r) })
	l.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
	}
	s.mu.Lock()
	s.life = l
	s.mu.Unlock()
	go func() { _ = l.srv.Serve(ln) }()
}

// handle checks one detection request and answers it.
func (s *Server) handle(l *life, w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.life != l { // Down has begun: it no longer waits for handlers
		s.mu.Unlock()
		http.Error(w, "detecttest: shutting down", http.StatusServiceUnavailable)
		return
	}
	l.handlers.Add(1)
	defer l.handlers.Done()
	s.requests++
	a := s.answer
	s.mu.Unlock()

	if err := checkRequest(r); err != nil {
		s.tb.Errorf("detecttest: bad detection request %s %s: %v", r.Method, r.URL.Path, err)
		writeJSON(w, http.StatusBadRequest, map[string]any{"success": false, "error": "detecttest: " + err.Error()})
		return
	}
	// Read to the end so that net/http notices when the client goes away.
	_, _ = io.Copy(io.Discard, r.Body)

	if a.Hang {
		select {
		case <-r.Context().Done():
			return
		case <-l.quit:
			panic(http.ErrAbortHandler) // a crashed server answers nothing
		}
	}
	if a.Delay > 0 {
		t := time.NewTimer(a.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-l.quit:
			panic(http.ErrAbortHandler)
		}
	}
	switch {
	case a.Status != 0:
		body := a.Body
		if body == "" {
			body = fmt.Sprintf("detecttest: simulated status %d", a.Status)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(a.Status)
		_, _ = io.WriteString(w, body)
	case a.Body != "":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, a.Body)
	case a.Huge:
		writeHuge(w, l.quit)
	case a.SuccessFalse:
		writeJSON(w, http.StatusOK, map[string]any{"success": false, "error": FailureMessage, "code": 500})
	case a.MissingPredictions:
		writeJSON(w, http.StatusOK, map[string]any{"success": true})
	default:
		preds := a.Predictions
		if preds == nil {
			preds = []Prediction{}
		}
		msg := "No objects found"
		if len(preds) > 0 {
			msg = "Found " + preds[0].Label
		}
		// The extra fields CodeProject.AI sends, which clients ignore.
		writeJSON(w, http.StatusOK, map[string]any{
			"success": true, "predictions": preds, "count": len(preds), "message": msg,
			"moduleId": "ObjectDetectionYOLOv5-6.2", "code": 200, "inferenceMs": 42, "processMs": 45,
		})
	}
}

// checkRequest reports what is wrong with a detection request: it must be
// a multipart/form-data POST whose field "image" is a file holding a
// decodable JPEG.
func checkRequest(r *http.Request) error {
	if r.Method != http.MethodPost {
		return fmt.Errorf("method %s, want POST", r.Method)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return fmt.Errorf("Content-Type %q, want multipart/form-data", r.Header.Get("Content-Type"))
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return fmt.Errorf("multipart body: %w", err)
	}
	found := false
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("multipart body: %w", err)
		}
		if p.FormName() != "image" {
			continue
		}
		if found {
			return errors.New(`field "image" appears twice`)
		}
		found = true
		if p.FileName() == "" {
			return errors.New(`field "image" has no filename: servers read it as a file upload`)
		}
		if ct := p.Header.Get("Content-Type"); ct != "image/jpeg" {
			return fmt.Errorf(`field "image" has Content-Type %q, want image/jpeg`, ct)
		}
		data, err := io.ReadAll(io.LimitReader(p, maxImageBytes+1))
		if err != nil {
			return fmt.Errorf(`field "image": %w`, err)
		}
		if len(data) > maxImageBytes {
			return fmt.Errorf(`field "image" is over %d bytes`, maxImageBytes)
		}
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			return fmt.Errorf(`field "image" (%d bytes) is not a decodable JPEG: %w`, len(data), err)
		}
	}
	if !found {
		return errors.New(`no field "image"`)
	}
	return nil
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeHuge streams HugeBytes of valid JSON, one chunk at a time, and
// stops as soon as the client stops reading.
func writeHuge(w http.ResponseWriter, quit <-chan struct{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	const head, tail = `{"success":true,"predictions":[`, `{"label":"end","confidence":0.5,"x_min":0,"y_min":0,"x_max":1,"y_max":1}]}`
	item := `{"label":"person","confidence":0.5,"x_min":0,"y_min":0,"x_max":1,"y_max":1},`
	chunk := []byte(strings.Repeat(item, 32<<10/len(item)))
	sent, _ := io.WriteString(w, head)
	for sent+len(chunk)+len(tail) <= HugeBytes {
		select {
		case <-quit:
			return
		default:
		}
		n, err := w.Write(chunk)
		sent += n
		if err != nil {
			return
		}
	}
	_, _ = io.WriteString(w, tail)
}
