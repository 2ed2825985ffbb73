package rtsprelay

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/camsim/hostile"
	"camvisor/actors/testkit"
)

// TestRelayReconnectsAtOnce: a process that closes its connection and
// opens the next one at once (ffmpeg does after a failed request) is
// served, not told the path "already has a connection"; still one camera
// connection at a time.
func TestRelayReconnectsAtOnce(t *testing.T) {
	cams := newCamsim(t, camsim.Camera{Name: "front"})
	r := newRelay(t, Options{})
	p := open(t, r, cams.URL("front"))
	for i := range 20 {
		c, err := dial(t, p.URL())
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		c.Close()
	}
	testkit.Eventually(t, 10*time.Second, "the camera connections closed", openAt(cams, "front"))
	if st := cams.Stats("front"); st.MaxOpen != 1 || st.Total != 20 {
		t.Errorf("camsim counts %+v, want 20 connections, one at a time", st)
	}
}

// TestRelayRefusalLogsLimited: strangers' connections (an unknown path, a
// user not allowed) cost a log line per source per interval, not one per
// connection; the line that is written counts those that were not.
func TestRelayRefusalLogsLimited(t *testing.T) {
	logs := &testkit.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	r := newRelay(t, Options{Log: log, RefusalLogEvery: time.Hour})
	nobody := newRelay(t, Options{Log: log, RefusalLogEvery: time.Hour, AllowUID: func(uint32) bool { return false }})
	stranger := func(addr string) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		fmt.Fprintf(nc, "OPTIONS rtsp://%s/0123456789abcdef0123456789abcdef RTSP/1.0\r\nCSeq: 1\r\n\r\n", addr)
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = nc.Read(make([]byte, 512)) // the 404, or the close
	}
	for range 100 {
		stranger(r.Addr())
		stranger(nobody.Addr())
	}
	if n := strings.Count(logs.String(), "unknown path"); n != 1 {
		t.Errorf("%d lines about unknown paths for 100 requests from one user, want 1:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "refused a connection"); n != 1 {
		t.Errorf("%d lines about refused connections for 100 from one user, want 1:\n%s", n, logs.String())
	}

	// With a short interval, a later line says how many were left out.
	logs2 := &testkit.SyncBuffer{}
	r2 := newRelay(t, Options{Log: slog.New(slog.NewTextHandler(logs2, nil)), RefusalLogEvery: 50 * time.Millisecond})
	testkit.Eventually(t, 10*time.Second, "a line counting the requests not logged", func() bool {
		stranger(r2.Addr())
		return strings.Contains(logs2.String(), "suppressed=")
	})
}

// TestRelayPathCredentials: a camera that takes its credentials in its
// URL's path (/user=admin_password=…_channel=1…, common on cheap cameras)
// is reached through the relay (HasSecret sees the password), the process
// never sees that path, and the camera gets it whole.
func TestRelayPathCredentials(t *testing.T) {
	const secretPath = "/user=admin_password=pAth-s3cret_channel=1_stream=0.sdp"
	cams := newCamsim(t, camsim.Camera{Name: "front"})
	tap := newTap(t, cams.RTSPAddr(), false)
	// The camera serves front at the secret path: camsim is told front,
	// and its answers name the secret path.
	tap.toCamera = func(m *message) { m.start = strings.Replace(m.start, secretPath, "/front", 1) }
	tap.toClient = func(_ net.Conn, m *message) bool {
		for i := range m.fields {
			m.fields[i].value = strings.ReplaceAll(m.fields[i].value, "/front", secretPath)
		}
		return true
	}
	raw := "rtsp://admin:" + url.PathEscape(password) + "@" + tap.addr() + secretPath
	if !HasSecret("rtsp://" + tap.addr() + secretPath) {
		t.Error("HasSecret does not see a password in the path")
	}
	r := newRelay(t, Options{})
	p := open(t, r, raw)
	if strings.Contains(p.URL(), "pAth-s3cret") {
		t.Fatalf("the relay URL %q holds the path's password", p.URL())
	}
	if res := describe(t, r, p.URL()); res.status() != 200 || strings.Contains(string(res.appendTo(nil)), "pAth-s3cret") {
		t.Errorf("the client was answered:\n%s", res.appendTo(nil))
	}
	c, err := dial(t, p.URL())
	if err != nil {
		t.Fatalf("through the relay: %v (camera saw %q)", err, tap.requestLines())
	}
	nextFrame(t, c)
	c.Close()
	if lines := tap.requestLines(); len(lines) == 0 || !strings.Contains(lines[0], secretPath+" ") {
		t.Errorf("the camera saw %q, want its path whole", lines)
	}
}

// TestRelayScrubsEchoedCredentials: a camera that quotes the credentials
// it was sent in its error text (status line, body) does not get them to
// the process, in any form.
func TestRelayScrubsEchoedCredentials(t *testing.T) {
	for _, mode := range []hostile.Mode{hostile.EchoBasic, hostile.EchoDigest} {
		t.Run(string(mode), func(t *testing.T) {
			cam := newHostile(t, mode, "")
			r := newRelay(t, Options{})
			p := open(t, r, cam.URL("cam"))
			res := describe(t, r, p.URL())
			shown := string(res.appendTo(nil))
			if res.status() < 400 {
				t.Fatalf("the client was answered:\n%s", shown)
			}
			auths := cam.Authorizations()
			if len(auths) == 0 {
				t.Fatal("the camera got no credentials to echo")
			}
			secrets := []string{password, url.PathEscape(password), base64.StdEncoding.EncodeToString([]byte("admin:" + password))}
			for _, a := range auths {
				if _, proof, ok := strings.Cut(a, `response="`); ok {
					secrets = append(secrets, proof[:strings.IndexByte(proof, '"')])
				}
			}
			for _, s := range secrets {
				if strings.Contains(shown, s) {
					t.Errorf("the client saw %q:\n%s", s, shown)
				}
			}
		})
	}
}
