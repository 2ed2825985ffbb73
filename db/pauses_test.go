package db

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"camvisor/messages"
)

// TestPausesOutliveTheRun: a pause not ended is open again for the next
// run; one whose end came while no camvisor ran is ended, as expired, by
// the next start; a resumed one says by whom.
func TestPausesOutliveTheRun(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run := newRun(t, s, "run-1")
	now := time.Now().UTC().Truncate(time.Millisecond)
	long := messages.Pause{ID: 1, Camera: "cam1", By: "session 0123abcd", Reason: "lens cleaning", From: now, Until: now.Add(time.Hour)}
	short := messages.Pause{ID: 2, Camera: "cam2", By: "token", Reason: "firmware", From: now, Until: now.Add(50 * time.Millisecond)}
	gone := messages.Pause{ID: 3, Camera: "cam3", By: "token", From: now, Until: now.Add(time.Hour)}
	if err := s.WriteBatch(run, []any{&messages.CameraPaused{Pause: long}, &messages.CameraPaused{Pause: short},
		&messages.CameraPaused{Pause: gone}, &messages.CameraResumed{Pause: gone, EndedAt: now.Add(time.Second), How: "resumed", By: "session ffff0000"}}); err != nil {
		t.Fatal(err)
	}
	// A later request moves the end of the long pause.
	long.Until, long.Reason = now.Add(2*time.Hour), "lens cleaning, and the housing"
	if err := s.WriteBatch(run, []any{&messages.CameraPaused{Pause: long, Changed: true}}); err != nil {
		t.Fatal(err)
	}
	open, err := s.OpenPauses()
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 2 || open[0].ID != 1 || !open[0].Until.Equal(long.Until) || open[0].Reason != long.Reason || open[0].By != long.By {
		t.Fatalf("open pauses %+v, want the long one (moved to %s) and the short one", open, long.Until)
	}

	time.Sleep(60 * time.Millisecond) // the short pause's end passes while no camvisor runs
	newRun(t, s, "run-2")
	open, err = s.OpenPauses()
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || open[0].ID != 1 {
		t.Fatalf("after the next start, open pauses %+v, want only the long one", open)
	}
	var how, by, ended string
	if err := s.DB.QueryRow(`SELECT ended_how, ended_at, COALESCE(ended_by, '') FROM camera_pauses WHERE id = 2`).Scan(&how, &ended, &by); err != nil {
		t.Fatal(err)
	}
	if how != "expired" || ended != T(short.Until) || by != "" {
		t.Errorf("the short pause ended %q at %s by %q, want expired at its end %s", how, ended, by, T(short.Until))
	}
	if err := s.DB.QueryRow(`SELECT ended_how, COALESCE(ended_by, '') FROM camera_pauses WHERE id = 3`).Scan(&how, &by); err != nil {
		t.Fatal(err)
	}
	if how != "resumed" || by != "session ffff0000" {
		t.Errorf("the resumed pause ended %q by %q", how, by)
	}
}

// TestReportShowsNamesAlignedByWidth: the text report names each camera
// by its display name beside its id, and its columns line up in a
// terminal although a Japanese name takes two columns a character.
func TestReportShowsNamesAlignedByWidth(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run, err := s.BeginRun(Run{Key: "k", Started: time.Now(), PID: 1, Version: "test", Config: "x: 1", Cameras: []RunCamera{
		{ID: "genkan", Name: "玄関", Subnet: "lab", URL: "rtsp://h/x", MaxConnections: 2},
		{ID: "garage", Subnet: "lab", URL: "rtsp://h/y", MaxConnections: 2},
		{ID: "niwa", Name: "庭の東側カメラ", Subnet: "lab", URL: "rtsp://h/z", MaxConnections: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var facts []any
	for i, cam := range []string{"genkan", "garage", "niwa"} {
		f := captureFact(i)
		f.Camera = cam
		facts = append(facts, f)
	}
	if err := s.WriteBatch(run, facts); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := s.Report(&out, ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	section := text[strings.Index(text, "== Captures per camera by outcome"):]
	lines := strings.Split(section, "\n")[1:5]
	if !strings.HasPrefix(lines[0], "camera  name ") {
		t.Fatalf("header %q, want a name column after camera", lines[0])
	}
	// Every line's "total" cell starts at the terminal column the
	// header's does: a line as a terminal shows it, one cell a column.
	cells := func(l string) []rune {
		var out []rune
		for _, r := range l {
			out = append(out, r)
			for range runeWidth(r) - 1 {
				out = append(out, 0)
			}
		}
		return out
	}
	col := len(cells(lines[0][:strings.Index(lines[0], "total")]))
	for _, l := range lines[1:] {
		c := cells(l)
		if len(c) <= col || c[col] != '1' || c[col-1] != ' ' {
			t.Errorf("columns do not line up in a terminal (total at column %d):\n%s", col, strings.Join(lines, "\n"))
			break
		}
	}
	for _, want := range []string{"genkan  玄関 ", "niwa    庭の東側カメラ"} {
		if !strings.Contains(section, want) {
			t.Errorf("the report lacks %q:\n%s", want, section)
		}
	}
	out.Reset()
	if err := s.Report(&out, ReportOptions{Camera: "genkan"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.SplitN(out.String(), "\n", 2)[0], "camera 玄関 (genkan)") {
		t.Errorf("the report's first line does not name the camera: %q", strings.SplitN(out.String(), "\n", 2)[0])
	}
}

func TestDisplayWidth(t *testing.T) {
	for s, want := range map[string]int{"genkan": 6, "玄関": 4, "ｶﾒﾗ": 3, "カメラ1": 7, "é": 1, "e\u0301": 1, "": 0} {
		if got := displayWidth(s); got != want {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, want)
		}
	}
}
