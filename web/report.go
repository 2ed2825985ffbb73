package web

import (
	"bytes"
	"errors"
	"net/http"
	"time"

	"camvisor/db"
)

// reportHTML is GET /api/report.html: the incident report as pictures for
// the live record, read through the API's read-only connection. The page
// is one self-contained file; the response forbids it to fetch anything,
// so what works here works from disk.
func (s *Server) reportHTML(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := db.ReportOptions{Camera: q.Get("camera")}
	if v := q.Get("since"); v != "" {
		t, err := db.ParseSince(v, time.Now())
		if err != nil {
			writeError(w, http.StatusBadRequest, "since: "+err.Error())
			return
		}
		opts.Since = t
	}
	store, err := s.reader()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	var page bytes.Buffer
	if err := store.HTMLReport(&page, opts); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, db.ErrUnknownCamera) {
			status = http.StatusBadRequest
		}
		writeError(w, status, err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("Content-Disposition", `inline; filename="camvisor-report-`+time.Now().UTC().Format("20060102T150405Z")+`.html"`)
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(page.Bytes())
}
