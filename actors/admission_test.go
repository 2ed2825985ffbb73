package actors

import (
	"fmt"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// Invariant 7: the machine is never oversubscribed. Counted in /proc.

// TestAdmissionBoundsProcesses: four subnets of three cameras, each
// subnet allowed three captures at once: twelve processes could run, but
// no more live ffmpeg processes than the admission's limit ever show in
// /proc, and every camera is still captured.
func TestAdmissionBoundsProcesses(t *testing.T) {
	subnets := map[string][]camsim.Camera{}
	var all []camsim.Camera
	for s := range 4 {
		for c := range 3 {
			cam := camsim.Camera{Name: fmt.Sprintf("s%dc%d", s, c), Mode: camsim.ModeStatic}
			subnets[fmt.Sprintf("sub%d", s)] = append(subnets[fmt.Sprintf("sub%d", s)], cam)
			all = append(all, cam)
		}
	}
	cams := startCamsim(t, all...)
	cfg := testConfig(cams, subnets, nil)
	for i := range cfg.Subnets {
		cfg.Subnets[i].Interval = testDuration(time.Second)
		cfg.Subnets[i].Concurrency = 3
	}
	const limit = 2
	// Every process here works (no camera hangs): none may give its grant
	// back for waiting on its camera (TestWaitingCaptureGivesGrantBack),
	// which on a busy machine a slow start could look like.
	h := startTreeWith(t, cams, cfg, func(env *Env) {
		env.Policy = DefaultPolicy()
		env.Policy.Admission.Max, env.Policy.Admission.Park = limit, 0
	})

	worst := 0
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		live := 0
		for _, p := range testkit.FFmpeg(h.env.RunID) {
			if !p.Zombie() {
				live++
			}
		}
		worst = max(worst, live)
		if live > limit {
			t.Fatalf("%d live ffmpeg processes in /proc, admission limit %d", live, limit)
		}
		captured := map[string]bool{}
		for _, d := range allFacts[messages.CaptureDone](h) {
			if d.Outcome == messages.OutcomeOK {
				captured[d.Camera] = true
			}
		}
		if len(captured) == len(all) && len(allFacts[messages.CycleEnded](h)) >= 3*len(subnets) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute only %d of %d cameras captured", len(captured), len(all))
		}
	}
	if worst < limit {
		t.Errorf("never more than %d process at once: the test did not push the limit of %d", worst, limit)
	}
	for _, e := range allFacts[messages.AdmissionChanged](h) {
		if e.Limit > limit || e.Running > e.Limit {
			t.Errorf("admission %+v", e)
		}
	}
	waited := 0
	for _, d := range allFacts[messages.CaptureDone](h) {
		if d.Waited > 0 {
			waited++
		}
	}
	if waited == 0 {
		t.Error("no capture waited for the admission although twelve wanted to run at once")
	}
}

// allFacts is all for every fact of type T.
func allFacts[T any](h *harness) []*T { return all[T](h, nil) }

// TestWaitingCaptureGivesGrantBack: the admission's grants are for CPU. A
// capture whose process only waits on a hung camera gives its grant back,
// and with a limit of one another camera's capture runs meanwhile, its
// frame taken while the hung camera's process is still alive in /proc
// (the grant would otherwise be held to that process's deadline).
func TestWaitingCaptureGivesGrantBack(t *testing.T) {
	list := []camsim.Camera{{Name: "attic", Hang: true, MaxConnections: 2}, {Name: "front", Mode: camsim.ModeStatic, MaxConnections: 2}}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	cfg.Subnets[0].Interval = testDuration(time.Hour) // one cycle, at the start
	cfg.FFmpeg.CaptureTimeout = testDuration(8 * time.Second)
	h := startTreeWith(t, cams, cfg, func(env *Env) {
		env.Policy = DefaultPolicy()
		env.Policy.Admission.Min, env.Policy.Admission.Max = 1, 1
	})
	waitFor(h, 30*time.Second, "the first cycle over", func(e *messages.CycleEnded) bool { return e.Number == 1 })

	mark := h.mark()
	go h.tree.system.Root.Send(h.camera("lab", "attic"), &messages.Capture{Camera: "attic", Reason: "operator"})
	hung := testkit.WaitFor(t, h.facts, mark, 10*time.Second, "attic's process started", func(e *messages.ProcessStarted) bool { return e.Camera == "attic" })
	done := h.capture("lab", "front", 20*time.Second)
	if done.Outcome != messages.OutcomeOK {
		t.Fatalf("front's capture: %s %s", done.Outcome, done.Error)
	}
	if p, ok := osproc.Read(hung.OSPID); !ok || p.Zombie() {
		t.Fatalf("front's frame came only after attic's process %d ended: attic's capture held the one grant to its deadline", hung.OSPID)
	}
	if n := testkit.Count(h.facts, mark, func(e *messages.ProcessExited) bool { return e.OSPID == hung.OSPID }); n != 0 {
		t.Errorf("attic's process exited before front's frame")
	}
	// The hung process is still killed at its own deadline.
	exited := testkit.WaitFor(t, h.facts, mark, 20*time.Second, "attic's process killed", func(e *messages.ProcessExited) bool { return e.OSPID == hung.OSPID })
	if exited.StopReason != messages.StopTimeout {
		t.Errorf("attic's process ended %s, want timeout", exited.StopReason)
	}
}
