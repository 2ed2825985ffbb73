// Package web is camvisor's HTTP face: the JSON API, the WebSocket and the
// embedded dashboard. Handlers never touch actor state: they ask actors by
// message, or read the record through their own read-only connection.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"camvisor/actors"
	"camvisor/actors/config"
	"camvisor/db"
)

// Options configure a Server.
type Options struct {
	Listen    string
	DBPath    string // the record; empty disables the history endpoints
	Tree      *actors.Tree
	Config    *config.Config
	Log       *slog.Logger
	Token     string // the operator token; empty means no authentication (tests only)
	Version   string
	RunID     string
	StartedAt time.Time
	Limits    *Limits // nil means DefaultLimits
}

// Limits bound what one client may cost the server and how long a
// sign-in lasts. DefaultLimits holds the values camvisor runs with.
type Limits struct {
	// ReadHeader bounds reading a request's header, Read the whole request
	// (bodies are 64 KiB at most): a client trickling bytes is cut off.
	ReadHeader, Read time.Duration
	// Write bounds an answer; handlers that wait longer (a capture) extend
	// it by what they wait, and a download extends it chunk by chunk, so a
	// client that stops reading is cut off while a slow one is served.
	Write time.Duration
	// Idle bounds a keep-alive connection between requests.
	Idle time.Duration
	// Dashboards caps the WebSockets open at once; more are refused (503).
	Dashboards int
	// Ping is how often a dashboard's WebSocket is pinged; one that
	// answers nothing for two of them is closed.
	Ping time.Duration
	// SessionIdle and SessionMax end a dashboard's session: unused that
	// long, or that long after sign-in.
	SessionIdle, SessionMax time.Duration
	// LoginBurst wrong tokens a client may send, then one more per
	// LoginEvery (429 meanwhile); LoginTotalBurst and LoginTotalEvery are
	// the same for every client together. The right token is never
	// refused for them.
	LoginBurst      int
	LoginEvery      time.Duration
	LoginTotalBurst int
	LoginTotalEvery time.Duration

	// The budgets: the longest a request waits on the tree before it
	// answers. Each question to the tree gets what is left of its
	// request's budget, never more, and is given up when the client
	// goes. API.md lists each endpoint's.
	//
	// Question bounds a request that asks the tree what it knows (status,
	// cameras, a camera's frame, alerts, processes, the actor tree): past
	// it the request answers with what it has, or 503 naming what did not
	// answer.
	Question time.Duration
	// Live bounds the start of a live view (a slot, go2rtc's stream).
	Live time.Duration
	// Restart bounds a camera's restart, beyond ffmpeg.kill_grace.
	Restart time.Duration
	// CaptureMargin: a capture waits ffmpeg.capture_timeout, its
	// kill_grace and this.
	CaptureMargin time.Duration
	// Join bounds handing a new WebSocket to the hub.
	Join time.Duration
}

// DefaultLimits are the limits camvisor runs with.
func DefaultLimits() *Limits {
	return &Limits{
		ReadHeader:  10 * time.Second,
		Read:        30 * time.Second,
		Write:       30 * time.Second,
		Idle:        30 * time.Second,
		Dashboards:  32,
		Ping:        20 * time.Second,
		SessionIdle: 12 * time.Hour,
		SessionMax:  7 * 24 * time.Hour,
		LoginBurst:  10,
		LoginEvery:  2 * time.Second,

		LoginTotalBurst: 100,
		LoginTotalEvery: 200 * time.Millisecond,

		Question:      3 * time.Second,
		Live:          15 * time.Second,
		Restart:       15 * time.Second,
		CaptureMargin: 5 * time.Second,
		Join:          5 * time.Second,
	}
}

// withDefaults is l with each zero budget and total login limit set to
// its default: a request never asks the tree with no time at all, and
// Limits written before those fields existed keep working.
func (l Limits) withDefaults() *Limits {
	d := DefaultLimits()
	for _, b := range []struct{ v, def *time.Duration }{
		{&l.Question, &d.Question}, {&l.Live, &d.Live}, {&l.Restart, &d.Restart},
		{&l.CaptureMargin, &d.CaptureMargin}, {&l.Join, &d.Join}, {&l.LoginTotalEvery, &d.LoginTotalEvery},
	} {
		if *b.v <= 0 {
			*b.v = *b.def
		}
	}
	if l.LoginTotalBurst <= 0 {
		l.LoginTotalBurst = d.LoginTotalBurst
	}
	return &l
}

// Server is the HTTP server.
type Server struct {
	opts   Options
	lim    *Limits
	mux    *http.ServeMux
	srv    *http.Server
	ln     net.Listener
	backup chan struct{} // one backup at a time: each writes a whole copy

	sessions   *sessions
	limiter    *limiter
	refusals   *refusalLog
	hosts      *hosts       // the names a request may give in its Host
	dashboards atomic.Int32 // WebSockets open
	csp        string

	readerOnce sync.Once
	store      *db.Store // read-only, for history
	storeErr   error
}

// reader is the record opened read-only for the API's history queries.
func (s *Server) reader() (*db.Store, error) {
	s.readerOnce.Do(func() {
		if s.opts.DBPath == "" {
			s.storeErr = errors.New("this server keeps no record")
			return
		}
		s.store, s.storeErr = db.OpenReadOnly(s.opts.DBPath)
	})
	return s.store, s.storeErr
}

// routes are the API's endpoints, each behind the token.
func (s *Server) routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"GET /api/status":                    s.status,
		"GET /api/cameras":                   s.cameras,
		"GET /api/cameras/{id}/snapshot.jpg": s.cameraSnapshot,
		"POST /api/cameras/{id}/capture":     s.forwarded(s.captureWait, s.capture),
		"POST /api/cameras/{id}/live":        s.forwarded(s.liveWait, s.startLive),
		"DELETE /api/cameras/{id}/live":      s.forwarded(s.questionWait, s.stopLive),
		"POST /api/cameras/{id}/restart":     s.forwarded(s.restartWait, s.restart),
		"POST /api/cameras/{id}/pause":       s.forwarded(s.pauseWait, s.pause),
		"POST /api/cameras/{id}/resume":      s.forwarded(s.questionWait, s.resume),
		"GET /api/cluster":                   s.cluster,
		"GET /api/actors":                    s.actorTree,
		"GET /api/processes":                 s.processes,
		"GET /api/events":                    s.events,
		"GET /api/events/{id}/snapshot.jpg":  s.snapshot,
		"GET /api/samples":                   s.samples,
		"GET /api/cycles":                    s.cycles,
		"GET /api/alerts":                    s.alerts,
		"GET /api/report.html":               s.reportHTML,
		"GET /api/db/backup":                 s.dbBackup,
		"POST /api/config/reload":            s.reload,
		"GET /ws":                            s.ws,
		"GET /metrics":                       s.metrics,
	}
}

// New builds a Server; Start listens.
func New(opts Options) *Server {
	lim := DefaultLimits()
	if opts.Limits != nil {
		lim = opts.Limits.withDefaults()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, lim: lim, backup: make(chan struct{}, 1), sessions: newSessions(lim.SessionIdle, lim.SessionMax),
		refusals: newRefusalLog(opts.Log), csp: contentPolicy(opts.Config)}
	s.limiter = newLimiter(lim, s.refusals)
	var allowed []string
	if opts.Config != nil {
		allowed = opts.Config.Web.AllowedHosts
	}
	s.hosts = newHosts(opts.Listen, allowed)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("POST /api/login", s.login)
	mux.HandleFunc("POST /api/logout", s.logout)
	mux.Handle("GET /", http.FileServerFS(staticFS()))
	for pattern, h := range s.routes() {
		mux.HandleFunc(pattern, s.guard(h))
	}
	s.routePProf(mux) // Go's profiles, behind the token, when web.pprof is on (pprof.go)
	// Anything else under /api: 405 with Allow for a known path asked with
	// another method, else a JSON 404 (401 without a token). What no route
	// takes at all (another method, OPTIONS) is answered by noRoute.
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		mux.HandleFunc(method+" /api/", s.guard(s.notFound))
	}
	s.mux = mux
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(s.refuseCrossOrigin))
	s.srv = &http.Server{
		Handler:           s.headers(s.checkHost(cop.Handler(http.HandlerFunc(s.route)))),
		ReadHeaderTimeout: lim.ReadHeader,
		ReadTimeout:       lim.Read,
		IdleTimeout:       lim.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(opts.Log.Handler(), slog.LevelWarn),
	}
	return s
}

// headers sets what every answer carries: the content security policy
// and its companions, and the answer's write deadline.
func (s *Server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", s.csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.lim.Write))
		next.ServeHTTP(w, r)
	})
}

// extend gives the request another d beyond Limits.Write to be answered,
// for handlers that wait on the tree longer: its write deadline, and the
// read deadline under which net/http watches for the client going away
// (past it, net/http would cancel the request's context).
func (s *Server) extend(w http.ResponseWriter, d time.Duration) {
	rc := http.NewResponseController(w)
	until := time.Now().Add(d + s.lim.Write)
	_ = rc.SetWriteDeadline(until)
	_ = rc.SetReadDeadline(until)
}

// contentPolicy allows the dashboard its own scripts, styles, images and
// WebSocket, and frames only from go2rtc's player; nothing may frame it.
func contentPolicy(cfg *config.Config) string {
	frames := "'none'"
	if cfg != nil && cfg.Go2RTC.Player() != "" {
		if u, err := url.Parse(cfg.Go2RTC.Player()); err == nil && u.Host != "" {
			frames = u.Scheme + "://" + u.Host
		}
	}
	return strings.Join([]string{
		"default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
		"connect-src 'self'", "frame-src " + frames, "frame-ancestors 'none'", "base-uri 'none'",
		"form-action 'self'", "object-src 'none'",
	}, "; ")
}

// route serves a request by its route. One that no route takes (a method
// the path does not take, OPTIONS included) is answered in JSON, like
// every error of the API, not by the router's text: behind the token
// where the path is.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	if guarded(r.URL.Path) {
		s.guard(s.notFound)(w, r)
		return
	}
	s.notFound(w, r)
}

// guarded reports whether path is behind the token: /api but its session
// endpoints, /ws and /metrics.
func guarded(path string) bool {
	switch path {
	case "/api/login", "/api/logout":
		return false
	case "/ws", "/metrics":
		return true
	}
	return strings.HasPrefix(path, "/api/")
}

// notFound answers a request that no route takes: 405 with the methods
// the path does take, else 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := s.mux.Handler(probe); pattern != "" && !strings.HasSuffix(pattern, " /api/") {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 && !slices.Contains(allow, r.Method) {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s does not take %s; it takes %s", clip(r.URL.Path), clip(r.Method), strings.Join(allow, ", ")))
		return
	}
	writeError(w, http.StatusNotFound, "no such endpoint: "+clip(r.Method)+" "+clip(r.URL.Path))
}

// Start listens on the configured address and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.opts.Listen, err)
	}
	s.ln = ln
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.opts.Log.Error("http server stopped", "reason", err.Error())
		}
	}()
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's base URL.
func (s *Server) URL() string { return "http://" + s.Addr() + "/" }

// Shutdown stops accepting requests and waits for those running.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if s.store != nil {
		s.store.Close()
	}
	return err
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, healthAnswer{Status: "ok"})
}
