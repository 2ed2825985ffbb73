package config

import (
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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
		{"snapshot_url not http", "max_connections: 2", "max_connections: 2\n        snapshot_url: ftp://user:secret@127.0.0.1/s.jpg", []string{"subnets[0].cameras[0].snapshot_url", "user:***@"}},
		{"detect_url not rtsp", "max_connections: 2", "max_connections: 2\n        detect_url: http://127.0.0.1/sub", []string{"subnets[0].cameras[0].detect_url", `"http"`}},
		{"hwaccel unknown", "max_connections: 2", "max_connections: 2\n        hwaccel: turbo", []string{"subnets[0].cameras[0].hwaccel", `"turbo"`}},
		{"input_args second input", "max_connections: 2", "max_connections: 2\n        input_args: [-i, /etc/passwd]", []string{"subnets[0].cameras[0].input_args[0]", "input"}},
		{"webhook format", "db: camvisor.db", "db: camvisor.db\nalerts: { webhook: { url: http://127.0.0.1:9093, format: slack } }", []string{"alerts.webhook.format", `"slack"`}},
		{"go2rtc unknown key", "db: camvisor.db", "db: camvisor.db\ngo2rtc: { url: http://127.0.0.1:1984, origin: x }", []string{"go2rtc.origin", "unknown key"}},
		{"allowed host a URL", "db: camvisor.db", "db: camvisor.db\nweb: { allowed_hosts: [ok.example, \"https://proxy.example/\"] }", []string{"web.allowed_hosts[1]", "not a URL"}},
		{"allowed host bad port", "db: camvisor.db", "db: camvisor.db\nweb: { allowed_hosts: [\"proxy.example:99999\"] }", []string{"web.allowed_hosts[0]", "port"}},
		{"webhook path hidden", "db: camvisor.db", "db: camvisor.db\nalerts: { webhook: { url: \"ftp://hooks.example/services/T0/B0/HOOKSECRET\" } }", []string{"alerts.webhook.url", "ftp://hooks.example/***"}},
		{"camera mode", "max_connections: 2", "max_connections: 2\n        mode: video", []string{"subnets[0].cameras[0].mode", `"video"`, "snapshot or stream"}},
		{"stream mode with snapshot_url", "max_connections: 2", "max_connections: 2\n        mode: stream\n        snapshot_url: http://user:secret@127.0.0.1/s.jpg",
			[]string{"subnets[0].cameras[0].mode", "snapshot_url", "user:***@"}},
		{"stall timeout unparsable", "rtsp_timeout: 5s", "rtsp_timeout: 5s, stall_timeout: long", []string{"ffmpeg.stall_timeout", "long"}},
		{"stall timeout negative", "rtsp_timeout: 5s", "rtsp_timeout: 5s, stall_timeout: -1s", []string{"ffmpeg.stall_timeout", "-1s"}},
		{"stall timeout too short", "rtsp_timeout: 5s", "rtsp_timeout: 5s, stall_timeout: 100ms", []string{"ffmpeg.stall_timeout", "100ms", "at least 1s"}},
		{"stream_below negative", "db: camvisor.db", "db: camvisor.db\npatrol: { stream_below: -10s }", []string{"patrol.stream_below", "-10s"}},
		{"patrol unknown key", "db: camvisor.db", "db: camvisor.db\npatrol: { stream: 10s }", []string{"patrol.stream", "unknown key"}},
		{"name with a line break", "max_connections: 2", "max_connections: 2\n        name: \"玄関\\n2\"", []string{"subnets[0].cameras[0].name", "control character"}},
		{"name only spaces", "max_connections: 2", "max_connections: 2\n        name: \"  \"", []string{"subnets[0].cameras[0].name", "only spaces"}},
		{"name too long", "max_connections: 2", "max_connections: 2\n        name: " + strings.Repeat("玄", 65), []string{"subnets[0].cameras[0].name", "65 characters", "at most 64"}},
		{"duplicate name", "max_connections: 2", "max_connections: 2\n        name: 玄関\n      - id: cam2\n        url: rtsp://127.0.0.1/x\n        max_connections: 1\n        name: 玄関",
			[]string{"subnets[0].cameras[1].name", `"玄関"`, "subnets[0].cameras[0]"}},
		{"enabled not a bool", "max_connections: 2", "max_connections: 2\n        enabled: maybe", []string{"maybe", "bool", "line 13"}},
		{"motion threshold too high", "max_connections: 2", "max_connections: 2\n        motion: { threshold: 300 }", []string{"subnets[0].cameras[0].motion.threshold", "1 to 255", "got 300"}},
		{"motion min_area above 1", "max_connections: 2", "max_connections: 2\n        motion: { min_area: 2 }", []string{"subnets[0].cameras[0].motion.min_area", "got 2"}},
		{"motion mask odd", "max_connections: 2", "max_connections: 2\n        motion: { masks: [[0, 0, 1, 0, 1]] }", []string{"subnets[0].cameras[0].motion.masks[0]", "5 numbers", "pairs"}},
		{"motion mask two points", "max_connections: 2", "max_connections: 2\n        motion: { masks: [[0, 0, 1, 1]] }", []string{"subnets[0].cameras[0].motion.masks[0]", "2 points", "at least 3"}},
		{"motion mask outside", "max_connections: 2", "max_connections: 2\n        motion: { masks: [[0, 0, 1.5, 0, 1, 0.1]] }", []string{"subnets[0].cameras[0].motion.masks[0][2]", "x 1.5", "0 to 1"}},
		{"motion mask key unknown", "max_connections: 2", "max_connections: 2\n        motion: { mask: [] }", []string{"subnets[0].cameras[0].motion.mask", "unknown key"}},
		{"go2rtc_streams without go2rtc", "max_connections: 2", "max_connections: 2\n        go2rtc_streams: [frontdoor]", []string{"subnets[0].cameras[0].go2rtc_streams[0]", `"frontdoor"`, "go2rtc.url"}},
		{"mqtt url not mqtt", "db: camvisor.db", "db: camvisor.db\nmqtt: { url: \"http://127.0.0.1:1883\" }", []string{"mqtt.url", `"http"`, "mqtt or mqtts"}},
		{"mqtt url with credentials", "db: camvisor.db", "db: camvisor.db\nmqtt: { url: \"mqtt://cam:secret@127.0.0.1\" }",
			[]string{"mqtt.url", "cam:***@", "mqtt.username"}},
		{"mqtt url with a path", "db: camvisor.db", "db: camvisor.db\nmqtt: { url: \"mqtt://127.0.0.1:1883/x\" }", []string{"mqtt.url", "nothing after the port"}},
		{"mqtt port", "db: camvisor.db", "db: camvisor.db\nmqtt: { url: \"mqtt://127.0.0.1:99999\" }", []string{"mqtt.url", `"99999"`}},
		{"mqtt wildcard prefix", "db: camvisor.db", "db: camvisor.db\nmqtt: { url: \"mqtt://127.0.0.1\", topic_prefix: \"cams/#\" }",
			[]string{"mqtt.topic_prefix", `"cams/#"`}},
		{"mqtt empty prefix", "db: camvisor.db", "db: camvisor.db\nmqtt: { url: \"mqtt://127.0.0.1\", topic_prefix: \"\" }", []string{"mqtt.topic_prefix", "empty"}},
		{"mqtt password without user", "db: camvisor.db", "db: camvisor.db\nmqtt: { url: \"mqtt://127.0.0.1\", password: secret }", []string{"mqtt.password", "mqtt.username"}},
		{"mqtt discovery without broker", "db: camvisor.db", "db: camvisor.db\nmqtt: { discovery: true }", []string{"mqtt.url", "discovery"}},
		{"mqtt unknown key", "db: camvisor.db", "db: camvisor.db\nmqtt: { url: \"mqtt://127.0.0.1\", qos: 2 }", []string{"mqtt.qos", "unknown key"}},
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

// TestGo2RTCStreamsValidated: cameras[].go2rtc_streams names streams of
// the operator's go2rtc, each read by one camera; camvisor's own names and
// what cannot go into a URL query as it is are refused, naming the field.
func TestGo2RTCStreamsValidated(t *testing.T) {
	withStreams := func(cam1, cam2 string) string {
		return strings.Replace(good, "db: camvisor.db", "db: camvisor.db\ngo2rtc: { url: http://127.0.0.1:1984 }", 1) +
			"        go2rtc_streams: " + cam1 + "\n      - id: cam2\n        url: rtsp://127.0.0.1:8554/cam2\n        max_connections: 1\n" +
			"        go2rtc_streams: " + cam2 + "\n"
	}
	cfg, err := Parse([]byte(withStreams("[frontdoor, frontdoor_sub]", "[garage]")))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Subnets[0].Cameras[0].Go2RTCStreams; !reflect.DeepEqual(got, []string{"frontdoor", "frontdoor_sub"}) {
		t.Errorf("go2rtc_streams parsed as %v", got)
	}
	for _, tc := range []struct {
		cam1, cam2 string
		want       []string
	}{
		{"[frontdoor]", "[frontdoor]", []string{"subnets[0].cameras[1].go2rtc_streams[0]", `"frontdoor"`, "subnets[0].cameras[0].go2rtc_streams[0]"}},
		{"[frontdoor, frontdoor]", "[]", []string{"subnets[0].cameras[0].go2rtc_streams[1]", `"frontdoor"`}},
		{"[camvisor_cam1]", "[]", []string{"subnets[0].cameras[0].go2rtc_streams[0]", `"camvisor_cam1"`, "camvisor gives its own"}},
		{`["front door"]`, "[]", []string{"subnets[0].cameras[0].go2rtc_streams[0]", `"front door"`, "white space"}},
		{`["a&b"]`, "[]", []string{"go2rtc_streams[0]", `"a&b"`}},
		{`[""]`, "[]", []string{"go2rtc_streams[0]", `""`}},
	} {
		_, err := Parse([]byte(withStreams(tc.cam1, tc.cam2)))
		if err == nil {
			t.Errorf("%s / %s accepted", tc.cam1, tc.cam2)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s / %s: error %q does not mention %q", tc.cam1, tc.cam2, err, w)
			}
		}
	}
}

func TestEnvExpansionAndPasswordFile(t *testing.T) {
	t.Setenv("CAMVISOR_TEST_PW", "env-pa55")
	t.Setenv("CAMVISOR_TEST_HOST", "127.0.0.1")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "front.pw"), []byte("file-pa55:/@\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "c.yaml")
	text := `
alerts: { webhook: { url: "http://${CAMVISOR_TEST_HOST}:9093/x", timeout: "${CAMVISOR_TEST_T}" } }
subnets:
  - name: lab
    cameras:
      - id: a
        url: rtsp://admin:${CAMVISOR_TEST_PW}@${CAMVISOR_TEST_HOST}:8554/a
        max_connections: 2
      - id: b
        url: rtsp://admin@127.0.0.1:8554/b
        snapshot_url: http://admin@127.0.0.1/snap.jpg
        password_file: front.pw
        max_connections: 2
        input_args: ["$${literal}"]
`
	os.WriteFile(path, []byte(text), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "alerts.webhook.timeout") || !strings.Contains(err.Error(), "CAMVISOR_TEST_T") {
		t.Fatalf("unset variable: %v", err)
	}
	t.Setenv("CAMVISOR_TEST_T", "3s")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := cfg.Camera("a")
	b, _ := cfg.Camera("b")
	if a.URL != "rtsp://admin:env-pa55@127.0.0.1:8554/a" || cfg.Alerts.Webhook.Timeout.Duration != 3*time.Second {
		t.Errorf("expanded: %q, %v", a.URL, cfg.Alerts.Webhook.Timeout)
	}
	u, _ := url.Parse(b.URL)
	if pw, _ := u.User.Password(); pw != "file-pa55:/@" || !strings.Contains(b.SnapshotURL, "admin:") || b.InputArgs[0] != "${literal}" {
		t.Errorf("password file: %q %q %q", b.URL, b.SnapshotURL, b.InputArgs)
	}
	shown := cfg.Redacted()
	for _, secret := range []string{"env-pa55", "file-pa55"} {
		if strings.Contains(shown, secret) {
			t.Errorf("Redacted shows %s:\n%s", secret, shown)
		}
	}
	if !strings.Contains(shown, "${CAMVISOR_TEST_PW}") && !strings.Contains(shown, "admin:***@${CAMVISOR_TEST_HOST}") {
		t.Errorf("Redacted does not show the reference:\n%s", shown)
	}

	// A new password in the file is a change of camera b, said without it.
	os.WriteFile(filepath.Join(dir, "front.pw"), []byte("other-pa55"), 0o600)
	next, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ch := Compare(cfg, next)
	if !slices.Equal(ch.Changed, []string{"b"}) || len(ch.Added)+len(ch.Removed) != 0 || ch.Restart != nil {
		t.Fatalf("changes %+v", ch)
	}
	if l := strings.Join(ch.Lines, "\n"); !strings.Contains(l, "url: credentials changed") || strings.Contains(l, "pa55") {
		t.Errorf("lines %q", l)
	}

	for name, bad := range map[string]string{
		"no user":       strings.Replace(text, "rtsp://admin@127.0.0.1:8554/b", "rtsp://127.0.0.1:8554/b", 1),
		"two passwords": strings.Replace(text, "rtsp://admin@127.0.0.1:8554/b", "rtsp://admin:x@127.0.0.1:8554/b", 1),
		"missing file":  strings.Replace(text, "front.pw", "nope.pw", 1),
		"endless file":  strings.Replace(text, "front.pw", "/dev/zero", 1),
		"bad name":      strings.Replace(text, "${CAMVISOR_TEST_T}", "${1X}", 1),
	} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := Load(path); err == nil || (!strings.Contains(err.Error(), "password_file") && !strings.Contains(err.Error(), "timeout")) {
			t.Errorf("%s: %v", name, err)
		} else if strings.Contains(err.Error(), "pa55") {
			t.Errorf("%s: error shows the password: %v", name, err)
		}
	}

	// A value from the environment that does not validate is refused
	// without being quoted: it may be a secret outside any URL.
	t.Setenv("CAMVISOR_TEST_G", "not-a-url-pa55")
	os.WriteFile(path, []byte(strings.Replace(text, "alerts:", "go2rtc: { url: \"${CAMVISOR_TEST_G}\" }\nalerts:", 1)), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "go2rtc.url") || strings.Contains(err.Error(), "pa55") {
		t.Errorf("a bad value from the environment: %v", err)
	}
	// Through the relay (a url with credentials) RTP comes over TCP only.
	os.WriteFile(path, []byte(strings.Replace(text, `input_args: ["$${literal}"]`, `input_args: [-rtsp_transport, udp]`, 1)), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "subnets[0].cameras[1].input_args[1]") || !strings.Contains(err.Error(), "relay") {
		t.Errorf("udp through the relay: %v", err)
	}
	// input_args and hwaccel go onto ffmpeg's command line, which every
	// local user reads: a value from the environment is refused there.
	for _, field := range []string{`input_args: ["-headers", "${CAMVISOR_TEST_PW}"]`, `hwaccel: "${CAMVISOR_TEST_PW}"`} {
		os.WriteFile(path, []byte(strings.Replace(text, `input_args: ["$${literal}"]`, field, 1)), 0o600)
		name, _, _ := strings.Cut(field, ":")
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "subnets[0].cameras[1]."+name) || !strings.Contains(err.Error(), "command line") {
			t.Errorf("%s from the environment: %v", name, err)
		}
	}
}

func TestCompare(t *testing.T) {
	base := `
listen: 127.0.0.1:8080
subnets:
  - name: lab
    interval: 30s
    cameras:
      - { id: a, url: "rtsp://u:p@127.0.0.1/a", max_connections: 2 }
      - { id: b, url: "rtsp://u:p@127.0.0.1/b", max_connections: 2 }
      - { id: c, url: "rtsp://u:p@127.0.0.1/c", max_connections: 2 }
  - name: old
    cameras:
      - { id: d, url: "rtsp://u:p@127.0.0.1/d", max_connections: 2 }
`
	next := `
listen: 127.0.0.1:9090
subnets:
  - name: lab
    interval: 10s
    cameras:
      - { id: a, url: "rtsp://u:p@127.0.0.1/a", max_connections: 2 }
      - { id: b, url: "rtsp://u:p@127.0.0.1/b", max_connections: 3 }
      - { id: e, url: "rtsp://u:p@127.0.0.1/e", max_connections: 2 }
  - name: new
    cameras:
      - { id: c, url: "rtsp://u:p@127.0.0.1/c", max_connections: 2 }
`
	o, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	n, err := Parse([]byte(next))
	if err != nil {
		t.Fatal(err)
	}
	ch := Compare(o, n)
	check := func(what string, got, want []string) {
		t.Helper()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}
	check("added subnets", ch.AddedSubnets, []string{"new"})
	check("removed subnets", ch.RemovedSubnets, []string{"old"})
	check("changed subnets", ch.ChangedSubnets, []string{"lab"})
	check("added", ch.Added, []string{"c", "e"})
	check("removed", ch.Removed, []string{"c", "d"})
	check("changed", ch.Changed, []string{"b"})
	check("retire lab", ch.Retire["lab"], []string{"b", "c"})
	check("restart", ch.Restart, []string{"listen"})
	if _, ok := ch.Retire["old"]; ok {
		t.Error("a removed subnet's cameras are listed to retire one by one")
	}
	if l := strings.Join(ch.Lines, "\n"); !strings.Contains(l, "max_connections 2 → 3") || !strings.Contains(l, "moved from subnet lab to new") {
		t.Errorf("lines:\n%s", l)
	}
	if Compare(o, o).None() != true {
		t.Error("no change is a change")
	}
	// A subnet's new interval that crosses patrol.stream_below restarts its
	// unchanged cameras in their other mode; patrol's own change waits for
	// the next start.
	o.Patrol.StreamBelow = D(15 * time.Second)
	ch = Compare(o, n)
	check("changed across stream_below", ch.Changed, []string{"a", "b"})
	check("retire lab across stream_below", ch.Retire["lab"], []string{"a", "b", "c"})
	if l := strings.Join(ch.Lines, "\n"); !strings.Contains(l, "camera a: mode snapshot → stream") {
		t.Errorf("lines:\n%s", l)
	}
}

// TestMergeKeysDefaultsAndCredentials: YAML merge keys share camera
// settings (anchors may live under a top-level x- key), ${NAME:-default}
// gives a default, and a relative password_file is a systemd credential
// when $CREDENTIALS_DIRECTORY is set.
func TestMergeKeysDefaultsAndCredentials(t *testing.T) {
	dir := t.TempDir()
	creds := t.TempDir()
	os.WriteFile(filepath.Join(dir, "front.pw"), []byte("next-to-config-pa55\n"), 0o600)
	os.WriteFile(filepath.Join(creds, "front.pw"), []byte("credential-pa55\n"), 0o600)
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte(`
x-tapo: &tapo
  max_connections: 2
  mode: snapshot
  input_args: [-fflags, nobuffer]
x-subnet: &subnet
  interval: ${CAMVISOR_TEST_INTERVAL:-7s}
  concurrency: 3
listen: ${CAMVISOR_TEST_LISTEN:-127.0.0.1:8181}
subnets:
  - <<: *subnet
    name: lab
    cameras:
      - <<: *tapo
        id: front
        url: rtsp://admin@127.0.0.1:8554/front
        password_file: front.pw
      - <<: [*tapo]
        id: back
        url: rtsp://admin:pw@127.0.0.1:8554/back
        max_connections: 4
`), 0o600)
	t.Setenv("CAMVISOR_TEST_LISTEN", "")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	front, _ := cfg.Camera("front")
	back, _ := cfg.Camera("back")
	if front.MaxConnections != 2 || front.Mode != ModeSnapshot || !slices.Equal(front.InputArgs, []string{"-fflags", "nobuffer"}) {
		t.Errorf("front did not merge *tapo: %+v", front.Camera)
	}
	if back.MaxConnections != 4 || back.Mode != ModeSnapshot {
		t.Errorf("back: its own key must win over the merged one: %+v", back.Camera)
	}
	if s := cfg.Subnets[0]; s.Interval.Duration != 7*time.Second || s.Concurrency != 3 || cfg.Listen != "127.0.0.1:8181" {
		t.Errorf("defaults: interval %v concurrency %d listen %q", s.Interval, s.Concurrency, cfg.Listen)
	}
	if !strings.Contains(front.URL, "next-to-config-pa55") {
		t.Errorf("without $CREDENTIALS_DIRECTORY the password file is read next to the config: %q", front.URL)
	}

	t.Setenv("CAMVISOR_TEST_INTERVAL", "9s")
	t.Setenv(CredentialsDirectory, creds)
	cfg, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	front, _ = cfg.Camera("front")
	if cfg.Subnets[0].Interval.Duration != 9*time.Second || !strings.Contains(front.URL, "credential-pa55") {
		t.Errorf("with the variable set: interval %v, url %q", cfg.Subnets[0].Interval, front.URL)
	}
	if r := cfg.Redacted(); strings.Contains(r, "pa55") || !strings.Contains(r, "password_file: front.pw") {
		t.Errorf("Redacted:\n%s", r)
	}
	os.Remove(filepath.Join(creds, "front.pw"))
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "$CREDENTIALS_DIRECTORY ("+creds+")") {
		t.Errorf("a missing credential must say where it was looked for: %v", err)
	}

	// A key merged in is checked as one written in place.
	os.WriteFile(path, []byte("x-cam: &cam\n  max_connection: 2\nsubnets:\n  - name: lab\n    cameras:\n      - <<: *cam\n        id: a\n        url: rtsp://127.0.0.1/a\n"), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), `subnets[0].cameras[0].max_connection: unknown key "max_connection"`) {
		t.Errorf("a misspelt key behind <<: %v", err)
	}
	// Only the top level takes x- keys.
	os.WriteFile(path, []byte("subnets:\n  - name: lab\n    x-note: 1\n    cameras:\n      - id: a\n        url: rtsp://127.0.0.1/a\n        max_connections: 2\n"), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "x-note") {
		t.Errorf("x- below the top level: %v", err)
	}
}

// TestMQTTConfig: the mqtt section's defaults, and its password used but
// never shown: ${NAME} stays ${NAME} in what is recorded and served, a
// password written in the file is ***.
func TestMQTTConfig(t *testing.T) {
	cfg, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.MQTT; m.Enabled() || m.TopicPrefix != "camvisor" || m.Discovery || m.Commands {
		t.Errorf("defaults: %+v", m)
	}
	t.Setenv("MQTT_PASSWORD", "mq-Pa55word")
	cfg, err = Parse([]byte(good + "mqtt:\n  url: mqtts://broker.lan\n  username: camvisor\n  password: ${MQTT_PASSWORD}\n  topic_prefix: home/cams\n  discovery: true\n  commands: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.MQTT; !m.Enabled() || m.Password != "mq-Pa55word" || m.Username != "camvisor" || m.TopicPrefix != "home/cams" || !m.Discovery || !m.Commands {
		t.Errorf("parsed %+v", m)
	}
	r := cfg.Redacted()
	if strings.Contains(r, "mq-Pa55word") || !strings.Contains(r, "password: ${MQTT_PASSWORD}") {
		t.Errorf("redacted config:\n%s", r)
	}
	cfg, err = Parse([]byte(good + "mqtt: { url: \"mqtt://127.0.0.1:1883\", username: u, password: \"in-the-file\" }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Redacted(); strings.Contains(r, "in-the-file") || !strings.Contains(r, "password: '***'") {
		t.Errorf("redacted config:\n%s", r)
	}
	// A refusal never quotes the password from the environment.
	_, err = Parse([]byte(good + "mqtt: { url: \"mqtt://127.0.0.1:1883/${MQTT_PASSWORD}\" }\n"))
	if err == nil || strings.Contains(err.Error(), "mq-Pa55word") || !strings.Contains(err.Error(), "mqtt.url") {
		t.Errorf("bad url: %v", err)
	}
}

// TestCameraNameEnabledMotion: a display name in any script, enabled and
// the motion settings are read as written; the id stays what it is; the
// motion settings need the motion detector.
func TestCameraNameEnabledMotion(t *testing.T) {
	cfg, err := Parse([]byte(strings.Replace(good, "max_connections: 2", `max_connections: 2
        name: 玄関 <front & "door">
        enabled: false
        motion:
          threshold: 30
          min_area: 0.01
          masks:
            - [0, 0, 0.5, 0, 0.5, 0.1, 0, 0.1]`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	cam := cfg.Subnets[0].Cameras[0]
	if cam.ID != "cam1" || cam.DisplayName() != `玄関 <front & "door">` || cam.IsEnabled() {
		t.Errorf("id %q, name %q, enabled %v", cam.ID, cam.DisplayName(), cam.IsEnabled())
	}
	want := Motion{Threshold: 30, MinArea: 0.01, Masks: [][]float64{{0, 0, 0.5, 0, 0.5, 0.1, 0, 0.1}}}
	if !reflect.DeepEqual(cam.Motion, want) {
		t.Errorf("motion %+v, want %+v", cam.Motion, want)
	}
	if r := cfg.Redacted(); !strings.Contains(r, "玄関") || !strings.Contains(r, "enabled: false") || !strings.Contains(r, "threshold: 30") {
		t.Errorf("the recorded config lacks the camera's name, enabled or motion:\n%s", r)
	}

	plain, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c := plain.Subnets[0].Cameras[0]; c.DisplayName() != "cam1" || !c.IsEnabled() || !c.Motion.IsZero() {
		t.Errorf("without the keys: name %q, enabled %v, motion %+v", c.DisplayName(), c.IsEnabled(), c.Motion)
	}

	_, err = Parse([]byte(strings.Replace(good, "max_connections: 2", "max_connections: 2\n        motion: { threshold: 40 }", 1) +
		"detector: { kind: http, url: \"http://127.0.0.1:5000/v1/detect\" }\n"))
	if err == nil || !strings.Contains(err.Error(), "subnets[0].cameras[0].motion") || !strings.Contains(err.Error(), "detector.kind") {
		t.Errorf("motion settings with an http detector: %v", err)
	}
}

// TestWebPProfAndDetectorOff: web.pprof is off unless set, and
// detector.kind off is accepted (frames are recorded, nothing looks at
// them).
func TestWebPProfAndDetectorOff(t *testing.T) {
	cfg, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Web.PProf {
		t.Error("web.pprof is on by default")
	}
	cfg, err = Parse([]byte(strings.Replace(good, "db: camvisor.db", "db: camvisor.db\nweb: { pprof: true }\ndetector: { kind: off }", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Web.PProf || cfg.Detector.Kind != "off" {
		t.Errorf("web.pprof %v, detector.kind %q", cfg.Web.PProf, cfg.Detector.Kind)
	}
}
