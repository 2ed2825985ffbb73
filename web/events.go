package web

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"camvisor/actors/config"
	"camvisor/db"
)

// event is one row of GET /api/events.
type event struct {
	ID         int64   `json:"id" db:"id"`
	Camera     string  `json:"camera" db:"camera"`
	Subnet     string  `json:"subnet" db:"subnet"`
	At         string  `json:"at" db:"at"`
	LastSeen   string  `json:"last_seen" db:"last_seen"`
	Label      string  `json:"label" db:"label"`
	Score      float64 `json:"score" db:"score"`
	XMin       int     `json:"-" db:"x_min"`
	YMin       int     `json:"-" db:"y_min"`
	XMax       int     `json:"-" db:"x_max"`
	YMax       int     `json:"-" db:"y_max"`
	Box        [4]int  `json:"box" db:"-"`
	Detections int     `json:"detections" db:"detections"`
	Detector   string  `json:"detector" db:"detector"`
	Snapshot   string  `json:"snapshot" db:"-"`
}

// events lists event history, newest first: for the event list only. It
// never starts playback (invariant 4): history is not a live decision.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	store, err := s.reader()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: %q must be a number from 1 to 1000", v))
			return
		}
		limit = n
	}
	since := ""
	if v := q.Get("since"); v != "" {
		t, err := config.ParseSince(v, time.Now())
		if err != nil {
			writeError(w, http.StatusBadRequest, "since: "+err.Error())
			return
		}
		since = t.UTC().Format(db.TimeFormat)
	}
	var out []event
	err = store.DB.Select(&out, `SELECT id, camera, subnet, at, last_seen, label, score, x_min, y_min, x_max, y_max, detections, detector
		FROM events WHERE at >= ? AND (? = '' OR camera = ?) AND (? = '' OR label = ?) ORDER BY at DESC, id DESC LIMIT ?`,
		since, q.Get("camera"), q.Get("camera"), q.Get("label"), q.Get("label"), limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "events: "+err.Error())
		return
	}
	for i := range out {
		e := &out[i]
		e.Box = [4]int{e.XMin, e.YMin, e.XMax, e.YMax}
		e.Snapshot = fmt.Sprintf("/api/events/%d/snapshot.jpg", e.ID)
	}
	if out == nil {
		out = []event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
}

// snapshot serves the frame that opened an event.
func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("event id: %q is not a number", r.PathValue("id")))
		return
	}
	store, err := s.reader()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	var jpeg []byte
	err = store.DB.Get(&jpeg, `SELECT snapshot FROM events WHERE id = ?`, id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		writeError(w, http.StatusNotFound, fmt.Sprintf("no event %d (or pruned by retention)", id))
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	case len(jpeg) == 0:
		writeError(w, http.StatusNotFound, fmt.Sprintf("event %d has no snapshot", id))
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "private, max-age=86400")
	_, _ = w.Write(jpeg)
}
