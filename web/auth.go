package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// sessionCookie carries the token for the dashboard: the browser sends it
// with every fetch, image and WebSocket.
const sessionCookie = "camvisor_session"

// maxBody bounds every request body.
const maxBody = 64 << 10

// LoadToken returns the operator token: configured if given, else the one
// stored next to the database in <db>.token (mode 0600), created with a
// fresh random token at first start. created reports a new token.
func LoadToken(configured, dbPath string) (token string, created bool, err error) {
	if configured != "" {
		return configured, false, nil
	}
	path := dbPath + ".token"
	data, err := os.ReadFile(path)
	if err == nil {
		token = strings.TrimSpace(string(data))
		if len(token) < 16 {
			return "", false, fmt.Errorf("token file %s: %d characters is too short to be a token; delete it to get a new one", path, len(token))
		}
		return token, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("token file: %w", err)
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("token: %w", err)
	}
	token = hex.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(token + "\n"); err != nil {
		return "", false, fmt.Errorf("token file %s: %w", path, err)
	}
	return token, true, nil
}

// authorized reports whether r carries the operator token, as a bearer
// header or the session cookie.
func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Token == "" {
		return true
	}
	got := ""
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		got = strings.TrimPrefix(h, "Bearer ")
	} else if c, err := r.Cookie(sessionCookie); err == nil {
		got = c.Value
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Token)) == 1
}

// guard refuses requests without the token and bounds request bodies.
func (s *Server) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			writeError(w, http.StatusUnauthorized, "operator token required: Authorization: Bearer <token>, or log in on the dashboard")
			return
		}
		if r.ContentLength > maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes is larger than %d", r.ContentLength, maxBody))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next(w, r)
	}
}

// login checks a token and sets the session cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes is larger than %d", r.ContentLength, maxBody))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	var req struct {
		Token string `json:"token"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	if s.opts.Token != "" && subtle.ConstantTimeCompare([]byte(req.Token), []byte(s.opts.Token)) != 1 {
		writeError(w, http.StatusUnauthorized, "wrong token")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: req.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// decodeBody reads a JSON body (empty is fine) within the size limit.
func decodeBody(r *http.Request, into any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil && err.Error() != "EOF" {
		return err
	}
	return nil
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
