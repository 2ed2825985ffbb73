package actors

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// TestFFmpegEnvironmentMinimal: an ffmpeg the tree starts inherits nothing
// of camvisor's environment but PATH and the locale, and carries camvisor's
// tags: secrets given to camvisor through its environment (a systemd
// EnvironmentFile=, ${NAME} in the config) stay out of
// /proc/<pid>/environ, which the process's user and root can read, and out
// of anything ffmpeg would pass on.
func TestFFmpegEnvironmentMinimal(t *testing.T) {
	const secret = "env-s3cret-5521"
	t.Setenv("CAMVISOR_CAMERA_PASSWORD", secret) // as ${CAMVISOR_CAMERA_PASSWORD} in a config
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("LC_TIME", "C")
	list := []camsim.Camera{{Name: "attic", Hang: true}}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	h := startTree(t, cams, cfg)

	h.waitCamera("lab", "attic")
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.tree.system.Root.RequestFuture(h.camera("lab", "attic"), &messages.Capture{Camera: "attic", Reason: "operator"}, 10*time.Second).Wait()
	}()
	var procs []osproc.Info
	testkit.Eventually(t, 10*time.Second, "an ffmpeg of attic running", func() bool {
		procs = h.ffmpegOf("attic")
		return len(procs) > 0
	})
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", procs[0].PID))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) {
		t.Errorf("ffmpeg's environment holds camvisor's secret")
	}
	var names []string
	for _, kv := range bytes.Split(raw, []byte{0}) {
		if len(kv) == 0 {
			continue
		}
		name, _, _ := strings.Cut(string(kv), "=")
		names = append(names, name)
		switch {
		case name == "PATH", name == "LANG", strings.HasPrefix(name, "LC_"),
			name == osproc.EnvRun, name == osproc.EnvOwner, name == osproc.EnvHome:
		default:
			t.Errorf("ffmpeg's environment holds %s", name)
		}
	}
	for _, must := range []string{"PATH", "LC_TIME", osproc.EnvRun, osproc.EnvOwner, osproc.EnvHome} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+must+" ") {
			t.Errorf("ffmpeg's environment lacks %s: %v", must, names)
		}
	}
	<-done
}
