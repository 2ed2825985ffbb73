package actors

import (
	"testing"
	"time"
)

// TestAdmissionLimitFollowsTheCPU: the limit is cut when the CPU is
// busy and captures slow down, grows while captures wait for a grant
// and the CPU has headroom, or is busy with no task waiting for it (the
// captures wait on their cameras) while they are not slowed, and a long capture on an idle CPU (an
// H.264 snapshot waiting for its keyframe, a slow camera) never cuts it.
func TestAdmissionLimitFollowsTheCPU(t *testing.T) {
	p := DefaultPolicy().Admission
	p.Max = 8
	const base = 100 * time.Millisecond
	cases := []struct {
		what     string
		busy     float64
		pressure float64 // -1: the kernel does not tell
		median   time.Duration
		short    bool
		want     float64
	}{
		{"saturated and slower than the uncontended time: cut", 0.99, 0.5, 3 * base, true, 3},
		{"saturated and slower, even with nobody waiting for a CPU: cut", 0.99, 0, 3 * base, true, 3},
		{"saturated, captures as fast as ever: held (the CPU is busy with other work that does not slow them)", 0.99, 0.5, base, true, 4},
		{"H.264 keyframe waits on an idle CPU: grows, never cut", 0.30, 0, 12 * base, true, 5},
		{"slow camera, CPU half busy, nobody waiting: held", 0.50, 0, 20 * base, false, 4},
		{"too few captures ended to tell, CPU idle, grants short: grows", 0.10, 0, 0, true, 5},
		{"too few captures ended to tell, CPU saturated: held", 0.99, 0.5, 0, true, 4},
		{"busy (90 %), tasks waiting for a CPU, captures slower: cut", 0.90, 0.3, 3 * base, true, 3},
		{"busy (90 %), tasks waiting for a CPU, captures as fast as ever: held", 0.90, 0.3, base, true, 4},
		{"busy, the kernel does not tell, captures as fast as ever: held", 0.90, -1, base, true, 4},
		{"busy, nobody waiting for a CPU (captures wait on their cameras), grants short: grows", 0.95, 0.02, 12 * base / 10, true, 5},
		{"busy, nobody waiting for a CPU, nobody waiting for a grant: held", 0.95, 0.02, base, false, 4},
		{"busy, nobody waiting for a CPU, but captures slower than the uncontended time: cut (more at once only stretches every process)", 0.95, 0.02, 2 * base, true, 3},
	}
	for _, c := range cases {
		if got := p.next(4, load{c.busy, c.pressure}, c.median, base, c.short); got != c.want {
			t.Errorf("%s: limit 4 → %v, want %v", c.what, got, c.want)
		}
	}
	if got := p.next(float64(p.Min), load{1, 1}, 10*base, base, true); got != float64(p.Min) {
		t.Errorf("cut below the floor: %v", got)
	}
	if got := p.next(8, load{0, 0}, base, base, true); got != 8 {
		t.Errorf("grown above the ceiling: %v", got)
	}
}

// TestAdmissionBaselineForgetsSlowly: the uncontended time follows a
// lower median at once and a higher one slowly, so captures slowed by
// other work on the machine come to count as normal within minutes: the
// limit is cut while they first slow down, and holds, not at its floor,
// once they stay slow.
func TestAdmissionBaselineForgetsSlowly(t *testing.T) {
	p := DefaultPolicy().Admission
	const base = 100 * time.Millisecond
	if got := p.baselineAfter(0, 3*base); got != 3*base {
		t.Errorf("first median: baseline %v, want %v", got, 3*base)
	}
	if got := p.baselineAfter(base, base/2); got != base/2 {
		t.Errorf("a lower median: baseline %v, want %v", got, base/2)
	}
	if got := p.baselineAfter(base, 3*base); got <= base || got > base*21/20 {
		t.Errorf("one slower tick: baseline %v, want a little above %v", got, base)
	}
	b, limit := time.Duration(base), 4.0
	for range 10 { // the first seconds of a CPU other work took: captures 3x slower
		b = p.baselineAfter(b, 3*base)
		limit = p.next(limit, load{busy: 1, pressure: 0.5}, 3*base, b, true)
	}
	if limit >= 4 {
		t.Errorf("captures slowed 3x on a busy CPU: limit %v, want cut", limit)
	}
	for range 300 { // five minutes of it
		b = p.baselineAfter(b, 3*base)
	}
	if b < 3*base {
		t.Errorf("after five minutes of 3x slower captures the uncontended time is %v, want it to have come to %v", b, 3*base)
	}
	if got := p.next(2, load{busy: 1, pressure: 0.5}, 3*base, b, true); got != 2 {
		t.Errorf("slow captures that are the machine's new normal: limit 2 -> %v, want held", got)
	}
}
