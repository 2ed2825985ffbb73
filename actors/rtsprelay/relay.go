package rtsprelay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"camvisor/actors/redact"
)

// Options configure a Relay. Zero values get the defaults noted.
type Options struct {
	// Listen is the loopback address to listen on; default 127.0.0.1:0.
	Listen string
	// Log receives the relay's lines (never a password); default discards.
	Log *slog.Logger
	// FirstRequest bounds the wait for a new connection's first request;
	// default 10 s.
	FirstRequest time.Duration
	// ReleaseWait bounds how long Path.Close waits for its connection's
	// goroutines to close the camera socket; default 2 s.
	ReleaseWait time.Duration
	// AllowUID decides which local users may connect; default: only the
	// user camvisor runs as.
	AllowUID func(uid uint32) bool
	// RefusalLogEvery is how often at most a refusal of one kind for one
	// source (a uid; a camera for its redirects) is logged, with the
	// count of those not logged; default 1 minute. Anyone on the machine
	// can connect to the relay: a line per refused connection would let
	// them flood the log.
	RefusalLogEvery time.Duration
}

// Relay is a running loopback RTSP relay.
type Relay struct {
	opts Options
	log  *slog.Logger
	ln   net.Listener
	host string // 127.0.0.1:port, as ffmpeg addresses it

	// mu guards the registry below; the accept loop and every connection
	// goroutine read it, the owning actors write it through Open/Close.
	mu     sync.Mutex
	paths  map[string]*Path
	closed bool
	wg     sync.WaitGroup

	refusals logLimiter
}

// ErrClosed is Open's answer once the relay is closed.
var ErrClosed = errors.New("rtsp relay closed")

// New listens and serves in the background until Close.
func New(opts Options) (*Relay, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.FirstRequest <= 0 {
		opts.FirstRequest = 10 * time.Second
	}
	if opts.ReleaseWait <= 0 {
		opts.ReleaseWait = 2 * time.Second
	}
	if opts.RefusalLogEvery <= 0 {
		opts.RefusalLogEvery = time.Minute
	}
	if opts.AllowUID == nil {
		me := uint32(os.Getuid())
		opts.AllowUID = func(uid uint32) bool { return uid == me }
	}
	host, _, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("rtsp relay: listen address %q: %w", opts.Listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("rtsp relay: listen address %q is not a loopback address", opts.Listen)
	}
	// The clients are ffmpeg processes on this machine, whose end the
	// relay learns from their socket closing: keep-alive probes would add
	// nothing, and setting them up was four system calls a snapshot.
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("rtsp relay: %w", err)
	}
	r := &Relay{opts: opts, log: opts.Log, ln: ln, host: ln.Addr().String(), paths: map[string]*Path{},
		refusals: logLimiter{every: opts.RefusalLogEvery, last: map[string]*logBucket{}}}
	r.wg.Add(1)
	go r.acceptLoop()
	return r, nil
}

// Addr is the address the relay listens on.
func (r *Relay) Addr() string { return r.host }

// Close stops listening, closes every Path and waits for every
// connection's goroutines.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	paths := make([]*Path, 0, len(r.paths))
	for _, p := range r.paths {
		paths = append(paths, p)
	}
	r.mu.Unlock()
	err := r.ln.Close()
	for _, p := range paths {
		p.Close()
	}
	r.wg.Wait()
	return err
}

// Paths counts the open Paths (for describing the relay and for tests).
func (r *Relay) Paths() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.paths)
}

// HasSecret reports whether a camera URL carries something to keep off a
// command line: credentials, a query (some cameras take their password as
// ?pwd=) or a password in its path (/user=admin_password=…). A URL with
// none of them may be given to ffmpeg directly.
func HasSecret(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return true // not ours to judge: never print it
	}
	return u.User != nil || u.RawQuery != "" || u.ForceQuery || redact.HasPathCredentials(rawURL)
}

// Open registers a camera URL (credentials included) and returns the Path
// a process reaches it through. dialTimeout bounds the camera connection
// each of the process's connections opens.
func (r *Relay) Open(rawURL string, dialTimeout time.Duration) (*Path, error) {
	cam, err := parseTarget(rawURL)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("rtsp relay: %w", err)
	}
	p := &Path{relay: r, token: hex.EncodeToString(b), cam: cam, dialTimeout: dialTimeout, conns: map[*conn]struct{}{},
		scrub: redact.ForURL(rawURL)}
	p.prefix = "rtsp://" + r.host + "/" + p.token
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	r.paths[p.token] = p
	return p, nil
}

// Path is one process's way to its camera through the relay.
type Path struct {
	relay       *Relay
	token       string
	prefix      string // rtsp://127.0.0.1:port/<token>
	cam         *target
	dialTimeout time.Duration
	scrub       redact.Redactor // the camera's credentials, in every form

	// mu guards the connection set and closed: the process's connection
	// goroutines and the owner's Close race on them.
	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
	auth   string // the challenge last answered (camauth.Client.Scheme)
}

// AuthScheme is the authentication the camera asked for and the relay
// answered on this Path's connections: "basic", "digest", or "" when it
// asked for none (so far).
func (p *Path) AuthScheme() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.auth
}

func (p *Path) noteAuth(scheme string) {
	p.mu.Lock()
	p.auth = scheme
	p.mu.Unlock()
}

// URL is what the process is given instead of the camera's URL: the
// camera's path (or a stand-in for a path that holds credentials, and a
// stand-in for its query) below the Path's prefix.
func (p *Path) URL() string {
	u := p.prefix + p.cam.path
	if p.cam.pathStandIn {
		u = p.prefix + pathStandIn
	}
	if p.cam.query != "" {
		u += queryStandIn
	}
	return u
}

// Close releases the Path: no new connection is accepted, the open one is
// closed at both ends, and Close returns once its camera socket is closed
// (or ReleaseWait passed, which is logged). Calling it again is harmless.
func (p *Path) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	conns := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	p.relay.mu.Lock()
	delete(p.relay.paths, p.token)
	p.relay.mu.Unlock()
	for _, c := range conns {
		c.abort()
	}
	deadline := time.NewTimer(p.relay.opts.ReleaseWait)
	defer deadline.Stop()
	for _, c := range conns {
		select {
		case <-c.done:
		case <-deadline.C:
			p.relay.log.Error("rtsp relay: a released path's connection did not close in time", "camera_host", p.cam.hostport,
				"waited", p.relay.opts.ReleaseWait.String())
			return
		}
	}
}

// attach adds c to the Path unless it is closed or serving another
// connection: one camera connection per process connection, one at a
// time. A process that closes its connection and opens the next at once
// (ffmpeg after a failed request) finds the first one still closing its
// camera side: attach waits for that, up to wait, since the first one's
// camera socket is closed before it detaches.
func (p *Path) attach(c *conn, wait time.Duration) error {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return errors.New("path released")
		}
		var busy *conn
		for o := range p.conns {
			busy = o
		}
		if busy == nil {
			p.conns[c] = struct{}{}
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		select {
		case <-busy.done:
		case <-deadline.C:
			return errors.New("path already has a connection")
		}
	}
}

func (p *Path) detach(c *conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// lookup finds the open Path of a token.
func (r *Relay) lookup(token string) *Path {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.paths[token]
}

func (r *Relay) acceptLoop() {
	defer r.wg.Done()
	for {
		nc, err := r.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			r.mu.Lock()
			closed := r.closed
			r.mu.Unlock()
			if !closed {
				r.log.Error("rtsp relay: accept failed; the relay stops", "reason", err.Error())
			}
			return
		}
		c := newConn(r, nc)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			c.serve()
		}()
	}
}

// target is a camera as the relay reaches it.
type target struct {
	scheme   string // rtsp or rtsps
	base     string // scheme://host[:port] as the camera's URL writes it
	hostport string // what is dialled
	host     string // for TLS
	path     string // escaped, "/" at least
	query    string // raw, without '?'
	user     string
	pass     string
	creds    bool
	// pathStandIn: path holds credentials (/user=admin_password=…), so
	// the process sees pathStandIn in its place.
	pathStandIn bool
}

// queryStandIn and pathStandIn replace a camera URL's query, and a path
// that holds credentials, in everything ffmpeg sees.
const (
	queryStandIn = "?camvisor-query"
	pathStandIn  = "/camvisor-path"
)

func parseTarget(rawURL string) (*target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("rtsp relay: camera URL does not parse") // the error would quote it
	}
	t := &target{scheme: u.Scheme, base: u.Scheme + "://" + u.Host, host: u.Hostname(), path: u.EscapedPath(), query: u.RawQuery}
	switch u.Scheme {
	case "rtsp":
		t.hostport = withPort(u, "554")
	case "rtsps":
		t.hostport = withPort(u, "322")
	default:
		return nil, fmt.Errorf("rtsp relay: scheme %q is not rtsp or rtsps", u.Scheme)
	}
	if t.host == "" {
		return nil, errors.New("rtsp relay: camera URL has no host")
	}
	if t.path == "" {
		t.path = "/"
	}
	t.pathStandIn = redact.HasPathCredentials(rawURL)
	if u.User != nil {
		t.user = u.User.Username()
		t.pass, _ = u.User.Password()
		t.creds = true
	}
	return t, nil
}

func withPort(u *url.URL, port string) string {
	if p := u.Port(); p != "" {
		port = p
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// tokenOf is the Path token a request URI addresses
// (rtsp://host/<token>/...), or "".
func tokenOf(uri string) string {
	rest, ok := strings.CutPrefix(uri, "rtsp://")
	if !ok {
		return ""
	}
	_, p, ok := strings.Cut(rest, "/")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(p, "/?;"); i >= 0 {
		p = p[:i]
	}
	return p
}

// dial opens the camera connection, bounded by the Path's timeout and ctx.
func (p *Path) dial(ctx context.Context) (net.Conn, error) {
	// No keep-alive probes: a camera that vanishes silently is noticed by
	// the process's own read timeout (ffmpeg's -timeout, a stream's stall
	// watchdog), whose end closes this connection; setting them up was
	// four system calls a snapshot.
	d := net.Dialer{Timeout: p.dialTimeout, KeepAlive: -1}
	nc, err := d.DialContext(ctx, "tcp", p.cam.hostport)
	if err != nil {
		return nil, err
	}
	if p.cam.scheme != "rtsps" {
		return nc, nil
	}
	return tlsClient(ctx, nc, p.cam.host, p.dialTimeout)
}

// logLimited logs msg at Warn unless a line of the same key was logged
// less than RefusalLogEvery ago; the line that is logged says how many
// were not ("suppressed").
func (r *Relay) logLimited(log *slog.Logger, key, msg string, args ...any) {
	n, ok := r.refusals.allow(key, time.Now())
	if !ok {
		return
	}
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	log.Warn(msg, args...)
}

// logLimiter allows a line per key per interval. Its mutex is for the
// connection goroutines that log concurrently; no actor is involved.
type logLimiter struct {
	every time.Duration
	mu    sync.Mutex
	last  map[string]*logBucket
}

type logBucket struct {
	at         time.Time
	suppressed int
}

// maxLogKeys bounds the limiter's memory; keys are uids and cameras, so
// only a machine with that many users or cameras could fill it.
const maxLogKeys = 1024

// allow reports whether a line of key may be logged at now, and how many
// were suppressed since the last one.
func (l *logLimiter) allow(key string, now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.last[key]
	if b != nil && now.Sub(b.at) < l.every {
		b.suppressed++
		return 0, false
	}
	if b == nil {
		if len(l.last) >= maxLogKeys {
			for k, o := range l.last {
				if now.Sub(o.at) >= l.every {
					delete(l.last, k)
				}
			}
			if len(l.last) >= maxLogKeys {
				return 0, false // full of live keys: silence rather than a flood
			}
		}
		b = &logBucket{}
		l.last[key] = b
	}
	n := b.suppressed
	b.at, b.suppressed = now, 0
	return n, true
}
