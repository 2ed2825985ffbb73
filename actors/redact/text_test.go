package redact

import (
	"strings"
	"testing"
)

func TestWithoutUserinfo(t *testing.T) {
	for in, want := range map[string]string{
		"http://admin:secret@127.0.0.1:1984":                       "http://127.0.0.1:1984",
		"http://admin:secret@127.0.0.1:1984/stream.html?src=cam_1": "http://127.0.0.1:1984/stream.html?src=cam_1",
		"http://127.0.0.1:1984":                                    "http://127.0.0.1:1984",
		"http://admin@host":                                        "http://host",
	} {
		if got := WithoutUserinfo(in); got != want {
			t.Errorf("WithoutUserinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHidden(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T000/B000/XXXXSECRET": "https://hooks.slack.com/***",
		"https://discord.com/api/webhooks/123/TOKENSECRET":      "https://discord.com/***",
		"https://ntfy.sh/my-secret-topic?auth=abc":              "https://ntfy.sh/***?auth=***",
		"http://u:p@127.0.0.1:9/?apikey=k3y":                    "http://127.0.0.1:9/?apikey=***",
		"http://127.0.0.1:9":                                    "http://127.0.0.1:9",
		"not a url":                                             "***",
	} {
		if got := Hidden(in); got != want {
			t.Errorf("Hidden(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSecretURL(t *testing.T) {
	u := "https://hooks.slack.com/services/T000/B000/XXXX%2FSECRET?token=QSECRET"
	for _, text := range []string{
		`Post "https://hooks.slack.com/services/T000/B000/XXXX%2FSECRET?token=QSECRET": dial tcp: refused`,
		`Post "https://hooks.slack.com/services/T000/B000/XXXX%2FSECRET?token=QSECRET": EOF`,
		`path /services/T000/B000/XXXX%2FSECRET not found`,
	} {
		got := SecretURL(text, u)
		for _, s := range []string{"SECRET", "T000"} {
			if strings.Contains(got, s) {
				t.Errorf("SecretURL(%q) = %q: shows %q", text, got, s)
			}
		}
	}
}

func TestClip(t *testing.T) {
	if got := Clip("short", 10); got != "short" {
		t.Errorf("Clip kept %q", got)
	}
	got := Clip(strings.Repeat("é", 100), 11)
	if !strings.HasPrefix(got, strings.Repeat("é", 5)+"…(") || len(got) > 40 {
		t.Errorf("Clip = %q: want 5 whole characters and what was cut", got)
	}
}
