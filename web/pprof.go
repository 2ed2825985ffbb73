package web

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"
)

// Go's profiles of camvisor itself, on demand: GET /debug/pprof/ (the
// index), /debug/pprof/profile?seconds=N (CPU), /debug/pprof/trace,
// /debug/pprof/heap, goroutine, allocs, block, mutex, threadcreate,
// cmdline and symbol. They are served only when the configuration says
// web.pprof: true, and only with the operator token, like the API: a
// profile shows the code's inner workings and costs CPU while it is taken.
//
//	curl -H "Authorization: Bearer $TOKEN" -o cpu.pprof 'http://127.0.0.1:8080/debug/pprof/profile?seconds=30'
//	go tool pprof -top cpu.pprof
//
// (Importing net/http/pprof also registers its handlers on
// http.DefaultServeMux; camvisor never serves that mux.)

// maxProfileSeconds bounds a CPU profile or trace: a request holds its
// connection, and the profiler, that long.
const maxProfileSeconds = 300

// pprofPattern is the route of the profiles.
const pprofPattern = "GET /debug/pprof/"

// routePProf adds the profiles to mux when web.pprof is on; off, the
// paths answer the dashboard's files' 404 as any unknown path does.
func (s *Server) routePProf(mux *http.ServeMux) {
	if s.opts.Config == nil || !s.opts.Config.Web.PProf {
		return
	}
	mux.HandleFunc(pprofPattern, s.guard(s.pprof))
}

// pprof answers one profile. The CPU profile and the trace take as long
// as asked (seconds, default 30): the answer's deadline is extended by
// that much.
func (s *Server) pprof(w http.ResponseWriter, r *http.Request) {
	name, _ := strings.CutPrefix(r.URL.Path, "/debug/pprof/")
	switch name {
	case "profile", "trace":
		secs := 30.0
		if v := r.URL.Query().Get("seconds"); v != "" {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || !(n > 0 && n <= maxProfileSeconds) {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("seconds: %q is not a number of seconds in (0, %d]", v, maxProfileSeconds))
				return
			}
			secs = n
		}
		s.extend(w, time.Duration(secs*float64(time.Second)))
		if name == "profile" {
			pprof.Profile(w, r)
		} else {
			pprof.Trace(w, r)
		}
	case "cmdline":
		pprof.Cmdline(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	default:
		pprof.Index(w, r) // the index, or the named profile (heap, goroutine, ...)
	}
}
