package camsim

import (
	"fmt"
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// CameraStats are a camera's own connection counts, the numbers tests trust.
type CameraStats struct {
	// Open connections now: from the first request naming the camera until
	// the server sees the connection closed.
	Open int `json:"open"`
	// MaxOpen is the most connections open at once since start or reset.
	MaxOpen int `json:"max_open"`
	// Total connections admitted (hanging ones included, refused ones not).
	Total int `json:"total"`
	// Refused connections: answered 453 over MaxConnections, or reset
	// because the camera refuses.
	Refused int `json:"refused"`

	MaxConnections int      `json:"max_connections"`
	Faults         string   `json:"faults"`
	Mode           Mode     `json:"mode"`
	FPS            int      `json:"fps"`
	Codec          Codec    `json:"codec"`
	GOP            Duration `json:"gop,omitempty"` // H.264 only
	Clock          bool     `json:"clock,omitempty"`
}

// camera is the server's state for one simulated camera. A camera nobody
// watches holds no goroutine and no picture.
type camera struct {
	srv  *Server
	name string

	mu       sync.Mutex
	cfg      Camera
	removed  bool
	open     int
	maxOpen  int
	total    int
	refused  int
	conns    map[*conn]struct{}    // admitted and still open
	streams  map[streamKey]*stream // running senders, by picture settings
	nameBand strip                 // encoded on first PLAY
}

// admission is what a camera decides about a new connection.
type admission int

const (
	admitted admission = iota
	admittedToHang
	refusedFull  // over MaxConnections: answer 453 and close
	refusedReset // the camera is down: reset the connection
	refusedGone  // the camera was removed meanwhile
)

// admit counts a new connection in or out and returns the configuration it
// will see for its whole life.
func (cam *camera) admit(c *conn) (admission, Camera) {
	cam.mu.Lock()
	defer cam.mu.Unlock()
	cfg := cam.cfg
	cam.releaseClosedLocked()
	switch {
	case cam.removed:
		return refusedGone, cfg
	case cfg.Refuse:
		cam.refused++
		return refusedReset, cfg
	case cfg.MaxConnections > 0 && cam.open >= cfg.MaxConnections:
		cam.refused++
		return refusedFull, cfg
	}
	cam.open++
	cam.total++
	cam.maxOpen = max(cam.maxOpen, cam.open)
	if cam.conns == nil {
		cam.conns = make(map[*conn]struct{})
	}
	cam.conns[c] = struct{}{}
	if cfg.Hang {
		return admittedToHang, cfg
	}
	return admitted, cfg
}

// releaseClosedLocked releases the connections whose client has already
// closed them: the FIN is in, the reader has not seen it yet. A camera
// handles events in the order they arrive, so a close that came before a
// new connection frees its place first (and is not counted in MaxOpen
// beside it); camsim's goroutines may see them in either order, and
// without this would refuse a client that stayed within the limit. A
// connection the client still holds open is never released here. The
// caller holds cam.mu.
func (cam *camera) releaseClosedLocked() {
	for c := range cam.conns {
		if peerClosed(c.nc) {
			delete(cam.conns, c)
			cam.open--
			_ = c.nc.Close() // its reader ends; finish finds it released
		}
	}
}

// peerClosed reports whether nc is closed: by the other end (the kernel
// holds its FIN: TCP state CLOSE_WAIT or later), or already on our side
// (its reader saw the end and is about to release it).
func peerClosed(nc net.Conn) bool {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	err = raw.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return
		}
		switch info.State {
		case tcpCloseWait, tcpLastAck, tcpClose:
			closed = true
		}
	})
	return closed || err != nil
}

// TCP states of Linux's tcp_info (include/net/tcp_states.h).
const (
	tcpClose     = 7
	tcpCloseWait = 8
	tcpLastAck   = 9
)

// release counts an admitted connection as closed.
func (cam *camera) release(c *conn) {
	cam.mu.Lock()
	defer cam.mu.Unlock()
	if _, ok := cam.conns[c]; ok {
		delete(cam.conns, c)
		cam.open--
	}
}

func (cam *camera) stats() CameraStats {
	cam.mu.Lock()
	defer cam.mu.Unlock()
	return CameraStats{
		Open:           cam.open,
		MaxOpen:        cam.maxOpen,
		Total:          cam.total,
		Refused:        cam.refused,
		MaxConnections: cam.cfg.MaxConnections,
		Faults:         cam.cfg.Faults(),
		Mode:           cam.cfg.Mode,
		FPS:            cam.cfg.FPS,
		Codec:          cam.cfg.Codec,
		GOP:            cam.gopShown(),
		Clock:          cam.cfg.Clock,
	}
}

// gopShown is the GOP of an H.264 camera, for stats; 0 for MJPEG.
func (cam *camera) gopShown() Duration {
	if cam.cfg.Codec != CodecH264 {
		return 0
	}
	return cam.cfg.GOP
}

// hung reports whether the camera hangs now: set at run time, it holds
// the connections it has too.
func (cam *camera) hung() bool {
	cam.mu.Lock()
	defer cam.mu.Unlock()
	return cam.cfg.Hang
}

func (cam *camera) resetStats() {
	cam.mu.Lock()
	defer cam.mu.Unlock()
	cam.maxOpen = cam.open
	cam.total = 0
	cam.refused = 0
}

func (cam *camera) update(p CameraPatch) error {
	cam.mu.Lock()
	defer cam.mu.Unlock()
	next := p.Apply(cam.cfg)
	if err := next.Validate(); err != nil {
		return fmt.Errorf("update camera: %w", err)
	}
	cam.cfg = next.withDefaults(cam.srv.opts)
	return nil
}

// remove marks the camera gone and closes its connections; their readers
// then release them.
func (cam *camera) remove() {
	cam.mu.Lock()
	cam.removed = true
	conns := make([]*conn, 0, len(cam.conns))
	for c := range cam.conns {
		conns = append(conns, c)
	}
	cam.mu.Unlock()
	for _, c := range conns {
		c.nc.Close()
	}
}

// subscribe adds a playing connection to the sender for its picture
// settings, starting the sender if it is the first, and hands it the latest
// frame at once so a snapshot does not wait a frame interval.
func (cam *camera) subscribe(c *conn, key streamKey) (*stream, error) {
	cam.mu.Lock()
	defer cam.mu.Unlock()
	if cam.removed {
		return nil, fmt.Errorf("play %s: %w", cam.name, ErrNoCamera)
	}
	st := cam.streams[key]
	if st == nil {
		if cam.streams == nil {
			cam.streams = make(map[streamKey]*stream)
		}
		st = newStream(cam, key)
		cam.streams[key] = st
		cam.srv.wg.Add(1)
		go st.run()
	}
	st.subs[c] = struct{}{}
	if st.last.pic != nil {
		c.offer(st.last)
	}
	return st, nil
}

// unsubscribe removes a connection from its sender and stops the sender
// when nobody is left watching.
func (cam *camera) unsubscribe(c *conn, st *stream) {
	cam.mu.Lock()
	defer cam.mu.Unlock()
	delete(st.subs, c)
	if len(st.subs) == 0 {
		close(st.stop)
		if cam.streams[st.key] == st {
			delete(cam.streams, st.key)
		}
	}
}

// nameStrip returns the band with the camera's name, encoding it once.
func (cam *camera) nameStrip() (strip, error) {
	cam.mu.Lock()
	s := cam.nameBand
	cam.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := cam.srv.lib.band(cam.name)
	if err != nil {
		return nil, err
	}
	cam.mu.Lock()
	cam.nameBand = s
	cam.mu.Unlock()
	return s, nil
}
