package go2rtctest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"camvisor/actors/camsim"
)

// consumer is one viewer or frame.jpeg request attached to a stream object.
type consumer struct {
	id        int
	st        *stream
	prod      *producer // the camera connection it reads; fixed at attach
	format    string    // format_name in the stream's JSON
	protocol  string
	remote    string
	userAgent string
	frames    chan []byte // holds the newest frame not yet taken
}

// newConsumer describes a consumer of r; attachLocked binds it to a stream.
func newConsumer(r *http.Request, format, protocol string) *consumer {
	return &consumer{
		format:    format,
		protocol:  protocol,
		remote:    r.RemoteAddr,
		userAgent: r.UserAgent(),
		frames:    make(chan []byte, 1),
	}
}

// producer is one RTSP connection to a camera, shared by the consumers of
// one stream object.
type producer struct {
	st     *stream
	cancel context.CancelFunc
	client *camsim.Client // the connection once dialled; guarded by Server.mu
	src    string         // the stream's source it dialled, as registered; guarded by Server.mu
	listed producerJSON   // what the listing shows of it while connected; guarded by Server.mu
	bytes  int64          // frame bytes received; guarded by Server.mu
	done   chan struct{}  // closed when the connection failed or was closed
	err    error          // why it ended; set before done is closed
}

// Consumers returns how many viewers and frame.jpeg requests are attached
// now to stream objects of that name, old ones (deleted or replaced while
// watched) included.
func (s *Server) Consumers(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.attached {
		if c.st.name == name {
			n++
		}
	}
	return n
}

// Connections returns how many RTSP connections the stand-in holds now to
// the camera of the stream objects of that name, old ones included, counting
// one still being dialled.
func (s *Server) Connections(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for p := range s.producers {
		if p.st.name == name {
			n++
		}
	}
	return n
}

// attach adds c to the stream called name, or answers go2rtc's 404 and
// reports false when there is none.
func (s *Server) attach(w http.ResponseWriter, name string, c *consumer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[name]
	if st == nil {
		http.Error(w, errNotFound, http.StatusNotFound)
		return false
	}
	s.attachLocked(st, c)
	return true
}

// attachLocked adds c to st, dialling the camera when st has no connection.
// The caller holds s.mu and runs on a goroutine s.wg counts.
func (s *Server) attachLocked(st *stream, c *consumer) {
	if st.prod == nil {
		st.prod = s.startProducerLocked(st)
	}
	s.consumerN++
	c.id = s.consumerN
	c.st, c.prod = st, st.prod
	st.consumers = append(st.consumers, c)
	s.attached[c] = struct{}{}
}

// detach removes c from its stream and closes the stream's camera connection
// at once when c was the last consumer (go2rtc takes about 60 ms). Detaching
// twice is harmless.
func (s *Server) detach(c *consumer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.attached[c]; !ok {
		return
	}
	delete(s.attached, c)
	st := c.st
	st.consumers = slices.DeleteFunc(st.consumers, func(x *consumer) bool { return x == c })
	if len(st.consumers) == 0 && st.prod != nil {
		// go2rtc stops the producer inside RemoveConsumer: the camera
		// connection is closed before frame.jpeg writes its answer.
		st.prod.cancel()
		if st.prod.client != nil {
			_ = st.prod.client.Close()
		}
		st.prod = nil
	}
}

// startProducerLocked starts dialling st's camera. The caller holds s.mu.
func (s *Server) startProducerLocked(st *stream) *producer {
	ctx, cancel := context.WithCancel(context.Background())
	p := &producer{st: st, cancel: cancel, done: make(chan struct{})}
	s.producers[p] = struct{}{}
	s.wg.Add(1)
	go s.runProducer(ctx, p, slices.Clone(st.urls))
	return p
}

// runProducer owns one camera connection: it dials, hands every frame to the
// consumers attached to it, and closes the connection when ctx ends or the
// camera fails.
func (s *Server) runProducer(ctx context.Context, p *producer, urls []string) {
	defer s.wg.Done()
	client, src, listed, err := s.dial(ctx, urls)
	if err != nil {
		s.endProducer(p, err)
		return
	}
	s.mu.Lock()
	p.client, p.src, p.listed = client, src, listed
	s.mu.Unlock()
	for {
		frame, err := client.NextFrame(ctx)
		if err != nil {
			_ = client.Close()
			s.endProducer(p, err)
			return
		}
		s.broadcast(p, frame)
	}
}

// dial connects to the first source that answers, giving each
// DialTimeout, as go2rtc tries a stream's producers in order. It returns
// the source it dialled and how the listing shows it connected.
func (s *Server) dial(ctx context.Context, urls []string) (*camsim.Client, string, producerJSON, error) {
	var errs []error
	for _, u := range urls {
		target, listed, ok := s.resolve(u)
		if !ok {
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout)
		c, err := camsim.Dial(dctx, target)
		cancel()
		if err == nil {
			return c, u, listed, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, "", producerJSON{}, errors.New("go2rtc stand-in: no source it can dial (rtsp, rtsps, rtspx, ffmpeg:<rtsp URL>, or tapo/onvif of a Device)")
	}
	return nil, "", producerJSON{}, fmt.Errorf("go2rtc stand-in: %w", errors.Join(errs...))
}

// endProducer forgets p, whose connection is closed, records why it ended
// and tells its consumers; the next consumer of the stream dials again.
// Connections stops counting p before any consumer hears of it.
func (s *Server) endProducer(p *producer, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.producers, p)
	if p.st.prod == p {
		p.st.prod = nil
	}
	p.err = err
	if !errors.Is(err, context.Canceled) && len(s.dialErrs) < 100 {
		s.dialErrs = append(s.dialErrs, time.Now().Format("15:04:05.000")+" "+p.st.name+": "+err.Error())
	}
	close(p.done)
}

// broadcast offers a frame to every consumer reading p, replacing a frame a
// slow consumer has not taken yet.
func (s *Server) broadcast(p *producer, frame []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.bytes += int64(len(frame))
	for _, c := range p.st.consumers {
		if c.prod != p {
			continue
		}
		select {
		case <-c.frames:
		default:
		}
		c.frames <- frame // cannot block: only this goroutine sends, under s.mu
	}
}
