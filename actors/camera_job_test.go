package actors

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"camvisor/actors/config"
)

// TestCaptureJobTransitionsAsDocumented: the transition table a reader
// finds in jobState's comment is the one move enforces, row for row.
func TestCaptureJobTransitionsAsDocumented(t *testing.T) {
	src, err := os.ReadFile("camera_job.go")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]jobState{}
	for s := jobRouting; s <= jobAnswered; s++ {
		byName[s.String()] = s
	}
	documented := map[[2]jobState]bool{}
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "//"))
		switch {
		case !strings.HasPrefix(line, "//"):
			in = false
		case len(f) >= 3 && f[0] == "from" && f[1] == "to" && f[2] == "on":
			in = true
		case in && len(f) == 0:
			in = false
		case in:
			from, okFrom := byName[f[0]]
			to, okTo := byName[f[1]]
			if len(f) < 3 || !okFrom || !okTo {
				t.Errorf("table row %q: want from, to (state names) and what moves it", line)
				continue
			}
			documented[[2]jobState{from, to}] = true
		}
	}
	if len(documented) == 0 {
		t.Fatal("no transition table found in jobState's comment")
	}
	for from, tos := range jobMoves {
		for _, to := range tos {
			if !documented[[2]jobState{from, to}] {
				t.Errorf("jobMoves allows %s → %s, which the comment does not document", from, to)
			}
		}
	}
	for m := range documented {
		if !legalMove(m[0], m[1]) {
			t.Errorf("the comment documents %s → %s, which jobMoves does not allow", m[0], m[1])
		}
	}
	if len(jobMoves[jobAnswered]) != 0 {
		t.Error("answered is not final")
	}
}

// TestCaptureJobIllegalMoveLogged: a move the table does not allow is a
// bug, logged with the camera, the job, from and to; the indexes still
// follow the move made.
func TestCaptureJobIllegalMoveLogged(t *testing.T) {
	var buf bytes.Buffer
	a := &cameraActor{env: &Env{Log: slog.New(slog.NewTextHandler(&buf, nil))}, cam: config.SubnetCamera{Camera: config.Camera{ID: "lab/porch"}},
		carry: &cameraCarry{}, jobs: map[int64]*captureJob{}, children: map[string]*captureJob{}}
	job := &captureJob{id: 7}
	a.jobs[job.id] = job
	a.move(job, jobQueued)
	if len(a.queue) != 1 || buf.Len() != 0 {
		t.Fatalf("routing → queued: queue %d, log %q", len(a.queue), buf.String())
	}
	a.move(job, jobAnswered)
	if len(a.queue) != 0 || a.jobs[7] != nil || buf.Len() != 0 {
		t.Fatalf("queued → answered: queue %d, indexed %v, log %q", len(a.queue), a.jobs[7] != nil, buf.String())
	}
	job.child = "camera/ffmpeg/1"
	a.move(job, jobRunning)
	line := buf.String()
	for _, want := range []string{"level=ERROR", "camera=lab/porch", "job=7", "from=answered", "to=running"} {
		if !strings.Contains(line, want) {
			t.Errorf("log %q lacks %s", line, want)
		}
	}
	if a.children["camera/ffmpeg/1"] != job {
		t.Error("the children index does not follow the move made")
	}
}
