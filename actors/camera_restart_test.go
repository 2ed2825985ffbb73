package actors

import (
	"context"
	"errors"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/messages"
)

// TestRestartIsNoFailure: an operator's restart is not a failure. Ten in
// a row each come at once (the supervisor's back-off does not grow with
// them); a restart asked before the running instance started is answered
// by it without another restart; one whose asker gave up before the
// camera read it is withdrawn; a question whose deadline passed is not
// sent at all.
func TestRestartIsNoFailure(t *testing.T) {
	cams := startCamsim(t, camsim.Camera{Name: "cam"})
	h := startTree(t, cams, testConfig(cams, map[string][]camsim.Camera{"lab": {{Name: "cam"}}}, nil))
	h.waitCamera("lab", "cam")
	cam := h.tree.Config().Cameras()[0]

	for i := range 10 {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		start := time.Now()
		_, err := h.tree.RestartCamera(ctx, cam, "test")
		cancel()
		if err != nil {
			t.Fatalf("restart %d: %v", i, err)
		}
		// A failure's back-off would be 100 ms × failures: the tenth 1 s.
		if took := time.Since(start); took > 500*time.Millisecond {
			t.Errorf("restart %d took %s: an operator's restart must not wait out a growing back-off", i, took)
		}
	}
	if n := len(all(h, func(e *messages.ActorRestarted) bool { return e.Kind == "camera" })); n != 10 {
		t.Errorf("%d camera restarts for 10 asked one after another", n)
	}

	// Asked before this instance started: the pending restart was it.
	res, err := h.tree.ask(context.Background(), h.camera("lab", "cam"), "cam",
		&messages.RestartCamera{Reason: "joined", Asked: time.Now().Add(-time.Hour)})
	if _, ok := res.(*messages.CameraRestarted); err != nil || !ok {
		t.Errorf("a restart asked before the instance started: %v %v", res, err)
	}

	// Its asker gave up before the camera read it.
	box := newReplyBox(h.tree.system)
	box.close()
	h.tree.system.Root.RequestWithCustomSender(h.camera("lab", "cam"), &messages.RestartCamera{Reason: "withdrawn", Asked: time.Now()}, box.pid)
	// The deadline passed before it was asked.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := h.tree.RestartCamera(ctx, cam, "too late"); !errors.Is(err, ErrNoTime) {
		t.Errorf("a restart asked past its deadline: %v, want ErrNoTime", err)
	}
	// Questions are read in order: once this is answered, both are read.
	ctx2, cancel2 := contextWithTimeout(5 * time.Second)
	defer cancel2()
	if _, err := h.tree.CameraStatus(ctx2, cam); err != nil {
		t.Fatal(err)
	}
	if got := all(h, func(e *messages.ActorRestarted) bool { return e.Kind == "camera" }); len(got) != 10 {
		t.Errorf("%d camera restarts: a joined or withdrawn restart was carried out", len(got)-10)
	}
}
