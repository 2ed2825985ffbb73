package go2rtctest

import (
	"net/http"
	"strconv"
)

// serveFrame is /api/frame.jpeg: the next frame of the stream's camera,
// read from the shared connection (dialled for this request when nobody
// watches). Like go2rtc it answers a camera failure with 200 and nothing
// else, and waits without limit on a camera that stops sending.
func (s *Server) serveFrame(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("src")
	c := newConsumer(r, "jpeg", "http")
	if !s.attach(w, name, c) {
		return
	}
	defer s.detach(c)

	select {
	case frame := <-c.frames:
		s.detach(c) // go2rtc lets go of the stream before writing
		h := w.Header()
		h.Set("Content-Type", "image/jpeg")
		h.Set("Content-Length", strconv.Itoa(len(frame)))
		h.Set("Cache-Control", "no-cache")
		h.Set("Connection", "close")
		h.Set("Pragma", "no-cache")
		_, _ = w.Write(frame)
	case <-c.prod.done:
		// The camera refused or never answered: 200, empty, no Content-Type.
	case <-r.Context().Done():
		panic(http.ErrAbortHandler) // the client gave up, or Down
	}
}
