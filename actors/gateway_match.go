package actors

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"camvisor/actors/config"
	"camvisor/actors/go2rtc"
	"camvisor/actors/redact"
	"camvisor/messages"
)

// Which of go2rtc's streams read which camera: what the gateway reads in
// each listing of go2rtc's streams. A stream a camera declares
// (cameras[].go2rtc_streams) is that camera's, whatever its source says;
// any other stream camvisor did not create is matched on its producers,
// as go2rtc lists each source kind (actors/go2rtc/README.md has the
// table). What could be one of our cameras but cannot be told is listed
// as unmatched, so an operator sees what is not counted.

// matcher attributes the streams of a listing to the configured cameras.
// It is built from the configuration that runs (every camera, whichever
// subnet patrols it: one host shared by two cameras is ambiguous however
// they are patrolled) and is immutable: the gateway builds a new one when
// a reload changes the configuration.
type matcher struct {
	cfg      *config.Config // what it was built from
	cams     []matchCamera
	declared map[string]string // stream name → the camera that declares it
}

// matchCamera is one camera as the matcher compares it.
type matchCamera struct {
	id       string
	main     endpoint // url
	patrol   endpoint // detect_url, or url
	declared []string
}

// endpoint is what identifies a camera's stream in a URL: the host (lower
// case, as written: a name and an address of one camera differ), the port
// (the default of the client that dials it when the URL has none) and the
// path. Credentials, query and fragment are left out: go2rtc lists
// credentials as ***, and a fragment is go2rtc's own option.
type endpoint struct{ host, port, path string }

func (e endpoint) hostPort() string { return net.JoinHostPort(e.host, e.port) }

// Default ports by scheme. ffmpeg (which reads a camera's url) dials
// rtsps on 322; go2rtc (whose sources the listing shows) dials rtsp,
// rtsps and rtspx all on 554 (its pkg/tcp Dial).
var (
	ffmpegPorts = map[string]string{"rtsp": "554", "rtsps": "322"}
	go2rtcPorts = map[string]string{"rtsp": "554", "rtsps": "554", "rtspx": "554"}
)

// parseEndpoint reads raw with the default ports of the client that dials
// it; false when raw is not an RTSP URL with a host.
func parseEndpoint(raw string, ports map[string]string) (endpoint, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return endpoint{}, false
	}
	def, ok := ports[u.Scheme]
	if !ok {
		return endpoint{}, false
	}
	port := u.Port()
	if port == "" {
		port = def
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return endpoint{host: strings.ToLower(u.Hostname()), port: port, path: path}, true
}

// newMatcher builds the matcher of cfg's cameras.
func newMatcher(cfg *config.Config) *matcher {
	m := &matcher{cfg: cfg, declared: map[string]string{}}
	for _, c := range cfg.Cameras() {
		main, _ := parseEndpoint(c.URL, ffmpegPorts)
		patrol, ok := parseEndpoint(c.PatrolURL(), ffmpegPorts)
		if !ok {
			patrol = main
		}
		m.cams = append(m.cams, matchCamera{id: c.ID, main: main, patrol: patrol, declared: c.Go2RTCStreams})
		for _, s := range c.Go2RTCStreams {
			m.declared[s] = c.ID
		}
	}
	return m
}

// camerasWhere are the ids of the cameras one of whose endpoints pred
// accepts.
func (m *matcher) camerasWhere(pred func(endpoint) bool) []string {
	var out []string
	for _, c := range m.cams {
		if pred(c.main) || pred(c.patrol) {
			out = append(out, c.id)
		}
	}
	return out
}

// claimKind is what a producer says of the camera it reads.
type claimKind int

const (
	claimNone     claimKind = iota // no camera connection of its own (ffmpeg:<another stream>)
	claimEndpoint                  // an RTSP URL: host, port and path
	claimHostPort                  // a connection's address only: host and port
	claimHost                      // a device by host (tapo, onvif): it opens its own stream to that host
	claimUnknown                   // a kind camvisor cannot read a camera from
)

// claim is what one producer of a listing says.
type claim struct {
	kind   claimKind
	ep     endpoint // host alone for claimHost; host and port for claimHostPort
	scheme string   // claimUnknown: the source's kind
	open   bool     // it holds a connection now
}

// hostKinds are the source kinds that name a device by host and open
// their own stream to it: tapo (and TP-Link's vigi, kasa) over HTTP on
// port 8800, onvif over the RTSP URL the device hands out.
var hostKinds = map[string]bool{"tapo": true, "vigi": true, "kasa": true, "onvif": true}

// claimOf reads a producer as go2rtc lists it. While idle it shows its
// source as written; while connected an rtsp one still does, an ffmpeg:
// one shows the URL inside it, an onvif one the RTSP URL the device gave,
// and a tapo one no URL at all, only its format and address.
func claimOf(p go2rtc.Producer) claim {
	open := p.RemoteAddr != ""
	if p.URL == "" {
		host, port, err := net.SplitHostPort(cameraSide(p.RemoteAddr))
		if err != nil {
			return claim{kind: claimUnknown, scheme: p.FormatName, open: open}
		}
		ep := endpoint{host: strings.ToLower(host), port: port}
		switch {
		case hostKinds[p.FormatName]:
			return claim{kind: claimHost, ep: endpoint{host: ep.host}, open: open}
		case p.FormatName == "rtsp":
			return claim{kind: claimHostPort, ep: ep, open: open}
		}
		return claim{kind: claimUnknown, scheme: p.FormatName, ep: endpoint{host: ep.host}, open: open}
	}
	raw := p.URL
	scheme, rest, _ := strings.Cut(raw, ":")
	if scheme == "ffmpeg" {
		inner, _, _ := strings.Cut(rest, "#") // #video=copy and the like are ffmpeg's options
		if !strings.Contains(inner, "://") {
			return claim{kind: claimNone} // ffmpeg:<a go2rtc stream> reads go2rtc's own
		}
		return claimOf(go2rtc.Producer{URL: inner, RemoteAddr: p.RemoteAddr, FormatName: p.FormatName})
	}
	if ep, ok := parseEndpoint(raw, go2rtcPorts); ok {
		return claim{kind: claimEndpoint, ep: ep, open: open}
	}
	if u, err := url.Parse(raw); err == nil && u.Hostname() != "" {
		host := endpoint{host: strings.ToLower(u.Hostname())}
		if hostKinds[u.Scheme] {
			return claim{kind: claimHost, ep: host, open: open}
		}
		return claim{kind: claimUnknown, scheme: u.Scheme, ep: host, open: open}
	}
	return claim{kind: claimUnknown, scheme: scheme, open: open}
}

// cameraSide is the camera's end of a producer's remote_addr: for a
// source go2rtc runs through its own ffmpeg it reads "A forwarded B",
// A being ffmpeg's connection to go2rtc and B the camera.
func cameraSide(remote string) string {
	if _, b, ok := strings.Cut(remote, " forwarded "); ok {
		return strings.TrimSpace(b)
	}
	return remote
}

// attribute names the cameras a claim reads, or, when it may read one of
// ours but cannot be told, why (with the cameras it may be). Neither: not
// one of our cameras.
func (m *matcher) attribute(c claim) (cams []string, why string, maybe []string) {
	sameHost := func(e endpoint) bool { return e.host == c.ep.host }
	switch c.kind {
	case claimEndpoint:
		if cams = m.camerasWhere(func(e endpoint) bool { return e == c.ep }); len(cams) > 0 {
			return cams, "", nil
		}
		if maybe = m.camerasWhere(func(e endpoint) bool { return e.hostPort() == c.ep.hostPort() }); len(maybe) > 0 {
			return nil, fmt.Sprintf("same host and port as %s, another path", joinCams(maybe)), maybe
		}
		if maybe = m.camerasWhere(sameHost); len(maybe) > 0 {
			return nil, fmt.Sprintf("same host as %s, another port", joinCams(maybe)), maybe
		}
	case claimHostPort:
		cams = m.camerasWhere(func(e endpoint) bool { return e.hostPort() == c.ep.hostPort() })
		if len(cams) == 1 {
			return cams, "", nil
		}
		if len(cams) > 1 {
			return nil, fmt.Sprintf("a connection to %s, which %s share", c.ep.hostPort(), joinCams(cams)), cams
		}
		if maybe = m.camerasWhere(sameHost); len(maybe) > 0 {
			return nil, fmt.Sprintf("a connection to %s: same host as %s, another port", c.ep.hostPort(), joinCams(maybe)), maybe
		}
	case claimHost:
		cams = m.camerasWhere(sameHost)
		if len(cams) == 1 {
			return cams, "", nil
		}
		if len(cams) > 1 {
			return nil, fmt.Sprintf("a device at %s, where %s all are", c.ep.host, joinCams(cams)), cams
		}
	case claimUnknown:
		if c.ep.host == "" {
			return nil, fmt.Sprintf("camvisor cannot tell which camera a %q source reads", c.scheme), nil
		}
		if maybe = m.camerasWhere(sameHost); len(maybe) > 0 {
			return nil, fmt.Sprintf("a %q source at the host of %s", c.scheme, joinCams(maybe)), maybe
		}
	}
	return nil, "", nil
}

func joinCams(ids []string) string {
	if len(ids) == 1 {
		return "camera " + ids[0]
	}
	return "cameras " + strings.Join(ids, ", ")
}

// reading is what one listing says of our cameras.
type reading struct {
	at        time.Time
	reads     map[string][]streamRead // by camera: the streams not ours that read it
	unmatched []messages.UnmatchedSource
}

// streamRead is a stream not ours that reads a camera.
type streamRead struct {
	name     string
	open     bool // it holds a connection to the camera now
	declared int  // its place in the camera's go2rtc_streams, -1 when matched
	patrol   bool // a source of it is the camera's patrol URL
}

// read attributes a listing taken at at.
func (m *matcher) read(list map[string]go2rtc.Stream, at time.Time) *reading {
	r := &reading{at: at, reads: map[string][]streamRead{}}
	byCam := map[string]map[string]*streamRead{}
	note := func(cam, stream string, open bool) *streamRead {
		if byCam[cam] == nil {
			byCam[cam] = map[string]*streamRead{}
		}
		s := byCam[cam][stream]
		if s == nil {
			s = &streamRead{name: stream, declared: -1}
			byCam[cam][stream] = s
		}
		s.open = s.open || open
		return s
	}
	for _, name := range slices.Sorted(maps.Keys(list)) {
		if strings.HasPrefix(name, StreamPrefix) {
			continue
		}
		st := list[name]
		if cam, ok := m.declared[name]; ok {
			open := false
			for _, p := range st.Producers {
				open = open || p.RemoteAddr != ""
			}
			s := note(cam, name, open)
			s.declared = slices.Index(m.camera(cam).declared, name)
			s.patrol = m.readsPatrol(cam, st)
			continue
		}
		for _, p := range st.Producers {
			c := claimOf(p)
			cams, why, maybe := m.attribute(c)
			for _, cam := range cams {
				s := note(cam, name, c.open)
				s.patrol = s.patrol || (c.kind == claimEndpoint && m.camera(cam).patrol == c.ep)
			}
			if why != "" {
				r.unmatched = append(r.unmatched, messages.UnmatchedSource{Stream: name, URL: redact.Text(p.URL), Open: c.open,
					Cameras: maybe, Reason: why})
			}
		}
	}
	for cam, streams := range byCam {
		for _, s := range streams {
			r.reads[cam] = append(r.reads[cam], *s)
		}
		slices.SortFunc(r.reads[cam], byPreference)
	}
	return r
}

// byPreference orders a camera's streams for a frame to ride: declared
// first (in the config's order), then one on the patrol URL, then by name.
func byPreference(a, b streamRead) int {
	switch {
	case (a.declared >= 0) != (b.declared >= 0):
		if a.declared >= 0 {
			return -1
		}
		return 1
	case a.declared != b.declared:
		return cmp.Compare(a.declared, b.declared)
	case a.patrol != b.patrol:
		if a.patrol {
			return -1
		}
		return 1
	}
	return strings.Compare(a.name, b.name)
}

// camera is the matcher's camera id (zero when none).
func (m *matcher) camera(id string) matchCamera {
	for _, c := range m.cams {
		if c.id == id {
			return c
		}
	}
	return matchCamera{}
}

// readsPatrol reports whether a source of st is camera id's patrol URL.
func (m *matcher) readsPatrol(id string, st go2rtc.Stream) bool {
	for _, p := range st.Producers {
		if c := claimOf(p); c.kind == claimEndpoint && c.ep == m.camera(id).patrol {
			return true
		}
	}
	return false
}

// use is camera's use by others as of the reading.
func (r *reading) use(camera string) messages.ExternalUse {
	u := messages.ExternalUse{At: r.at}
	var declared []streamRead
	for _, s := range r.reads[camera] {
		if s.open {
			u.Open = append(u.Open, s.name)
		}
		if s.declared >= 0 {
			declared = append(declared, s)
		}
	}
	slices.SortFunc(declared, func(a, b streamRead) int { return cmp.Compare(a.declared, b.declared) })
	for _, s := range declared {
		u.Declared = append(u.Declared, s.name)
	}
	return u
}

// source is the stream not ours the patrol's go2rtc frames of camera go
// through, "" when none reads it: one on the patrol URL first, then a
// declared one, then by name. A viewer who opens that stream while a
// frame is taken shares the frame's connection; a camvisor_ stream would
// have opened a second one.
func (r *reading) source(camera string) string {
	streams := slices.Clone(r.reads[camera])
	slices.SortStableFunc(streams, func(a, b streamRead) int {
		if a.patrol != b.patrol {
			if a.patrol {
				return -1
			}
			return 1
		}
		return 0
	})
	if len(streams) == 0 {
		return ""
	}
	return streams[0].name
}

// missingDeclared says, one line each, which declared streams go2rtc does
// not have: a camera counts nothing for them and its live view registers
// camvisor_<camera> instead. The server logs these at start, and camvisor
// check prints them.
func missingDeclared(cfg *config.Config, list map[string]go2rtc.Stream) []string {
	var out []string
	for _, c := range cfg.Cameras() {
		for _, s := range c.Go2RTCStreams {
			if _, ok := list[s]; !ok {
				out = append(out, fmt.Sprintf("camera %s: go2rtc_streams names %q, which go2rtc does not have", c.ID, s))
			}
		}
	}
	return out
}

// CheckDeclaredStreams lists cfg's go2rtc and says, one line each, which
// streams the cameras declare (cameras[].go2rtc_streams) it does not
// have; nothing is asked when no camera declares one.
func CheckDeclaredStreams(ctx context.Context, cfg *config.Config) ([]string, error) {
	declares := false
	for _, c := range cfg.Cameras() {
		declares = declares || len(c.Go2RTCStreams) > 0
	}
	if !declares || !cfg.Go2RTC.Enabled() {
		return nil, nil
	}
	list, err := go2rtc.New(cfg.Go2RTC.URL, cfg.Go2RTC.RequestTimeout.Duration).List(ctx)
	if err != nil {
		return nil, err
	}
	return missingDeclared(cfg, list), nil
}
