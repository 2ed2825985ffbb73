package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"camvisor/actors"
	"camvisor/actors/camsim"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/db/dbtest"
)

// runSplit calls the command line in-process with stdout and stderr apart.
func runSplit(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = runMain(args, &o, &e)
	return code, o.String(), e.String()
}

// TestExitCodes: 0 only for a requested stop (SIGTERM, SIGINT) or a
// command done; 78 for a configuration error, in check and run alike; 70
// when the actor tree stops on its own, so that Restart=on-failure
// restarts the service; 2 for a bad command line, whose error and usage go
// to stderr (never into a report redirected to a file); the command line
// wins over every variable, CAMVISOR_DEBUG included; db subcommands read
// the record --config's file names.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("subnets:\n  - name: lab\n    cameras:\n      - id: c1\n        url: rtsp://127.0.0.1/x\n"), 0o600) // no max_connections
	for _, args := range [][]string{
		{"check", "--config", bad},
		{"check", "--config", filepath.Join(dir, "missing.yaml")},
		{"run", "--config", bad},
		{"run", "--config", filepath.Join(dir, "missing.yaml")},
	} {
		code, stdout, stderr := runSplit(args...)
		if code != exitConfig || stdout != "" || !strings.Contains(stderr, "config") {
			t.Errorf("camvisor %s: exit %d (want 78), stdout %q, stderr %q", strings.Join(args, " "), code, stdout, stderr)
		}
	}

	// A typo in `db report > f`: nothing goes into f.
	for _, args := range [][]string{{"db", "report", "--cmaera", "x"}, {"run", "--no-such-flag"}, {"check", "extra"}, {"probe"}, {"reload"}} {
		code, stdout, stderr := runSplit(args...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, "Usage of camvisor") && !strings.Contains(stderr, "required") && !strings.Contains(stderr, "want one camera URL") {
			t.Errorf("camvisor %s: exit %d (want 2), stdout %q, stderr %q", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	if code, stdout, stderr := runSplit("db", "report", "-h"); code != 0 || !strings.Contains(stdout, "--since") || stderr != "" {
		t.Errorf("db report -h: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// db subcommands: --config's db:, unless --db says otherwise; the
	// command line over the environment.
	rec := filepath.Join(dir, "record.db")
	if _, err := dbtest.Incident(rec, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "camvisor.yaml")
	os.WriteFile(cfg, []byte("db: "+rec+"\nsubnets:\n  - name: lab\n    cameras:\n      - id: c1\n        url: rtsp://127.0.0.1/x\n        max_connections: 2\n"), 0o600)
	t.Setenv("CAMVISOR_DB", filepath.Join(dir, "elsewhere.db"))
	if code, stdout, stderr := runSplit("db", "report", "--config", cfg, "--camera", "attic"); code != 0 || !strings.Contains(stdout, "attic") {
		t.Errorf("db report --config: exit %d, %q %q", code, stdout, stderr)
	}
	if code, stdout, _ := runSplit("db", "backup", "--config", cfg, "--out", filepath.Join(dir, "copy.db")); code != 0 || !strings.Contains(stdout, "copy of "+rec) {
		t.Errorf("db backup --config: exit %d, %q", code, stdout)
	}
	if code, _, stderr := runSplit("db", "report", "--config", cfg, "--db", filepath.Join(dir, "missing.db")); code != exitFailure || !strings.Contains(stderr, "missing.db") {
		t.Errorf("--db beside --config must win: exit %d, %q", code, stderr)
	}
	t.Setenv("CAMVISOR_DB", "")

	// The binary, stopped by a signal: exit 0. CAMVISOR_DEBUG means debug
	// only when no --log-level is given.
	testkit.RequireFFmpeg(t)
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	for _, c := range []struct {
		sig        syscall.Signal
		args       []string
		wantDebug  bool
		wantInfo   bool
		wantStderr string
	}{
		{syscall.SIGTERM, []string{"--log-level", "warn"}, false, false, ""},
		{syscall.SIGINT, nil, true, true, `"level":"DEBUG"`},
	} {
		dbPath := filepath.Join(t.TempDir(), "camvisor.db")
		testkit.NoProcessesLeft(t, "camvisor binary", func() []osproc.Info { return testkit.FFmpegOfHome(dbPath) })
		s := startServerEnv(t, cams, []string{"front"}, dbPath, c.args, "CAMVISOR_DEBUG=1")
		testkit.Eventually(t, 30*time.Second, "a capture recorded", func() bool { return count(t, dbPath, "captures") >= 1 })
		s.cmd.Process.Signal(c.sig)
		err := s.cmd.Wait()
		out := s.output()
		if err != nil {
			t.Errorf("%s: %v, want exit 0\n%s", c.sig, err, out)
		}
		if got := strings.Contains(out, `"level":"DEBUG"`); got != c.wantDebug {
			t.Errorf("%s with CAMVISOR_DEBUG=1 and %v: debug lines %v, want %v", c.sig, c.args, got, c.wantDebug)
		}
		if got := strings.Contains(out, "camvisor started"); got != c.wantInfo {
			t.Errorf("%s with %v: info lines %v, want %v", c.sig, c.args, got, c.wantInfo)
		}
	}

	// The tree stops on its own (its root stopped, not asked by a signal):
	// a failure, exit 70.
	dbPath := filepath.Join(t.TempDir(), "camvisor.db")
	cfgPath := writeFile(t, "own.yaml", "listen: 127.0.0.1:0\ndb: "+dbPath+"\nsubnets:\n  - name: lab\n    interval: 300ms\n    cameras:\n      - id: front\n        url: "+cams.URL("front")+"\n        max_connections: 2\n")
	onTreeStarted = func(tree *actors.Tree) {
		testkit.Eventually(t, 30*time.Second, "a capture recorded", func() bool { return count(t, dbPath, "captures") >= 1 })
		// Not a signal: to the command, the tree stopped by itself.
		go func() { _ = tree.Shutdown(context.Background(), "stopped by the test, not by a signal") }()
	}
	t.Cleanup(func() { onTreeStarted = func(*actors.Tree) {} })
	code, _, stderr := runSplit("run", "--config", cfgPath)
	if code != exitSoftware || !strings.Contains(stderr, "the actor tree stopped on its own") {
		t.Errorf("tree stopped on its own: exit %d, want %d; stderr:\n%s", code, exitSoftware, stderr)
	}
	if left := testkit.FFmpegOfHome(dbPath); len(left) > 0 {
		t.Errorf("the tree's stop left ffmpeg:%s", testkit.Describe(left))
	}
}
