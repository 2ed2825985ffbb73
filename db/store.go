// Package db is camvisor's incident record: one SQLite file in WAL mode,
// versioned migrations embedded in the binary, the batch writer the
// recorder actor drives, online backup, retention and the incident report.
// Every column is documented in SCHEMA.md.
package db

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
)

// writerDriver is SQLite with the settings every writing connection
// needs that a DSN cannot carry.
const writerDriver = "sqlite3_camvisor"

// JournalSizeLimit bounds the WAL file left after a checkpoint: without
// it, a burst of writes (a retention pass, a reload of thousands of
// cameras) leaves a WAL as large as the burst for good.
const JournalSizeLimit = 64 << 20

func init() {
	sql.Register(writerDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA journal_size_limit = "+strconv.Itoa(JournalSizeLimit), nil)
		return err
	}})
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations are the schema steps in order; the file at index i brings the
// schema to version i+1 (PRAGMA user_version).
var migrations = loadMigrations()

// SchemaVersion is the schema this binary writes.
var SchemaVersion = len(migrations)

// Store is an open record file.
type Store struct {
	DB   *sqlx.DB
	Path string

	writer    bool      // opened by Open: optimized at close
	optimized time.Time // the last PRAGMA optimize; used by the writer only
}

// ErrNewerSchema is returned for a file written by a newer camvisor.
var ErrNewerSchema = errors.New("database schema is newer than this camvisor")

// ErrNotSQLite is returned for a file that is not a SQLite database.
var ErrNotSQLite = errors.New("not a SQLite database")

// Open opens (creating if needed) the record at path for writing and
// migrates it to SchemaVersion. A file that is not SQLite or is newer than
// this binary is refused before anything is written to it.
func Open(path string) (*Store, error) {
	if err := checkPath(path, true); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err == nil {
		if v, err := probeVersion(path); err != nil {
			return nil, err
		} else if v > SchemaVersion {
			return nil, fmt.Errorf("%s: %w: file has schema %d, this binary knows up to %d; use a newer camvisor, the file is left untouched", path, ErrNewerSchema, v, SchemaVersion)
		}
	}
	if err := private(path); err != nil {
		return nil, err
	}
	// auto_vacuum takes effect on a new file here; an older file is
	// converted once by migrate (VACUUM). The writer's statements are kept
	// prepared (_stmt_cache_size): the recorder runs the same few INSERTs
	// all day, and preparing each anew was a third of a batch's cost
	// (BenchmarkOwnCostPerCapture's profile).
	dsn := path + "?_auto_vacuum=incremental&_journal_mode=WAL&_busy_timeout=5000&_foreign_keys=on&_synchronous=NORMAL&_txlock=immediate&_stmt_cache_size=64"
	db, err := sqlx.Open(writerDriver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One connection: the recorder is the only writer, and SQLite allows one
	// writer at a time anyway. Readers open their own Store.
	db.SetMaxOpenConns(1)
	s := &Store{DB: db, Path: path, writer: true}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// FileMode is the mode of the record, its -wal and -shm files and its
// backups: they hold event pictures, camera users and hosts; only
// camvisor's user may read them.
const FileMode = 0o600

// private creates the record owner-only before SQLite does (SQLite gives
// the -wal and -shm files the database file's mode), and takes group and
// other access away from a record an earlier camvisor created wider.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(p, perm&0o700); err != nil {
				return fmt.Errorf("%s is readable by other users (%v) and cannot be made private: %w", p, perm, err)
			}
		}
	}
	return nil
}

// OpenReadOnly opens an existing record for reading (report, backup)
// without migrating or changing it.
func OpenReadOnly(path string) (*Store, error) {
	if err := checkPath(path, false); err != nil {
		return nil, err
	}
	v, err := probeVersion(path)
	if err != nil {
		return nil, err
	}
	if v > SchemaVersion {
		return nil, fmt.Errorf("%s: %w: file has schema %d, this binary knows up to %d", path, ErrNewerSchema, v, SchemaVersion)
	}
	if v == 0 {
		return nil, fmt.Errorf("%s: not a camvisor record (schema version 0)", path)
	}
	db, err := sqlx.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Store{DB: db, Path: path}, nil
}

// Close closes the file; a writer runs PRAGMA optimize first, as SQLite
// advises, so the query planner's statistics follow the data.
func (s *Store) Close() error {
	if s.writer {
		_, _ = s.DB.Exec("PRAGMA optimize")
	}
	return s.DB.Close()
}

// Compact gives the pages that deletions freed back to the file system
// (PRAGMA incremental_vacuum) and checkpoints the WAL so the file really
// shrinks; every optimizeEvery it also runs PRAGMA optimize. The recorder
// calls it after each retention pass. A reader holding the WAL open only
// delays the shrink to the next pass.
func (s *Store) Compact(optimizeEvery time.Duration) (freed int64, err error) {
	var before, after, pageSize int64
	if err := s.DB.Get(&pageSize, "PRAGMA page_size"); err != nil {
		return 0, fmt.Errorf("compact: %w", err)
	}
	_ = s.DB.Get(&before, "PRAGMA page_count")
	// The pragma frees one page per row it returns: every row must be read.
	rows, err := s.DB.Query("PRAGMA incremental_vacuum")
	if err != nil {
		return 0, fmt.Errorf("compact: incremental_vacuum: %w", err)
	}
	for rows.Next() {
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("compact: incremental_vacuum: %w", err)
	}
	_ = s.DB.Get(&after, "PRAGMA page_count")
	if _, err := s.DB.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return (before - after) * pageSize, fmt.Errorf("compact: checkpoint: %w", err)
	}
	if time.Since(s.optimized) >= optimizeEvery {
		s.optimized = time.Now()
		if _, err := s.DB.Exec("PRAGMA optimize"); err != nil {
			return (before - after) * pageSize, fmt.Errorf("compact: optimize: %w", err)
		}
	}
	return (before - after) * pageSize, nil
}

// Size is the record's size on disk: the file and its WAL.
func (s *Store) Size() int64 {
	var n int64
	for _, p := range []string{s.Path, s.Path + "-wal"} {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return n
}

// Version is the file's schema version.
func (s *Store) Version() (int, error) {
	var v int
	err := s.DB.Get(&v, "PRAGMA user_version")
	return v, err
}

// checkPath refuses what SQLite would report obscurely: a directory, a
// file that is not SQLite, a directory camvisor may not write in.
func checkPath(path string, write bool) error {
	if path == "" {
		return errors.New("no database path given")
	}
	if strings.ContainsAny(path, "?#") {
		return fmt.Errorf("database path %q: '?' and '#' are not allowed", path)
	}
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return fmt.Errorf("%s is a directory, not a database file", path)
	case err == nil:
		if err := checkHeader(path); err != nil {
			return err
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("database %s: %w", path, err)
	case !write:
		return fmt.Errorf("database %s does not exist", path)
	}
	if write {
		dir := filepath.Dir(path)
		// WAL mode needs the -wal and -shm files next to the database.
		if err := syscall.Access(dir, 2 /* W_OK */); err != nil {
			return fmt.Errorf("database directory %s is not writable (%v): camvisor needs to create %s-wal and %s-shm there", dir, err, filepath.Base(path), filepath.Base(path))
		}
		if err == nil && st != nil && st.Mode().Perm()&0o200 == 0 {
			return fmt.Errorf("database %s is read-only", path)
		}
	}
	return nil
}

// checkHeader reads SQLite's 16-byte magic; an empty file is a new one.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("database %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, 16)
	n, err := io.ReadFull(f, head)
	if n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
		return nil
	}
	if err != nil || !bytes.Equal(head, []byte("SQLite format 3\x00")) {
		return fmt.Errorf("%s: %w (its first bytes are not SQLite's header); refusing to touch it", path, ErrNotSQLite)
	}
	return nil
}

// probeVersion reads user_version through a read-only connection, which
// cannot alter the file (not even its journal mode).
func probeVersion(path string) (int, error) {
	db, err := sqlx.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	var v int
	if err := db.Get(&v, "PRAGMA user_version"); err != nil {
		return 0, fmt.Errorf("%s: %w: %v", path, ErrNotSQLite, err)
	}
	return v, nil
}

// migrate applies every migration above the file's version, each in its
// own transaction together with the new user_version.
func (s *Store) migrate() error {
	v, err := s.Version()
	if err != nil {
		return fmt.Errorf("%s: %w: %v", s.Path, ErrNotSQLite, err)
	}
	if v > SchemaVersion {
		return fmt.Errorf("%s: %w (%d > %d)", s.Path, ErrNewerSchema, v, SchemaVersion)
	}
	if err := s.migrateTo(v, SchemaVersion); err != nil {
		return err
	}
	return s.incrementalVacuum()
}

// incrementalVacuum converts a file made before version 9 to
// auto_vacuum=INCREMENTAL, so that retention can give space back: the
// mode changes only with a VACUUM, which rewrites the file once (and
// needs as much free disk space as the file takes).
func (s *Store) incrementalVacuum() error {
	var mode int
	if err := s.DB.Get(&mode, "PRAGMA auto_vacuum"); err != nil {
		return fmt.Errorf("%s: auto_vacuum: %w", s.Path, err)
	}
	if mode == 2 {
		return nil
	}
	if _, err := s.DB.Exec("PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
		return fmt.Errorf("%s: auto_vacuum: %w", s.Path, err)
	}
	if _, err := s.DB.Exec("VACUUM"); err != nil {
		return fmt.Errorf("%s: converting to incremental vacuum (VACUUM): %w", s.Path, err)
	}
	return nil
}

// migrateTo applies migrations from version from to version to.
func (s *Store) migrateTo(from, to int) error {
	for i := from; i < to; i++ {
		ctx := context.Background()
		tx, err := s.DB.BeginTxx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate %s to %d: %w", s.Path, i+1, err)
		}
		if _, err := tx.Exec(migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s to %d: %w", s.Path, i+1, err)
		}
		if _, err := tx.Exec("PRAGMA user_version = " + strconv.Itoa(i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s to %d: %w", s.Path, i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate %s to %d: %w", s.Path, i+1, err)
		}
	}
	return nil
}

func loadMigrations() []string {
	entries, err := migrationFS.ReadDir("migrations")
	if err != nil {
		panic(err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for i, name := range names {
		if want := fmt.Sprintf("%04d_", i+1); !strings.HasPrefix(name, want) {
			panic(fmt.Sprintf("migration %s out of sequence: want prefix %s", name, want))
		}
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			panic(err)
		}
		out = append(out, string(b))
	}
	return out
}
