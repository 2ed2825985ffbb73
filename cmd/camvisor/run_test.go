package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/testkit"
)

// TestTokenNotLoggedOffTerminal: with stderr going to a file (a journal,
// a log file), the operator token is never written there; the log says
// where to find it instead.
func TestTokenNotLoggedOffTerminal(t *testing.T) {
	testkit.RequireFFmpeg(t)
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	dbPath := filepath.Join(t.TempDir(), "camvisor.db")
	s := startServer(t, cams, []string{"front"}, dbPath)
	testkit.Eventually(t, 30*time.Second, "the dashboard announced", func() bool { return strings.Contains(s.output(), "dashboard ready") })
	token, err := os.ReadFile(dbPath + ".token")
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	out := s.output()
	if tok := strings.TrimSpace(string(token)); len(tok) < 16 || strings.Contains(out, tok) {
		t.Errorf("the token (%d characters) is in the log:\n%s", len(tok), out)
	}
	if !strings.Contains(out, dbPath+".token") {
		t.Errorf("the log does not say where the token is:\n%s", out)
	}
}

// output is what the server wrote so far.
func (s *server) output() string { return s.log.String() }
