package web

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"camvisor/db"
)

// dbBackup streams a consistent copy of the record as a download: the same
// copy `camvisor db backup` writes (VACUUM INTO, checked), taken while the
// server keeps writing.
func (s *Server) dbBackup(w http.ResponseWriter, r *http.Request) {
	if s.opts.DBPath == "" {
		writeError(w, http.StatusNotFound, "this server keeps no record")
		return
	}
	select {
	case s.backup <- struct{}{}:
		defer func() { <-s.backup }()
	case <-r.Context().Done():
		return
	}
	dir, err := os.MkdirTemp("", "camvisor-backup-")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "backup: "+err.Error())
		return
	}
	defer os.RemoveAll(dir)
	name := "camvisor-" + time.Now().UTC().Format("20060102T150405Z") + ".db"
	path := filepath.Join(dir, name)
	if err := db.Backup(r.Context(), s.opts.DBPath, path); err != nil {
		s.opts.Log.Error("backup failed", "reason", err.Error())
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	f, err := os.Open(path)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "backup: "+err.Error())
		return
	}
	defer f.Close()
	st, _ := f.Stat()
	w.Header().Set("Content-Type", "application/vnd.sqlite3")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	http.ServeContent(w, r, name, st.ModTime(), f)
}
