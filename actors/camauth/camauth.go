// Package camauth answers a camera's authentication challenges, for RTSP
// (the relay, actors/rtsprelay) and HTTP (a camera's snapshot_url) alike:
// RFC 2617/7616 Digest (MD5 or SHA-256, with or without qop=auth) when
// offered, else Basic. camsim checks the answers with code of its own, so
// a mistake here cannot hide behind the same mistake in the test camera.
package camauth

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// Client answers one camera connection's challenges with the camera's
// credentials. Once challenged, every request carries the answer, as
// ffmpeg itself does.
type Client struct {
	User, Pass string

	scheme    string // "", "basic" or "digest"
	realm     string
	nonce     string
	opaque    string
	algorithm string // MD5 or SHA-256
	qop       string // "auth" or ""
	nc        int
}

// Accept takes a 401's challenges. It reports whether retrying the request
// can help: false when nothing offered is understood, when the request
// already carried an answer to this very challenge (wrong credentials: the
// 401 goes to ffmpeg, which reports it), or when only Basic is offered
// after this Client answered Digest (no downgrade).
func (a *Client) Accept(challenges []string, answered bool) bool {
	var digest, basic map[string]string
	for _, ch := range challenges {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(ch), " ")
		switch strings.ToLower(scheme) {
		case "digest":
			p := ParseParams(rest)
			if alg := strings.ToUpper(p["algorithm"]); alg == "" || alg == "MD5" || alg == "SHA-256" {
				if digest == nil || alg == "SHA-256" {
					digest = p
				}
			}
		case "basic":
			basic = ParseParams(rest)
		}
	}
	switch {
	case digest != nil:
		stale := strings.EqualFold(digest["stale"], "true")
		if answered && a.scheme == "digest" && !stale && digest["nonce"] == a.nonce {
			return false
		}
		a.scheme, a.realm, a.nonce, a.opaque, a.nc = "digest", digest["realm"], digest["nonce"], digest["opaque"], 0
		a.algorithm = strings.ToUpper(digest["algorithm"])
		if a.algorithm == "" {
			a.algorithm = "MD5"
		}
		a.qop = ""
		for _, q := range strings.Split(digest["qop"], ",") {
			if strings.TrimSpace(q) == "auth" {
				a.qop = "auth"
			}
		}
		return true
	case basic != nil:
		// Never Basic after Digest: within a session (one relay connection,
		// one HTTP fetch) the camera already proved it can do Digest, and a
		// switch to Basic, which sends the password in clear, is a
		// downgrade attack or a stand-in's. The 401 goes to the client.
		if a.scheme == "digest" || (answered && a.scheme == "basic") {
			return false
		}
		a.scheme, a.realm = "basic", basic["realm"]
		return true
	}
	return false
}

// Scheme is the challenge being answered: "basic", "digest", or "" before
// any (the camera asked for none).
func (a *Client) Scheme() string { return a.scheme }

// Header is the Authorization value for a request, "" before a challenge.
func (a *Client) Header(method, uri string) string {
	switch a.scheme {
	case "basic":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(a.User+":"+a.Pass))
	case "digest":
		h := func(s string) string { return hexHash(a.algorithm, s) }
		ha1 := h(a.User + ":" + a.realm + ":" + a.Pass)
		ha2 := h(method + ":" + uri)
		var b strings.Builder
		fmt.Fprintf(&b, `Digest username="%s", realm="%s", nonce="%s", uri="%s"`, quote(a.User), quote(a.realm), quote(a.nonce), quote(uri))
		if a.qop == "auth" {
			a.nc++
			nc := fmt.Sprintf("%08x", a.nc)
			cnonce := randomHex(8)
			fmt.Fprintf(&b, `, response="%s", qop=auth, nc=%s, cnonce="%s"`, h(ha1+":"+a.nonce+":"+nc+":"+cnonce+":auth:"+ha2), nc, cnonce)
		} else {
			fmt.Fprintf(&b, `, response="%s"`, h(ha1+":"+a.nonce+":"+ha2))
		}
		if a.opaque != "" {
			fmt.Fprintf(&b, `, opaque="%s"`, quote(a.opaque))
		}
		if a.algorithm != "MD5" {
			fmt.Fprintf(&b, `, algorithm=%s`, a.algorithm)
		}
		return b.String()
	}
	return ""
}

func hexHash(algorithm, s string) string {
	var h hash.Hash
	if algorithm == "SHA-256" {
		h = sha256.New()
	} else {
		h = md5.New()
	}
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// quote writes s as a quoted-string's content. Control characters, which
// a camera's challenge may carry but a header line must not, are dropped.
func quote(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ParseParams reads `k1="v 1", k2=v2` into a map with lower-case keys.
func ParseParams(s string) map[string]string {
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
