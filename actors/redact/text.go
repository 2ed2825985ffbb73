package redact

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The forms of a URL that are not shown to anyone: to a browser, a URL
// without the credentials it must not be handed; to a reader, a URL whose
// path is its secret (a Slack, Discord or ntfy webhook) cut to its host.

// WithoutUserinfo is u without its user and password: a URL handed on to
// someone who must log in on their own (a browser opening go2rtc's
// player), whose query is kept (it names the stream, no secret). Text
// that is not a URL with a host comes back through Text.
func WithoutUserinfo(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || afterAuthority(u, p.Scheme) {
		return Text(u)
	}
	if p.User == nil {
		return u
	}
	p.User = nil
	return p.String()
}

// Hidden is u cut to scheme://host/***, its query's keys kept and their
// values hidden: for a URL whose path may be its secret (a webhook's),
// shown only to say where it points. A URL without a path is shown
// without its password and query values.
func Hidden(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || afterAuthority(u, p.Scheme) {
		return "***"
	}
	out := p.Scheme + "://" + p.Host + p.Path
	if p.Path != "" && p.Path != "/" {
		out = p.Scheme + "://" + p.Host + "/***"
	}
	if p.RawQuery != "" {
		out = query(out + "?" + p.RawQuery)
	}
	return out
}

// SecretURL hides, in text, every quotation of u — as written, as Go
// prints it once parsed (its errors do: `Post "https://…": …`), and with
// its password already hidden as Go's client does — as Hidden(u), then
// every other URL password and query value (Text). For text about a URL
// whose path is its secret: a webhook's errors.
func SecretURL(text, u string) string {
	if u == "" {
		return Text(text)
	}
	forms := []string{u}
	if p, err := url.Parse(u); err == nil {
		forms = append(forms, p.String(), p.Redacted())
		if p.Path != "" && p.Path != "/" {
			forms = append(forms, p.Path, p.EscapedPath())
		}
		if p.RawQuery != "" {
			forms = append(forms, p.RawQuery)
		}
	}
	// Longest first: a URL's path is part of the URL.
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	hidden := Hidden(u)
	for _, f := range forms {
		if len(f) > 1 {
			text = strings.ReplaceAll(text, f, hidden)
		}
	}
	return Text(text)
}

// Clip is s cut to at most n bytes (on a character boundary), with what
// was cut said: a value from a request, logged, never costs more than n.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(" + strconv.Itoa(len(s)-cut) + " more bytes)"
}
