package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"camvisor/actors/config"
)

// TestPProfOnlyWithTokenAndWhenEnabled: Go's profiles answer only with
// the operator token, and only when web.pprof is on; off, the paths are
// not there at all, token or not.
func TestPProfOnlyWithTokenAndWhenEnabled(t *testing.T) {
	const token = "test-token-0123456789abcdef"
	serve := func(on bool) string {
		cfg := config.Defaults()
		cfg.Web.PProf = on
		s := New(Options{Listen: "127.0.0.1:0", Config: cfg, Token: token})
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s.Shutdown(ctx)
		})
		return "http://" + s.Addr()
	}
	get := func(url, bearer string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	paths := []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline",
		"/debug/pprof/profile?seconds=1"}

	on := serve(true)
	for _, p := range paths {
		if code, _ := get(on+p, ""); code != http.StatusUnauthorized {
			t.Errorf("enabled, no token: GET %s answered %d, want 401", p, code)
		}
		if code, _ := get(on+p, "wrong-token-0123456789abcdef"); code != http.StatusUnauthorized && code != http.StatusTooManyRequests {
			t.Errorf("enabled, wrong token: GET %s answered %d, want 401", p, code)
		}
	}
	// The limiter counted the wrong tokens above; the right one still
	// passes once it lets this client in again, as for the API.
	var code int
	var body []byte
	deadline := time.Now().Add(30 * time.Second)
	for code, body = get(on+"/debug/pprof/", token); code == http.StatusTooManyRequests && time.Now().Before(deadline); code, body = get(on+"/debug/pprof/", token) {
		time.Sleep(200 * time.Millisecond) // the limiter's window, nothing to wait on
	}
	if code != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("enabled, token: the index answered %d: %.200s", code, body)
	}
	code, body = get(on+"/debug/pprof/profile?seconds=1", token)
	if code != http.StatusOK {
		t.Fatalf("enabled, token: the CPU profile answered %d: %.200s", code, body)
	}
	if _, err := gzip.NewReader(bytes.NewReader(body)); err != nil {
		t.Errorf("the CPU profile is not a gzipped profile: %v", err)
	}
	for _, bad := range []string{"0", "-1", "301", "1e9", "NaN", "soon"} {
		if code, body = get(on+"/debug/pprof/profile?seconds="+bad, token); code != http.StatusBadRequest ||
			!strings.Contains(string(body), "seconds") || !strings.Contains(string(body), bad) {
			t.Errorf("seconds=%s answered %d: %.200s; want 400 naming the field and the value", bad, code, body)
		}
	}
	if code, body = get(on+"/debug/pprof/goroutine?debug=1", token); code != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Errorf("enabled, token: goroutine answered %d: %.200s", code, body)
	}

	off := serve(false)
	for _, p := range paths {
		if code, body := get(off+p, token); code != http.StatusNotFound {
			t.Errorf("disabled, token: GET %s answered %d, want 404: %.200s", p, code, body)
		}
		if code, _ := get(off+p, ""); code != http.StatusNotFound {
			t.Errorf("disabled, no token: GET %s answered %d, want 404", p, code)
		}
	}
}
