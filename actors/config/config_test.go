package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const good = `
listen: 127.0.0.1:8080
db: camvisor.db
ffmpeg: { path: ffmpeg, capture_timeout: 10s, kill_grace: 2s, rtsp_timeout: 5s }
subnets:
  - name: lab
    interval: 30s
    concurrency: 4
    cameras:
      - id: cam1
        url: rtsp://user:secret@127.0.0.1:8554/cam1
        max_connections: 2
`

func TestParseGoodConfig(t *testing.T) {
	cfg, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	cam := cfg.Subnets[0].Cameras[0]
	if cam.MaxConnections != 2 || cfg.Subnets[0].Interval.Duration != 30*time.Second || cam.Queue != DefaultQueue {
		t.Fatalf("parsed %+v", cfg.Subnets[0])
	}
	if *cfg.FFmpeg.Retries != 1 || cfg.Record.Retention.Duration != 14*24*time.Hour {
		t.Fatalf("defaults not applied: %+v", cfg.FFmpeg)
	}
	if r := cfg.Redacted(); strings.Contains(r, "secret") || !strings.Contains(r, "user:***@127.0.0.1:8554/cam1") {
		t.Fatalf("redacted config:\n%s", r)
	}
}

// TestStreamMode: which cameras stream, by their mode and
// patrol.stream_below; and the stall timeout's default.
func TestStreamMode(t *testing.T) {
	cfg, err := Parse([]byte(good + `
      - id: cam2
        url: rtsp://127.0.0.1:8554/cam2
        max_connections: 2
        mode: stream
      - id: cam3
        url: rtsp://127.0.0.1:8554/cam3
        max_connections: 2
        mode: snapshot
  - name: hot
    interval: 5s
    cameras:
      - id: cam4
        url: rtsp://127.0.0.1:8554/cam4
        max_connections: 2
      - id: cam5
        url: rtsp://127.0.0.1:8554/cam5
        max_connections: 2
        mode: snapshot
`))
	if err != nil {
		t.Fatal(err)
	}
	streams := func() map[string]bool {
		out := map[string]bool{}
		for _, c := range cfg.Cameras() {
			out[c.ID] = cfg.Streams(c.Subnet, c.Camera)
		}
		return out
	}
	if got, want := streams(), map[string]bool{"cam1": false, "cam2": true, "cam3": false, "cam4": false, "cam5": false}; !reflect.DeepEqual(got, want) {
		t.Errorf("without stream_below: %v, want %v", got, want)
	}
	cfg.Patrol.StreamBelow = D(10 * time.Second) // the lab's 30 s is not below, the hot 5 s is
	if got, want := streams(), map[string]bool{"cam1": false, "cam2": true, "cam3": false, "cam4": true, "cam5": false}; !reflect.DeepEqual(got, want) {
		t.Errorf("stream_below 10s: %v, want %v", got, want)
	}
	cfg.Patrol.StreamBelow = D(5 * time.Second) // at least that often: 5 s is
	if !streams()["cam4"] {
		t.Error("a subnet patrolled exactly every stream_below does not stream")
	}
	for gop, want := range map[time.Duration]time.Duration{0: 10 * time.Second, 2 * time.Second: 10 * time.Second, 5 * time.Second: 15 * time.Second} {
		if got := cfg.FFmpeg.StallTimeoutFor(gop); got != want {
			t.Errorf("default stall timeout for a %v GOP: %v, want %v", gop, got, want)
		}
	}
	cfg.FFmpeg.StallTimeout = D(4 * time.Second)
	if got := cfg.FFmpeg.StallTimeoutFor(5 * time.Second); got != 4*time.Second {
		t.Errorf("configured stall timeout: %v", got)
	}
}

// TestConfigRejects has one case per rejected input: the error must name
// the field and the value, and never show the password.
func TestConfigRejects(t *testing.T) {
	cases := []struct {
		name, from, to string
		want           []string
	}{
		{"unknown top-level key", "db: camvisor.db", "db: camvisor.db\nlisten_addr: x", []string{"listen_addr", "unknown key"}},
		{"unknown camera key", "max_connections: 2", "max_connections: 2\n        maxconn: 3", []string{"subnets[0].cameras[0].maxconn", "unknown key"}},
		{"unknown ffmpeg key", "rtsp_timeout: 5s", "rtsp_timeout: 5s, stimeout: 5", []string{"ffmpeg.stimeout"}},
		{"duplicate camera id", "max_connections: 2", "max_connections: 2\n      - id: cam1\n        url: rtsp://127.0.0.1/x\n        max_connections: 1", []string{"subnets[0].cameras[1].id", `"cam1"`, "duplicate"}},
		{"max_connections zero", "max_connections: 2", "max_connections: 0", []string{"subnets[0].cameras[0].max_connections", "got 0"}},
		{"max_connections negative", "max_connections: 2", "max_connections: -1", []string{"max_connections", "got -1"}},
		{"max_connections missing", "\n        max_connections: 2", "", []string{"subnets[0].cameras[0].max_connections"}},
		{"http scheme", "rtsp://user:secret@", "http://user:secret@", []string{"subnets[0].cameras[0].url", `"http"`, "user:***@"}},
		{"file path url", "rtsp://user:secret@127.0.0.1:8554/cam1", "/etc/passwd", []string{"subnets[0].cameras[0].url", "scheme"}},
		{"url starting with dash", "rtsp://user:secret@127.0.0.1:8554/cam1", "-i/etc/passwd", []string{"subnets[0].cameras[0].url", "must not start with '-'"}},
		{"url without host", "rtsp://user:secret@127.0.0.1:8554/cam1", "rtsp:///cam1", []string{"subnets[0].cameras[0].url", "no host"}},
		{"bad duration", "capture_timeout: 10s", "capture_timeout: 10 seconds", []string{"ffmpeg.capture_timeout", "10 seconds"}},
		{"zero duration", "kill_grace: 2s", "kill_grace: 0s", []string{"ffmpeg.kill_grace", "positive"}},
		{"negative interval", "interval: 30s", "interval: -5s", []string{"subnets[0].interval", "positive", "-5s"}},
		{"unparsable interval", "interval: 30s", "interval: soon", []string{"subnets[0].interval", "soon"}},
		{"concurrency zero", "concurrency: 4", "concurrency: -1", []string{"subnets[0].concurrency", "got -1"}},
		{"camera id with slash", "id: cam1", "id: cam/1", []string{"subnets[0].cameras[0].id", `"cam/1"`}},
		{"listen not host:port", "listen: 127.0.0.1:8080", "listen: localhost", []string{"listen", `"localhost"`}},
		{"no subnets", good, "db: x.db\n", []string{"subnets"}},
		{"not yaml", good, "subnets: [", []string{"YAML"}},
		{"go2rtc url not http", "db: camvisor.db", "db: camvisor.db\ngo2rtc: { url: rtsp://127.0.0.1:1984 }", []string{"go2rtc.url", "rtsp://127.0.0.1:1984"}},
		{"go2rtc url with path", "db: camvisor.db", "db: camvisor.db\ngo2rtc: { url: http://127.0.0.1:1984/api }", []string{"go2rtc.url", "path"}},
		{"go2rtc lease zero", "db: camvisor.db", "db: camvisor.db\ngo2rtc: { url: http://127.0.0.1:1984, lease: 0s }", []string{"go2rtc.lease"}},
		{"detector kind", "db: camvisor.db", "db: camvisor.db\ndetector: { kind: yolo }", []string{"detector.kind", `"yolo"`}},
		{"http detector without url", "db: camvisor.db", "db: camvisor.db\ndetector: { kind: http }", []string{"detector.url"}},
		{"detector score above 1", "db: camvisor.db", "db: camvisor.db\ndetector: { min_score: 1.5 }", []string{"detector.min_score", "1.5"}},
		{"playback max_live zero", "db: camvisor.db", "db: camvisor.db\nplayback: { max_live: 0 }", []string{"playback.max_live", "got 0"}},
		{"playback cooldown unparsable", "db: camvisor.db", "db: camvisor.db\nplayback: { cooldown: later }", []string{"playback.cooldown", "later"}},
		{"go2rtc unknown key", "db: camvisor.db", "db: camvisor.db\ngo2rtc: { url: http://127.0.0.1:1984, origin: x }", []string{"go2rtc.origin", "unknown key"}},
		{"camera mode", "max_connections: 2", "max_connections: 2\n        mode: video", []string{"subnets[0].cameras[0].mode", `"video"`, "snapshot or stream"}},
		{"stall timeout unparsable", "rtsp_timeout: 5s", "rtsp_timeout: 5s, stall_timeout: long", []string{"ffmpeg.stall_timeout", "long"}},
		{"stall timeout negative", "rtsp_timeout: 5s", "rtsp_timeout: 5s, stall_timeout: -1s", []string{"ffmpeg.stall_timeout", "-1s"}},
		{"stall timeout too short", "rtsp_timeout: 5s", "rtsp_timeout: 5s, stall_timeout: 100ms", []string{"ffmpeg.stall_timeout", "100ms", "at least 1s"}},
		{"stream_below negative", "db: camvisor.db", "db: camvisor.db\npatrol: { stream_below: -10s }", []string{"patrol.stream_below", "-10s"}},
		{"patrol unknown key", "db: camvisor.db", "db: camvisor.db\npatrol: { stream: 10s }", []string{"patrol.stream", "unknown key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.from) {
				t.Fatalf("test bug: %q not in the good config", tc.from)
			}
			_, err := Parse([]byte(strings.Replace(good, tc.from, tc.to, 1)))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the password: %q", err)
			}
		})
	}
}
