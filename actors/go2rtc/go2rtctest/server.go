package go2rtctest

import (
	"context"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults of Options fields left zero, and the stand-in's own limits.
const (
	// DefaultDialTimeout is about how long go2rtc gives a camera that
	// accepts the connection and never answers.
	DefaultDialTimeout = 10 * time.Second
	// stopTimeout bounds how long Down and cleanup wait for handlers and
	// camera connections to end before reporting them stuck.
	stopTimeout = 10 * time.Second
	// viewerWriteTimeout disconnects a viewer that stops reading frames.
	viewerWriteTimeout = 5 * time.Second
)

// Options configure a Server. The zero value is a go2rtc whose config file
// has a streams: key and whose camera dials give up after about 10 s.
type Options struct {
	// ConfigHasNoStreamsKey starts the pretend config file without a
	// streams: key. go2rtc then answers DELETE ?src= with 400 "yaml: path
	// not exist", although the removal happened, until a PUT writes the key
	// (PATCH does not).
	ConfigHasNoStreamsKey bool
	// DialTimeout is how long a consumer (frame.jpeg, a viewer) waits on a
	// camera that accepts and never answers before failing (go2rtc: about
	// 10 s). Zero means DefaultDialTimeout.
	DialTimeout time.Duration
}

// Server is a running go2rtc stand-in. Its methods are safe for concurrent
// use; Down and Up are meant for the test goroutine.
type Server struct {
	t    testing.TB
	opts Options
	addr string // host:port, kept across Down and Up

	lifecycle sync.Mutex // serialises Down, Up and cleanup
	upgrader  websocket.Upgrader

	// wg counts every goroutine the stand-in starts, apart from the Serve
	// loop: HTTP connections, handlers, viewers' writers and camera readers.
	// Adds happen only on goroutines it already counts, or before Serve
	// returns, so waiting on it after Serve has returned is sound.
	wg sync.WaitGroup

	// mu guards everything below. This is test infrastructure standing in
	// for an external server, not an actor: HTTP handlers, camera readers
	// and the test goroutine all read this state, and one mutex keeps it as
	// plain as net/http/httptest does.
	mu        sync.Mutex
	down      bool // not answering (Down, or stopped at cleanup)
	closed    bool // cleanup ran: Up does nothing
	srv       *http.Server
	serveDone chan struct{}      // closed when srv.Serve has returned
	cancelRun context.CancelFunc // cancels every request of the current srv
	delay     time.Duration
	requests  []string
	arrived   []time.Time          // when each of requests arrived
	devices   map[string]string    // Tapo and ONVIF hosts → the RTSP URL they stream (Device)
	inflight  map[uint64]*inflight // REST requests being answered, by arrival number
	arrivals  uint64
	streams   map[string]*stream // by name: what go2rtc lists
	config    map[string][]string
	configKey bool // the config file has a streams: key
	attached  map[*consumer]struct{}
	producers map[*producer]struct{} // camera connections open or being dialled
	viewers   map[*websocket.Conn]struct{}
	consumerN int
	dialErrs  []string // why camera connections failed, logged if the test fails
}

// New starts a stand-in on 127.0.0.1:0 and stops it at t's cleanup. Any
// violation of go2rtc's rules by the client (two API requests in flight at
// once) fails t with t.Errorf naming both requests.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	s := &Server{
		t:         t,
		opts:      opts,
		inflight:  make(map[uint64]*inflight),
		streams:   make(map[string]*stream),
		config:    make(map[string][]string),
		configKey: !opts.ConfigHasNoStreamsKey,
		attached:  make(map[*consumer]struct{}),
		producers: make(map[*producer]struct{}),
		viewers:   make(map[*websocket.Conn]struct{}),
	}
	s.upgrader = websocket.Upgrader{CheckOrigin: sameOrigin}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("go2rtc stand-in: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.close)
	return s
}

// URL is the base URL of the API, "http://127.0.0.1:PORT".
func (s *Server) URL() string { return "http://" + s.addr }

// Streams returns each registered stream's producer URLs, by name, as go2rtc
// lists them now.
func (s *Server) Streams() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]string, len(s.streams))
	for name, st := range s.streams {
		out[name] = slices.Clone(st.urls)
	}
	return out
}

// ConfigFile returns the streams written to the pretend config file: PUT
// writes there, PATCH does not, DELETE ?src= removes.
func (s *Server) ConfigFile() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]string, len(s.config))
	for name, urls := range s.config {
		out[name] = slices.Clone(urls)
	}
	return out
}

// Requests returns every request received so far, oldest first, as
// "METHOD /path?query" with the query as sent. Requests to the player page
// and its WebSocket are included.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Request is one request the stand-in received.
type Request struct {
	At   time.Time // when it arrived
	Line string    // as Requests has it: "METHOD /path?query"
}

// RequestLog is Requests with the time each arrived.
func (s *Server) RequestLog() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = Request{At: s.arrived[i], Line: r}
	}
	return out
}

// SetDelay makes every REST API request (/api/ except the WebSocket) wait d
// before it is answered, as a slow go2rtc would; the request counts as in
// flight meanwhile. Zero answers at once.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Down stops answering, as a stopped go2rtc: the listener closes, API
// requests in flight and viewers' WebSockets are dropped (so camera
// connections close too), and Down returns once all of that has ended.
// Registered streams and the config file are kept for Up.
func (s *Server) Down() {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	s.stop()
}

// Up listens again on the same port after Down.
func (s *Server) Up() {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	s.mu.Lock()
	if !s.down || s.closed {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("go2rtc stand-in: listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// close is the test cleanup: it stops the stand-in for good.
func (s *Server) close() {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	s.stop()
	s.mu.Lock()
	s.closed = true
	errs, reqs := s.dialErrs, s.requests
	s.mu.Unlock()
	if s.t.Failed() {
		s.t.Logf("go2rtc stand-in: requests:\n  %s", strings.Join(reqs, "\n  "))
		if len(errs) > 0 {
			s.t.Logf("go2rtc stand-in: camera connections that failed:\n  %s", strings.Join(errs, "\n  "))
		}
	}
}

// serve starts answering on ln.
func (s *Server) serve(ln net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{
		Handler:           s.routes(),
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnState:         s.trackConn,
		ReadHeaderTimeout: 10 * time.Second,
		// Connections dropped by Down log noise nobody needs.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.down = false
	s.srv, s.serveDone, s.cancelRun = srv, done, cancel
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // http.ErrServerClosed after stop
	}()
}

// stop closes the listener and every connection, then waits until every
// handler, viewer and camera connection has ended.
func (s *Server) stop() {
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		return
	}
	s.down = true
	srv, done, cancel := s.srv, s.serveDone, s.cancelRun
	viewers := slices.Collect(maps.Keys(s.viewers))
	s.mu.Unlock()

	_ = srv.Close() // listener and HTTP connections; not hijacked ones
	cancel()        // wakes handlers waiting on a delay or a frame
	<-done
	for _, ws := range viewers {
		ws.Close()
	}
	idle := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-time.After(stopTimeout):
		s.mu.Lock()
		n := len(s.producers)
		s.mu.Unlock()
		s.t.Errorf("go2rtc stand-in: still running %v after stopping (%d camera connections open): a handler or camera connection is stuck", stopTimeout, n)
	}
}

// trackConn counts HTTP connections in s.wg from the moment Serve accepts
// them until their goroutine ends or hands them to a WebSocket.
func (s *Server) trackConn(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		s.wg.Add(1)
	case http.StateHijacked, http.StateClosed:
		s.wg.Done()
	}
}

// routes maps go2rtc's paths to handlers behind the request bookkeeping.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/streams", s.serveStreams)
	mux.HandleFunc("/api/frame.jpeg", s.serveFrame)
	mux.HandleFunc("/api/ws", s.serveViewer)
	mux.HandleFunc("/stream.html", s.servePlayer)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.admit(w, r, mux)
	})
}

// isREST tells the requests go2rtc's one-at-a-time rule is about: its REST
// API. The player page and the WebSocket are not.
func isREST(path string) bool {
	return strings.HasPrefix(path, "/api/") && path != "/api/ws"
}

// admit records a request, reports one that overlaps another REST request,
// holds it for the configured delay, and passes it on.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, next http.Handler) {
	desc := r.Method + " " + r.URL.RequestURI()
	rest := isREST(r.URL.Path)

	s.mu.Lock()
	if s.down || r.Context().Err() != nil {
		// A request that slipped in while Down closed its connection.
		s.mu.Unlock()
		panic(http.ErrAbortHandler)
	}
	s.wg.Add(1)
	defer s.wg.Done()
	s.requests = append(s.requests, desc)
	s.arrived = append(s.arrived, time.Now())
	var earlier *inflight
	var arrival uint64
	if rest {
		earlier = s.oldestInFlightLocked()
		s.arrivals++
		arrival = s.arrivals
		s.inflight[arrival] = &inflight{desc: desc, ended: make(chan struct{})}
	}
	delay := s.delay
	s.mu.Unlock()

	if rest {
		answered := func() {
			s.mu.Lock()
			if in, ok := s.inflight[arrival]; ok {
				// While the handler runs, its context ends only when the
				// client closed the connection.
				in.gaveUp = r.Context().Err() != nil
				close(in.ended)
				delete(s.inflight, arrival)
			}
			s.mu.Unlock()
		}
		defer answered()
		w = &answerWriter{ResponseWriter: w, answered: answered}
		if earlier != nil && !earlier.abandoned() {
			s.t.Errorf("go2rtc stand-in: overlapping requests %q and %q: go2rtc crashes on this (GO2RTC.md)", earlier.desc, desc)
		}
		if delay > 0 {
			timer := time.NewTimer(delay)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-r.Context().Done():
				panic(http.ErrAbortHandler) // client gave up, or Down
			}
		}
	}
	next.ServeHTTP(w, r)
}

// inflight is a REST request being answered.
type inflight struct {
	desc   string
	ended  chan struct{} // closed when it was answered or given up
	gaveUp bool          // its client closed the connection first; set before ended closes
}

// abandoned reports whether the client gave the request up before it sent
// the next one: it closed the connection (its client-side timeout), which
// the server sees a moment later, before any answer. go2rtc may still be
// waiting on the camera for it (a frame.jpeg waits without limit), but
// nothing of it runs beside the next request: the client kept to one at a
// time. A request answered while the next one waited overlapped it.
func (r *inflight) abandoned() bool {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-r.ended:
		return r.gaveUp
	case <-t.C:
		return false
	}
}

// oldestInFlightLocked returns the earliest REST request still being
// answered, or nil. The caller holds s.mu.
func (s *Server) oldestInFlightLocked() *inflight {
	if len(s.inflight) == 0 {
		return nil
	}
	return s.inflight[slices.Min(slices.Collect(maps.Keys(s.inflight)))]
}

// answerWriter ends a REST request's time in flight just before the client
// can hold its whole answer, so that a client sending its next request the
// moment the previous answer is complete is not reported as overlapping.
// That moment is the write completing a declared Content-Length (frame.jpeg
// writes its body straight to the connection); any other answer is buffered
// until the handler returns, after admit's deferred call.
type answerWriter struct {
	http.ResponseWriter
	written  int64
	answered func()
}

func (w *answerWriter) Write(p []byte) (int, error) {
	if cl, err := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64); err == nil && w.written+int64(len(p)) >= cl {
		w.answered()
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}
