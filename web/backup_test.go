package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"camvisor/db"
	"camvisor/messages"
)

func TestBackupDownload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "camvisor.db")
	store, err := db.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	run, err := store.BeginRun(db.Run{Key: "r", Started: time.Now(), Version: "test", Config: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := store.WriteBatch(run, []any{&messages.CaptureDone{Camera: "c", Subnet: "s", Outcome: messages.OutcomeOK, Via: "ffmpeg", StartedAt: now, EndedAt: now}}); err != nil {
		t.Fatal(err)
	}
	srv := New(Options{Listen: "127.0.0.1:0", DBPath: path, Log: slog.New(slog.DiscardHandler)})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	start := time.Now()
	resp, err := http.Get(srv.URL() + "api/db/backup")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.sqlite3" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	out := filepath.Join(dir, "download.db")
	f, _ := os.Create(out)
	io.Copy(f, resp.Body)
	f.Close()
	if err := db.IntegrityCheck(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	copyStore, err := db.OpenReadOnly(out)
	if err != nil {
		t.Fatal(err)
	}
	defer copyStore.Close()
	var n int
	copyStore.DB.Get(&n, "SELECT COUNT(*) FROM captures")
	if n != 1 {
		t.Errorf("download holds %d captures, want 1", n)
	}
	// The handler removes its temporary copy once the response is sent.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var recent []string
		leftovers, _ := filepath.Glob(filepath.Join(os.TempDir(), "camvisor-backup-*"))
		for _, l := range leftovers {
			if st, err := os.Stat(l); err == nil && st.ModTime().After(start) {
				recent = append(recent, l)
			}
		}
		if len(recent) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("temporary backups left behind: %v", recent)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
