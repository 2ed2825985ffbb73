// Package redact hides secrets (RTSP and other URL passwords) from every
// text camvisor shows, logs or records: one place, one convention (***).
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// URL returns u with its password replaced by ***. Text that does not
// parse as a URL goes through Text instead, so nothing leaks on a typo.
func URL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return Text(u)
	}
	if _, has := p.User.Password(); !has {
		return u
	}
	// Build by hand: url.UserPassword would escape the asterisks. The
	// userinfo ends at the authority's last '@', as url.Parse reads it: a
	// password may hold '@' itself.
	rest := strings.TrimPrefix(u, p.Scheme+"://")
	authority, path := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	host := authority[strings.LastIndex(authority, "@")+1:]
	return p.Scheme + "://" + url.PathEscape(p.User.Username()) + ":***@" + host + path
}

// userinfo matches scheme://user:password@ in free text (logs, ffmpeg stderr,
// library errors), greedy up to the token's last '@': a password holding
// '@' or '/' is hidden whole. It errs toward hiding too much, never too
// little.
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*):\S*@`)

// Text replaces every URL password in s with ***.
func Text(s string) string {
	return userinfo.ReplaceAllString(s, "$1:***@")
}

// Redactor removes one camera's password from text that may quote it
// without its URL (ffmpeg stderr can print either).
type Redactor struct{ secrets []string }

// ForURL returns a Redactor for the password in rawURL.
func ForURL(rawURL string) Redactor {
	p, err := url.Parse(rawURL)
	if err != nil || p.User == nil {
		return Redactor{}
	}
	pw, ok := p.User.Password()
	if !ok || pw == "" {
		return Redactor{}
	}
	secrets := []string{pw}
	if esc := url.PathEscape(pw); esc != pw {
		secrets = append(secrets, esc)
	}
	if esc := url.QueryEscape(pw); esc != pw {
		secrets = append(secrets, esc)
	}
	return Redactor{secrets: secrets}
}

// Redact returns s without this camera's password or any URL password.
// The exact password goes first: a pattern could cut it in two.
func (r Redactor) Redact(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return Text(s)
}
