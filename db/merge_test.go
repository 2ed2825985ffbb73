package db

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"camvisor/messages"
)

// clusterRecord writes a node's record: camera cam1 held at epoch from
// t0 to t0+held, one process and one capture in it.
func clusterRecord(t *testing.T, node string, epoch int64, t0 time.Time, held time.Duration) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), node+".db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run, err := s.BeginRun(Run{Key: "run-" + node, Node: node, Started: t0, PID: 1, Version: "test", Config: "x",
		Cameras: []RunCamera{{ID: "cam1", Subnet: "lab", URL: "rtsp://x", MaxConnections: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	facts := []any{
		&messages.OwnershipChanged{Camera: "cam1", Subnet: "lab", Node: node, Epoch: epoch, Change: messages.OwnershipAcquired, At: t0},
		&messages.ProcessStarted{OSPID: 100, Camera: "cam1", Subnet: "lab", Owner: "o", Purpose: "snapshot", StartedAt: t0.Add(10 * time.Millisecond)},
		&messages.ProcessExited{OSPID: 100, Camera: "cam1", Subnet: "lab", Owner: "o", StartedAt: t0.Add(10 * time.Millisecond),
			EndedAt: t0.Add(held - 10*time.Millisecond), StopReason: messages.StopHandedOver},
		&messages.CaptureDone{Camera: "cam1", Subnet: "lab", Outcome: messages.OutcomeOK, StartedAt: t0.Add(10 * time.Millisecond), EndedAt: t0.Add(held - 10*time.Millisecond)},
		&messages.OwnershipChanged{Camera: "cam1", Subnet: "lab", Node: node, Epoch: epoch, Change: messages.OwnershipReleased, Reason: "handed over", At: t0.Add(held)},
	}
	if err := s.WriteBatch(run, facts); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMergeNodesRecords: two nodes' records merge into one report; each
// row keeps the node and epoch it was written under, and a camera's
// processes alive on two nodes at once are reported (and only then).
func TestMergeNodesRecords(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	a := clusterRecord(t, "n1", 5, t0, time.Second)
	b := clusterRecord(t, "n2", 9, t0.Add(time.Second), time.Second)
	s, done, err := OpenReport(context.Background(), []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	var rows []struct {
		Node  string `db:"node"`
		Epoch int64  `db:"epoch"`
	}
	if err := s.DB.Select(&rows, `SELECT node, epoch FROM captures ORDER BY started_at`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Node != "n1" || rows[0].Epoch != 5 || rows[1].Node != "n2" || rows[1].Epoch != 9 {
		t.Errorf("merged captures carry %+v, want n1/5 then n2/9", rows)
	}
	var out strings.Builder
	if err := s.Report(&out, ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	report := out.String()
	for _, want := range []string{a + " + " + b, "n1", "n2", "Camera ownership", "handed over"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	overlap := report[strings.Index(report, "alive on two nodes at once"):]
	if !strings.Contains(overlap, "(none)") {
		t.Errorf("processes reported alive on two nodes at once:\n%s", overlap)
	}

	// n3 started cam1's process while n2's still ran: the report says so.
	c := clusterRecord(t, "n3", 12, t0.Add(1500*time.Millisecond), time.Second)
	s2, done2, err := OpenReport(context.Background(), []string{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	defer done2()
	out.Reset()
	if err := s2.Report(&out, ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	overlap = out.String()[strings.Index(out.String(), "alive on two nodes at once"):]
	if strings.Contains(overlap, "(none)") || !strings.Contains(overlap, "n3") {
		t.Errorf("the overlap of n2 and n3 is not reported:\n%s", overlap)
	}
}
