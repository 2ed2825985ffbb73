package camsim

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Server serves simulated cameras over RTSP on one listener and, when
// Options.HTTPAddr is set, the stats and control API on another. It is safe
// for concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	lib     *library
	nonce   string // Digest nonce, one per server
	rtspLn  net.Listener
	httpLn  net.Listener
	httpSrv *http.Server
	wg      sync.WaitGroup // every goroutine the server starts

	mu     sync.Mutex
	closed bool
	cams   map[string]*camera
	conns  map[*conn]struct{}
}

// New checks opts, listens on its addresses and starts serving.
func New(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("camsim: %w", err)
	}
	for _, addr := range []string{opts.RTSPAddr, opts.HTTPAddr} {
		if addr == "" || opts.AllowRemote {
			continue
		}
		if err := checkLoopback(addr); err != nil {
			return nil, fmt.Errorf("camsim: %w", err)
		}
	}
	lib, err := newLibrary(opts.Width, opts.Height, opts.Quality, opts.FFmpeg)
	if err != nil {
		return nil, fmt.Errorf("camsim: %w", err)
	}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	s := &Server{
		opts:  opts,
		log:   opts.Logger,
		lib:   lib,
		nonce: hex.EncodeToString(nonce),
		cams:  make(map[string]*camera, len(opts.Cameras)),
		conns: make(map[*conn]struct{}),
	}
	for _, c := range opts.Cameras {
		if err := s.AddCamera(c); err != nil {
			return nil, fmt.Errorf("camsim: %w", err)
		}
	}
	// H.264 loops are encoded now, once per picture setting, so the first
	// client of a camera does not wait for an encoder; cameras added later
	// encode theirs on first use.
	for _, c := range s.Cameras() {
		if c.Codec != CodecH264 {
			continue
		}
		k := streamKeyOf(c)
		if _, err := lib.h264Loop(h264Key{mode: k.mode, fps: k.fps, gopFrames: k.gop}); err != nil {
			return nil, fmt.Errorf("camsim: camera %s: %w", c.Name, err)
		}
	}
	s.rtspLn, err = net.Listen("tcp", opts.RTSPAddr)
	if err != nil {
		return nil, fmt.Errorf("camsim: listen rtsp %s: %w", opts.RTSPAddr, err)
	}
	if opts.HTTPAddr != "" {
		s.httpLn, err = net.Listen("tcp", opts.HTTPAddr)
		if err != nil {
			s.rtspLn.Close()
			return nil, fmt.Errorf("camsim: listen http %s: %w", opts.HTTPAddr, err)
		}
		s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http server stopped", "reason", err)
			}
		}()
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// checkLoopback refuses addresses other hosts could reach.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("listen address %q is not loopback; allow remote clients explicitly (-allow-remote, Options.AllowRemote)", addr)
}

// RTSPAddr is the address RTSP is served on, with the real port.
func (s *Server) RTSPAddr() string { return s.rtspLn.Addr().String() }

// HTTPAddr is the address of the stats and control API, or "" when it is
// not served.
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// URL is the RTSP URL of a camera, with the server's credentials if any.
func (s *Server) URL(name string) string {
	u := url.URL{Scheme: "rtsp", Host: s.RTSPAddr(), Path: "/" + name}
	if s.opts.User != "" {
		u.User = url.UserPassword(s.opts.User, s.opts.Pass)
	}
	return u.String()
}

// Close stops listening, closes every connection and waits until every
// goroutine of the server has returned.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	err := s.rtspLn.Close()
	if s.httpSrv != nil {
		if herr := s.httpSrv.Close(); herr != nil && err == nil {
			err = herr
		}
	}
	for _, c := range conns {
		c.nc.Close()
	}
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("camsim: close: %w", err)
	}
	return nil
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.rtspLn.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little rather
			// than spin.
			s.log.Warn("rtsp accept failed", "reason", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go c.serve()
	}
}

// forget drops a finished connection from the set Close closes.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) camera(name string) *camera {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cams[name]
}

// AddCamera starts serving a camera. Until someone connects it costs a map
// entry.
func (s *Server) AddCamera(c Camera) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("add camera: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLocked(c)
}

func (s *Server) addLocked(c Camera) error {
	if s.closed {
		return fmt.Errorf("add camera %s: %w", c.Name, ErrClosed)
	}
	if _, ok := s.cams[c.Name]; ok {
		return fmt.Errorf("add camera %s: %w", c.Name, ErrCameraExists)
	}
	s.cams[c.Name] = &camera{srv: s, name: c.Name, cfg: c.withDefaults(s.opts)}
	return nil
}

// Update changes some of a camera's fields. Connections already open keep
// the behaviour they started with; new connections see the new one.
func (s *Server) Update(name string, p CameraPatch) error {
	cam := s.camera(name)
	if cam == nil {
		return fmt.Errorf("update camera %s: %w", name, ErrNoCamera)
	}
	return cam.update(p)
}

// upsert updates a camera, or creates it from the patch if it does not
// exist, and reports whether it created it.
func (s *Server) upsert(name string, p CameraPatch) (created bool, err error) {
	s.mu.Lock()
	cam := s.cams[name]
	if cam == nil {
		defer s.mu.Unlock()
		c := p.Apply(Camera{Name: name})
		if err := c.Validate(); err != nil {
			return false, fmt.Errorf("add camera: %w", err)
		}
		return true, s.addLocked(c)
	}
	s.mu.Unlock()
	return false, cam.update(p)
}

// RemoveCamera stops serving a camera and closes its connections.
func (s *Server) RemoveCamera(name string) error {
	s.mu.Lock()
	cam := s.cams[name]
	delete(s.cams, name)
	s.mu.Unlock()
	if cam == nil {
		return fmt.Errorf("remove camera %s: %w", name, ErrNoCamera)
	}
	cam.remove()
	return nil
}

// Camera returns a camera's current configuration, with defaults filled in.
func (s *Server) Camera(name string) (Camera, bool) {
	cam := s.camera(name)
	if cam == nil {
		return Camera{}, false
	}
	cam.mu.Lock()
	defer cam.mu.Unlock()
	return cam.cfg, true
}

// Cameras returns every camera's configuration, sorted by name.
func (s *Server) Cameras() []Camera {
	var out []Camera
	for _, cam := range s.cameraList() {
		cam.mu.Lock()
		out = append(out, cam.cfg)
		cam.mu.Unlock()
	}
	return out
}

func (s *Server) cameraList() []*camera {
	s.mu.Lock()
	list := make([]*camera, 0, len(s.cams))
	for _, cam := range s.cams {
		list = append(list, cam)
	}
	s.mu.Unlock()
	slices.SortFunc(list, func(a, b *camera) int { return strings.Compare(a.name, b.name) })
	return list
}

// MeanAbsDiff is how far a decoded picture a is from a reference b (a
// Still), as the mean absolute difference of their RGB channels over the
// area they share, in levels of 255 (0: the same picture).
func MeanAbsDiff(a image.Image, b *image.RGBA) float64 {
	var sum float64
	n := 0
	r := a.Bounds().Intersect(b.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ar, ag, ab, _ := a.At(x, y).RGBA()
			c := b.RGBAAt(x, y)
			sum += math.Abs(float64(ar>>8)-float64(c.R)) + math.Abs(float64(ag>>8)-float64(c.G)) + math.Abs(float64(ab>>8)-float64(c.B))
			n += 3
		}
	}
	return sum / float64(max(n, 1))
}

// Still returns the picture a static camera shows, as drawn before it was
// encoded (JPEG or H.264): tests compare what a client decoded with it
// (MeanAbsDiff).
func (s *Server) Still(name string) (*image.RGBA, error) {
	c, ok := s.Camera(name)
	if !ok {
		return nil, fmt.Errorf("still of %s: %w", name, ErrNoCamera)
	}
	if c.Mode != ModeStatic {
		return nil, fmt.Errorf("still of %s: mode is %s; only a static camera shows one picture", name, c.Mode)
	}
	if c.Codec == CodecH264 {
		k := streamKeyOf(c)
		loop, err := s.lib.h264Loop(h264Key{mode: k.mode, fps: k.fps, gopFrames: k.gop})
		if err != nil {
			return nil, fmt.Errorf("still of %s: %w", name, err)
		}
		return loop.still, nil
	}
	img := image.NewRGBA(image.Rect(0, 0, s.lib.w, s.lib.h))
	s.lib.drawBackground(img)
	drawBand(img, nameRow*mcuSide, name)
	return img, nil
}

// Stats returns a camera's connection counts; the zero value for a camera
// that does not exist.
func (s *Server) Stats(name string) CameraStats {
	cam := s.camera(name)
	if cam == nil {
		return CameraStats{}
	}
	return cam.stats()
}

// AllStats returns every camera's connection counts by name.
func (s *Server) AllStats() map[string]CameraStats {
	list := s.cameraList()
	out := make(map[string]CameraStats, len(list))
	for _, cam := range list {
		out[cam.name] = cam.stats()
	}
	return out
}

// ResetStats sets every camera's MaxOpen to its Open and Total and Refused
// to zero.
func (s *Server) ResetStats() {
	for _, cam := range s.cameraList() {
		cam.resetStats()
	}
}

// ResetCameraStats does what ResetStats does for one camera.
func (s *Server) ResetCameraStats(name string) error {
	cam := s.camera(name)
	if cam == nil {
		return fmt.Errorf("reset stats of %s: %w", name, ErrNoCamera)
	}
	cam.resetStats()
	return nil
}
