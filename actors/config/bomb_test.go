package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// aliasBomb is a configuration of about 63 KB whose merge keys multiply:
// each level merges the one below it width times, so the camera at the
// top stands for width^levels mappings ("billion laughs").
func aliasBomb(levels, width int) string {
	var b strings.Builder
	b.WriteString("x-l0: &l0 {max_connections: 2}\n")
	for l := 1; l <= levels; l++ {
		fmt.Fprintf(&b, "x-l%d: &l%d\n  <<: [", l, l)
		for i := 0; i < width; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", l-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString("subnets:\n")
	for s := 0; b.Len() < 63_000; s++ {
		fmt.Fprintf(&b, "  - name: s%d\n    cameras:\n      - id: c%d\n        url: rtsp://127.0.0.1/c\n        <<: *l%d\n", s, s, levels)
	}
	return b.String()
}

// TestAliasBombRefused: a 63 KB file whose aliases expand beyond any
// configuration is refused at once, with an error that says why, by
// check and by a reload alike (both load through Load).
func TestAliasBombRefused(t *testing.T) {
	text := aliasBomb(9, 10)
	path := filepath.Join(t.TempDir(), "bomb.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := Load(path)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "alias") {
		t.Fatalf("a %d-byte alias bomb: %v, want a refusal naming the aliases", len(text), err)
	}
	if took > time.Second {
		t.Errorf("refusing the alias bomb took %s, want under a second", took)
	}

	// The same shape with few levels is an ordinary configuration.
	if err := os.WriteFile(path, []byte(aliasBomb(2, 3)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("two levels of merges: %v", err)
	}

	// A file larger than any configuration is refused before it is parsed.
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte(strings.Repeat("# padding\n", MaxFileSize/10+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("a %d-byte file: %v, want it refused for its size", MaxFileSize+10, err)
	}
}
