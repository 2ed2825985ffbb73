package web

import (
	"net"
	"net/http"
	"os"
	"strings"
)

// hosts are the names a request may give in its Host header. A page of
// attacker.example whose name the attacker points at 127.0.0.1 (DNS
// rebinding) talks to this server as its own origin in the operator's
// browser; it cannot make the browser send another Host than its own
// name. So a request must name this server: an IP address (a page cannot
// rebind a literal address), localhost (no one else resolves it), the
// listen address's host name (and the machine's, when it listens on every
// address), or a name of web.allowed_hosts (a proxy in front: "name" for
// any port, "name:port" for that port only).
type hosts struct {
	anyPort map[string]bool // lower case, without a trailing dot
	ports   map[string]bool // "name:port", the same
}

// newHosts are the names a server listening on listen answers to, with
// the allowed ones.
func newHosts(listen string, allowed []string) *hosts {
	h := &hosts{anyPort: map[string]bool{"localhost": true}, ports: map[string]bool{}}
	name, _, err := net.SplitHostPort(listen)
	if err != nil {
		name = listen
	}
	if ip := net.ParseIP(name); name == "" || ip != nil && ip.IsUnspecified() {
		if me, err := os.Hostname(); err == nil {
			h.anyPort[canonical(me)] = true
		}
	} else if ip == nil {
		h.anyPort[canonical(name)] = true
	}
	for _, a := range allowed {
		if n, p, err := net.SplitHostPort(a); err == nil {
			h.ports[canonical(n)+":"+p] = true
		} else {
			h.anyPort[canonical(a)] = true
		}
	}
	return h
}

func canonical(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

// allow reports whether a request naming host in its Host header is for
// this server.
func (h *hosts) allow(host string) bool {
	name, port, err := net.SplitHostPort(host)
	if err != nil {
		name, port = host, ""
	}
	name = canonical(strings.TrimSuffix(strings.TrimPrefix(name, "["), "]"))
	switch {
	case name == "":
		return false
	case net.ParseIP(name) != nil, h.anyPort[name]:
		return true
	}
	return port != "" && h.ports[name+":"+port]
}

// checkHost refuses a request for another host (421, in JSON like every
// error), before anything else runs.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hosts.allow(r.Host) {
			s.refusals.warn(clientOf(r), "request for another host refused", "host", clip(r.Host), "path", clip(r.URL.Path))
			writeError(w, http.StatusMisdirectedRequest, "this server does not answer for host "+clip(r.Host)+
				": name it by its address or localhost, or list the name in web.allowed_hosts")
			return
		}
		next.ServeHTTP(w, r)
	})
}
