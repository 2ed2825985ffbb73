package web

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/db"
	"camvisor/messages"

	"github.com/gorilla/websocket"
)

// request sends one request with the given headers (and a JSON body when
// body is not empty) and returns the answer and its body.
func (st *stack) request(method, path, body string, header map[string]string) (*http.Response, string) {
	st.t.Helper()
	req, err := http.NewRequest(method, st.srv.URL()+strings.TrimPrefix(path, "/"), strings.NewReader(body))
	if err != nil {
		st.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		st.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// session signs in with the token and returns the session cookie.
func (st *stack) session() *http.Cookie {
	st.t.Helper()
	resp, body := st.request("POST", "/api/login", fmt.Sprintf(`{"token":%q}`, st.token), nil)
	if resp.StatusCode != http.StatusNoContent || len(resp.Cookies()) != 1 {
		st.t.Fatalf("login: %d %s %v", resp.StatusCode, body, resp.Cookies())
	}
	return resp.Cookies()[0]
}

// TestCrossSiteRequestRefused: with a valid session cookie, a request a
// browser makes for a page of another origin — another site, or another
// port of this host such as go2rtc's player — is refused before it does
// anything, and a body that is not JSON is refused even without an Origin.
func TestCrossSiteRequestRefused(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	st := startStack(t, cams, nil)
	cookie := st.session()
	withCookie := map[string]string{"Cookie": cookie.Name + "=" + cookie.Value}
	foreign := []map[string]string{
		{"Origin": "http://evil.example"},
		{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "http://127.0.0.1:1984", "Sec-Fetch-Site": "same-site"}, // go2rtc's player: same site, other origin
		{"Origin": "null"},
	}
	requests := []struct{ method, path, body, ctype string }{
		{"POST", "/api/cameras/front/restart", "", ""},
		{"POST", "/api/cameras/front/capture", "x", "text/plain"},
		{"POST", "/api/cameras/front/live", "", ""},
		{"DELETE", "/api/cameras/front/live", "", ""},
		{"GET", "/api/db/backup", "", ""},
		{"GET", "/api/status", "", ""},
		{"POST", "/api/login", fmt.Sprintf(`{"token":%q}`, st.token), "application/json"},
		{"POST", "/api/logout", "", ""},
		{"POST", "/api/config/reload", "", ""},
	}
	testkit.WaitFor(t, st.facts, testkit.Start, 20*time.Second, "the patrol's first cycle over", func(*messages.CycleEnded) bool { return true })
	mark := st.facts.Mark() // the next cycle is an hour away: whatever happens now, a request did
	for _, rq := range requests {
		for _, f := range foreign {
			h := map[string]string{}
			for k, v := range withCookie {
				h[k] = v
			}
			for k, v := range f {
				h[k] = v
			}
			if rq.ctype != "" {
				h["Content-Type"] = rq.ctype
			}
			resp, body := st.request(rq.method, rq.path, rq.body, h)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s with %v: %d %s, want 403", rq.method, rq.path, f, resp.StatusCode, body)
			}
			if len(resp.Cookies()) > 0 {
				t.Errorf("%s %s with %v set a cookie", rq.method, rq.path, f)
			}
		}
	}
	if n := testkit.Count(st.facts, mark, func(*messages.ActorRestarted) bool { return true }) +
		testkit.Count(st.facts, mark, func(*messages.CaptureDone) bool { return true }) +
		testkit.Count(st.facts, mark, func(*messages.PlaybackStarted) bool { return true }) +
		testkit.Count(st.facts, mark, func(*messages.ConfigReloaded) bool { return true }); n > 0 {
		t.Errorf("refused requests did %d things", n)
	}
	// The session survived the forged logout.
	if resp, _ := st.request("GET", "/api/status", "", withCookie); resp.StatusCode != 200 {
		t.Errorf("the session no longer works after a refused cross-site logout: %d", resp.StatusCode)
	}
	// A WebSocket from another origin is refused too.
	u := "ws" + strings.TrimPrefix(st.srv.URL(), "http") + "ws"
	if c, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Cookie": {withCookie["Cookie"]}, "Origin": {"http://127.0.0.1:1984"}}); err == nil {
		c.Close()
		t.Error("a WebSocket from another origin was accepted")
	} else if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a WebSocket from another origin: %v", err)
	}

	// Where a body is expected it must be JSON, same origin or not.
	same := map[string]string{"Cookie": withCookie["Cookie"], "Origin": strings.TrimSuffix(st.srv.URL(), "/"), "Sec-Fetch-Site": "same-origin", "Content-Type": "text/plain"}
	for _, rq := range []struct{ method, path, body string }{
		{"POST", "/api/cameras/front/capture", "x"},
		{"POST", "/api/login", fmt.Sprintf(`{"token":%q}`, st.token)},
		{"POST", "/api/config/reload", "x"},
	} {
		if resp, body := st.request(rq.method, rq.path, rq.body, same); resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("%s %s as text/plain: %d %s, want 415", rq.method, rq.path, resp.StatusCode, body)
		}
	}
	// The dashboard's own requests pass: same origin, JSON or no body.
	same["Content-Type"] = ""
	if resp, body := st.request("POST", "/api/cameras/front/capture", "", same); resp.StatusCode != 200 {
		t.Errorf("same-origin capture: %d %s", resp.StatusCode, body)
	}
	if n := testkit.Count(st.facts, mark, func(*messages.ConfigReloaded) bool { return true }); n > 0 {
		t.Errorf("a reload refused for its body was carried out (%d)", n)
	}
}

// TestSessionRevokedOnLogout: the session cookie is a random id the server
// keeps, never the token; signing out revokes it on the server (a copy of
// the cookie no longer works, its WebSocket is closed); a session ends
// at its maximum age; the cookie is Secure when served over TLS.
func TestSessionRevokedOnLogout(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	st := startStack(t, cams, nil)
	cookie := st.session()
	if cookie.Value == st.token || strings.Contains(cookie.Value, st.token) || len(cookie.Value) < 40 {
		t.Fatalf("session cookie %q: want a random id, not the token", cookie.Value)
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure {
		t.Errorf("cookie over plain HTTP: %+v", cookie)
	}
	jar := map[string]string{"Cookie": cookie.Name + "=" + cookie.Value}
	if resp, _ := st.request("GET", "/api/status", "", jar); resp.StatusCode != 200 {
		t.Fatalf("the session does not open the API: %d", resp.StatusCode)
	}
	if resp, _ := st.request("GET", "/api/status", "", map[string]string{"Cookie": sessionCookie + "=" + st.token}); resp.StatusCode != 401 {
		t.Errorf("the token as a cookie: %d, want 401 (the cookie is not the token)", resp.StatusCode)
	}
	u := "ws" + strings.TrimPrefix(st.srv.URL(), "http") + "ws"
	ws, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Cookie": {jar["Cookie"]}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()

	if resp, _ := st.request("POST", "/api/logout", "", jar); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if resp, _ := st.request("GET", "/api/status", "", jar); resp.StatusCode != 401 {
		t.Errorf("the session after logout: %d, want 401", resp.StatusCode)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Error("the session's WebSocket is still open 10s after logout")
	}

	// A session ends SessionMax after sign-in, however busy (here a server
	// of its own, whose sessions last a second).
	lim := DefaultLimits()
	lim.SessionMax = time.Second
	short := New(Options{Listen: "127.0.0.1:0", Token: st.token, Limits: lim, Log: st.env.Log})
	if err := short.Start(); err != nil {
		t.Fatal(err)
	}
	defer short.Shutdown(context.Background())
	resp, err := http.Post(short.URL()+"api/login", "application/json", strings.NewReader(fmt.Sprintf(`{"token":%q}`, st.token)))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("login: %v %v", err, resp)
	}
	resp.Body.Close()
	kept := resp.Cookies()[0]
	metrics := func() int { // 404 (no tree, no metrics) while the session lives, 401 after
		req, _ := http.NewRequest("GET", short.URL()+"metrics", nil)
		req.AddCookie(kept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := metrics(); code != http.StatusNotFound {
		t.Fatalf("the fresh session: %d", code)
	}
	testkit.Eventually(t, 20*time.Second, "the session over at SessionMax", func() bool { return metrics() == http.StatusUnauthorized })

	// Over TLS the cookie is Secure: the same handler behind TLS, and
	// behind a proxy that terminates TLS.
	ts := httptest.NewUnstartedServer(st.srv.srv.Handler)
	ts.StartTLS()
	defer ts.Close()
	client := ts.Client()
	resp, err = client.Post(ts.URL+"/api/login", "application/json", strings.NewReader(fmt.Sprintf(`{"token":%q}`, st.token)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := resp.Cookies(); len(c) != 1 || !c[0].Secure || resp.TLS == nil {
		t.Errorf("cookie over TLS: %v", c)
	}
	resp2, _ := st.request("POST", "/api/login", fmt.Sprintf(`{"token":%q}`, st.token), map[string]string{"X-Forwarded-Proto": "https"})
	if c := resp2.Cookies(); len(c) != 1 || !c[0].Secure {
		t.Errorf("cookie behind a TLS proxy: %v", c)
	}
}

// statusWith is GET /api/status's code with the given headers; a session
// that has not ended is used (and kept alive) by it.
func (st *stack) statusWith(h map[string]string) int {
	resp, _ := st.request("GET", "/api/status", "", h)
	return resp.StatusCode
}

// TestLoginRateLimited: wrong tokens from one client are refused, logged
// (never the token, a few lines a minute at most) and, past a burst,
// slowed down: every wrong try gets 429 until the client's allowance
// refills. The right token is never refused for them
// (TestValidTokenNeverLockedOut).
func TestLoginRateLimited(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	lim := DefaultLimits()
	lim.LoginBurst = 5
	lim.LoginEvery = time.Second
	st := startStackWith(t, cams, nil, stackOptions{limits: lim})
	codes := map[int]int{}
	var retryAfter string
	for i := range 60 {
		wrong := fmt.Sprintf("wrong-token-%02d-xxxxxxxxxxxx", i)
		resp, _ := st.request("POST", "/api/login", fmt.Sprintf(`{"token":%q}`, wrong), nil)
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	if codes[401] < 5 || codes[401] > 10 || codes[429] < 50 {
		t.Errorf("60 wrong tokens at once answered %v: want the burst (5) refused with 401, the rest with 429", codes)
	}
	if retryAfter == "" {
		t.Error("429 without Retry-After")
	}
	// Limited: a bearer is no way around it; the right token passes.
	if resp, _ := st.request("GET", "/api/status", "", map[string]string{"Authorization": "Bearer wrong-token-bearer-xxxxxxxxx"}); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a wrong bearer while limited: %d, want 429", resp.StatusCode)
	}
	if resp, _ := st.request("POST", "/api/login", fmt.Sprintf(`{"token":%q}`, st.token), nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("the right token while limited: %d, want 204", resp.StatusCode)
	}
	// The allowance refills: a wrong token is a 401 again.
	testkit.Eventually(t, 20*time.Second, "a wrong token refused with 401 once the allowance refilled", func() bool {
		resp, _ := st.request("POST", "/api/login", `{"token":"wrong-token-after-xxxxxxxx"}`, nil)
		return resp.StatusCode == http.StatusUnauthorized
	})
	logs := st.logs()
	refused := strings.Count(logs, "wrong operator token refused")
	if refused < 1 || refused > refusalLogBurst+1 || !strings.Contains(logs, "operator token attempts rate-limited") {
		t.Errorf("%d refusals logged (want at most %d a minute), rate-limiting logged: %v", refused, refusalLogBurst, strings.Contains(logs, "rate-limited"))
	}
	if strings.Contains(logs, "wrong-token-") {
		t.Error("a tried token is in the log")
	}
}

// TestSlowClientsCannotHoldServer: idle keep-alive connections and
// clients trickling a request are cut off; a client that stops reading a
// backup download neither holds the backup lock (the next backup works at
// once) nor its connection for long, while one that reads slowly gets the
// whole copy; WebSockets are capped and an unanswering one is closed.
func TestSlowClientsCannotHoldServer(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"}, camsim.Camera{Name: "attic", Hang: true})
	lim := DefaultLimits()
	lim.ReadHeader, lim.Read, lim.Write, lim.Idle = 500*time.Millisecond, time.Second, time.Second, 500*time.Millisecond
	lim.Dashboards, lim.Ping = 2, 300*time.Millisecond
	st := startStackWith(t, cams, func(cfg *config.Config) { cfg.FFmpeg.CaptureTimeout = config.D(2500 * time.Millisecond) },
		stackOptions{limits: lim})

	t.Run("long answer", func(t *testing.T) {
		// A capture of a hung camera takes its capture_timeout, longer
		// than the read and write limits: it is still answered.
		resp, body := st.request("POST", "/api/cameras/attic/capture", "", map[string]string{"Authorization": "Bearer " + st.token})
		if resp.StatusCode != 200 || !strings.Contains(body, `"outcome": "timeout"`) {
			t.Errorf("capture of a hung camera: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		c := st.dial(t)
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("healthz: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		st.waitClosed(t, c, br, "an idle keep-alive connection")
	})
	t.Run("trickled header", func(t *testing.T) {
		c := st.dial(t)
		st.trickle(t, c, "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n")
	})
	t.Run("trickled body", func(t *testing.T) {
		c := st.dial(t)
		fmt.Fprintf(c, "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n")
		st.trickle(t, c, `{"token":"`+strings.Repeat("x", 380))
	})

	t.Run("backups", func(t *testing.T) {
		st.fillRecord(t, 24)
		get := func(srv *Server, c net.Conn) (*bufio.Reader, *http.Response) {
			fmt.Fprintf(c, "GET /api/db/backup HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n", st.token)
			br := bufio.NewReaderSize(c, 4096)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("backup: %v %v", err, resp)
			}
			return br, resp
		}
		// A client that stops reading holds neither the backup lock nor its
		// connection: the next backup is served while it is stuck (here on
		// a server whose write limit is long, so the stuck one is surely
		// still there), and it is cut off at the write limit (short here).
		logs := &testkit.SyncBuffer{}
		patient := New(Options{Listen: "127.0.0.1:0", DBPath: st.env.Config.DB, Token: st.token,
			Log: slog.New(slog.NewTextHandler(logs, nil)), Limits: &Limits{ReadHeader: time.Second, Read: time.Second, Write: 20 * time.Second, Idle: time.Second}})
		if err := patient.Start(); err != nil {
			t.Fatal(err)
		}
		defer patient.Shutdown(context.Background())
		dialTo := func(srv *Server) net.Conn {
			c, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}
		first := dialTo(patient)
		get(patient, first) // and never read
		_, next := get(patient, dialTo(patient))
		if strings.Contains(logs.String(), "abandoned") {
			t.Fatal("the stuck download had to be abandoned before the next backup was served")
		}
		out := filepath.Join(t.TempDir(), "next.db")
		f, _ := os.Create(out)
		if n, err := io.Copy(f, next.Body); err != nil || n != next.ContentLength {
			t.Fatalf("the next backup: %d of %d bytes: %v", n, next.ContentLength, err)
		}
		f.Close()
		if err := db.IntegrityCheck(context.Background(), out); err != nil {
			t.Fatal(err)
		}
		first.Close() // the patient server's write to it fails now: its Shutdown need not wait

		stuck := st.dial(t)
		_, resp := get(st.srv, stuck)
		// A client reading slowly, far longer than the write limit in all,
		// gets the whole copy: the limit is per chunk.
		_, slowResp := get(st.srv, st.dial(t))
		out = filepath.Join(t.TempDir(), "slow.db")
		f, _ = os.Create(out)
		start := time.Now()
		n, err := io.Copy(f, &slowReader{r: slowResp.Body, chunk: 1 << 20, pause: 150 * time.Millisecond})
		f.Close()
		if err != nil || n != slowResp.ContentLength {
			t.Fatalf("slow download: %d of %d bytes: %v", n, slowResp.ContentLength, err)
		}
		if took := time.Since(start); took < 2*lim.Write {
			t.Logf("the slow download took only %s: buffers held most of it", took)
		}
		if err := db.IntegrityCheck(context.Background(), out); err != nil {
			t.Fatal(err)
		}
		// The stuck client is cut off: its body ends short.
		stuck.SetReadDeadline(time.Now().Add(30 * time.Second))
		got, err := io.Copy(io.Discard, resp.Body)
		if got >= resp.ContentLength || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("the stuck download: %d of %d bytes (%v): want it cut off by the server", got, resp.ContentLength, err)
		}
		// HEAD takes no copy.
		before := backupsTaken(st)
		if resp, _ := st.request("HEAD", "/api/db/backup", "", map[string]string{"Authorization": "Bearer " + st.token}); resp.StatusCode != 200 ||
			resp.Header.Get("Content-Type") != "application/vnd.sqlite3" {
			t.Errorf("HEAD /api/db/backup: %d %v", resp.StatusCode, resp.Header)
		}
		if after := backupsTaken(st); after != before || before == 0 {
			t.Errorf("backups taken before HEAD %d, after %d: want HEAD to take none", before, after)
		}
	})

	t.Run("dashboards", func(t *testing.T) {
		u := "ws" + strings.TrimPrefix(st.srv.URL(), "http") + "ws"
		h := http.Header{"Authorization": {"Bearer " + st.token}}
		mark := st.facts.Mark()
		var open []*websocket.Conn
		for range 2 {
			c, _, err := websocket.DefaultDialer.Dial(u, h)
			if err != nil {
				t.Fatal(err)
			}
			open = append(open, c)
		}
		if c, resp, err := websocket.DefaultDialer.Dial(u, h); err == nil {
			c.Close()
			t.Error("a third dashboard was accepted, the cap is 2")
		} else if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("third dashboard: %v", err)
		}
		// The first answers pings (gorilla's reader does); the second is a
		// tab that froze: it reads nothing, so it answers no ping.
		go func() {
			for {
				if _, _, err := open[0].ReadMessage(); err != nil {
					return
				}
			}
		}()
		open[1].SetReadDeadline(time.Now().Add(time.Hour))
		raw := open[1].UnderlyingConn()
		testkit.Eventually(t, 15*time.Second, "the silent dashboard closed by the server", func() bool {
			return testkit.Count(st.facts, mark, func(e *messages.ClientLeft) bool { return true }) >= 1
		})
		raw.Close()
		// Its place is free again; the answering one is still there.
		c, _, err := websocket.DefaultDialer.Dial(u, h)
		if err != nil {
			t.Fatalf("a dashboard after the silent one left: %v", err)
		}
		c.Close()
		if err := open[0].WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
			t.Errorf("the answering dashboard was dropped: %v", err)
		}
		open[0].Close()
	})
}

// dial opens a raw connection to the server.
func (st *stack) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", st.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// trickle sends s one byte every 100 ms until the server closes the
// connection, which it must do long before s is sent.
func (st *stack) trickle(t *testing.T, c net.Conn, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < len(s); i++ {
		if time.Now().After(deadline) {
			break
		}
		if _, err := c.Write([]byte{s[i]}); err != nil {
			return // closed by the server
		}
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := c.Read(make([]byte, 512)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return // the server answered (408, 400) and closed, or just closed
		}
	}
	t.Fatalf("the server still reads a request trickled for %d bytes", len(s))
}

// waitClosed waits until the server closes c.
func (st *stack) waitClosed(t *testing.T, c net.Conn, br *bufio.Reader, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := br.ReadByte(); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s is still open after 20s", what)
	}
}

// fillRecord adds events with megabyte pictures: a record of that many MB.
func (st *stack) fillRecord(t *testing.T, mb int) {
	t.Helper()
	var rows []any
	for i := range mb {
		pic := make([]byte, 1<<20)
		rand.Read(pic)
		rows = append(rows, &messages.EventOpened{ID: int64(1_000_000 + i), Camera: "front", Subnet: "lab", At: time.Now(),
			Label: "filler", Score: 1, Detector: "motion", JPEG: pic})
	}
	if err := st.store.WriteBatch(st.env.RunRow, rows); err != nil {
		t.Fatal(err)
	}
}

// backupsTaken counts the backups the server logged as taken.
func backupsTaken(st *stack) int { return strings.Count(st.logs(), "record backup taken") }

// slowReader reads chunk bytes per pause: a client on a slow link.
type slowReader struct {
	r     io.Reader
	chunk int
	pause time.Duration
	left  int
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.left == 0 {
		time.Sleep(s.pause) // the slow link's pace, not a wait for a condition
		s.left = s.chunk
	}
	n, err := s.r.Read(p[:min(len(p), s.left)])
	s.left -= n
	return n, err
}

// TestHeadersMethodsAndBearer: every answer carries the content policy
// (frames from go2rtc's player only, never framed itself), X-Frame-Options
// and X-Content-Type-Options; the bearer scheme is read in any case; a
// known route asked with another method answers 405 with Allow.
func TestHeadersMethodsAndBearer(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	st := startStack(t, cams, func(cfg *config.Config) { cfg.Go2RTC.PlayerURL = "http://127.0.0.1:1984" })
	for _, path := range []string{"/", "/app.js", "/healthz", "/api/status", "/api/nope"} {
		resp, _ := st.request("GET", path, "", nil)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "frame-src http://127.0.0.1:1984", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", path, csp, want)
			}
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: X-Frame-Options %q, X-Content-Type-Options %q", path, h.Get("X-Frame-Options"), h.Get("X-Content-Type-Options"))
		}
	}
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		if resp, body := st.request("GET", "/api/status", "", map[string]string{"Authorization": scheme + " " + st.token}); resp.StatusCode != 200 {
			t.Errorf("Authorization: %s <token>: %d %s", scheme, resp.StatusCode, body)
		}
	}
	bearer := map[string]string{"Authorization": "Bearer " + st.token}
	for _, c := range []struct{ method, path, allow string }{
		{"POST", "/api/status", "GET, HEAD"},
		{"GET", "/api/cameras/front/capture", "POST"},
		{"PUT", "/api/cameras/front/live", "POST, DELETE"},
		{"DELETE", "/api/db/backup", "GET, HEAD"},
	} {
		resp, body := st.request(c.method, c.path, "", bearer)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != c.allow || !strings.Contains(body, `"error"`) {
			t.Errorf("%s %s: %d Allow %q %s, want 405 Allow %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), body, c.allow)
		}
	}
	if resp, _ := st.request("GET", "/api/nope", "", bearer); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/nope: %d, want 404", resp.StatusCode)
	}
	if resp, _ := st.request("POST", "/api/status", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /api/status without a token: %d, want 401", resp.StatusCode)
	}
}

// TestValidTokenNeverLockedOut: strangers' wrong tokens never lock the
// operator out. While one client (and every loopback address with it)
// floods the server with wrong tokens, and many other clients add theirs,
// the right token — as a bearer, through the login, and a session opened
// before — is accepted every time, on /api and /metrics; the wrong ones
// are refused with 429 and Retry-After once over the limit, per client and
// in total.
func TestValidTokenNeverLockedOut(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	lim := DefaultLimits()
	lim.LoginBurst, lim.LoginEvery = 3, 10*time.Second
	lim.LoginTotalBurst, lim.LoginTotalEvery = 20, 10*time.Second
	st := startStackWith(t, cams, nil, stackOptions{limits: lim})
	cookie := st.session()
	session := map[string]string{"Cookie": cookie.Name + "=" + cookie.Value}
	right := map[string]string{"Authorization": "Bearer " + st.token}
	wrong := map[string]string{"Authorization": "Bearer wrong-token-0123456789"}
	limited := 0
	for i := range 40 {
		resp, _ := st.request("GET", "/api/status", "", wrong)
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Errorf("429 with Retry-After %q", ra)
			}
		} else if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("wrong token %d: %d", i, resp.StatusCode)
		}
		for what, h := range map[string]map[string]string{"bearer": right, "session": session} {
			for _, path := range []string{"/api/status", "/metrics"} {
				if resp, body := st.request("GET", path, "", h); resp.StatusCode != http.StatusOK {
					t.Fatalf("the right %s on %s after %d wrong tokens: %d %s", what, path, i+1, resp.StatusCode, body)
				}
			}
		}
		if resp, body := st.request("POST", "/api/login", fmt.Sprintf(`{"token":%q}`, st.token), nil); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("login with the right token after %d wrong ones: %d %s", i+1, resp.StatusCode, body)
		}
	}
	if limited < 30 {
		t.Errorf("%d of 40 wrong tokens from one client refused with 429: want all but the burst", limited)
	}
	// Other clients (here other addresses through a handler of the same
	// server) share the total allowance: past it, a fresh client's wrong
	// token is limited too, while the right one still passes.
	h := st.srv.srv.Handler
	codes := map[int]int{}
	for i := range 60 {
		req := httptestRequest("GET", "/api/status", fmt.Sprintf("192.0.2.%d:5000", i%50+1), wrong)
		codes[serve(h, req).Code]++
	}
	if codes[http.StatusTooManyRequests] == 0 {
		t.Errorf("60 wrong tokens from 50 clients answered %v: want the total limit to refuse some", codes)
	}
	if rec := serve(h, httptestRequest("GET", "/api/status", "192.0.2.200:5000", right)); rec.Code != http.StatusOK {
		t.Errorf("the right token from a new client past the total limit: %d", rec.Code)
	}
	// Refusals are logged per client within a limit, not one line each.
	if n := strings.Count(st.logs(), "wrong operator token refused"); n > 20 {
		t.Errorf("%d refusal lines logged for 100 wrong tokens: want them summed up", n)
	}
}

// httptestRequest is a request as the server receives it from remote.
func httptestRequest(method, path, remote string, header map[string]string) *http.Request {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = remote
	req.Host = "127.0.0.1"
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// serve runs req through h and returns the answer.
func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestRefusalsLogBounded: what a stranger's refused requests cost the log
// is bounded: a forged Origin of 60 KiB is logged clipped, and a hundred
// refusals from one client are a few lines, the rest counted.
func TestRefusalsLogBounded(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	st := startStack(t, cams, nil)
	origin := "http://evil.example/" + strings.Repeat("A", 60<<10)
	for range 100 {
		if resp, _ := st.request("GET", "/api/status", "", map[string]string{"Origin": origin}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-origin request: %d", resp.StatusCode)
		}
	}
	logs := st.logs()
	if n := strings.Count(logs, "cross-origin request refused"); n < 1 || n > refusalLogBurst {
		t.Errorf("%d lines for 100 cross-origin refusals: want at most %d", n, refusalLogBurst)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "cross-origin") && len(line) > 2*maxLogged+400 {
			t.Errorf("a refusal's log line is %d bytes: the Origin was not clipped", len(line))
			break
		}
	}
}

// TestHostHeaderChecked (DNS rebinding): a page of attacker.example whose
// name the attacker points at 127.0.0.1 reaches this server as same-origin
// in the operator's browser, with the session cookie of 127.0.0.1 not
// sent but the API open to a bearer it phished, the dashboard, /ws and
// /healthz readable. Every request must name this server in its Host: the
// listen address (an IP address, localhost) or web.allowed_hosts (a
// proxy's name, with or without its port). Anything else is refused, in
// JSON, before any handler runs.
func TestHostHeaderChecked(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.Web.AllowedHosts = []string{"camvisor.example.org", "proxy.example:8443"}
	})
	_, port, _ := net.SplitHostPort(st.srv.Addr())
	bearer := map[string]string{"Authorization": "Bearer " + st.token}
	for host, ok := range map[string]bool{
		"127.0.0.1:" + port:            true,
		"localhost:" + port:            true,
		"LocalHost.:" + port:           true,
		"[::1]:" + port:                true,
		"127.0.0.1":                    true,
		"camvisor.example.org":         true,
		"camvisor.example.org:443":     true,
		"CAMVISOR.example.org":         true,
		"proxy.example:8443":           true,
		"proxy.example:9999":           false,
		"proxy.example":                false,
		"attacker.example:" + port:     false,
		"attacker.example":             false,
		"127.0.0.1.attacker.example":   false,
		"camvisor.example.org.evil.io": false,
		"":                             false,
	} {
		for _, path := range []string{"/api/status", "/", "/healthz", "/ws", "/metrics"} {
			resp, body := st.requestHost(path, host, bearer)
			if got := resp.StatusCode != http.StatusMisdirectedRequest; got != ok {
				t.Errorf("GET %s with Host %q: %d %.80s; allowed %v, want %v", path, host, resp.StatusCode, body, got, ok)
			}
			if !ok && (!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, "web.allowed_hosts")) {
				t.Errorf("GET %s with Host %q refused as %q: %.200s", path, host, resp.Header.Get("Content-Type"), body)
			}
		}
	}
	if !strings.Contains(st.logs(), "request for another host refused") {
		t.Error("the refused hosts are not in the log")
	}
}

// requestHost sends GET path naming host in its Host header, over a raw
// connection (Go's client would not send an empty one).
func (st *stack) requestHost(path, host string, header map[string]string) (*http.Response, string) {
	st.t.Helper()
	c := st.dial(st.t)
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", path, host)
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		st.t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		st.t.Fatalf("GET %s with Host %q: %v", path, host, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// TestTokenFileModeChecked: an existing <db>.token file that someone else
// owns, or that others may read or write, is refused at start with an
// error saying why and what to do; one camvisor wrote (0600, its own) is
// used; a new one is created 0600.
func TestTokenFileModeChecked(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "camvisor.db")
	token, created, err := LoadToken("", dbPath)
	if err != nil || !created || len(token) < 32 {
		t.Fatalf("first start: %q %v %v", token, created, err)
	}
	if st, err := os.Stat(dbPath + ".token"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("new token file: %v %v", st.Mode(), err)
	}
	if again, _, err := LoadToken("", dbPath); err != nil || again != token {
		t.Fatalf("the token file camvisor wrote: %q %v", again, err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o606, 0o666} {
		os.Chmod(dbPath+".token", mode)
		_, _, err := LoadToken("", dbPath)
		if err == nil || !strings.Contains(err.Error(), dbPath+".token") || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("token file of mode %v: %v, want a refusal naming the file and the fix", mode, err)
		}
	}
	os.Chmod(dbPath+".token", 0o600)
	// Owned by someone else: as root, give it away.
	if os.Getuid() == 0 {
		os.Chown(dbPath+".token", 65534, 65534)
		if _, _, err := LoadToken("", dbPath); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("token file owned by another user: %v", err)
		}
		os.Chown(dbPath+".token", 0, 0)
	}
	// A symbolic link is not followed to someone else's file.
	other := filepath.Join(dir, "elsewhere")
	os.WriteFile(other, []byte(strings.Repeat("x", 40)), 0o644)
	link := filepath.Join(dir, "linked.db")
	os.Symlink(other, link+".token")
	if _, _, err := LoadToken("", link); err == nil {
		t.Error("a token file that is a symbolic link to a world-readable file was used")
	}
	// A configured token needs no file.
	if tok, _, err := LoadToken("configured-token-0123456789", filepath.Join(dir, "none.db")); err != nil || tok != "configured-token-0123456789" {
		t.Errorf("configured token: %q %v", tok, err)
	}
}

// TestEventPicturesNotCached: an event's picture is sent no-store: what
// the cameras saw does not outlive a sign-out in the browser's cache.
func TestEventPicturesNotCached(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	st := startStack(t, cams, nil)
	if err := st.store.WriteBatch(st.env.RunRow, []any{&messages.EventOpened{ID: 4711, Camera: "front", Subnet: "lab", At: time.Now(),
		Label: "motion", Score: 1, Detector: "motion", JPEG: []byte("\xff\xd8 a picture \xff\xd9")}}); err != nil {
		t.Fatal(err)
	}
	resp, _ := st.do("GET", "/api/events/4711/snapshot.jpg", nil, true)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("event picture: %d, Cache-Control %q, want no-store", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
}
