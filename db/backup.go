package db

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the record at src to dst while the
// server may be writing to src: SQLite's VACUUM INTO reads one snapshot
// (every transaction committed before it began, none after) and writes an
// ordinary single-file database (not WAL), ready to copy and open with the
// sqlite3 tool. dst must not exist. The copy is checked with
// PRAGMA integrity_check before Backup returns.
func Backup(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("backup: %s already exists; choose a new file", dst)
	}
	s, err := OpenReadOnly(src)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer s.Close()
	return s.BackupTo(ctx, dst)
}

// BackupTo writes a consistent copy of this store to dst (see Backup),
// readable by its owner only (FileMode), as the record is.
func (s *Store) BackupTo(ctx context.Context, dst string) error {
	abs, err := filepath.Abs(dst)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// VACUUM INTO writes into an empty file as into a new one, and keeps
	// its mode.
	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f.Close()
	if _, err := s.DB.ExecContext(ctx, "VACUUM INTO ?", abs); err != nil {
		os.Remove(abs)
		return fmt.Errorf("backup %s to %s: %w", s.Path, dst, err)
	}
	if err := IntegrityCheck(ctx, abs); err != nil {
		os.Remove(abs)
		return fmt.Errorf("backup %s to %s: the copy failed its check: %w", s.Path, dst, err)
	}
	return nil
}

// ErrCorrupt is returned when PRAGMA integrity_check does not say ok.
var ErrCorrupt = errors.New("integrity check failed")

// IntegrityCheck runs PRAGMA integrity_check on the file at path.
func IntegrityCheck(ctx context.Context, path string) error {
	s, err := OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer s.Close()
	var res []string
	if err := s.DB.SelectContext(ctx, &res, "PRAGMA integrity_check"); err != nil {
		return fmt.Errorf("integrity check %s: %w", path, err)
	}
	if len(res) != 1 || res[0] != "ok" {
		return fmt.Errorf("%s: %w: %v", path, ErrCorrupt, res)
	}
	return nil
}
