package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"camvisor/actors/redact"
)

// sessionCookie names the dashboard's session: a random id the server
// keeps, never the token itself. The browser sends it with every fetch,
// image and WebSocket.
const sessionCookie = "camvisor_session"

// maxBody bounds every request body.
const maxBody = 64 << 10

// LoadToken returns the operator token: configured if given, else the one
// stored next to the database in <db>.token (mode 0600), created with a
// fresh random token at first start. created reports a new token. An
// existing file is used only when it is a regular file of camvisor's own
// user that no one else may read or write (a token others can read opens
// the API to them; one others can write is theirs to choose); otherwise
// start-up stops with what to do.
func LoadToken(configured, dbPath string) (token string, created bool, err error) {
	if configured != "" {
		return configured, false, nil
	}
	path := dbPath + ".token"
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err == nil {
		defer f.Close()
		if err := private(f, path); err != nil {
			return "", false, err
		}
		data, err := io.ReadAll(io.LimitReader(f, 4096))
		if err != nil {
			return "", false, fmt.Errorf("token file: %w", err)
		}
		token = strings.TrimSpace(string(data))
		if len(token) < 16 {
			return "", false, fmt.Errorf("token file %s: %d characters is too short to be a token; delete it to get a new one", path, len(token))
		}
		return token, false, nil
	}
	if errors.Is(err, syscall.ELOOP) {
		return "", false, fmt.Errorf("token file %s is a symbolic link: not followed; replace it with the file itself (mode 0600)", path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("token file: %w", err)
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("token: %w", err)
	}
	token = hex.EncodeToString(b)
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("token file: %w", err)
	}
	defer out.Close()
	if _, err := out.WriteString(token + "\n"); err != nil {
		return "", false, fmt.Errorf("token file %s: %w", path, err)
	}
	return token, true, nil
}

// private checks that the open file f (at path) is a regular file of
// this process's user that no one else may read or write.
func private(f *os.File, path string) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("token file %s is not a regular file (%s)", path, st.Mode().Type())
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
		return fmt.Errorf("token file %s is owned by uid %d, not by camvisor's user (uid %d): whoever owns it chose the token; "+
			"delete it to get a new one, or chown it", path, sys.Uid, os.Getuid())
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("token file %s has mode %04o: others may read or change the token; chmod 600 %s (and change the token if others read it: delete the file)",
			path, perm, path)
	}
	return nil
}

// sessions are the dashboards signed in with the token: random ids kept
// here (lost when the server restarts: sign in again), each ending after
// Limits.SessionIdle without use, Limits.SessionMax after sign-in, or at
// sign-out, which also closes its WebSockets.
type sessions struct {
	idle, max time.Duration
	limit     int

	mu sync.Mutex // HTTP handlers run concurrently
	m  map[string]*session
}

type session struct {
	created, used time.Time
	sockets       map[io.Closer]struct{} // its dashboards' WebSockets
}

// maxSessions bounds the sessions kept; beyond it the least recently
// used goes.
const maxSessions = 1000

func newSessions(idle, max time.Duration) *sessions {
	return &sessions{idle: idle, max: max, limit: maxSessions, m: map[string]*session{}}
}

// open starts a session and returns its id.
func (s *sessions) open() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if len(s.m) >= s.limit {
		var oldest string
		for k, v := range s.m {
			if oldest == "" || v.used.Before(s.m[oldest].used) {
				oldest = k
			}
		}
		s.closeLocked(oldest)
	}
	s.m[id] = &session{created: now, used: now, sockets: map[io.Closer]struct{}{}}
	return id, nil
}

// valid reports whether id is a live session, and marks it used.
func (s *sessions) valid(id string) bool {
	if id == "" {
		return false
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[id]
	if v == nil {
		return false
	}
	if s.expired(v, now) {
		s.closeLocked(id)
		return false
	}
	v.used = now
	return true
}

// attach ties a WebSocket to its session: revoking the session closes it.
// False when the session is gone.
func (s *sessions) attach(id string, c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.m[id]; v != nil {
		v.sockets[c] = struct{}{}
		return true
	}
	return false
}

func (s *sessions) detach(id string, c io.Closer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.m[id]; v != nil {
		delete(v.sockets, c)
	}
}

// revoke ends a session now and closes its WebSockets.
func (s *sessions) revoke(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked(id)
}

func (s *sessions) closeLocked(id string) {
	v := s.m[id]
	if v == nil {
		return
	}
	delete(s.m, id)
	for c := range v.sockets {
		go c.Close() // a socket's Close may wait on its peer; never under the lock
	}
}

func (s *sessions) expired(v *session, now time.Time) bool {
	return now.Sub(v.used) > s.idle || now.Sub(v.created) > s.max
}

func (s *sessions) expire(now time.Time) {
	for id, v := range s.m {
		if s.expired(v, now) {
			s.closeLocked(id)
		}
	}
}

// limiter bounds what wrong tokens cost: per client, a bucket of
// LoginBurst wrong tokens refilled one per LoginEvery, and one bucket of
// LoginTotalBurst for every client together, refilled one per
// LoginTotalEvery (many addresses do not multiply the allowance). A wrong
// token from a client whose bucket is empty, or while the total is, is
// refused with 429 and when to retry. The right token and a live session
// are accepted before the limiter is asked: strangers' failures never lock
// the operator out. (The generated token's 192 random bits make guessing
// hopeless anyway; what the limit bounds is what failures cost: the work,
// the log.) Refusals are logged without the token, at most a few lines per
// client and minute (refusalLog).
type limiter struct {
	burst, totalBurst int
	every, totalEvery time.Duration
	log               *refusalLog

	mu      sync.Mutex // HTTP handlers run concurrently
	clients map[string]*bucket
	total   bucket
}

type bucket struct {
	tokens  float64
	at      time.Time
	limited bool // logged as limited; logged again when it starts anew
}

// maxClients bounds the buckets kept; full ones are forgotten first.
const maxClients = 10000

func newLimiter(lim *Limits, log *refusalLog) *limiter {
	return &limiter{burst: lim.LoginBurst, every: lim.LoginEvery, totalBurst: lim.LoginTotalBurst, totalEvery: lim.LoginTotalEvery,
		log: log, clients: map[string]*bucket{}, total: bucket{tokens: float64(lim.LoginTotalBurst), at: time.Now()}}
}

// clientOf keys a request's client: its address, every loopback address
// as one (a local user may use any of 127.0.0.0/8).
func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return "loopback"
	}
	return redact.Clip(host, 64)
}

// refuse answers a wrong token from client: errLimited with when to retry
// when the client's or the total allowance is spent, else errUnauthorized
// (and the token is counted against both).
func (l *limiter) refuse(client, where string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	b := l.refill(client, now)
	l.total.refill(float64(l.totalBurst), l.totalEvery, now)
	if b.tokens < 1 || l.total.tokens < 1 {
		wait := max(b.wait(l.every), l.total.wait(l.totalEvery))
		scope := "this client"
		if b.tokens >= 1 {
			scope = "all clients together"
		}
		if !b.limited {
			b.limited = true
			l.log.warn(client, "operator token attempts rate-limited", "scope", scope,
				"reason", fmt.Sprintf("more than %d wrong tokens from one client (one more every %s), or %d from all (one more every %s)",
					l.burst, l.every, l.totalBurst, l.totalEvery))
		}
		return errLimited{wait}
	}
	b.tokens--
	l.total.tokens--
	l.log.warn(client, "wrong operator token refused", "via", where, "attempts_left", max(0, int(b.tokens)))
	return errUnauthorized
}

// refill is client's bucket, refilled up to now.
func (l *limiter) refill(client string, now time.Time) *bucket {
	b := l.clients[client]
	if b == nil {
		if len(l.clients) >= maxClients {
			for k, v := range l.clients {
				if v.tokens+now.Sub(v.at).Seconds()/l.every.Seconds() >= float64(l.burst) {
					delete(l.clients, k)
				}
			}
		}
		b = &bucket{tokens: float64(l.burst), at: now}
		l.clients[client] = b
		return b
	}
	b.refill(float64(l.burst), l.every, now)
	return b
}

// refill adds what every gave back since the last look, up to burst.
func (b *bucket) refill(burst float64, every time.Duration, now time.Time) {
	b.tokens = min(burst, b.tokens+now.Sub(b.at).Seconds()/every.Seconds())
	b.at = now
	if b.tokens >= 1 {
		b.limited = false
	}
}

// wait is how long until the bucket holds a whole token again.
func (b *bucket) wait(every time.Duration) time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(every))
}

// bearer is the token of an Authorization header, its scheme in any case.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// errLimited is authorize's answer to a client over its limit.
type errLimited struct{ retry time.Duration }

func (e errLimited) Error() string {
	return fmt.Sprintf("too many wrong tokens: try again in %s", e.retry.Round(time.Second))
}

var errUnauthorized = errors.New("operator token required: Authorization: Bearer <token>, or sign in on the dashboard")

// authorize checks a request's credentials: a bearer token or a live
// session. The right token passes whatever the limiter says; a wrong one
// is counted against its client and all clients (limiter). It returns the
// session id when the request came with one.
func (s *Server) authorize(r *http.Request) (sessionID string, err error) {
	if s.opts.Token == "" {
		return "", nil
	}
	if token, ok := bearer(r); ok {
		if subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.Token)) == 1 {
			return "", nil
		}
		return "", s.limiter.refuse(clientOf(r), "bearer")
	}
	if c, err := r.Cookie(sessionCookie); err == nil && s.sessions.valid(c.Value) {
		return c.Value, nil
	}
	return "", errUnauthorized
}

// refuse answers a request authorize refused.
func refuse(w http.ResponseWriter, err error) {
	var lim errLimited
	if errors.As(err, &lim) {
		w.Header().Set("Retry-After", strconv.Itoa(int(lim.retry.Seconds())+1))
		writeError(w, http.StatusTooManyRequests, err.Error())
		return
	}
	writeError(w, http.StatusUnauthorized, err.Error())
}

// guard refuses requests without the token or a session, bounds request
// bodies and requires JSON for them.
func (s *Server) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if crossOrigin(r) {
			s.refuseCrossOrigin(w, r)
			return
		}
		id, err := s.authorize(r)
		if err != nil {
			refuse(w, err)
			return
		}
		if !bodyOK(w, r, false) {
			return
		}
		if id != "" {
			r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, id))
		}
		next(w, r)
	}
}

// refuseCrossOrigin answers a request from a page of another origin, and
// logs it: within the client's allowance of lines, every value the
// request brought clipped.
func (s *Server) refuseCrossOrigin(w http.ResponseWriter, r *http.Request) {
	s.refusals.warn(clientOf(r), "cross-origin request refused", "method", clip(r.Method), "path", clip(r.URL.Path),
		"origin", clip(r.Header.Get("Origin")), "sec_fetch_site", clip(r.Header.Get("Sec-Fetch-Site")))
	writeError(w, http.StatusForbidden, "cross-origin request refused: the dashboard's own pages only")
}

// clip bounds a value a request brought before it is logged: a header may
// be 64 KiB.
func clip(v string) string { return redact.Text(redact.Clip(v, maxLogged)) }

// maxLogged bounds each value from a request in a log line.
const maxLogged = 200

// crossOrigin reports a request a browser made for a page of another
// origin (another site, or another port of this host, such as go2rtc's
// player), whatever its method: the API answers the dashboard's own pages
// and clients that are not browsers, and downloads a backup for no one
// else. Unsafe methods are refused earlier still (CrossOriginProtection,
// in front of every route).
func crossOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || u.Host != r.Host
}

// sessionKey carries a request's session id from guard to its handler.
type sessionKey struct{}

// sessionOf is the session a guarded request came with, "" for a bearer
// token.
func sessionOf(r *http.Request) string {
	id, _ := r.Context().Value(sessionKey{}).(string)
	return id
}

// bodyOK bounds a request's body and, when it has one (or needs one),
// requires it to be JSON: a cross-site form or text/plain POST, which
// browsers send without asking, is refused whatever its Origin.
func bodyOK(w http.ResponseWriter, r *http.Request, required bool) bool {
	if r.ContentLength > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes is larger than %d", r.ContentLength, maxBody))
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	hasBody := r.ContentLength > 0 || len(r.TransferEncoding) > 0
	if !hasBody && !required {
		return true
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("request body must be application/json, got Content-Type %q", r.Header.Get("Content-Type")))
		return false
	}
	return true
}

// login checks a token and opens a session: the cookie carries the
// session's random id, never the token.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !bodyOK(w, r, true) {
		return
	}
	var req struct {
		Token string `json:"token"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	if s.opts.Token != "" && subtle.ConstantTimeCompare([]byte(req.Token), []byte(s.opts.Token)) != 1 {
		if err := s.limiter.refuse(clientOf(r), "login"); errors.Is(err, errUnauthorized) {
			writeError(w, http.StatusUnauthorized, "wrong token")
		} else {
			refuse(w, err)
		}
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.revoke(c.Value) // a second sign-in replaces the first
	}
	id, err := s.sessions.open()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "session: "+err.Error())
		return
	}
	http.SetCookie(w, s.cookie(r, id, 0))
	w.WriteHeader(http.StatusNoContent)
}

// logout revokes the session (its WebSockets close) and clears the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.revoke(c.Value)
	}
	http.SetCookie(w, s.cookie(r, "", -1))
	w.WriteHeader(http.StatusNoContent)
}

// cookie is the session cookie: HttpOnly, SameSite=Strict, Secure when
// the dashboard is served over TLS (here or by a proxy in front), gone
// when the browser session ends.
func (s *Server) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")}
}

// decodeBody reads a JSON body within the size limit, strictly: one
// object whose keys are into's fields exactly as API.md spells them (json
// tags; not in another case), each at most once, and nothing after it but
// white space. Go's decoder alone takes a key in any case, the last of
// duplicate keys, and leaves what follows the object unread.
func decodeBody(r *http.Request, into any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	t := reflect.TypeOf(into).Elem()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			known[name] = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		switch {
		case !known[key]:
			return fmt.Errorf("unknown key %q", redact.Clip(key, 64))
		case seen[key]:
			return fmt.Errorf("key %q given twice", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON object")
	}
	return json.Unmarshal(data, into)
}

// writeBodyError answers a body that could not be read: 413 when too large.
func writeBodyError(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooBig.Limit))
		return
	}
	writeError(w, http.StatusBadRequest, "body: "+err.Error())
}
