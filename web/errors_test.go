package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/testkit"

	"github.com/gorilla/websocket"
)

// TestAPIErrorsAreJSON: every error the API answers is JSON {"error":
// "…"}, whoever writes it — a handler, the router (405 with Allow, for
// OPTIONS and unknown methods too, on /ws and /metrics as on /api), the
// WebSocket library (a request that is not an upgrade) — and a login body
// is read strictly: unknown keys, a key twice, a key in another case and
// anything after the object are refused.
func TestAPIErrorsAreJSON(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	st := startStack(t, cams, nil)
	bearer := map[string]string{"Authorization": "Bearer " + st.token}
	type want struct {
		method, path, body string
		header             map[string]string
		code               int
		allow              string
	}
	login := func(body string) want {
		return want{"POST", "/api/login", body, map[string]string{"Content-Type": "application/json"}, http.StatusBadRequest, ""}
	}
	cases := []want{
		{"OPTIONS", "/api/status", "", bearer, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"OPTIONS", "/api/cameras/front/capture", "", bearer, http.StatusMethodNotAllowed, "POST"},
		{"OPTIONS", "/api/login", "", nil, http.StatusMethodNotAllowed, "POST"},
		{"PATCH", "/api/status", "", bearer, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"FROB", "/api/status", "", bearer, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"POST", "/ws", "", bearer, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"OPTIONS", "/ws", "", bearer, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"PUT", "/metrics", "", bearer, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"DELETE", "/healthz", "", nil, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"POST", "/", "", nil, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"GET", "/ws", "", bearer, http.StatusBadRequest, ""}, // not an upgrade: the WebSocket library refuses it
		{"GET", "/ws", "", map[string]string{"Authorization": "Bearer " + st.token, "Connection": "upgrade", "Upgrade": "websocket",
			"Sec-WebSocket-Version": "7"}, http.StatusBadRequest, ""},
		{"GET", "/api/nope", "", bearer, http.StatusNotFound, ""},
		{"GET", "/api/cameras/nope/snapshot.jpg", "", bearer, http.StatusNotFound, ""},
		{"GET", "/api/events?limit=0", "", bearer, http.StatusBadRequest, ""},
		{"GET", "/api/status", "", nil, http.StatusUnauthorized, ""},
		{"POST", "/api/login", strings.Repeat("x", 70<<10), map[string]string{"Content-Type": "application/json"}, http.StatusRequestEntityTooLarge, ""},
		login(fmt.Sprintf(`{"token":%q} trailing`, st.token)),
		login(fmt.Sprintf(`{"token":%q}{"token":%q}`, st.token, st.token)),
		login(fmt.Sprintf(`{"token":"wrong-token-wrong-token","token":%q}`, st.token)),
		login(fmt.Sprintf(`{"Token":%q}`, st.token)),
		login(fmt.Sprintf(`{"TOKEN":%q}`, st.token)),
		login(fmt.Sprintf(`{"token":%q,"admin":true}`, st.token)),
		login(fmt.Sprintf(`[%q]`, st.token)),
		login(`{"token":1}`),
	}
	for _, c := range cases {
		resp, body := st.request(c.method, c.path, c.body, c.header)
		var e struct {
			Error string `json:"error"`
		}
		what := fmt.Sprintf("%s %s %.60q", c.method, c.path, c.body)
		switch {
		case resp.StatusCode != c.code:
			t.Errorf("%s: %d %s, want %d", what, resp.StatusCode, body, c.code)
		case !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"):
			t.Errorf("%s: %d as %q: %q", what, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		case json.Unmarshal([]byte(body), &e) != nil || e.Error == "":
			t.Errorf("%s: %d %q is not {\"error\": …}", what, resp.StatusCode, body)
		case c.allow != "" && resp.Header.Get("Allow") != c.allow:
			t.Errorf("%s: Allow %q, want %q", what, resp.Header.Get("Allow"), c.allow)
		}
		if len(resp.Cookies()) > 0 {
			t.Errorf("%s: set a cookie", what)
		}
	}
	// The strict reading refuses nothing a dashboard sends.
	if resp, body := st.request("POST", "/api/login", fmt.Sprintf(" {\"token\": %q}\n", st.token), nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("a well-formed login: %d %s", resp.StatusCode, body)
	}
}

// TestWebSocketRefusesBinaryFrames: a binary frame, even one holding a
// message the dashboard may send as text, closes the connection with the
// reason, as API.md says.
func TestWebSocketRefusesBinaryFrames(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	st := startStack(t, cams, nil)
	d := st.connect(false)
	if err := d.conn.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	d.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := d.conn.ReadMessage()
		var ce *websocket.CloseError
		switch {
		case errors.As(err, &ce):
			if ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, "binary") {
				t.Errorf("closed with %d %q: want a policy violation naming the binary frame", ce.Code, ce.Text)
			}
			return
		case err != nil:
			t.Fatalf("the connection ended without a close frame: %v", err)
		case strings.Contains(string(data), `"pong"`):
			t.Fatal("a binary ping was answered")
		}
	}
}
