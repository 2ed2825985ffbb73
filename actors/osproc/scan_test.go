package osproc

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestScanFindsTaggedProcessByName: a process found by its name comes with
// its command line and its tags, read from /proc.
func TestScanFindsTaggedProcessByName(t *testing.T) {
	p, err := Start(Spec{Path: "/bin/sleep", Args: []string{"60"}, Env: []string{EnvRun + "=scan-test", EnvOwner + "=root/x/camera/c1/ffmpeg/1", EnvHome + "=/tmp/scan-test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(time.Second)
	var found *Info
	for _, info := range Scan("sleep") {
		if info.PID == p.PID {
			found = &info
		}
		if info.Name != "sleep" {
			t.Errorf("Scan(sleep) returned pid %d named %q", info.PID, info.Name)
		}
	}
	if found == nil {
		t.Fatalf("pid %d not found by name", p.PID)
	}
	if found.Run != "scan-test" || found.Camera() != "c1" || found.Home != "/tmp/scan-test" || strings.Join(found.Argv, " ") != "/bin/sleep 60" {
		t.Errorf("found %+v", *found)
	}
	for _, info := range Scan("ffmpeg") {
		if info.PID == p.PID {
			t.Errorf("Scan(ffmpeg) returned the sleep")
		}
	}
}

// TestScanTaggedFindsWhateverName: the reaper's scan finds a tagged
// process whatever its name, with its command line and tags, and an
// untagged one only when it bears the name asked for.
func TestScanTaggedFindsWhateverName(t *testing.T) {
	tagged, err := Start(Spec{Path: "/bin/sleep", Args: []string{"60"}, Env: []string{EnvRun + "=scan-tagged", EnvOwner + "=root/x/camera/c2/ffmpeg/1", EnvHome + "=/tmp/scan-test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tagged.Stop(time.Second)
	plain, err := Start(Spec{Path: "/bin/sleep", Args: []string{"61"}})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Stop(time.Second)
	var found *Info
	for _, info := range ScanTagged("ffmpeg") {
		switch {
		case info.PID == tagged.PID:
			found = &info
		case info.PID == plain.PID:
			t.Errorf("ScanTagged(ffmpeg) returned the untagged sleep %d", plain.PID)
		case info.Run == "" && info.Name != "ffmpeg":
			t.Errorf("ScanTagged(ffmpeg) returned pid %d, untagged and named %q", info.PID, info.Name)
		}
	}
	if found == nil {
		t.Fatalf("tagged pid %d not found", tagged.PID)
	}
	if found.Run != "scan-tagged" || found.Camera() != "c2" || found.Home != "/tmp/scan-test" || strings.Join(found.Argv, " ") != "/bin/sleep 60" || found.Name != "sleep" {
		t.Errorf("found %+v", *found)
	}
	for _, info := range ScanTagged("sleep") {
		if info.PID == plain.PID && strings.Join(info.Argv, " ") != "/bin/sleep 61" {
			t.Errorf("untagged sleep found by name without its command line: %+v", info)
		}
	}
}

// BenchmarkScan measures one scan of /proc: /metrics runs Scan("ffmpeg")
// on every scrape, the reaper's census ScanTagged every few seconds;
// "all" reads every process's stat, cmdline and environ, as both did
// before:
//
//	go test -run '^$' -bench Scan ./actors/osproc/
func BenchmarkScan(b *testing.B) {
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		if e.Name()[0] >= '0' && e.Name()[0] <= '9' {
			n++
		}
	}
	for _, bc := range []struct {
		name string
		scan func()
	}{
		{"all", func() { Scan("") }},
		{"metrics", func() { Scan("ffmpeg") }},
		{"census", func() { ScanTagged("ffmpeg") }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				bc.scan()
			}
			b.ReportMetric(float64(n), "processes")
		})
	}
}
