package config

import (
	"net/url"
	"regexp"
	"strings"
)

// RedactURL returns u with its password replaced by ***. Text that does not
// parse as a URL goes through RedactText instead, so nothing leaks on a typo.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return RedactText(u)
	}
	if _, has := p.User.Password(); !has {
		return u
	}
	// Build by hand: url.UserPassword would escape the asterisks.
	rest := strings.TrimPrefix(u, p.Scheme+"://")
	_, host, _ := strings.Cut(rest, "@")
	return p.Scheme + "://" + url.PathEscape(p.User.Username()) + ":***@" + host
}

// userinfo matches scheme://user:password@ in free text (logs, ffmpeg stderr,
// library errors).
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*):[^\s@/]*@`)

// RedactText replaces every URL password in s with ***.
func RedactText(s string) string {
	return userinfo.ReplaceAllString(s, "$1:***@")
}

// Redactor removes one camera's password from text that may quote it
// without its URL (ffmpeg stderr can print either).
type Redactor struct{ secrets []string }

// NewRedactor returns a Redactor for the password in rawURL.
func NewRedactor(rawURL string) Redactor {
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

// Redact returns s without URL passwords or this camera's password.
func (r Redactor) Redact(s string) string {
	s = RedactText(s)
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}
