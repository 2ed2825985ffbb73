// Package redact hides secrets (URL passwords, and URL query values such
// as ?apikey= or a camera's ?pwd=) from every text camvisor shows, logs or
// records: one place, one convention (***).
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// URL returns u with its password and every query value replaced by ***.
// Text that does not parse as a URL, or whose password is not written as
// a URL parser reads it (an unencoded '/', '?', '#' or '@'), goes through
// Text instead, so nothing leaks on a typo.
func URL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.User != nil && afterAuthority(u, p.Scheme)) {
		return Text(u)
	}
	u = query(u)
	if p.User == nil {
		return u
	}
	if _, has := p.User.Password(); !has {
		return u
	}
	// Build by hand: url.UserPassword would escape the asterisks. The
	// userinfo ends at the authority's last '@', as url.Parse reads it.
	rest := strings.TrimPrefix(u, p.Scheme+"://")
	authority, path := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	host := authority[strings.LastIndex(authority, "@")+1:]
	return p.Scheme + "://" + url.PathEscape(p.User.Username()) + ":***@" + host + path
}

// afterAuthority reports an '@' after the authority of scheme://…: a
// userinfo with an unencoded '/', '?' or '#', which a parser cuts short.
func afterAuthority(u, scheme string) bool {
	rest := strings.TrimPrefix(u, scheme+"://")
	i := strings.IndexAny(rest, "/?#")
	return i >= 0 && strings.Contains(rest[i:], "@")
}

// userinfo matches scheme://user:password@ in free text (logs, ffmpeg stderr,
// library errors), greedy up to the token's last '@': a password holding
// '@' or '/' is hidden whole. It errs toward hiding too much, never too
// little.
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*):\S*@`)

// queried matches a URL's query in free text: from the '?' after
// scheme://… to the end of the token.
var queried = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s?"'<>]*\?)([^\s#"'<>]*)`)

// Text replaces every URL password and URL query value in s with ***.
func Text(s string) string {
	s = userinfo.ReplaceAllString(s, "$1:***@")
	return queried.ReplaceAllStringFunc(s, query)
}

// query hides the values of the query of one URL (k=v&k2=v2 →
// k=***&k2=***), keeping the keys: they say what was configured.
func query(u string) string {
	base, q, ok := strings.Cut(u, "?")
	if !ok || q == "" {
		return u
	}
	q, frag, hasFrag := strings.Cut(q, "#")
	parts := strings.Split(q, "&")
	for i, kv := range parts {
		if k, v, ok := strings.Cut(kv, "="); ok && v != "" && v != "***" {
			parts[i] = k + "=***"
		}
	}
	out := base + "?" + strings.Join(parts, "&")
	if hasFrag {
		out += "#" + frag
	}
	return out
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
