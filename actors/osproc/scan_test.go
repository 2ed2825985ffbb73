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

// BenchmarkScan measures one census scan of /proc, as the reaper and
// /metrics run it (every few seconds, and on every scrape):
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
	b.ResetTimer()
	for range b.N {
		Scan("ffmpeg")
	}
	b.ReportMetric(float64(n), "processes")
}
