// Package redact hides secrets from every text camvisor shows, logs or
// records: one place, one convention (***). What it hides: URL passwords;
// URL query values (?apikey=, a camera's ?pwd=); passwords cheap cameras
// take in their URL's path (/user=admin_password=…_channel=1); a Basic
// answer's base64 of user:pass and a Digest answer's proof (response,
// nonce, cnonce), which a camera may quote in its error text; and, for a
// camera whose URL it knows (Redactor), that camera's password in every
// form it may take.
package redact

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"slices"
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
	u = keyed(query(u))
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

// Text replaces every URL password, URL query value, keyed password
// (password=…, pwd=…, in a path or anywhere), Basic answer and Digest
// proof in s with ***.
func Text(s string) string {
	if strings.Contains(s, "://") { // both patterns need a URL: most text (an ffmpeg argument) has none
		s = userinfo.ReplaceAllString(s, "$1:***@")
		s = queried.ReplaceAllStringFunc(s, query)
	}
	return Credentials(keyed(s))
}

// Credentials hides the answers to an authentication challenge in s: the
// token of a Basic answer (base64 of user:pass) and the proof of a Digest
// answer (response, nonce, cnonce). It leaves URLs as they are, so it may
// run over text that must stay usable (the relay's answers to ffmpeg).
func Credentials(s string) string {
	s = basicToken(s)
	if i := indexFold(s, "digest"); i >= 0 {
		s = s[:i] + digestProof.ReplaceAllString(s[i:], `$1="***"`)
	}
	return s
}

// basicAnswer matches "Basic <token>": the token is what a Basic answer
// carries, base64 (maybe URL-escaped), or a challenge's first parameter.
var basicAnswer = regexp.MustCompile(`(?i)\b(basic\s+)([A-Za-z0-9+/_.~-]+(?:=|%3D){0,2})`)

func basicToken(s string) string {
	if !strings.Contains(strings.ToLower(s), "basic") {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range basicAnswer.FindAllStringSubmatchIndex(s, -1) {
		tok, end := s[m[4]:m[5]], m[5]
		if !credentialToken(tok, s[end:]) {
			continue
		}
		b.WriteString(s[last:m[4]])
		b.WriteString("***")
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// credentialToken tells a Basic answer's token from ordinary words after
// "basic" ("basic auth failed") and from a challenge's parameter (Basic
// realm="cam"): it decodes to user:pass, or does not read as a word.
func credentialToken(tok, after string) bool {
	if name, ok := strings.CutSuffix(tok, "="); ok && letters(name) && after != "" && after[0] != ' ' && after[0] != ',' {
		return false // realm="…": a parameter
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(strings.ReplaceAll(tok, "%3D", "=")); err == nil && strings.Contains(string(raw), ":") {
			return true
		}
	}
	return !letters(tok) || len(tok) >= 20
}

func letters(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// digestProof matches the fields of a Digest answer that prove knowledge
// of the password or let it be replayed, quoted or not.
var digestProof = regexp.MustCompile(`(?i)\b(response|cnonce|nonce)\s*=\s*(?:"[^"]*"|[^\s,"]+)`)

func indexFold(s, sub string) int { return strings.Index(strings.ToLower(s), sub) }

// credentialKeys are the keys under which cameras take a password in
// their URL's path (/user=admin_password=…_channel=1_stream=0.sdp) or
// query, lower case.
var credentialKeys = []string{"password", "passwd", "pass", "pwd", "psw"}

// keyedValues returns the byte ranges of the values of credential keys in
// s: a key of credentialKeys (any case) at the start or after a character
// that is neither a letter nor a digit, then '='; the value runs to the
// next '&', ';', '/', '?', '#', space, quote or '<>', or to a '_' that
// starts the next key (letters, then '=').
func keyedValues(s string) [][2]int {
	var out [][2]int
	lower := strings.ToLower(s)
	for i := 0; i < len(s); i++ {
		if i > 0 && alnum(s[i-1]) {
			continue
		}
		for _, k := range credentialKeys {
			if !strings.HasPrefix(lower[i:], k+"=") {
				continue
			}
			start := i + len(k) + 1
			end := start
			for end < len(s) && !valueEnd(s, end) {
				end++
			}
			if end > start {
				out = append(out, [2]int{start, end})
			}
			i = end - 1
			break
		}
	}
	return out
}

func valueEnd(s string, i int) bool {
	switch s[i] {
	case '&', ';', '/', '?', '#', ' ', '\t', '\r', '\n', '"', '\'', '<', '>', ',':
		return true
	case '_':
		j := i + 1
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
			j++
		}
		return j > i+1 && j < len(s) && s[j] == '='
	}
	return false
}

func alnum(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// keyed hides the values of credential keys in s.
func keyed(s string) string {
	vals := keyedValues(s)
	if len(vals) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, v := range vals {
		b.WriteString(s[last:v[0]])
		b.WriteString("***")
		last = v[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// HasPathCredentials reports whether a URL's path carries a password
// (/user=admin_password=…): such a URL holds a secret although it has no
// userinfo and no query.
func HasPathCredentials(rawURL string) bool {
	p, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	return len(keyedValues(p.EscapedPath())) > 0
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
// without its URL (ffmpeg stderr can print either, and a camera may echo
// what it was sent).
type Redactor struct{ secrets []string }

// ForURL returns a Redactor for the credentials in rawURL: its password
// (plain and URL-escaped), the base64 of user:pass a Basic answer
// carries (in each base64 alphabet, padded or not, URL-escaped), and the
// passwords of its path and query (password=, pwd= …).
func ForURL(rawURL string) Redactor {
	p, err := url.Parse(rawURL)
	if err != nil {
		return Redactor{}
	}
	var r Redactor
	if p.User != nil {
		if pw, ok := p.User.Password(); ok && pw != "" {
			r.add(pw)
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
				r.add(enc.EncodeToString([]byte(p.User.Username() + ":" + pw)))
			}
		}
	}
	for _, where := range []string{p.EscapedPath(), p.RawQuery} {
		for _, v := range keyedValues(where) {
			// Text hides them after their key; alone, one of less than
			// four characters would hide every such run of characters in
			// the text, and protects nothing anyway.
			if v[1]-v[0] >= 4 {
				r.add(where[v[0]:v[1]])
			}
		}
	}
	return r
}

// add keeps sec and its escaped and unescaped forms, longest first: a
// form that contains another must be replaced before it.
func (r *Redactor) add(sec string) {
	forms := []string{sec, url.PathEscape(sec), url.QueryEscape(sec)}
	if un, err := url.PathUnescape(sec); err == nil {
		forms = append(forms, un)
	}
	for _, f := range forms {
		if f != "" && !slices.Contains(r.secrets, f) {
			r.secrets = append(r.secrets, f)
		}
	}
	slices.SortStableFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
}

// Redact returns s without this camera's credentials, any URL password
// or query value, and any answer to an authentication challenge. The
// exact secrets go first: a pattern could cut one in two.
func (r Redactor) Redact(s string) string {
	return Text(r.exact(s))
}

// Scrub is Redact for text that must stay usable, such as an answer the
// relay passes on to ffmpeg: this camera's credentials and answers to
// challenges go, URLs stay as they are (their query values included).
func (r Redactor) Scrub(s string) string {
	return Credentials(r.exact(s))
}

func (r Redactor) exact(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}
