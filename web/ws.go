package web

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// maxClientMessage bounds what a dashboard may send in one message.
const maxClientMessage = 4096

// ws upgrades a dashboard's connection and hands it to the hub, which owns
// it from then on. At most Limits.Dashboards are open at once; each is
// pinged, and closed when it answers nothing for two pings, or when its
// session is revoked.
func (s *Server) ws(w http.ResponseWriter, r *http.Request) {
	if n := s.dashboards.Add(1); int(n) > s.lim.Dashboards {
		s.dashboards.Add(-1)
		writeError(w, http.StatusServiceUnavailable, "too many dashboards connected; close one and retry")
		return
	}
	counted := true
	defer func() {
		if counted {
			s.dashboards.Add(-1)
		}
	}()
	up := websocket.Upgrader{ReadBufferSize: maxClientMessage, WriteBufferSize: 16 << 10, CheckOrigin: sameOrigin,
		// The library's own refusals (not an upgrade, a bad version, another
		// origin) are errors of the API: JSON like the rest.
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			writeError(w, status, "websocket: "+reason.Error())
		}}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered (403 for another origin)
	}
	conn.SetReadLimit(maxClientMessage)
	sock := &dashboardSocket{Conn: conn, srv: s, session: sessionOf(r), ping: s.lim.Ping, done: make(chan struct{})}
	counted = false // the socket's Close uncounts it
	if sock.session != "" && !s.sessions.attach(sock.session, sock) {
		sock.Close() // revoked meanwhile
		return
	}
	sock.start()
	// The request's context ends with this handler; the socket is the
	// hub's from here, so its handing over has a budget of its own.
	ctx, cancel := context.WithTimeout(context.Background(), s.lim.Join)
	defer cancel()
	if err := s.opts.Tree.Join(ctx, sock, r.RemoteAddr); err != nil {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "server busy"), time.Now().Add(time.Second))
		sock.Close()
	}
}

// dashboardSocket is a dashboard's WebSocket as the hub gets it: pinged
// every ping, given up on when nothing (a message or a pong) came for two
// pings, counted while open.
type dashboardSocket struct {
	*websocket.Conn
	srv     *Server
	session string
	ping    time.Duration
	once    sync.Once
	done    chan struct{}
}

func (d *dashboardSocket) start() {
	d.alive()
	d.SetPongHandler(func(string) error { d.alive(); return nil })
	go func() {
		t := time.NewTicker(d.ping)
		defer t.Stop()
		for {
			select {
			case <-d.done:
				return
			case <-t.C:
				// WriteControl may run beside the hub's writes (gorilla allows it).
				if err := d.WriteControl(websocket.PingMessage, nil, time.Now().Add(d.ping)); err != nil {
					return
				}
			}
		}
	}()
}

// alive pushes the read deadline on: the dashboard answered.
func (d *dashboardSocket) alive() { _ = d.SetReadDeadline(time.Now().Add(2 * d.ping)) }

// ReadMessage is the connection's, with the deadline pushed on by every
// message.
func (d *dashboardSocket) ReadMessage() (int, []byte, error) {
	t, data, err := d.Conn.ReadMessage()
	if err == nil {
		d.alive()
	}
	return t, data, err
}

// Close closes the connection once, stops its pinger and uncounts it.
func (d *dashboardSocket) Close() error {
	d.once.Do(func() {
		close(d.done)
		d.srv.dashboards.Add(-1)
		if d.session != "" {
			d.srv.sessions.detach(d.session, d)
		}
	})
	return d.Conn.Close()
}

// sameOrigin accepts a WebSocket opened by a page of this server (or by a
// client that sends no Origin, which no browser does).
func sameOrigin(r *http.Request) bool { return !crossOrigin(r) }
