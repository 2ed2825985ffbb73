package db

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"camvisor/messages"
)

// TestRecordFilesPrivate: the record, its WAL and shared-memory files and
// every backup are readable by camvisor's user only (0600), whatever the
// umask; a record an earlier version created wider is made private when
// opened. They hold event pictures and camera users and hosts.
func TestRecordFilesPrivate(t *testing.T) {
	old := syscall.Umask(0) // the widest: the modes must not depend on it
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "camvisor.db")
	store, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	run, err := store.BeginRun(Run{Key: "r", Started: time.Now(), Version: "test", Config: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := store.WriteBatch(run, []any{&messages.CaptureDone{Camera: "c", Subnet: "s", Outcome: messages.OutcomeOK, Via: "ffmpeg", StartedAt: now, EndedAt: now}}); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "incident.db")
	if err := Backup(context.Background(), path, backup); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", backup} {
		assertMode(t, p, 0o600)
	}
	store.Close()

	// A record created by an earlier camvisor, readable by everyone.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(p); err == nil {
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	store, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.WriteBatch(run, []any{&messages.CaptureDone{Camera: "c", Subnet: "s", Outcome: messages.OutcomeOK, Via: "ffmpeg", StartedAt: now, EndedAt: now}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		assertMode(t, p, 0o600)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s has mode %v, want %v", filepath.Base(path), got, want)
	}
}
