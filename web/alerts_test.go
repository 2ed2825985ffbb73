package web

import (
	"fmt"
	"testing"
	"time"

	"camvisor/actors"
	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// TestDiskFullAlertVisible: while the record cannot be written (SQLite's
// own disk-full error, SQLITE_FULL), record_write_failing is listed by
// /api/alerts and counted by /api/status (served from memory: the record
// is what fails); it stays firing through the whole spell, also while
// writes that need no new page (retention) succeed and while the queue
// overflows; it resolves once the queued rows are committed; and a second
// spell reaches the alerts table as the first did.
func TestDiskFullAlertVisible(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	st := startStackWith(t, cams, func(cfg *config.Config) {
		cfg.Subnets[0].Interval = config.D(300 * time.Millisecond)
		cfg.Record.SampleInterval = config.D(50 * time.Millisecond)
		cfg.Record.QueueRows = 40
	}, stackOptions{env: func(env *actors.Env) {
		p := actors.DefaultPolicy()
		p.Recorder.MaxWriteBackoff = 300 * time.Millisecond
		p.Recorder.PruneFirst = 200 * time.Millisecond // retention runs all along: a DELETE of nothing succeeds on a full disk
		p.Recorder.PruneEvery = 300 * time.Millisecond
		p.AlertRefresh = 200 * time.Millisecond
		env.Policy = p
	}})
	testkit.WaitFor(t, st.facts, testkit.Start, 20*time.Second, "the first cycle", func(*messages.CycleEnded) bool { return true })

	var pages int
	if err := st.store.DB.Get(&pages, "PRAGMA page_count"); err != nil {
		t.Fatal(err)
	}
	for spell := 1; spell <= 2; spell++ {
		mark := st.facts.Mark()
		if _, err := st.store.DB.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
			t.Fatal(err)
		}
		failing := testkit.WaitFor(t, st.facts, mark, 20*time.Second, "the record failing", func(e *messages.RecorderHealth) bool { return !e.Healthy })
		t.Logf("spell %d: %s", spell, failing.Error)
		testkit.Eventually(t, 10*time.Second, "record_write_failing listed as firing by /api/alerts", func() bool {
			return st.alertState("record_write_failing") == messages.AlertFiring
		})
		var status struct {
			AlertsFiring int `json:"alerts_firing"`
		}
		if st.get("/api/status", &status); status.AlertsFiring < 1 {
			t.Errorf("spell %d: /api/status counts %d alerts firing", spell, status.AlertsFiring)
		}
		// The queue overflows (40 rows; a census every 50 ms) and several
		// retention runs pass: the alert must hold all along.
		testkit.Eventually(t, 20*time.Second, "the queue overflowing", func() bool {
			return testkit.Count(st.facts, mark, func(*messages.ProcessCensus) bool { return true }) >= 80
		})
		if n := testkit.Count(st.facts, mark, func(e *messages.RecorderHealth) bool { return e.Healthy }); n > 0 {
			t.Errorf("spell %d: the record was reported healthy %d times while it could not be written", spell, n)
		}
		if s := st.alertState("record_write_failing"); s != messages.AlertFiring {
			t.Errorf("spell %d: /api/alerts shows record_write_failing %q while the disk is full", spell, s)
		}
		if _, err := st.store.DB.Exec("PRAGMA max_page_count = 1073741823"); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, st.facts, mark, 30*time.Second, "the record recovered", func(e *messages.RecorderHealth) bool { return e.Healthy })
		// Recovered means the queue's head is committed: the oldest census
		// queued after the failure is in the table (drops take the newest).
		first := testkit.WaitFor(t, st.facts, mark, time.Second, "a census after the failure", func(e *messages.ProcessCensus) bool { return e.At.After(failing.At) })
		if n := st.dbInt("SELECT COUNT(*) FROM process_samples WHERE at = ?", first.At.UTC().Format("2006-01-02T15:04:05.000Z")); n == 0 {
			t.Errorf("spell %d: reported recovered before the rows queued during the failure were committed", spell)
		}
		testkit.Eventually(t, 10*time.Second, "record_write_failing resolved in /api/alerts", func() bool {
			return st.alertState("record_write_failing") == messages.AlertResolved
		})
	}
	testkit.Eventually(t, 10*time.Second, "both spells in the alerts table, resolved", func() bool {
		return st.dbInt("SELECT COUNT(*) FROM alerts WHERE rule = 'record_write_failing' AND state = 'resolved'") == 2
	})
	var listed struct {
		Alerts []struct {
			Rule, State string
		} `json:"alerts"`
	}
	st.get("/api/alerts", &listed)
	n := 0
	for _, a := range listed.Alerts {
		if a.Rule == "record_write_failing" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("/api/alerts lists %d record_write_failing spells, want 2: %+v", n, listed.Alerts)
	}
}

// alertState is the state /api/alerts gives the newest alert of a rule, ""
// when it lists none.
func (st *stack) alertState(rule string) string {
	var res struct {
		Alerts []struct {
			Rule, State string
		} `json:"alerts"`
	}
	if code := st.get("/api/alerts", &res); code != 200 {
		return fmt.Sprintf("HTTP %d", code)
	}
	for _, a := range res.Alerts {
		if a.Rule == rule {
			return a.State
		}
	}
	return ""
}
