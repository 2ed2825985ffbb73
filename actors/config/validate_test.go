package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestConfigRefusesUnworkableURLs: URLs that pass a parser but cannot work
// (or would send part of the password elsewhere) are refused by check,
// with a message that names the field, tells how to write the URL, and
// shows no part of the password.
func TestConfigRefusesUnworkableURLs(t *testing.T) {
	const camURL = "rtsp://user:secret@127.0.0.1:8554/cam1"
	huge := "rtsp://user:secret@127.0.0.1:8554/" + strings.Repeat("a", 5<<20)
	cases := []struct {
		name, url string
		want      []string
		hidden    []string // never in the message
	}{
		{"5 MB URL", huge, []string{"subnets[0].cameras[0].url", fmt.Sprintf("%d bytes", len(huge)), "longer than 2048"},
			[]string{strings.Repeat("a", 100), "secret"}},
		{"unencoded slash in the password", "rtsp://admin:S3cr3t-P@ss/word@127.0.0.1:8554/x",
			[]string{"subnets[0].cameras[0].url", "not encoded", "%2F", "%40", "admin:***@127.0.0.1:8554/x"}, []string{"S3cr3t", "ss/word", "word@"}},
		{"unencoded question mark in the password", "rtsp://admin:pa?ss@127.0.0.1/x",
			[]string{"subnets[0].cameras[0].url", "%3F"}, []string{"pa?ss", "ss@"}},
		{"unencoded hash in the password", "rtsp://admin:pa#ss@127.0.0.1/x",
			[]string{"subnets[0].cameras[0].url", "%23"}, []string{"pa#ss", "ss@"}},
		{"unencoded percent in the password", "rtsp://admin:100%off@127.0.0.1/x",
			[]string{"subnets[0].cameras[0].url", "not a URL", "%25"}, []string{"100%off", "off@"}},
		{"unencoded colon-free garbage port", "rtsp://admin:pa?x=1@127.0.0.1/x",
			[]string{"subnets[0].cameras[0].url", "%3F"}, []string{"pa?x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(strings.Replace(good, camURL, tc.url, 1)))
			if err == nil {
				t.Fatalf("%s accepted", tc.name)
			}
			msg := err.Error()
			if len(msg) > 1000 {
				t.Errorf("the message is %d bytes long", len(msg))
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			for _, h := range tc.hidden {
				if strings.Contains(msg, h) {
					t.Errorf("message %q shows %q", msg, h)
				}
			}
		})
	}

	// Written as the message says, the same credentials pass.
	if _, err := Parse([]byte(strings.Replace(good, camURL, "rtsp://admin:S3cr3t-P%40ss%2Fword@127.0.0.1:8554/x", 1))); err != nil {
		t.Errorf("the encoded URL is refused: %v", err)
	}

	// Query secrets (a webhook's ?apikey=, a camera's ?pwd=) are hidden in
	// what is recorded and shown, as passwords are.
	cfg, err := Parse([]byte(strings.Replace(good, camURL, "rtsp://127.0.0.1:8554/cam1?usr=admin&pwd=qs3cret", 1) +
		"alerts: { webhook: { url: \"http://127.0.0.1:9/hook?apikey=k3y-123\" } }\n" +
		"detector: { kind: http, url: \"http://u:detpass@127.0.0.1:5000/v1/vision/detection?token=t0k\" }\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Redacted()
	for _, s := range []string{"qs3cret", "k3y-123", "detpass", "t0k"} {
		if strings.Contains(r, s) {
			t.Errorf("the recorded config shows %q:\n%s", s, r)
		}
	}
	for _, s := range []string{"pwd=***", "apikey=***", "token=***"} {
		if !strings.Contains(r, s) {
			t.Errorf("the recorded config lacks %q:\n%s", s, r)
		}
	}
	_, err = Parse([]byte(good + "alerts: { webhook: { url: \"ftp://127.0.0.1/hook?apikey=k3y-123\" } }\n"))
	if err == nil || strings.Contains(err.Error(), "k3y-123") || !strings.Contains(err.Error(), "alerts.webhook.url") {
		t.Errorf("bad webhook URL: %v", err)
	}
}
