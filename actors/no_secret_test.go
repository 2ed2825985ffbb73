package actors

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// TestNoSecretInArgv (invariant 6): while captures run — of a camera that
// answers, one that hangs, one whose URL carries a password in its query,
// and an H.264 camera in stream mode, whose one ffmpeg stays connected —
// the command line of every running ffmpeg, read from /proc/<pid>/cmdline
// as any local user can, holds no password, no user name and no query
// secret. The captures still work (through the relay, which answers
// camsim's Digest challenge; the stream's too), and each camera's
// connection count at camsim stays within its budget.
func TestNoSecretInArgv(t *testing.T) {
	const querySecret = "q-s3cret-7781"
	list := []camsim.Camera{{Name: "front", MaxConnections: 2}, {Name: "attic", Hang: true, MaxConnections: 2}, {Name: "foscam", MaxConnections: 2}}
	list = append(list, withCodec(camsim.CodecH264, camsim.Camera{Name: "hot", MaxConnections: 2})...)
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	cfg.Subnets[0].Interval = testDuration(time.Second)
	cfg.FFmpeg.CaptureTimeout = testDuration(3 * time.Second)
	for i, c := range cfg.Subnets[0].Cameras {
		switch c.ID {
		case "foscam":
			cfg.Subnets[0].Cameras[i].URL += "?usr=admin&pwd=" + querySecret
		case "hot":
			cfg.Subnets[0].Cameras[i].Mode = config.ModeStream
		}
	}
	h := startTree(t, cams, cfg)

	secrets := []string{testkit.CamsimPassword, querySecret, "admin:", "admin@"}
	seen := map[string]int{} // processes read, by camera
	var mu sync.Mutex
	check := func() {
		for _, p := range osproc.Scan("") {
			if p.Run != h.env.RunID || p.Zombie() {
				continue
			}
			raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID))
			if err != nil || len(raw) == 0 {
				continue // ended meanwhile
			}
			for _, s := range secrets {
				if bytes.Contains(raw, []byte(s)) {
					t.Errorf("/proc/%d/cmdline of camera %s holds %q: %q", p.PID, p.Camera(), s, bytes.ReplaceAll(raw, []byte{0}, []byte{' '}))
				}
			}
			if bytes.Contains(raw, []byte(cams.RTSPAddr())) {
				t.Errorf("/proc/%d/cmdline of camera %s addresses the camera directly: %q", p.PID, p.Camera(), bytes.ReplaceAll(raw, []byte{0}, []byte{' '}))
			}
			mu.Lock()
			seen[p.Camera()]++
			mu.Unlock()
		}
	}
	mark := h.mark()
	deadline := time.Now().Add(30 * time.Second)
	for {
		check()
		mu.Lock()
		every := seen["front"] > 0 && seen["attic"] > 0 && seen["foscam"] > 0 && seen["hot"] > 0
		mu.Unlock()
		ok := len(testkit.All(h.facts, mark, func(e *messages.CaptureDone) bool { return e.Outcome == messages.OutcomeOK && e.Camera == "foscam" })) > 0 &&
			len(testkit.All(h.facts, mark, func(e *messages.CaptureDone) bool { return e.Outcome == messages.OutcomeOK && e.Camera == "front" })) > 0 &&
			len(testkit.All(h.facts, mark, func(e *messages.CaptureDone) bool { return e.Outcome == messages.OutcomeTimeout && e.Camera == "attic" })) > 0 &&
			len(testkit.All(h.facts, mark, func(e *messages.CaptureDone) bool {
				return e.Outcome == messages.OutcomeOK && e.Camera == "hot" && e.Via == viaStream
			})) > 0
		if every && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: processes read per camera %v; still waiting for a capture of front and foscam to succeed, one of attic to time out and one of hot to come from its stream", seen)
		}
		time.Sleep(5 * time.Millisecond) // sampling pace: every running capture is read many times
	}
	for _, c := range list {
		if st := cams.Stats(c.Name); st.MaxOpen > 2 || st.Refused > 0 {
			t.Errorf("camera %s: camsim counts %+v, budget 2", c.Name, st)
		}
	}
	// What ffmpeg was told is what the record and the API show: the relay's
	// address, never the camera's credentials.
	started := testkit.All(h.facts, testkit.Start, func(e *messages.ProcessStarted) bool { return true })
	if !slices.ContainsFunc(started, func(e *messages.ProcessStarted) bool { return e.Camera == "hot" && e.Purpose == "stream" }) {
		t.Error("no stream process of hot started: the test read no stream's command line")
	}
	for _, e := range started {
		argv := strings.Join(e.Argv, " ")
		if !strings.Contains(argv, "rtsp://"+h.env.Relay.Addr()+"/") {
			t.Errorf("process %d of %s was not given a relay URL: %s", e.OSPID, e.Camera, argv)
		}
	}
	t.Logf("command lines read per camera: %v; %d processes started", seen, len(started))
}
