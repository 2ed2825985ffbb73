package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/db"
	"camvisor/db/dbtest"
)

// run calls the command line in-process and returns its exit code and output.
func run(args ...string) (int, string) {
	var out bytes.Buffer
	code := runMain(args, &out, &out)
	return code, out.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheck(t *testing.T) {
	good := writeFile(t, "good.yaml", "subnets:\n  - name: lab\n    cameras:\n      - id: c1\n        url: rtsp://u:pw@127.0.0.1/x\n        max_connections: 2\n")
	if code, out := run("check", "--config", good); code != 0 || !strings.Contains(out, "ok, 1 subnets, 1 cameras") {
		t.Errorf("good config: exit %d, %q", code, out)
	}
	bad := writeFile(t, "bad.yaml", "subnets:\n  - name: lab\n    cameras:\n      - id: c1\n        url: http://u:topsecret@127.0.0.1/x\n        max_connections: 2\n")
	code, out := run("check", "--config", bad)
	if code != exitConfig || !strings.Contains(out, "subnets[0].cameras[0].url") || strings.Contains(out, "topsecret") {
		t.Errorf("bad config: exit %d, %q", code, out)
	}
	if code, _ := run("frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
}

func TestDBCommandsRefuseBadFiles(t *testing.T) {
	notes := writeFile(t, "notes.txt", "not a database at all\n")
	before, _ := os.ReadFile(notes)
	for _, args := range [][]string{
		{"db", "report", "--db", notes},
		{"db", "backup", "--db", notes, "--out", filepath.Join(t.TempDir(), "c.db")},
	} {
		code, out := run(args...)
		if code != 1 || !strings.Contains(out, "not a SQLite database") || !strings.Contains(out, notes) {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
	if after, _ := os.ReadFile(notes); !bytes.Equal(before, after) {
		t.Error("the non-SQLite file was modified")
	}
	if code, out := run("db", "report", "--db", filepath.Join(t.TempDir(), "missing.db")); code != 1 || !strings.Contains(out, "does not exist") {
		t.Errorf("missing file: exit %d, %q", code, out)
	}
	if code, out := run("db", "report", "--db", notes, "--since", "yesterday"); code != 1 || !strings.Contains(out, "--since") {
		t.Errorf("bad --since: exit %d, %q", code, out)
	}
}

// server is a camvisor binary started by a test.
type server struct {
	cmd *exec.Cmd
	log *testkit.SyncBuffer
	db  string
}

// startServer runs the built binary against cams with a fast patrol.
func startServer(t *testing.T, cams *camsim.Server, names []string, dbPath string) *server {
	t.Helper()
	return startServerEnv(t, cams, names, dbPath, nil)
}

// startServerEnv is startServer with more arguments for run, and more
// environment variables.
func startServerEnv(t *testing.T, cams *camsim.Server, names []string, dbPath string, args []string, env ...string) *server {
	t.Helper()
	bin := testkit.Binary(t, "camvisor/cmd/camvisor")
	var b strings.Builder
	fmt.Fprintf(&b, "listen: 127.0.0.1:0\ndb: %s\nffmpeg: { capture_timeout: 2s, kill_grace: 1s }\nrecord: { sample_interval: 100ms }\nsubnets:\n  - name: lab\n    interval: 300ms\n    concurrency: 8\n    cameras:\n", dbPath)
	for _, n := range names {
		fmt.Fprintf(&b, "      - id: %s\n        url: %s\n        max_connections: 2\n", n, cams.URL(n))
	}
	cfg := writeFile(t, "camvisor.yaml", b.String())
	s := &server{cmd: exec.Command(bin, append([]string{"run", "--config", cfg}, args...)...), log: &testkit.SyncBuffer{}, db: dbPath}
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("camvisor output:\n%s", s.log.String())
		}
	})
	return s
}

// count reads a row count through a read-only connection, as a reviewer
// would while the server runs.
func count(t *testing.T, path, table string) int {
	t.Helper()
	s, err := db.OpenReadOnly(path)
	if err != nil {
		return -1
	}
	defer s.Close()
	var n int
	if err := s.DB.Get(&n, "SELECT COUNT(*) FROM "+table); err != nil {
		return -1
	}
	return n
}

func TestSIGKILLDuringWritesThenReopen(t *testing.T) {
	testkit.RequireFFmpeg(t)
	var names []string
	var list []camsim.Camera
	for i := range 12 {
		names = append(names, fmt.Sprintf("k%02d", i))
		list = append(list, camsim.Camera{Name: names[i]})
	}
	cams := testkit.Camsim(t, list...)
	dbPath := filepath.Join(t.TempDir(), "camvisor.db") // absolute: the installation its children are tagged with
	var orphans []osproc.Info
	testkit.AdoptOrphans(t, func() []int {
		out := []int{}
		for _, p := range orphans {
			out = append(out, p.PID)
		}
		return out
	})
	testkit.NoProcessesLeft(t, "camvisor binary", func() []osproc.Info {
		var live []osproc.Info
		for _, p := range testkit.FFmpegOfHome(dbPath) {
			if !p.Zombie() {
				live = append(live, p)
			}
		}
		return live
	})
	s := startServer(t, cams, names, dbPath)
	testkit.Eventually(t, 30*time.Second, "300 captures recorded", func() bool { return count(t, dbPath, "captures") >= 300 })
	committed := map[string]int{}
	for _, table := range []string{"captures", "processes", "process_samples", "cycles"} {
		committed[table] = count(t, dbPath, table)
	}
	orphans = testkit.FFmpegOfHome(dbPath)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()

	// The next start opens the file and marks the dead run.
	next := startServer(t, cams, names, dbPath)
	testkit.Eventually(t, 10*time.Second, "second run recorded", func() bool { return count(t, dbPath, "runs") == 2 })
	next.cmd.Process.Signal(syscall.SIGTERM)
	if err := next.cmd.Wait(); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if err := db.IntegrityCheck(context.Background(), dbPath); err != nil {
		t.Fatal(err)
	}
	for table, n := range committed {
		if got := count(t, dbPath, table); got < n {
			t.Errorf("%s: %d rows after reopen, %d were committed before the SIGKILL", table, got, n)
		}
	}
	store, err := db.OpenReadOnly(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var reasons []string
	store.DB.Select(&reasons, "SELECT COALESCE(stop_reason, 'NULL') FROM runs ORDER BY id")
	if len(reasons) != 2 || !strings.HasPrefix(reasons[0], "unclean") || reasons[1] != "terminated" {
		t.Errorf("stop reasons %q; want the killed run unclean and the second terminated", reasons)
	}
	var open int
	store.DB.Get(&open, "SELECT COUNT(*) FROM processes WHERE run_id = 2 AND ended_at IS NULL")
	if open != 0 {
		t.Errorf("%d processes of the cleanly stopped run have no end", open)
	}
}

func TestRunRefusesNonSQLiteDB(t *testing.T) {
	notes := writeFile(t, "incident-notes.txt", "camera 3 went dark at 03:12\n")
	cfg := writeFile(t, "c.yaml", "subnets:\n  - name: lab\n    cameras:\n      - id: c1\n        url: rtsp://127.0.0.1:1/x\n        max_connections: 2\n")
	code, out := run("run", "--config", cfg, "--db", notes)
	if code != 1 || !strings.Contains(out, "not a SQLite database") {
		t.Errorf("exit %d, %q", code, out)
	}
	if b, _ := os.ReadFile(notes); string(b) != "camera 3 went dark at 03:12\n" {
		t.Error("file modified")
	}
}

func TestDBReportHTML(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	if _, err := dbtest.Incident(live, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(dir, "incident-0312.db")
	if code, out := run("db", "backup", "--db", live, "--out", cp); code != 0 {
		t.Fatalf("backup: exit %d, %s", code, out)
	}
	page := filepath.Join(dir, "incident.html")
	code, out := run("db", "report", "--db", cp, "--html", page, "--since", "2026-11-26T01:00:00Z")
	if code != 0 || !strings.Contains(out, page) {
		t.Fatalf("report --html: exit %d, %q", code, out)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	// The report is the record's content (cameras, command lines, what
	// happened): its owner's only, like the record and its backups.
	if st, err := os.Stat(page); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the report's mode is %v (%v), want 0600", st.Mode().Perm(), err)
	}
	for _, chart := range []string{"leak", "timeline", "heatmap", "cycles", "alerts"} {
		if !strings.Contains(string(html), `data-chart="`+chart+`"`) {
			t.Errorf("the report has no %s chart", chart)
		}
	}
	if !strings.Contains(string(html), "from <strong>2026-11-26 01:00") || strings.Contains(string(html), "<script") {
		t.Error("the report does not start at --since, or carries a script")
	}
	if code, out := run("db", "report", "--db", cp, "--camera", "attic"); code != 0 || !strings.Contains(out, "attic") {
		t.Errorf("text report of attic: exit %d, %q", code, out)
	}
	// Bad input is named and leaves nothing behind.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--camera", "nosuch", "--html", filepath.Join(dir, "x.html")}, `camera: no camera "nosuch"`},
		{[]string{"--camera", "nosuch"}, `camera: no camera "nosuch"`},
		{[]string{"--html", dir}, "--html: " + dir + " is a directory"},
		{[]string{"--since", "yesterday", "--html", filepath.Join(dir, "x.html")}, "--since"},
	} {
		code, out := run(append([]string{"db", "report", "--db", cp}, c.args...)...)
		if code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, %q; want %q", c.args, code, out, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.html")); err == nil {
		t.Error("a refused report left a file")
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestExampleRealCameras: the example config's commented real-camera
// blocks, uncommented, make a valid config: merge keys, sub-streams, and
// passwords read as systemd credentials.
func TestExampleRealCameras(t *testing.T) {
	data, err := os.ReadFile("camvisor.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	blocks := 0
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, "# >>> real cameras"):
			in = true
			blocks++
			continue
		case strings.HasPrefix(l, "# <<< real cameras"):
			in = false
			continue
		case in:
			l, _ = strings.CutPrefix(l, "# ")
		}
		out = append(out, l)
	}
	if blocks != 2 {
		t.Fatalf("%d real-camera blocks in the example config, want 2", blocks)
	}
	creds := t.TempDir()
	os.WriteFile(filepath.Join(creds, "front-door.pw"), []byte("pw-front\n"), 0o600)
	os.WriteFile(filepath.Join(creds, "drive.pw"), []byte("pw-drive\n"), 0o600)
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	path := writeFile(t, "real.yaml", strings.Join(out, "\n"))
	code, stdout, stderr := runSplit("check", "--config", path)
	if code != 0 || !strings.Contains(stdout, "ok, 3 subnets, 8 cameras") {
		t.Fatalf("the example with its real cameras: exit %d, %q %q", code, stdout, stderr)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	door, _ := cfg.Camera("front-door")
	drive, _ := cfg.Camera("drive")
	if door.MaxConnections != 2 || drive.Mode != config.ModeStream || !strings.Contains(door.URL, "camvisor:pw-front@") {
		t.Errorf("merged: front-door %+v, drive %+v", door.Camera, drive.Camera)
	}
}
