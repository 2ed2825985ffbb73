package go2rtctest

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Viewer is a live viewer of a stream, as a browser's go2rtc player is: a
// WebSocket client of /api/ws that reads whatever the stand-in sends until
// it is closed.
type Viewer struct {
	ws     *websocket.Conn
	done   chan struct{}
	mu     sync.Mutex
	frames int
	texts  []string
	closer sync.Once
}

// DialViewer opens /api/ws?src=name; on a refused handshake it returns the
// HTTP status.
func (s *Server) DialViewer(name string, header http.Header) (*Viewer, int, error) {
	u := "ws" + strings.TrimPrefix(s.URL(), "http") + "/api/ws?" + url.Values{"src": {name}}.Encode()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(u, header)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
			resp.Body.Close()
		}
		return nil, code, err
	}
	v := &Viewer{ws: ws, done: make(chan struct{})}
	go v.read()
	return v, http.StatusSwitchingProtocols, nil
}

// Watch attaches a viewer that must be accepted, and closes it when the
// test ends.
func (s *Server) Watch(t testing.TB, name string) *Viewer {
	t.Helper()
	v, code, err := s.DialViewer(name, nil)
	if err != nil {
		t.Fatalf("watch %s: status %d: %v", name, code, err)
	}
	t.Cleanup(v.Close)
	return v
}

func (v *Viewer) read() {
	defer close(v.done)
	for {
		kind, b, err := v.ws.ReadMessage()
		if err != nil {
			return
		}
		v.mu.Lock()
		if kind == websocket.BinaryMessage {
			v.frames++
		} else {
			v.texts = append(v.texts, string(b))
		}
		v.mu.Unlock()
	}
}

// Received returns how many frames and which text messages came so far.
func (v *Viewer) Received() (int, []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.frames, append([]string(nil), v.texts...)
}

// Close ends the WebSocket as a browser leaving the page would, and waits
// for the reader.
func (v *Viewer) Close() {
	v.closer.Do(func() {
		_ = v.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
		_ = v.ws.Close()
		<-v.done
	})
}
