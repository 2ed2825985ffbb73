package actors

import (
	"slices"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// TestDetectURLAndInputArgs: the patrol reads a camera's detect_url (the
// camera's sub-stream, seen connected at the camera), an operator's
// capture its url; input_args and hwaccel go before -i, after camvisor's
// own input options, in the process's real argv.
func TestDetectURLAndInputArgs(t *testing.T) {
	cams := startCamsim(t, camsim.Camera{Name: "main"}, camsim.Camera{Name: "sub"})
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {{Name: "main"}}}, nil)
	cam := &cfg.Subnets[0].Cameras[0]
	cam.ID, cam.DetectURL = "cam", cams.URL("sub")
	cam.InputArgs = []string{"-fflags", "nobuffer"}
	h := startTree(t, cams, cfg)
	first := waitFor(h, 20*time.Second, "the patrol's first capture", func(e *messages.CaptureDone) bool { return e.Cycle == 1 })
	if first.Outcome != messages.OutcomeOK {
		t.Fatalf("patrol capture: %s %s", first.Outcome, first.Error)
	}
	if main, sub := cams.Stats("main").Total, cams.Stats("sub").Total; main != 0 || sub != 1 {
		t.Errorf("the patrol connected %d times to the main stream and %d to the sub-stream; want 0 and 1", main, sub)
	}
	if d := h.capture("lab", "cam", 20*time.Second); d.Outcome != messages.OutcomeOK {
		t.Fatalf("operator capture: %s %s", d.Outcome, d.Error)
	}
	if main := cams.Stats("main").Total; main != 1 {
		t.Errorf("the operator's capture connected %d times to the main stream", main)
	}
	for _, p := range all(h, func(e *messages.ProcessStarted) bool { return true }) {
		i, in := slices.Index(p.Argv, "-fflags"), slices.Index(p.Argv, "-i")
		probe := slices.Index(p.Argv, "-probesize")
		if i < 0 || p.Argv[i+1] != "nobuffer" || i > in || i < probe {
			t.Errorf("input_args not before -i after camvisor's own: %q", p.Argv)
		}
		if strings.Contains(strings.Join(p.Argv, " "), testkit.CamsimPassword) {
			t.Errorf("argv on record shows the password: %q", p.Argv)
		}
	}
	args := snapshotArgs(config.FFmpeg{RTSPTimeout: config.D(time.Second)}, snapshotJob{URL: "rtsp://h/x", cameraInput: cameraInput{HWAccel: "vaapi"}}, "rtsp://h/x", false)
	if i := slices.Index(args, "-hwaccel"); i < 0 || args[i+1] != "vaapi" || i > slices.Index(args, "-i") {
		t.Errorf("hwaccel: %q", args)
	}
}
