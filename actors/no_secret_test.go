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
// one whose patrol reads its detect_url with its own input_args and
// hwaccel, and an H.264 camera in stream mode, whose one ffmpeg stays
// connected — the command line of every running ffmpeg, read from
// /proc/<pid>/cmdline as any local user can, holds no password, no user
// name and no query secret. The captures still work (through the relay,
// which answers camsim's Digest challenge; the stream's too), and each
// camera's connection count at camsim stays within its budget.
func TestNoSecretInArgv(t *testing.T) {
	const querySecret = "q-s3cret-7781"
	list := []camsim.Camera{{Name: "front", MaxConnections: 2}, {Name: "attic", Hang: true, MaxConnections: 2}, {Name: "foscam", MaxConnections: 2},
		{Name: "tuned", MaxConnections: 2}}
	list = append(list, withCodec(camsim.CodecH264, camsim.Camera{Name: "hot", MaxConnections: 2})...)
	// tuned's sub-stream: a camera of its own at camsim, to count its
	// connections apart.
	cams := startCamsim(t, append(list, camsim.Camera{Name: "tuned-sub", MaxConnections: 2})...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	cfg.Subnets[0].Interval = testDuration(time.Second)
	cfg.FFmpeg.CaptureTimeout = testDuration(3 * time.Second)
	for i, c := range cfg.Subnets[0].Cameras {
		switch c.ID {
		case "foscam":
			cfg.Subnets[0].Cameras[i].URL += "?usr=admin&pwd=" + querySecret
		case "tuned":
			cam := &cfg.Subnets[0].Cameras[i]
			cam.DetectURL, cam.InputArgs, cam.HWAccel = cams.URL("tuned-sub"), []string{"-fflags", "nobuffer"}, "auto"
		case "hot":
			cfg.Subnets[0].Cameras[i].Mode = config.ModeStream
			cfg.Subnets[0].Cameras[i].InputArgs = []string{"-fflags", "nobuffer"}
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
		every := seen["front"] > 0 && seen["attic"] > 0 && seen["foscam"] > 0 && seen["tuned"] > 0 && seen["hot"] > 0
		mu.Unlock()
		done := func(camera string, o messages.Outcome, via ...string) bool {
			return len(testkit.All(h.facts, mark, func(e *messages.CaptureDone) bool {
				return e.Outcome == o && e.Camera == camera && (len(via) == 0 || e.Via == via[0])
			})) > 0
		}
		ok := done("foscam", messages.OutcomeOK) && done("front", messages.OutcomeOK) && done("tuned", messages.OutcomeOK) &&
			done("attic", messages.OutcomeTimeout) && done("hot", messages.OutcomeOK, viaStream)
		if every && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: processes read per camera %v; still waiting for a capture of front, foscam and tuned to succeed, one of attic to time out and one of hot to come from its stream", seen)
		}
		time.Sleep(5 * time.Millisecond) // sampling pace: every running capture is read many times
	}
	for _, c := range cams.Cameras() {
		if st := cams.Stats(c.Name); st.MaxOpen > 2 || st.Refused > 0 {
			t.Errorf("camera %s: camsim counts %+v, budget 2", c.Name, st)
		}
	}
	// tuned's patrol read its sub-stream, through the relay like the rest.
	if main, sub := cams.Stats("tuned").Total, cams.Stats("tuned-sub").Total; main != 0 || sub == 0 {
		t.Errorf("tuned's patrol connected %d times to its url and %d to its detect_url; want 0 and some", main, sub)
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
		if e.Camera == "tuned" && (!strings.Contains(argv, "-fflags nobuffer") || !strings.Contains(argv, "-hwaccel auto")) {
			t.Errorf("process %d of tuned was not given its input_args and hwaccel: %s", e.OSPID, argv)
		}
		if e.Camera == "hot" && !strings.Contains(argv, "-fflags nobuffer") {
			t.Errorf("process %d (%s) of hot was not given its input_args: %s", e.OSPID, e.Purpose, argv)
		}
	}
	t.Logf("command lines read per camera: %v; %d processes started", seen, len(started))
}
