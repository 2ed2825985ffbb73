package actors

import (
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/testkit"
	"camvisor/db"
	"camvisor/messages"
)

// TestRecordShrinksAfterRetention: a record whose pictures are past the
// retention shrinks on disk once the retention pass deleted them (the
// file and its WAL), without a VACUUM that would lock it.
func TestRecordShrinksAfterRetention(t *testing.T) {
	cams := startCamsim(t, camsim.Camera{Name: "cam"})
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {{Name: "cam"}}}, nil)
	cfg.DB = filepath.Join(t.TempDir(), "camvisor.db")

	// An earlier run, a month ago, left 400 events with their pictures.
	store, err := db.Open(cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-30 * 24 * time.Hour)
	run, err := store.BeginRun(db.Run{Key: "old-run", Started: old, Version: "test", Config: "old"})
	if err != nil {
		t.Fatal(err)
	}
	var facts []any
	for i := range 400 {
		pic := make([]byte, 40<<10)
		rand.Read(pic)
		at := old.Add(time.Duration(i) * time.Second)
		facts = append(facts, &messages.EventOpened{ID: at.UnixMicro(), Camera: "cam", Subnet: "lab", At: at, Label: "motion",
			Score: 1, Detector: "motion", CaptureKey: "k", JPEG: pic})
	}
	if err := store.WriteBatch(run, facts); err != nil {
		t.Fatal(err)
	}
	store.EndRun(run, old.Add(time.Hour), "terminated")
	store.Close()
	before := (&db.Store{Path: cfg.DB}).Size()
	if before < 16<<20 {
		t.Fatalf("the record holds %d bytes before retention; the test wants its pictures", before)
	}

	h := startTreeWith(t, cams, cfg, func(env *Env) {
		env.Record = true
		env.Policy = DefaultPolicy()
		env.Policy.Recorder.PruneFirst = 100 * time.Millisecond
	})
	testkit.Eventually(t, 30*time.Second, "the record shrinking to a tenth", func() bool { return h.env.Store.Size() < before/10 })
	var events int
	h.env.Store.DB.Get(&events, "SELECT COUNT(*) FROM events")
	if events != 0 {
		t.Errorf("%d events left past the retention", events)
	}
	var mode int
	h.env.Store.DB.Get(&mode, "PRAGMA auto_vacuum")
	if mode != 2 {
		t.Errorf("auto_vacuum %d, want 2 (incremental)", mode)
	}
	t.Logf("record %d bytes before retention, %d after", before, h.env.Store.Size())
}
