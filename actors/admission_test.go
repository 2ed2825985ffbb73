package actors

import (
	"fmt"
	"testing"
	"time"

	"camvisor/actors/camsim"
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
	h := startTreeWith(t, cams, cfg, func(env *Env) { env.Policy = DefaultPolicy(); env.Policy.Admission.Max = limit })

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
