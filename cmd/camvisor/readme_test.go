package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeFirstCameraChecks: the first real-camera config the README
// shows passes `camvisor check` with its password in the environment, and
// is refused, naming the variable, without it.
func TestReadmeFirstCameraChecks(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```yaml\n")
	yaml, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatal("README.md shows no ```yaml block")
	}
	const secret = "FRONT_DOOR_PASSWORD"
	if !strings.Contains(yaml, "${"+secret+"}") {
		t.Fatalf("the README's config does not take its password from ${%s}:\n%s", secret, yaml)
	}
	path := filepath.Join(t.TempDir(), "camvisor.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Setenv(secret, "a-camera-password")
	if code, out := run("check", "--config", path); code != 0 || !strings.Contains(out, "ok, 1 subnets, 1 cameras") {
		t.Errorf("check of the README's config: exit %d, %q", code, out)
	}
	os.Unsetenv(secret) // t.Setenv restores it
	if code, out := run("check", "--config", path); code == 0 || !strings.Contains(out, secret) {
		t.Errorf("check without %s: exit %d, %q; want a refusal naming the variable", secret, code, out)
	}
}
