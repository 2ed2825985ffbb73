package go2rtctest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// playerHTML is stream.html: it plays ?src= over the WebSocket /api/ws on
// the same host, showing each JPEG frame the stand-in sends. It loads
// nothing from elsewhere, and the stand-in sends no frame-blocking header,
// so a dashboard can put it in an iframe.
const playerHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>go2rtc stand-in player</title>
<style>body{margin:0;background:#000;color:#ccc;font:14px sans-serif}img{display:block;max-width:100%}</style>
</head>
<body>
<div id="status">connecting</div>
<img id="frame" alt="">
<script>
"use strict";
const src = new URLSearchParams(location.search).get("src") || "";
const status = document.getElementById("status");
const img = document.getElementById("frame");
const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const ws = new WebSocket(scheme + "//" + location.host + "/api/ws?src=" + encodeURIComponent(src));
ws.binaryType = "blob";
ws.onopen = () => { status.textContent = "playing " + src; };
ws.onmessage = (ev) => {
  if (typeof ev.data === "string") {
    const msg = JSON.parse(ev.data);
    if (msg.type === "error") status.textContent = "error: " + msg.value;
    return;
  }
  const old = img.src;
  img.src = URL.createObjectURL(ev.data);
  if (old) URL.revokeObjectURL(old);
};
ws.onclose = () => { status.textContent = "stopped " + src; };
</script>
</body>
</html>
`

// servePlayer is /stream.html. Like go2rtc's static page it is served
// whatever src names; the WebSocket is what finds the stream.
func (s *Server) servePlayer(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, playerHTML)
}

// wsMessage is a text message on the WebSocket, in go2rtc's shape.
type wsMessage struct {
	Type  string `json:"type"`
	Value string `json:"value,omitempty"`
}

// serveViewer is /api/ws: a viewer attached to the stream for as long as
// its WebSocket is open. It sends {"type":"mjpeg"} and then every frame as
// a binary message, as go2rtc's mjpeg mode does; when the camera fails it
// sends {"type":"error"} and closes.
func (s *Server) serveViewer(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		// go2rtc refuses cross-origin WebSockets unless api: origin: "*".
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		_, _ = s.upgrader.Upgrade(w, r, nil) // answers 400 the way go2rtc's does
		return
	}
	name := r.URL.Query().Get("src")
	c := newConsumer(r, "mjpeg", "ws")
	if !s.attach(w, name, c) {
		return
	}
	defer s.detach(c)

	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	defer ws.Close()
	if !s.addViewer(ws) {
		return
	}
	defer s.removeViewer(ws)

	stop := make(chan struct{})
	fed := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(fed)
		feedViewer(ws, c, stop)
	}()
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			break
		}
	}
	ws.Close() // unblocks a write to a viewer that went away
	s.detach(c)
	close(stop)
	<-fed
}

// feedViewer writes c's frames to ws until stop closes or the camera fails.
// It is the WebSocket's only writer.
func feedViewer(ws *websocket.Conn, c *consumer, stop <-chan struct{}) {
	write := func(kind int, b []byte) error {
		_ = ws.SetWriteDeadline(time.Now().Add(viewerWriteTimeout))
		return ws.WriteMessage(kind, b)
	}
	text := func(m wsMessage) error {
		b, _ := json.Marshal(m)
		return write(websocket.TextMessage, b)
	}
	if text(wsMessage{Type: "mjpeg"}) != nil {
		return
	}
	for {
		select {
		case <-stop:
			return
		case frame := <-c.frames:
			if write(websocket.BinaryMessage, frame) != nil {
				return
			}
		case <-c.prod.done:
			_ = text(wsMessage{Type: "error", Value: c.prod.err.Error()})
			_ = ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseInternalServerErr, "camera failed"),
				time.Now().Add(time.Second))
			ws.Close() // ends the reader, which detaches c
			return
		}
	}
}

// addViewer registers an open WebSocket so Down can close it; false when
// Down has begun, in which case the caller closes it.
func (s *Server) addViewer(ws *websocket.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return false
	}
	s.viewers[ws] = struct{}{}
	return true
}

func (s *Server) removeViewer(ws *websocket.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.viewers, ws)
}

// sameOrigin accepts a WebSocket from a page of the same host, or from a
// client that sends no Origin (not a browser), as gorilla/websocket's
// default check and go2rtc do.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}
