package go2rtctest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// Answers of go2rtc's streams package, word for word.
const (
	errNotSupported = "streams: source not supported"
	errInsecure     = "streams: source from insecure producer"
	errSpaces       = "streams: source with spaces may be insecure"
	errNoStreamsKey = "yaml: path not exist"
	errNotFound     = "stream not found"
)

// schemes are the source schemes the stand-in accepts, a subset of go2rtc's
// producers; true marks those go2rtc refuses from the API as insecure.
var schemes = map[string]bool{
	"rtsp": false, "rtsps": false, "rtspx": false,
	"rtmp": false, "rtmps": false, "rtmpx": false,
	"http": false, "https": false, "httpx": false, "tcp": false,
	"ffmpeg": false, "onvif": false, "isapi": false, "dvrip": false,
	"homekit": false, "webrtc": false, "webtorrent": false, "hass": false,
	"tapo": false, "kasa": false, "gopro": false, "ivideon": false,
	"nest": false, "roborock": false, "v4l2": false, "alsa": false,
	"exec": true, "echo": true, "expr": true,
}

// stream is one go2rtc stream object. A name maps to at most one stream at a
// time, but an object outlives its name (DELETE, or PUT of the same name)
// for as long as consumers hold it.
type stream struct {
	name      string
	urls      []string
	consumers []*consumer // in arrival order
	prod      *producer   // the shared camera connection; nil when nobody watches
}

// streamJSON is a stream as go2rtc's API writes it.
type streamJSON struct {
	Producers []producerJSON `json:"producers"`
	Consumers []consumerJSON `json:"consumers"` // null when nobody is attached
}

// producerJSON is a stream's source. go2rtc hides a URL's user and
// password as *** and shows the camera connection's fields only while
// one is open.
type producerJSON struct {
	URL        string `json:"url,omitempty"` // always there but for a connected tapo source
	Source     string `json:"source,omitempty"`
	RemoteAddr string `json:"remote_addr,omitempty"`
	FormatName string `json:"format_name,omitempty"`
	Protocol   string `json:"protocol,omitempty"`
	BytesRecv  int64  `json:"bytes_recv,omitempty"`
}

type consumerJSON struct {
	ID         int    `json:"id"`
	FormatName string `json:"format_name"`
	Protocol   string `json:"protocol"`
	RemoteAddr string `json:"remote_addr"`
	UserAgent  string `json:"user_agent,omitempty"`
}

// jsonLocked describes st; the caller holds s.mu.
func (st *stream) jsonLocked() streamJSON {
	var j streamJSON
	for _, u := range st.urls {
		pj := producerJSON{URL: maskUserinfo(u)}
		if p := st.prod; p != nil && p.client != nil && p.src == u {
			pj = p.listed
			pj.BytesRecv = p.bytes
		}
		j.Producers = append(j.Producers, pj)
	}
	for _, c := range st.consumers {
		j.Consumers = append(j.Consumers, consumerJSON{
			ID: c.id, FormatName: c.format, Protocol: c.protocol,
			RemoteAddr: c.remote, UserAgent: c.userAgent,
		})
	}
	return j
}

// checkSource returns go2rtc's refusal of a source, or "" when it accepts it.
func checkSource(src string) string {
	i := strings.IndexByte(src, ':')
	if i <= 0 {
		return errNotSupported
	}
	insecure, known := schemes[src[:i]]
	switch {
	case !known:
		return errNotSupported
	case insecure:
		return errInsecure
	case strings.ContainsAny(src, " \t\n\r\f"): // go2rtc's \s
		return errSpaces
	}
	return ""
}

// serveStreams is /api/streams. Like go2rtc, a request without src lists
// every stream whatever its method (POST aside): that is how PUT ?name=N and
// DELETE ?name=N end up answering with the list and doing nothing.
func (s *Server) serveStreams(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	src := q.Get("src")
	if src == "" && r.Method != http.MethodPost {
		s.writeList(w)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.onGet(w, src)
	case http.MethodPut:
		s.onPut(w, q.Get("name"), q["src"])
	case http.MethodPatch:
		s.onPatch(w, q.Get("name"), src)
	case http.MethodDelete:
		s.onDelete(w, src)
	case http.MethodPost:
		http.Error(w, "", http.StatusBadRequest) // redirects to dst: not modelled
	}
}

// writeList answers with every stream, keyed by name.
func (s *Server) writeList(w http.ResponseWriter) {
	s.mu.Lock()
	list := make(map[string]streamJSON, len(s.streams))
	for name, st := range s.streams {
		list[name] = st.jsonLocked()
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

// onGet answers with one stream, pretty-printed as go2rtc does.
func (s *Server) onGet(w http.ResponseWriter, name string) {
	s.mu.Lock()
	st := s.streams[name]
	var j streamJSON
	if st != nil {
		j = st.jsonLocked()
	}
	s.mu.Unlock()
	if st == nil {
		http.Error(w, "", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(j)
}

// onPut creates a new stream object under name (the first source when name
// is empty), replacing any of that name, and writes it to the config file.
func (s *Server) onPut(w http.ResponseWriter, name string, srcs []string) {
	for _, src := range srcs {
		if msg := checkSource(src); msg != "" {
			http.Error(w, msg, http.StatusBadRequest)
			return
		}
	}
	if name == "" {
		name = srcs[0]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config[name] = slices.Clone(srcs)
	s.configKey = true
	s.streams[name] = &stream{name: name, urls: slices.Clone(srcs)}
}

// onPatch creates or updates a stream in memory only. An existing stream
// keeps its object, its consumers and their camera connection.
func (s *Server) onPatch(w http.ResponseWriter, name, src string) {
	if name == "" {
		http.Error(w, "", http.StatusBadRequest)
		return
	}
	if msg := checkSource(src); msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.streams[name]; st != nil {
		st.urls = []string{src}
		return
	}
	s.streams[name] = &stream{name: name, urls: []string{src}}
}

// onDelete removes a name and its config entry. Consumers of the stream
// object keep it, and its camera connection, until they leave.
func (s *Server) onDelete(w http.ResponseWriter, name string) {
	s.mu.Lock()
	delete(s.streams, name)
	delete(s.config, name)
	hasKey := s.configKey
	s.mu.Unlock()
	if !hasKey {
		http.Error(w, errNoStreamsKey, http.StatusBadRequest)
	}
}

// maskUserinfo writes a URL's user and password as go2rtc's listing does:
// rtsp://***@host:port/path.
func maskUserinfo(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	authority, path := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return u
	}
	return scheme + "://***@" + authority[at+1:] + path
}
