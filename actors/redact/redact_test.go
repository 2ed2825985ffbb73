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
		"rtsp://admin:a:b@c@h:554/x?y=1":            "rtsp://admin:***@h:554/x?y=1",
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
	text := "[rtsp @ 0x1] method DESCRIBE failed: 401 rtsp://admin:hunter2@10.0.0.1:554/x and again hunter2"
	r := ForURL("rtsp://admin:hunter2@10.0.0.1:554/x")
	if got := r.Redact(text); strings.Contains(got, "hunter2") || !strings.Contains(got, "admin:***@") {
		t.Errorf("Redact = %q", got)
	}
}
