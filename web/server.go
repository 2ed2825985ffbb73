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
	"sync"
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
}

// Server is the HTTP server.
type Server struct {
	opts   Options
	srv    *http.Server
	ln     net.Listener
	backup chan struct{} // one backup at a time: each writes a whole copy

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

// New builds a Server; Start listens.
func New(opts Options) *Server {
	s := &Server{opts: opts, backup: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("POST /api/login", s.login)
	mux.HandleFunc("POST /api/logout", s.logout)
	mux.Handle("GET /", http.FileServerFS(staticFS()))
	for pattern, h := range map[string]http.HandlerFunc{
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
	} {
		mux.HandleFunc(pattern, s.guard(h))
	}
	// Anything else under /api is a JSON 404 (401 without a token).
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		mux.HandleFunc(method+" /api/", s.guard(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
		}))
	}
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(opts.Log.Handler(), slog.LevelWarn),
	}
	return s
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
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}
