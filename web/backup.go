package web

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"camvisor/db"
)

// backupChunk is what one write of a download may take Limits.Write for:
// a client reading at 10 KiB/s is served, one that stopped is cut off.
const backupChunk = 256 << 10

// dbBackup streams a consistent copy of the record as a download: the same
// copy `camvisor db backup` writes (VACUUM INTO, checked), taken while the
// server keeps writing. One copy is taken at a time; the next may start as
// soon as this one is on disk, whoever reads it and however slowly. HEAD
// answers the headers without taking a copy.
func (s *Server) dbBackup(w http.ResponseWriter, r *http.Request) {
	if s.opts.DBPath == "" {
		writeError(w, http.StatusNotFound, "this server keeps no record")
		return
	}
	name := "camvisor-" + time.Now().UTC().Format("20060102T150405Z") + ".db"
	w.Header().Set("Content-Type", "application/vnd.sqlite3")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	// Taking the copy may take long on a big record: no deadline while it
	// runs (a client that leaves still cancels it); then one per chunk.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	started := time.Now()
	f, err := s.takeBackup(r, name)
	if err != nil {
		w.Header().Del("Content-Disposition")
		s.extend(w, 0)
		if r.Context().Err() == nil {
			s.opts.Log.Error("backup failed", "reason", err.Error())
			writeError(w, http.StatusInternalServerError, err.Error())
		}
		return
	}
	defer os.RemoveAll(filepath.Dir(f.Name()))
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "backup: "+err.Error())
		return
	}
	s.opts.Log.Info("record backup taken", "bytes", st.Size(), "took", time.Since(started).Round(time.Millisecond).String(), "remote", r.RemoteAddr)
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	s.extend(w, 0)
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, backupChunk)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			s.extend(w, 0)
			if _, werr := w.Write(buf[:n]); werr != nil {
				s.opts.Log.Warn("backup download abandoned", "remote", r.RemoteAddr, "reason", werr.Error())
				return
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			s.opts.Log.Error("backup download", "reason", err.Error())
			return
		}
	}
}

// takeBackup writes the copy into a private temporary folder under the
// backup lock, which it releases before the copy is streamed.
func (s *Server) takeBackup(r *http.Request, name string) (*os.File, error) {
	select {
	case s.backup <- struct{}{}:
		defer func() { <-s.backup }()
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	dir, err := os.MkdirTemp("", "camvisor-backup-")
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	path := filepath.Join(dir, name)
	if err := db.Backup(r.Context(), s.opts.DBPath, path); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("backup: %w", err)
	}
	return f, nil
}
