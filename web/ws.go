package web

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
)

// maxClientMessage bounds what a dashboard may send in one message.
const maxClientMessage = 4096

// ws upgrades a dashboard's connection and hands it to the hub, which owns
// it from then on.
func (s *Server) ws(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{ReadBufferSize: maxClientMessage, WriteBufferSize: 16 << 10, CheckOrigin: sameOrigin}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered (403 for another origin)
	}
	conn.SetReadLimit(maxClientMessage)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.opts.Tree.Join(ctx, conn, r.RemoteAddr); err != nil {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "server busy"), time.Now().Add(time.Second))
		conn.Close()
	}
}

// sameOrigin accepts a WebSocket opened by a page of this server (or by a
// client that sends no Origin, which no browser does).
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}
