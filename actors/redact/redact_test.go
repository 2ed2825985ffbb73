package redact

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	cases := map[string]string{
		"rtsp://admin:hunter2@10.0.0.1:554/stream1": "rtsp://admin:***@10.0.0.1:554/stream1",
		"rtsp://10.0.0.1/x":                         "rtsp://10.0.0.1/x",
		"rtsp://admin@10.0.0.1/x":                   "rtsp://admin@10.0.0.1/x",
		"rtsp://a:b%40c@h/x":                        "rtsp://a:***@h/x",
		"rtsp://admin:p@ss@10.0.0.5/s":              "rtsp://admin:***@10.0.0.5/s",
		"rtsp://admin:a:b@c@h:554/x?y=1":            "rtsp://admin:***@h:554/x?y=***",
		// Query values may be secrets (a webhook's ?apikey=, a camera's ?pwd=).
		"http://hooks.example/alert?apikey=k3y&team=ops": "http://hooks.example/alert?apikey=***&team=***",
		"rtsp://10.0.0.1/live?usr=admin&pwd=x1":          "rtsp://10.0.0.1/live?usr=***&pwd=***",
		"http://u:p@h/x?flag&k=":                         "http://u:***@h/x?flag&k=",
		// An unencoded '/' in the password: the parser would read the host
		// as "ss" and the rest as path; all of it up to the last '@' hides.
		"rtsp://admin:S3cr3t-P@ss/word@10.0.0.9/x": "rtsp://admin:***@10.0.0.9/x",
	}
	for in, want := range cases {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
	for _, pw := range []string{"p@ss@w0rd", "a:b@c", "x/y@z"} {
		raw := "rtsp://admin:" + pw + "@10.0.0.1/x"
		outs := []string{Text("open " + raw)}
		if _, err := url.Parse(raw); err == nil { // a URL config accepts: its camera has a Redactor
			outs = append(outs, ForURL(raw).Redact("open "+raw+": refused; password "+pw))
		}
		for _, out := range outs {
			if strings.Contains(out, pw) || strings.Contains(out, pw[:len(pw)-1]) {
				t.Errorf("password %q leaks: %q", pw, out)
			}
		}
	}
	if got := Text(`Post "http://det:5000/v1/vision?apikey=abc123": dial tcp: refused`); strings.Contains(got, "abc123") || !strings.Contains(got, "apikey=***") {
		t.Errorf("Text left a query secret: %q", got)
	}
	text := "[rtsp @ 0x1] method DESCRIBE failed: 401 rtsp://admin:hunter2@10.0.0.1:554/x and again hunter2"
	r := ForURL("rtsp://admin:hunter2@10.0.0.1:554/x")
	if got := r.Redact(text); strings.Contains(got, "hunter2") || !strings.Contains(got, "admin:***@") {
		t.Errorf("Redact = %q", got)
	}
}
