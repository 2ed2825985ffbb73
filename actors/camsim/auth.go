package camsim

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// realm is the protection space camsim announces, like a camera's model
// name.
const realm = "camsim"

// authorized reports whether a request carries the server's credentials,
// as Basic or as RFC 2617 Digest with MD5 (with or without qop=auth).
func (s *Server) authorized(req *request) bool {
	if s.opts.User == "" {
		return true
	}
	scheme, rest, _ := strings.Cut(req.header.get("authorization"), " ")
	if s.opts.Auth != AuthBoth && !strings.EqualFold(scheme, string(s.opts.Auth)) {
		return false // a scheme this camera does not offer
	}
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		return err == nil && equal(string(raw), s.opts.User+":"+s.opts.Pass)
	case "digest":
		p := parseAuthParams(rest)
		if p["username"] != s.opts.User || p["realm"] != realm || p["nonce"] != s.nonce {
			return false
		}
		want := digestResponse(s.opts.User, s.opts.Pass, realm, p["nonce"], req.method, p["uri"], p["qop"], p["nc"], p["cnonce"])
		return equal(want, strings.ToLower(p["response"]))
	}
	return false
}

// challenges are the WWW-Authenticate fields of a 401; clients pick the
// strongest they know, as with real cameras offering both.
func (s *Server) challenges() []string {
	digest := fmt.Sprintf(`WWW-Authenticate: Digest realm="%s", nonce="%s"`, realm, s.nonce)
	basic := fmt.Sprintf(`WWW-Authenticate: Basic realm="%s"`, realm)
	switch s.opts.Auth {
	case AuthBasic:
		return []string{basic}
	case AuthDigest:
		return []string{digest}
	}
	return []string{digest, basic}
}

// Auth is which authentication schemes a server with a user offers.
type Auth string

// Authentication schemes (Options.Auth).
const (
	AuthBoth   Auth = ""       // Digest and Basic, as many cameras do
	AuthBasic  Auth = "basic"  // Basic only, as some older cameras
	AuthDigest Auth = "digest" // Digest only, as Hikvision's and Dahua's RTSP
)

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// digestResponse computes the RFC 2617 response for algorithm MD5.
func digestResponse(user, pass, realm, nonce, method, uri, qop, nc, cnonce string) string {
	ha1 := md5hex(user + ":" + realm + ":" + pass)
	ha2 := md5hex(method + ":" + uri)
	if qop != "" {
		return md5hex(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2)
	}
	return md5hex(ha1 + ":" + nonce + ":" + ha2)
}

// parseAuthParams reads `k1="v 1", k2=v2` into a map with lower-case keys.
func parseAuthParams(s string) map[string]string {
	p := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return p
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return p
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			val = b.String()
			s = s[min(i+1, len(s)):]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val = strings.TrimSpace(s[:end])
			s = s[end:]
		}
		p[key] = val
	}
}
