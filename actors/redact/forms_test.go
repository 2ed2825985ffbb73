package redact

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// TestCredentialsInAnyForm: a camera's credentials leave camvisor in no
// form — plain, URL-escaped, as the base64 of user:pass a Basic answer
// carries, or as a Digest answer's fields — whether a camera echoes them
// in an error (ffmpeg prints the camera's reason phrase) or a library
// quotes them.
func TestCredentialsInAnyForm(t *testing.T) {
	const user, pass = "admin", "S3cr3t/P@ss:w%rd"
	raw := "rtsp://" + user + ":" + url.PathEscape(pass) + "@10.0.0.7:554/stream1"
	r := ForURL(raw)
	b64 := func(enc *base64.Encoding) string { return enc.EncodeToString([]byte(user + ":" + pass)) }
	forms := map[string]string{
		"plain":              pass,
		"path-escaped":       url.PathEscape(pass),
		"query-escaped":      url.QueryEscape(pass),
		"base64":             b64(base64.StdEncoding),
		"base64url":          b64(base64.URLEncoding),
		"base64 raw":         b64(base64.RawStdEncoding),
		"base64 url-escaped": url.QueryEscape(b64(base64.StdEncoding)),
	}
	for name, form := range forms {
		for _, text := range []string{
			"[rtsp @ 0x55] method DESCRIBE failed: 403 Forbidden: refused Authorization: Basic " + form,
			"camera said: " + form + ".",
			`{"auth":"` + form + `"}`,
		} {
			if got := r.Redact(text); strings.Contains(got, form) {
				t.Errorf("%s form leaks through Redact: %q", name, got)
			}
		}
	}

	// Without knowing the camera (free text: Text), a Basic answer and a
	// Digest answer's proof are hidden wherever they are quoted.
	other := base64.StdEncoding.EncodeToString([]byte("root:hunter22"))
	for _, text := range []string{
		"400 Bad Request: Authorization: Basic " + other,
		"basic " + other + ", go away",
		`Authorization: "Basic ` + other + `"`,
	} {
		if got := Text(text); strings.Contains(got, other) || !strings.Contains(strings.ToLower(got), "basic ***") {
			t.Errorf("Text(%q) = %q", text, got)
		}
	}
	const proof, cnonce, nonce = "6629fae49393a05397450978507c4ef1", "0a4f113b", "dcd98b7102dd2f0e8b11d0f600bfb0c093"
	digest := `Digest username="admin", realm="cam", nonce="` + nonce + `", uri="rtsp://10.0.0.7/s", response="` + proof +
		`", qop=auth, nc=00000001, cnonce="` + cnonce + `"`
	for _, text := range []string{
		"400 Bad Request: cannot check Authorization: " + digest,
		"you sent " + strings.ReplaceAll(digest, `"`, ""),
	} {
		got := Text(text)
		for _, v := range []string{proof, cnonce, nonce} {
			if strings.Contains(got, v) {
				t.Errorf("Text(%q) = %q: %s stays", text, got, v)
			}
		}
		if !strings.Contains(got, `username=`) || !strings.Contains(got, "admin") {
			t.Errorf("Text(%q) = %q: the user name, no secret, is gone", text, got)
		}
	}
	// What merely looks like them stays.
	for _, text := range []string{
		`WWW-Authenticate: Basic realm="camera"`,
		"basic auth failed",
		"detector response=200 in 3ms",
	} {
		if got := Text(text); got != text {
			t.Errorf("Text(%q) = %q, want it unchanged", text, got)
		}
	}
}

// TestPathCredentials: cheap cameras take their credentials in the URL's
// path (/user=admin_password=…_channel=1…); URL, Text and a camera's
// Redactor hide the password there too, and HasPathCredentials sees it.
func TestPathCredentials(t *testing.T) {
	cases := map[string]string{
		"rtsp://10.0.0.3:554/user=admin_password=tlJwpbo6_channel=1_stream=0.sdp?real_stream": "rtsp://10.0.0.3:554/user=admin_password=***_channel=1_stream=0.sdp?real_stream",
		"rtsp://10.0.0.3/user=admin&password=tlJwpbo6&channel=1&stream=0.sdp":                 "rtsp://10.0.0.3/user=admin&password=***&channel=1&stream=0.sdp",
		"rtsp://10.0.0.3/live;user=admin;pwd=tlJwpbo6":                                        "rtsp://10.0.0.3/live;user=admin;pwd=***",
		"rtsp://10.0.0.3/PASSWORD=tlJwpbo6/ch1":                                               "rtsp://10.0.0.3/PASSWORD=***/ch1",
		"rtsp://10.0.0.3/Streaming/Channels/101":                                              "rtsp://10.0.0.3/Streaming/Channels/101",
		"rtsp://10.0.0.3/bypass=1":                                                            "rtsp://10.0.0.3/bypass=1",
	}
	for in, want := range cases {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
		if got := Text("open " + in + ": refused"); strings.Contains(got, "tlJwpbo6") || (in != want && !strings.Contains(got, "=***")) {
			t.Errorf("Text(%q) = %q", in, got)
		}
		if HasPathCredentials(in) != (in != want) {
			t.Errorf("HasPathCredentials(%q) = %v", in, !(in != want))
		}
	}
	raw := "rtsp://10.0.0.3:554/user=admin_password=tl_Jw%2Fpbo6_channel=1_stream=0.sdp"
	r := ForURL(raw)
	for _, text := range []string{"bad password tl_Jw/pbo6", "bad password tl_Jw%2Fpbo6", "GET " + raw} {
		if got := r.Redact(text); strings.Contains(got, "pbo6") {
			t.Errorf("Redact(%q) = %q", text, got)
		}
	}
}
