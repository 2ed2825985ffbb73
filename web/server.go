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
	// LoginEvery (429 meanwhile).
	LoginBurst int
	LoginEvery time.Duration
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
	}
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
		"POST /api/cameras/{id}/capture":     s.capture,
		"POST /api/cameras/{id}/live":        s.startLive,
		"DELETE /api/cameras/{id}/live":      s.stopLive,
		"POST /api/cameras/{id}/restart":     s.restart,
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
	lim := opts.Limits
	if lim == nil {
		lim = DefaultLimits()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, lim: lim, backup: make(chan struct{}, 1), sessions: newSessions(lim.SessionIdle, lim.SessionMax),
		limiter: newLimiter(lim.LoginBurst, lim.LoginEvery, opts.Log), csp: contentPolicy(opts.Config)}
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
	// another method, else a JSON 404 (401 without a token).
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		mux.HandleFunc(method+" /api/", s.guard(s.notFound))
	}
	s.mux = mux
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.opts.Log.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "remote", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "cross-origin request refused: the dashboard's own pages only")
	}))
	s.srv = &http.Server{
		Handler:           s.headers(cop.Handler(mux)),
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

// notFound answers a request under /api that no route takes: 405 with the
// methods the path does take, else 404.
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
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s does not take %s; it takes %s", r.URL.Path, r.Method, strings.Join(allow, ", ")))
		return
	}
	writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
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
