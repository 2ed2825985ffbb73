package web

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"camvisor/actors"
	"camvisor/actors/config"
	"camvisor/actors/detect"
)

// Pauses from the API: POST /api/cameras/{id}/pause {"for": "1h",
// "reason": "…"} and POST /api/cameras/{id}/resume. Who asked is recorded
// with the pause, as the API knows the caller (caller).

// Bounds of a pause asked through the API: longer ones are what
// cameras[].enabled: false is for.
const (
	minPause     = time.Second
	maxPause     = 30 * 24 * time.Hour
	maxReasonLen = 500
)

// pauseRequest is the body of POST /api/cameras/{id}/pause.
type pauseRequest struct {
	For    string `json:"for"`
	Reason string `json:"reason"`
}

// pause pauses a camera and answers once its processes are gone.
func (s *Server) pause(w http.ResponseWriter, r *http.Request) {
	c, ok := s.camera(w, r)
	if !ok || !bodyOK(w, r, true) {
		return
	}
	var req pauseRequest
	if err := decodeBody(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	d, err := config.ParseDuration(req.For)
	switch {
	case req.For == "":
		writeError(w, http.StatusBadRequest, `for: how long to pause, like "1h" or "30m", is required`)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "for: "+err.Error())
		return
	case d < minPause || d > maxPause:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("for: %q is not from %s to %s (30d); to stop patrolling a camera for good, set enabled: false in the configuration", req.For, minPause, "720h"))
		return
	}
	reason := strings.TrimSpace(req.Reason)
	if utf8.RuneCountInString(reason) > maxReasonLen || strings.ContainsFunc(reason, func(r rune) bool { return r < ' ' && r != '\t' }) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("reason: at most %d characters on one line", maxReasonLen))
		return
	}
	wait := s.opts.Tree.ReloadBudget() // stopping a camera for a pause is a reload's retirement
	s.extend(w, wait)
	ctx, cancel := askCtx(r, wait)
	defer cancel()
	who := caller(r)
	p, err := s.opts.Tree.PauseCamera(ctx, c.ID, d, reason, who)
	if err != nil && p == nil {
		writePauseError(w, err)
		return
	}
	if err != nil { // paused, but a process outlived it: say so loudly
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.opts.Log.Info("camera paused from the API", "camera", c.ID, "who", who, "remote", r.RemoteAddr, "for", d.String())
	writeJSON(w, http.StatusOK, pauseResult{Camera: c.ID, Paused: true, Pause: pauseOf(&p.Pause), Killed: p.Killed})
}

// resume ends a camera's pause.
func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	c, ok := s.camera(w, r)
	if !ok {
		return
	}
	ctx, cancel := askCtx(r, s.lim.Question)
	defer cancel()
	who := caller(r)
	ended, err := s.opts.Tree.ResumeCamera(ctx, c.ID, who)
	if err != nil {
		writePauseError(w, err)
		return
	}
	s.opts.Log.Info("camera resumed from the API", "camera", c.ID, "who", who, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, resumeResult{Camera: c.ID, Paused: false, Ended: pauseOf(ended)})
}

// writePauseError answers a refused pause or resume.
func writePauseError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, actors.ErrUnknownCamera):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, actors.ErrCameraDisabled), errors.Is(err, actors.ErrNotPaused):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, actors.ErrNotRunning):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	default:
		writeError(w, http.StatusGatewayTimeout, err.Error())
	}
}

// caller names who made a request, as the API knows callers: a
// dashboard's sign-in ("session " and the first 8 hex digits of its id's
// SHA-256: the id itself is a credential), or the operator token
// ("token"); "anonymous" on a server without a token.
func caller(r *http.Request) string {
	if id := sessionOf(r); id != "" {
		sum := sha256.Sum256([]byte(id))
		return "session " + hex.EncodeToString(sum[:4])
	}
	if _, ok := bearer(r); ok {
		return "token"
	}
	return "anonymous"
}

// motionOf is camera c's motion settings in effect, null with an http
// detector.
func (s *Server) motionOf(c config.SubnetCamera) *motionAnswer {
	if s.config().Detector.Kind != "motion" {
		return nil
	}
	d := detect.DefaultMotionOptions()
	out := &motionAnswer{Threshold: int(d.PixelThreshold), MinArea: d.MinArea, Masks: [][]float64{}}
	if c.Motion.Threshold > 0 {
		out.Threshold = c.Motion.Threshold
	}
	if c.Motion.MinArea > 0 {
		out.MinArea = c.Motion.MinArea
	}
	if len(c.Motion.Masks) > 0 {
		out.Masks = c.Motion.Masks
	}
	return out
}
