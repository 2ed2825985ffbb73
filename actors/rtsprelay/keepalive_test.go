package rtsprelay

import (
	"bytes"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/testkit"
)

// TestRelayCarriesKeepalives: a stream-mode ffmpeg stays connected through
// the relay for as long as it runs, and keeps its RTSP session alive with
// requests in the middle of the RTP (GET_PARAMETER every half session
// timeout). The relay sends each one on to the camera under the camera's
// URL and with the answer to its challenge, and hands the answer back
// under ffmpeg's CSeq, without disturbing the frames: ffmpeg runs to its
// end without an error and decodes a keyframe a second throughout, on one
// camera connection. (camsim announces a 60 s session; the tap in front of
// it announces 2 s, so that keepalives come every second.)
func TestRelayCarriesKeepalives(t *testing.T) {
	testkit.RequireFFmpeg(t)
	const run = 4 // seconds
	cams := newCamsim(t, camsim.Camera{Name: "hot", Codec: camsim.CodecH264, GOP: camsim.Duration(time.Second), FPS: 10})
	tp := newTap(t, cams.RTSPAddr(), false)
	tp.mu.Lock()
	tp.sessionTimeout = "2"
	tp.mu.Unlock()
	r := newRelay(t, Options{})
	p := open(t, r, strings.Replace(cams.URL("hot"), cams.RTSPAddr(), tp.addr(), 1))
	var stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info", "-rtsp_transport", "tcp", "-timeout", "10000000",
		"-skip_frame", "nokey", "-i", p.URL(), "-t", strconv.Itoa(run), "-an", "-f", "null", "-")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg through the relay: %v\n%s", err, stderr.String())
	}
	var keepalives []string
	played := false
	for _, l := range tp.requestLines() {
		switch {
		case strings.HasPrefix(l, "PLAY "):
			played = true
		case played && (strings.HasPrefix(l, "GET_PARAMETER ") || strings.HasPrefix(l, "OPTIONS ")):
			keepalives = append(keepalives, l)
		}
	}
	if len(keepalives) < 2 {
		t.Fatalf("%d keepalives reached the camera in %d s of a 2 s session (%q): the test proves nothing", len(keepalives), run, tp.requestLines())
	}
	for _, l := range keepalives {
		if strings.Contains(l, "127.0.0.1:"+strings.Split(r.Addr(), ":")[1]) || strings.Contains(l, p.token) {
			t.Errorf("keepalive sent to the camera under the relay's URL: %q", l)
		}
	}
	// ffmpeg's last progress line: frame=N ... one keyframe a second.
	m := regexp.MustCompile(`frame=\s*(\d+)`).FindAllStringSubmatch(stderr.String(), -1)
	if len(m) == 0 {
		t.Fatalf("no progress from ffmpeg:\n%s", stderr.String())
	}
	if n, _ := strconv.Atoi(m[len(m)-1][1]); n < run-1 {
		t.Errorf("%d keyframes decoded in %d s of a 1 s GOP:\n%s", n, run, stderr.String())
	}
	if st := cams.Stats("hot"); st.Total != 1 {
		t.Errorf("camsim counts %+v, want one connection for the whole run", st)
	}
	t.Logf("keepalives: %q", keepalives)
}
