package db

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"camvisor/messages"

	"github.com/jmoiron/sqlx"
)

// tables every version of the schema has at the latest version.
var wantTables = []string{"runs", "cameras", "cycles", "captures", "processes", "process_samples",
	"leases", "go2rtc_streams", "service_health", "events"}

func TestMigrateFromEveryVersion(t *testing.T) {
	for from := 0; from <= SchemaVersion; from++ {
		path := filepath.Join(t.TempDir(), "r.db")
		if from > 0 {
			raw, err := sqlx.Open("sqlite3", path)
			if err != nil {
				t.Fatal(err)
			}
			s := &Store{DB: raw, Path: path}
			if err := s.migrateTo(0, from); err != nil {
				t.Fatalf("build version %d: %v", from, err)
			}
			raw.Close()
		}
		s, err := Open(path)
		if err != nil {
			t.Fatalf("from version %d: %v", from, err)
		}
		if v, _ := s.Version(); v != SchemaVersion {
			t.Errorf("from %d: version %d, want %d", from, v, SchemaVersion)
		}
		for _, table := range wantTables {
			var n int
			if err := s.DB.Get(&n, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table); err != nil || n != 1 {
				t.Errorf("from %d: table %s missing (%v)", from, table, err)
			}
		}
		var mode string
		if err := s.DB.Get(&mode, "PRAGMA journal_mode"); err != nil || mode != "wal" {
			t.Errorf("journal mode %q (%v), want wal", mode, err)
		}
		s.Close()
	}
}

// untouched fails t if path's bytes changed while f ran.
func untouched(t *testing.T, path string, f func()) {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("%s was modified", path)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Errorf("%s-wal was created", path)
	}
}

func TestRefusesNewerSchemaUntouched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.db")
	raw, err := sqlx.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("CREATE TABLE x (a); PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	untouched(t, path, func() {
		_, err := Open(path)
		if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "999") {
			t.Errorf("Open = %v, want ErrNewerSchema naming version 999", err)
		}
		_, err = OpenReadOnly(path)
		if !errors.Is(err, ErrNewerSchema) {
			t.Errorf("OpenReadOnly = %v", err)
		}
	})
}

func TestRefusesNonSQLiteUntouched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte("these are my incident notes, not a database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	untouched(t, path, func() {
		_, err := Open(path)
		if !errors.Is(err, ErrNotSQLite) || !strings.Contains(err.Error(), path) {
			t.Errorf("Open = %v, want ErrNotSQLite naming the file", err)
		}
	})
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Open(dir) = %v", err)
	}
}

func TestRefusesReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		// root writes anywhere; check what the test can still check: the
		// refusal message when access(2) says no is exercised by a file
		// that is itself read-only.
		path := filepath.Join(t.TempDir(), "ro.db")
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		os.Remove(path + "-wal")
		os.Remove(path + "-shm")
		if err := os.Chmod(path, 0o444); err != nil {
			t.Fatal(err)
		}
		untouched(t, path, func() {
			if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "read-only") {
				t.Errorf("Open(read-only file) = %v", err)
			}
		})
		return
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	if _, err := Open(filepath.Join(dir, "r.db")); err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Errorf("Open in read-only dir = %v", err)
	}
}

func newRun(t *testing.T, s *Store, key string) int64 {
	t.Helper()
	id, err := s.BeginRun(Run{Key: key, Started: time.Now(), PID: 1, Version: "test", Config: "x: 1",
		Cameras: []RunCamera{{ID: "cam1", Subnet: "lab", URL: "rtsp://u:***@h/x", MaxConnections: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func captureFact(i int) *messages.CaptureDone {
	now := time.Now()
	return &messages.CaptureDone{Camera: "cam1", Subnet: "lab", Cycle: int64(i + 1), Outcome: messages.OutcomeOK,
		Via: "ffmpeg", Bytes: 1000, Attempts: 1, OSPID: 100 + i, StartedAt: now, EndedAt: now.Add(time.Second)}
}

func TestBackupDuringContinuousWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run := newRun(t, s, "r1")

	var written atomic.Int64 // captures committed so far
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			batch := make([]any, 50)
			for j := range batch {
				batch[j] = captureFact(i*50 + j)
			}
			if err := s.WriteBatch(run, batch); err != nil {
				t.Error(err)
				return
			}
			written.Add(50)
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for written.Load() < 2000 {
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 3 {
		committed := written.Load()
		out := filepath.Join(dir, "copy"+string(rune('a'+i))+".db")
		if err := Backup(context.Background(), path, out); err != nil {
			t.Fatal(err)
		}
		if err := IntegrityCheck(context.Background(), out); err != nil {
			t.Fatal(err)
		}
		c, err := OpenReadOnly(out)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := c.DB.Get(&n, "SELECT COUNT(*) FROM captures"); err != nil {
			t.Fatal(err)
		}
		var v int
		c.DB.Get(&v, "PRAGMA user_version")
		c.Close()
		if n < committed {
			t.Errorf("copy %d holds %d captures, but %d were committed before the backup began", i, n, committed)
		}
		if v != SchemaVersion {
			t.Errorf("copy has schema version %d", v)
		}
		if _, err := os.Stat(out + "-wal"); err == nil {
			t.Errorf("the copy needs a -wal file: it is not self-contained")
		}
	}
	if err := Backup(context.Background(), path, filepath.Join(dir, "copya.db")); err == nil {
		t.Error("backup overwrote an existing file")
	}
}

func TestUncleanRunMarkedAtNextStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	first := newRun(t, s, "dies")
	if err := s.WriteBatch(first, []any{captureFact(0)}); err != nil {
		t.Fatal(err)
	}
	s.Close() // no EndRun: the server died
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	second := newRun(t, s, "next")
	if err := s.EndRun(second, time.Now(), "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	var reason, stopped string
	if err := s.DB.QueryRow("SELECT stop_reason, stopped_at FROM runs WHERE id = ?", first).Scan(&reason, &stopped); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(reason, "unclean") || stopped == "" {
		t.Errorf("dead run: stop_reason %q stopped_at %q", reason, stopped)
	}
	if err := s.DB.QueryRow("SELECT stop_reason FROM runs WHERE id = ?", second).Scan(&reason); err != nil || reason != "SIGTERM" {
		t.Errorf("clean run: %q %v", reason, err)
	}
}

func TestPruneDeletesOnlyOldRows(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run := newRun(t, s, "r")
	old := captureFact(0)
	old.StartedAt = time.Now().Add(-30 * 24 * time.Hour)
	var batch []any
	for i := range 1200 {
		f := *old
		f.Cycle = int64(i + 1)
		batch = append(batch, &f)
	}
	batch = append(batch, captureFact(5000))
	if err := s.WriteBatch(run, batch); err != nil {
		t.Fatal(err)
	}
	var total int64
	for {
		n, err := s.Prune(time.Now().Add(-14*24*time.Hour), 500)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if n > 500*5 {
			t.Fatalf("one prune call deleted %d rows", n)
		}
		total += n
	}
	var left int
	s.DB.Get(&left, "SELECT COUNT(*) FROM captures")
	if total != 1200 || left != 1 {
		t.Errorf("pruned %d, left %d; want 1200 pruned and the recent one kept", total, left)
	}
}

// TestReadmeShowsTheReportQueries keeps db/README.md's SQL and the report's
// the same text, so what a reviewer pastes answers what the report prints.
func TestReadmeShowsTheReportQueries(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range Queries {
		if !strings.Contains(string(readme), strings.TrimSpace(q.SQL)) {
			t.Errorf("db/README.md does not show the query %q as the report runs it", q.Title)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-11-26T03:00:00Z": time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC),
		"2h":                   now.Add(-2 * time.Hour),
		"3d":                   now.Add(-72 * time.Hour),
	} {
		if got, err := ParseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"2026-11-26", "-2h", "soon", "213504d", "9999999999999h", "9999-12-31T23:00:00-05:00"} {
		if _, err := ParseSince(bad, now); err == nil {
			t.Errorf("ParseSince(%q) accepted", bad)
		}
	}
}

// TestOlderRecordConvertedToIncrementalVacuum: a record made before
// auto_vacuum=INCREMENTAL is converted once at open, its rows kept.
func TestOlderRecordConvertedToIncrementalVacuum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginRun(Run{Key: "r1", Started: time.Now(), Version: "old", Config: "x"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	raw, err := sqlx.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"PRAGMA auto_vacuum = NONE", "VACUUM"} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	var mode int
	raw.Get(&mode, "PRAGMA auto_vacuum")
	raw.Close()
	if mode != 0 {
		t.Fatalf("could not make an old-style file: auto_vacuum %d", mode)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var runs int
	s.DB.Get(&mode, "PRAGMA auto_vacuum")
	s.DB.Get(&runs, "SELECT COUNT(*) FROM runs")
	if mode != 2 || runs != 1 {
		t.Errorf("after open: auto_vacuum %d, %d runs", mode, runs)
	}
	var limit int
	s.DB.Get(&limit, "PRAGMA journal_size_limit")
	if limit != JournalSizeLimit {
		t.Errorf("journal_size_limit %d", limit)
	}
}
