package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"camvisor/db"
)

// events lists event history, newest first: for the event list only. It
// never starts playback (invariant 4): history is not a live decision.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	q := db.EventQuery{Camera: query.Get("camera"), Label: query.Get("label"), Limit: 100}
	if v := query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: %q must be a number from 1 to 1000", v))
			return
		}
		q.Limit = n
	}
	if v := query.Get("since"); v != "" {
		t, err := db.ParseSince(v, time.Now())
		if err != nil {
			writeError(w, http.StatusBadRequest, "since: "+err.Error())
			return
		}
		q.Since = t
	}
	fromRecord(s, w, func(st *db.Store) (eventsAnswer, error) {
		rows, err := st.Events(q)
		return eventsAnswer{Events: convert(rows, func(e db.Event) event {
			return event{ID: e.ID, Camera: e.Camera, Subnet: e.Subnet, At: e.At, LastSeen: e.LastSeen, Label: e.Label,
				Score: e.Score, Box: [4]int{e.XMin, e.YMin, e.XMax, e.YMax}, Detections: e.Detections, Detector: e.Detector,
				Snapshot: fmt.Sprintf("/api/events/%d/snapshot.jpg", e.ID)}
		})}, err
	})
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
	jpeg, err := store.EventSnapshot(id)
	switch {
	case errors.Is(err, db.ErrNotFound):
		writeError(w, http.StatusNotFound, strings.TrimSuffix(err.Error(), ": "+db.ErrNotFound.Error()))
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "no-store") // what the cameras saw does not outlive a sign-out in the browser's cache
	_, _ = w.Write(jpeg)
}
