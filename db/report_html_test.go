package db_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"camvisor/db"
	"camvisor/db/dbtest"
)

// incidentCopy writes the replayed incident and returns a consistent copy
// of it, as an operator hands one over for review.
func incidentCopy(t *testing.T) (string, time.Time) {
	t.Helper()
	dir := t.TempDir()
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	if _, err := dbtest.Incident(filepath.Join(dir, "live.db"), start); err != nil {
		t.Fatal(err)
	}
	review := t.TempDir()
	out := filepath.Join(review, "incident.db")
	if err := db.Backup(context.Background(), filepath.Join(dir, "live.db"), out); err != nil {
		t.Fatal(err)
	}
	return out, start
}

// htmlReport renders the report of the record at path, opened read-only.
func htmlReport(t *testing.T, path string, opts db.ReportOptions) (string, error) {
	t.Helper()
	s, err := db.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var b bytes.Buffer
	err = s.HTMLReport(&b, opts)
	return b.String(), err
}

// marks counts the marks of a chart of the page: its elements carrying
// data-mark, optionally of one camera and key.
func marks(page, chart, mark, camera, key string) []string {
	i := strings.Index(page, `data-chart="`+chart+`"`)
	if i < 0 {
		return nil
	}
	svg := page[i:]
	svg = svg[:strings.Index(svg, "</svg>")]
	var out []string
	for _, m := range regexp.MustCompile(`<(?:rect|path)[^>]*data-mark="`+mark+`"[^>]*>`).FindAllString(svg, -1) {
		if camera != "" && !strings.Contains(m, `data-camera="`+camera+`"`) {
			continue
		}
		if key != "" && !strings.Contains(m, `data-key="`+key+`"`) {
			continue
		}
		out = append(out, m)
	}
	return out
}

func TestHTMLReportOfTheIncident(t *testing.T) {
	path, _ := incidentCopy(t)
	page, err := htmlReport(t, path, db.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// One file, nothing fetched, no script: it opens from disk anywhere.
	for _, banned := range []string{"<script", "<link", " src=", "url(", "@import", `href="http`, "<iframe", "<img"} {
		if strings.Contains(page, banned) {
			t.Errorf("the report contains %q: not self-contained", banned)
		}
	}
	if strings.Contains(page, "http://") && strings.Count(page, "http://") != strings.Count(page, "http://www.w3.org/2000/svg") {
		t.Error("the report names a URL other than the SVG namespace")
	}
	// Every chart draws marks.
	for chart, mark := range map[string]string{"leak": "processes", "timeline": "process", "heatmap": "captures", "cycles": "cycle", "alerts": "alert"} {
		if n := len(marks(page, chart, mark, "", "")); n == 0 {
			t.Errorf("chart %s has no %s marks", chart, mark)
		}
	}
	// The leak: attic's 32 processes alive at once are 32 rows of bars,
	// all reaped; the leak graph goes above the budget.
	rows := map[string]bool{}
	for _, m := range marks(page, "timeline", "process", "attic", "reaped") {
		rows[regexp.MustCompile(` y="[0-9.]+"`).FindString(m)] = true
	}
	if len(rows) != dbtest.Leaked {
		t.Errorf("attic's reaped processes fill %d rows of the timeline, want %d overlapping bars", len(rows), dbtest.Leaked)
	}
	if len(marks(page, "leak", "over", "attic", "")) == 0 || len(marks(page, "leak", "over", "front", "")) != 0 {
		t.Error("the leak graph does not shade attic (and only attic) above its budget")
	}
	if !strings.Contains(page, "peak 32 · budget 2") {
		t.Error("the leak graph does not label attic's peak of 32 against its budget of 2")
	}
	if len(marks(page, "heatmap", "captures", "attic", "timeout")) == 0 || len(marks(page, "heatmap", "captures", "porch", "failed")) == 0 {
		t.Error("the heat map shows neither attic's timeouts nor porch's failures")
	}
	if len(marks(page, "cycles", "cycle", "lab", "overran")) == 0 {
		t.Error("the cycle chart shows no overrun")
	}
	for _, rule := range []string{"process_budget_exceeded", "camera_failing", "cycle_overrun"} {
		if len(marks(page, "alerts", "alert", "", rule)) == 0 {
			t.Errorf("no span for alert %s", rule)
		}
	}
	// The text report's tables, with the leak's peak.
	for _, title := range []string{"Captures per camera by outcome", "Most processes alive at once per camera, and when", "Cycles that overran their interval"} {
		if !strings.Contains(page, "<h3>"+title+"</h3>") {
			t.Errorf("table %q missing", title)
		}
	}
	if !regexp.MustCompile(`<td>attic</td><td>32</td>`).MatchString(page) {
		t.Error("the table of processes alive at once does not show attic's 32")
	}
	if n := len(page); n > 2<<20 {
		t.Errorf("the report is %d bytes", n)
	}
	// Reading a copy changes nothing next to it.
	for _, side := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(path + side); err == nil {
			t.Errorf("reading the copy left %s beside it", filepath.Base(path+side))
		}
	}
}

func TestHTMLReportNarrowed(t *testing.T) {
	path, start := incidentCopy(t)
	page, err := htmlReport(t, path, db.ReportOptions{Camera: "porch", Since: start.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(marks(page, "timeline", "process", "attic", "")) != 0 || len(marks(page, "heatmap", "captures", "front", "")) != 0 {
		t.Error("a report of porch draws other cameras")
	}
	if len(marks(page, "heatmap", "captures", "porch", "failed")) == 0 {
		t.Error("a report of porch since its failures began shows none")
	}
	if !strings.Contains(page, "from <strong>2026-11-26 02:00") {
		t.Error("the period does not start at --since")
	}
	_, err = htmlReport(t, path, db.ReportOptions{Camera: "nosuch"})
	if err == nil || !strings.Contains(err.Error(), `camera: no camera "nosuch"`) || !strings.Contains(err.Error(), "attic") {
		t.Errorf("unknown camera: %v", err)
	}
	// A period with nothing in it still makes a page.
	page, err = htmlReport(t, path, db.ReportOptions{Since: start.Add(24 * time.Hour)})
	if err != nil || !strings.Contains(page, "nothing recorded") {
		t.Errorf("empty period: %v", err)
	}
}
