package actors

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/go2rtc/go2rtctest"
	"camvisor/actors/testkit"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// Invariant 3 (cycle end releases) and the go2rtc half of invariant 2,
// against the go2rtc stand-in (which follows GO2RTC.md) and camsim.

// withGo2RTC points cfg at a fresh stand-in with a short lease.
func withGo2RTC(t *testing.T, cfg *config.Config, lease time.Duration) *go2rtctest.Server {
	t.Helper()
	g := go2rtctest.New(t, go2rtctest.Options{DialTimeout: 2 * time.Second})
	cfg.Go2RTC.URL = g.URL()
	cfg.Go2RTC.Lease = testDuration(lease)
	cfg.Go2RTC.RequestTimeout = testDuration(3 * time.Second)
	return g
}

// lease asks a camera for a live view and returns the answer.
func (h *harness) lease(subnet, id string, until time.Time) *messages.LeaseAnswer {
	h.t.Helper()
	h.waitCamera(subnet, id)
	res, err := h.tree.system.Root.RequestFuture(h.camera(subnet, id), &messages.GrantLease{Camera: id, Until: until, Reason: "operator"}, 15*time.Second).Result()
	if err != nil {
		h.t.Fatalf("lease %s: %v", id, err)
	}
	return res.(*messages.LeaseAnswer)
}

// patrolByFFmpeg makes every subnet of cfg take its frames with ffmpeg, for
// the tests of live views beside an ffmpeg patrol.
func patrolByFFmpeg(cfg *config.Config) {
	for i := range cfg.Subnets {
		cfg.Subnets[i].Via = config.ViaFFmpeg
	}
}

// leaseWhenFree asks for a live view until a slot is free for it: a patrol
// capture may hold the camera's slots for a moment.
func (h *harness) leaseWhenFree(subnet, id string) *messages.LeaseAnswer {
	h.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ans := h.lease(subnet, id, time.Time{})
		if ans.Granted {
			return ans
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("lease of %s still refused after 20s: %s", id, ans.Reason)
		}
	}
}

func TestLeaseLifecycle(t *testing.T) {
	cam := camsim.Camera{Name: "door", MaxConnections: 2, Mode: camsim.ModeStatic} // no motion: no playback joins the lease
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, nil)
	cfg.Subnets[0].Interval = testDuration(time.Second)
	g := withGo2RTC(t, cfg, time.Second)
	patrolByFFmpeg(cfg)
	h, store := startRecordedTree(t, cams, cfg)

	ans := h.lease("lab", "door", time.Now().Add(1500*time.Millisecond))
	if !ans.Granted || ans.Stream != "camvisor_door" || !strings.HasSuffix(ans.PlayerURL, "/stream.html?src=camvisor_door") {
		t.Fatalf("lease answer %+v", ans)
	}
	if src := g.Streams()["camvisor_door"]; len(src) != 1 || !strings.Contains(src[0], "/door") {
		t.Fatalf("go2rtc streams %v", g.Streams())
	}
	// Patrol captures come through the stream now and open the camera for a
	// moment each; between them nothing holds a connection.
	testkit.Eventually(t, 5*time.Second, "a registered stream nobody watches holding no connection", func() bool {
		return g.Connections("camvisor_door") == 0 && cams.Stats("door").Open == 0
	})
	waitFor(h, 5*time.Second, "slot held by the lease", func(e *messages.SlotsChanged) bool { return e.Camera == "door" && e.Leases == 1 })

	// The lease expires; its slot is freed; the next cycle end removes the stream.
	ended := waitFor(h, 10*time.Second, "lease ended", func(e *messages.LeaseEnded) bool { return e.Camera == "door" })
	if ended.Reason != "expired" {
		t.Errorf("lease ended: %q", ended.Reason)
	}
	waitFor(h, 5*time.Second, "slot free again", func(e *messages.SlotsChanged) bool {
		return e.Camera == "door" && e.Leases == 0 && e.At.After(ended.ReleasedAt.Add(-time.Second))
	})
	removed := waitFor(h, 10*time.Second, "stream removed at a cycle end", func(e *messages.StreamRemoved) bool { return e.Stream == "camvisor_door" })
	if removed.Error != "" || removed.Reason != "lease expired" {
		t.Fatalf("removal %+v", removed)
	}
	if _, still := g.Streams()["camvisor_door"]; still {
		t.Fatalf("stream still in go2rtc after its removal was confirmed: %v", g.Streams())
	}
	// Within the lease plus one cycle (1 s) plus the drain.
	if late := removed.At.Sub(ended.Until); late > 3*time.Second {
		t.Errorf("stream removed %s after its lease ended", late)
	}
	var usedSrc, usedName bool
	for _, r := range g.Requests() {
		usedSrc = usedSrc || strings.HasPrefix(r, "DELETE /api/streams?src=camvisor_door")
		usedName = usedName || (strings.HasPrefix(r, "DELETE") && strings.Contains(r, "name="))
	}
	if !usedSrc || usedName {
		t.Errorf("removal requests: %v", g.Requests())
	}

	h.shutdown()
	var released, reason *string
	if err := store.DB.QueryRow("SELECT released_at, reason FROM leases WHERE camera = 'door'").Scan(&released, &reason); err != nil {
		t.Fatal(err)
	}
	if released == nil || reason == nil || *reason != "expired" {
		t.Errorf("lease row not closed: released_at %v reason %v", released, reason)
	}
	var removedAt *string
	store.DB.QueryRow("SELECT removed_at FROM go2rtc_streams WHERE stream = 'camvisor_door'").Scan(&removedAt)
	if removedAt == nil {
		t.Error("go2rtc_streams row has no removed_at")
	}
}

func TestSlotBudgetNeverExceededWithLeases(t *testing.T) {
	t.Run("N=2, lease watched, patrol and operator captures", func(t *testing.T) {
		cam := camsim.Camera{Name: "tapo", MaxConnections: 2}
		cams := startCamsim(t, cam)
		cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, nil)
		cfg.Subnets[0].Interval = testDuration(700 * time.Millisecond)
		g := withGo2RTC(t, cfg, time.Minute)
		patrolByFFmpeg(cfg)
		h := startTree(t, cams, cfg)
		// Let the first cycle's ffmpeg finish: from the grant on, every
		// capture goes through the viewer's one connection.
		waitFor(h, 10*time.Second, "first patrol cycle", func(e *messages.CycleEnded) bool { return e.Number == 1 })
		// A cycle that overran may leave its killed ffmpeg being reaped while
		// the next one's runs: both slots held. Ask until one is free.
		granted := h.mark()
		h.leaseWhenFree("lab", "tapo")
		g.Watch(t, "camvisor_tapo")
		// A patrol capture started before the grant may still run on its
		// own connection (within the budget of 2); from its end on, every
		// capture goes through the viewer's one connection.
		waitAfter(h, granted, 20*time.Second, "no ffmpeg left beside the lease", func(e *messages.SlotsChanged) bool {
			return e.Camera == "tapo" && e.FFmpeg == 0 && e.Leases == 1
		})
		testkit.Eventually(t, 5*time.Second, "the viewer's connection open", func() bool { return cams.Stats("tapo").Open == 1 })
		if st := cams.Stats("tapo"); st.MaxOpen > 2 || st.Refused != 0 {
			t.Fatalf("camsim: max_open %d refused %d before the captures", st.MaxOpen, st.Refused)
		}
		cams.ResetStats()
		since := time.Now()
		for range 6 {
			if d := h.capture("lab", "tapo", 10*time.Second); d.Outcome != messages.OutcomeOK || d.Via != "lease" {
				t.Errorf("capture while watched: %s via %s: %s", d.Outcome, d.Via, d.Error)
			}
		}
		testkit.WaitCount(t, h.facts, h.mark(), 2, 20*time.Second, "patrol cycles while watched", func(e *messages.CycleEnded) bool { return e.StartedAt.After(since) })
		st := cams.Stats("tapo")
		if st.MaxOpen > 1 || st.Refused != 0 {
			t.Errorf("camsim: max_open %d refused %d; captures through go2rtc must share the one connection", st.MaxOpen, st.Refused)
		}
		for _, d := range all(h, func(d *messages.CaptureDone) bool { return d.Cycle > 0 && d.StartedAt.After(since) }) {
			if d.Via != "lease" || d.Outcome != messages.OutcomeOK {
				t.Errorf("patrol capture of cycle %d while a lease was live: %s via %s", d.Cycle, d.Outcome, d.Via)
			}
		}
	})

	t.Run("N=1, lease live, captures through frame.jpeg only", func(t *testing.T) {
		cam := camsim.Camera{Name: "solo", MaxConnections: 1}
		cams := startCamsim(t, cam)
		cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, map[string]int{"solo": 1})
		g := withGo2RTC(t, cfg, time.Minute)
		patrolByFFmpeg(cfg)
		h := startTree(t, cams, cfg)
		waitFor(h, 10*time.Second, "first patrol cycle", func(e *messages.CycleEnded) bool { return e.Number == 1 })
		testkit.Eventually(t, 10*time.Second, "the patrol's connection closed", func() bool { return cams.Stats("solo").Open == 0 })
		cams.ResetStats()
		h.leaseWhenFree("lab", "solo")
		for range 3 {
			d := h.capture("lab", "solo", 15*time.Second)
			if d.Outcome != messages.OutcomeOK || d.Via != "lease" || d.Attempts != 0 {
				t.Fatalf("capture: %s via %s attempts %d: %s", d.Outcome, d.Via, d.Attempts, d.Error)
			}
			if _, err := jpeg.Decode(bytes.NewReader(d.JPEG)); err != nil {
				t.Fatal(err)
			}
		}
		if st := cams.Stats("solo"); st.MaxOpen != 1 || st.Refused != 0 {
			t.Errorf("camsim: max_open %d refused %d, want exactly the lease's one connection", st.MaxOpen, st.Refused)
		}
		if n := len(h.ffmpegOf("solo")); n != 0 {
			t.Errorf("%d ffmpeg processes while the lease holds the only slot", n)
		}
		// A second lease is the same lease, extended; a lease elsewhere in the
		// budget is refused.
		if ans := h.lease("lab", "solo", time.Now().Add(2*time.Minute)); !ans.Granted || !ans.Extended {
			t.Errorf("second grant: %+v", ans)
		}
		_ = g
	})
}

func TestStreamsOfEarlierRunsRemovedAtStart(t *testing.T) {
	cam := camsim.Camera{Name: "porch"}
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, nil)
	g := withGo2RTC(t, cfg, time.Minute)
	patrolByFFmpeg(cfg)
	for _, name := range []string{"camvisor_ghost", "operator_cam"} {
		req, _ := http.NewRequest(http.MethodPut, g.URL()+"/api/streams?"+url.Values{"name": {name}, "src": {cams.URL("porch")}}.Encode(), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("seed %s: %v %v", name, err, resp)
		}
		resp.Body.Close()
	}
	h := startTree(t, cams, cfg)
	removed := waitFor(h, 10*time.Second, "stale stream removed", func(e *messages.StreamRemoved) bool { return e.Stream == "camvisor_ghost" })
	if removed.Error != "" || removed.Reason != "left by an earlier run" {
		t.Errorf("removal %+v", removed)
	}
	streams := g.Streams()
	if _, ok := streams["camvisor_ghost"]; ok {
		t.Error("camvisor_ghost still in go2rtc")
	}
	if _, ok := streams["operator_cam"]; !ok {
		t.Error("the operator's own stream was removed")
	}
}

func TestGo2RTCDownMidRun(t *testing.T) {
	list := []camsim.Camera{{Name: "c1", MaxConnections: 2}, {Name: "c2", MaxConnections: 2}}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	cfg.Subnets[0].Interval = testDuration(time.Second)
	g := withGo2RTC(t, cfg, time.Minute)
	h := startTree(t, cams, cfg)
	if ans := h.lease("lab", "c1", time.Time{}); !ans.Granted {
		t.Fatalf("lease refused: %s", ans.Reason)
	}
	g.Down()
	// A capture of the leased camera: go2rtc fails, ffmpeg takes the free slot.
	d := h.capture("lab", "c1", 15*time.Second)
	if d.Outcome != messages.OutcomeOK || d.Via != "ffmpeg" {
		t.Errorf("capture with go2rtc down: %s via %s: %s", d.Outcome, d.Via, d.Error)
	}
	waitFor(h, 10*time.Second, "gateway degraded", func(e *messages.ServiceHealth) bool { return e.Service == "go2rtc" && !e.Healthy })
	ans := h.lease("lab", "c2", time.Time{})
	if ans.Granted || !strings.Contains(ans.Reason, "unreachable") {
		t.Errorf("lease while go2rtc is down: %+v", ans)
	}
	mark, down := h.mark(), time.Now()
	waitAfter(h, mark, 20*time.Second, "patrol goes on", func(e *messages.CycleEnded) bool {
		return e.StartedAt.After(down) && e.Outcomes[1].Outcome == messages.OutcomeOK
	})

	g.Up()
	waitFor(h, 45*time.Second, "gateway recovered", func(e *messages.ServiceHealth) bool { return e.Service == "go2rtc" && e.Healthy })
	if ans := h.lease("lab", "c2", time.Time{}); !ans.Granted {
		t.Errorf("lease after recovery refused: %s", ans.Reason)
	}
	if st := cams.Stats("c1"); st.MaxOpen > 2 || st.Refused > 0 {
		t.Errorf("c1: max_open %d refused %d", st.MaxOpen, st.Refused)
	}
}

func TestEmptyFrameIsAFailure(t *testing.T) {
	cam := camsim.Camera{Name: "dead", Refuse: true, MaxConnections: 1}
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, map[string]int{"dead": 1})
	g := withGo2RTC(t, cfg, time.Minute)
	patrolByFFmpeg(cfg)
	h := startTree(t, cams, cfg)
	waitFor(h, 15*time.Second, "first cycle", func(e *messages.CycleEnded) bool { return e.Number == 1 })
	if ans := h.lease("lab", "dead", time.Time{}); !ans.Granted {
		t.Fatalf("lease refused: %s", ans.Reason)
	}
	// go2rtc answers frame.jpeg with 200 and an empty body: not a frame.
	d := h.capture("lab", "dead", 15*time.Second)
	if d.Outcome == messages.OutcomeOK || len(d.JPEG) != 0 {
		t.Fatalf("an empty 200 was taken for a frame: %s %d bytes", d.Outcome, len(d.JPEG))
	}
	if d.Outcome != messages.OutcomeNoSlot || !strings.Contains(d.Error, "go2rtc gave no frame") {
		t.Errorf("capture: %s %q; want no_slot naming go2rtc's empty answer (the lease holds the only slot)", d.Outcome, d.Error)
	}
	var sawFrameRequest bool
	for _, r := range g.Requests() {
		sawFrameRequest = sawFrameRequest || strings.HasPrefix(r, "GET /api/frame.jpeg?src=camvisor_dead")
	}
	if !sawFrameRequest {
		t.Error("no frame.jpeg request reached go2rtc")
	}
}

func TestRestartDuringWatchedLiveViewKeepsBudget(t *testing.T) {
	cam := camsim.Camera{Name: "solo", MaxConnections: 1, Mode: camsim.ModeStatic}
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, map[string]int{"solo": 1})
	cfg.Subnets[0].Interval = testDuration(500 * time.Millisecond)
	g := withGo2RTC(t, cfg, time.Minute)
	patrolByFFmpeg(cfg)
	h := startTree(t, cams, cfg)
	waitFor(h, 10*time.Second, "first cycle", func(e *messages.CycleEnded) bool { return e.Number == 1 })
	h.leaseWhenFree("lab", "solo")
	viewer := g.Watch(t, "camvisor_solo")
	testkit.Eventually(t, 5*time.Second, "the viewer's connection open", func() bool { return cams.Stats("solo").Open == 1 })
	cams.ResetStats()

	// Restart the camera while someone watches: the new instance must not
	// take the slot go2rtc's connection still uses.
	h.tree.system.Root.Send(h.camera("lab", "solo"), &messages.RestartCamera{Reason: "test"})
	restarted := time.Now()
	testkit.WaitCount(t, h.facts, h.mark(), 4, 30*time.Second, "patrol cycles after the restart", func(e *messages.CycleEnded) bool { return e.StartedAt.After(restarted) })
	if st := cams.Stats("solo"); st.MaxOpen > 1 || st.Refused > 0 {
		t.Fatalf("camsim: max_open %d refused %d while the old live view was still watched (budget 1)", st.MaxOpen, st.Refused)
	}
	// The viewer leaves: the slot frees and captures work again.
	mark, left := h.mark(), time.Now()
	viewer.Close()
	waitAfter(h, mark, 30*time.Second, "captures after the viewer left", func(e *messages.CycleEnded) bool { return e.StartedAt.After(left) && e.OK == 1 })
	if st := cams.Stats("solo"); st.MaxOpen > 1 || st.Refused > 0 {
		t.Errorf("camsim: max_open %d refused %d", st.MaxOpen, st.Refused)
	}
}

func TestLeaseEndedBeforeRegistrationIsStillRemoved(t *testing.T) {
	cam := camsim.Camera{Name: "door", Mode: camsim.ModeStatic}
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, nil)
	cfg.Subnets[0].Interval = testDuration(time.Second)
	g := withGo2RTC(t, cfg, time.Minute)
	patrolByFFmpeg(cfg)
	h := startTree(t, cams, cfg)
	h.waitCamera("lab", "door")
	waitFor(h, 10*time.Second, "start-up cleanup done", func(e *messages.CycleEnded) bool { return e.Number == 1 })
	g.SetDelay(500 * time.Millisecond) // the registration is still under way when the lease ends
	go h.tree.system.Root.RequestFuture(h.camera("lab", "door"), &messages.GrantLease{Camera: "door"}, 10*time.Second)
	testkit.Eventually(t, 5*time.Second, "the addition under way", func() bool {
		for _, r := range g.Requests() {
			if strings.HasPrefix(r, "PATCH /api/streams") {
				return true
			}
		}
		return false
	})
	h.tree.system.Root.Send(h.camera("lab", "door"), &messages.ReleaseLease{Camera: "door", Reason: "test"})
	g.SetDelay(0)
	waitFor(h, 15*time.Second, "the stream removed at a cycle end", func(e *messages.StreamRemoved) bool { return e.Stream == "camvisor_door" && e.Error == "" })
	if _, still := g.Streams()["camvisor_door"]; still {
		t.Error("stream still in go2rtc")
	}
}

// TestConstructDestructCycle: a subnet patrolled through go2rtc registers
// a camvisor_<camera> source for each camera when its cycle starts, takes
// every frame through it, and removes (and confirms gone) every source at
// the cycle's end: none outlives its cycle by more than one cycle. The
// cameras' own counts never exceed their budgets.
func TestConstructDestructCycle(t *testing.T) {
	// Static pictures: no detection starts a live view of its own.
	list := []camsim.Camera{{Name: "p1", MaxConnections: 1, Mode: camsim.ModeStatic}, {Name: "p2", MaxConnections: 1, Mode: camsim.ModeStatic}}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, map[string]int{"p1": 1, "p2": 1})
	cfg.Subnets[0].Interval = testDuration(time.Second)
	g := withGo2RTC(t, cfg, time.Minute)
	cfg.Subnets[0].Via = config.ViaGo2RTC
	h, store := startRecordedTree(t, cams, cfg)

	for n := int64(1); n <= 3; n++ {
		started := waitFor(h, 20*time.Second, fmt.Sprintf("cycle %d started", n), func(e *messages.CycleStarted) bool { return e.Number == n })
		ended := waitFor(h, 20*time.Second, fmt.Sprintf("cycle %d ended", n), func(e *messages.CycleEnded) bool { return e.Number == n })
		if ended.OK != 2 {
			t.Errorf("cycle %d: %+v", n, ended.Outcomes)
		}
		for _, c := range list {
			stream := StreamName(c.Name)
			reg := waitFor(h, 5*time.Second, "source of "+c.Name+" registered", func(e *messages.StreamRegistered) bool {
				return e.Stream == stream && !e.At.Before(started.StartedAt)
			})
			if reg.Purpose != "patrol" || reg.At.After(ended.EndedAt) {
				t.Errorf("cycle %d: %s registered %+v, want a patrol source made before the cycle ended", n, c.Name, reg)
			}
			d := waitFor(h, 5*time.Second, "capture of "+c.Name, func(d *messages.CaptureDone) bool { return d.Camera == c.Name && d.Cycle == n })
			if d.Outcome != messages.OutcomeOK || d.Via != "go2rtc" || d.OSPID != 0 {
				t.Errorf("cycle %d: %s %s via %s pid %d: %s", n, c.Name, d.Outcome, d.Via, d.OSPID, d.Error)
			}
			rm := waitFor(h, 20*time.Second, "source of "+c.Name+" removed after its cycle", func(e *messages.StreamRemoved) bool {
				return e.Stream == stream && !e.At.Before(ended.EndedAt)
			})
			if rm.Error != "" || rm.Reason != "cycle ended" {
				t.Errorf("cycle %d: removal of %s %+v", n, c.Name, rm)
			}
			if next := all(h, func(e *messages.CycleEnded) bool { return e.Number == n+1 }); len(next) > 0 && rm.At.After(next[0].EndedAt) {
				t.Errorf("cycle %d's source of %s removed after the next cycle ended", n, c.Name)
			}
		}
	}
	for _, c := range list {
		if st := cams.Stats(c.Name); st.MaxOpen > 1 || st.Refused != 0 {
			t.Errorf("camsim %s: max_open %d refused %d, budget 1", c.Name, st.MaxOpen, st.Refused)
		}
	}
	var usedName bool
	for _, r := range g.Requests() {
		usedName = usedName || (strings.HasPrefix(r, "DELETE") && strings.Contains(r, "name="))
		if strings.HasPrefix(r, "GET /api/frame.jpeg") && !strings.HasPrefix(r, "GET /api/frame.jpeg?src=camvisor_") {
			t.Errorf("frame asked by something else than a stream name: %s", r)
		}
	}
	if usedName {
		t.Error("a removal used ?name=, which go2rtc ignores")
	}

	h.shutdown()
	for name := range g.Streams() {
		if strings.HasPrefix(name, StreamPrefix) {
			t.Errorf("%s still in go2rtc after shutdown", name)
		}
	}
	var patrolRows, removedRows int
	store.DB.Get(&patrolRows, "SELECT COUNT(*) FROM go2rtc_streams WHERE purpose = 'patrol'")
	store.DB.Get(&removedRows, "SELECT COUNT(*) FROM go2rtc_streams WHERE purpose = 'patrol' AND removed_at IS NOT NULL")
	if patrolRows < 6 || removedRows != patrolRows {
		t.Errorf("go2rtc_streams: %d patrol rows, %d of them removed", patrolRows, removedRows)
	}
	var viaGo2RTC int
	store.DB.Get(&viaGo2RTC, "SELECT COUNT(*) FROM captures WHERE via = 'go2rtc' AND outcome = 'ok'")
	if viaGo2RTC < 6 {
		t.Errorf("%d captures recorded via go2rtc", viaGo2RTC)
	}
}

// TestGo2RTCDownFallsBackToFFmpeg: with go2rtc down the patrol of a go2rtc
// subnet goes on with ffmpeg within the budget; once go2rtc is back the
// patrol goes through it again and the sources left behind are removed.
func TestGo2RTCDownFallsBackToFFmpeg(t *testing.T) {
	list := []camsim.Camera{{Name: "c1", MaxConnections: 1, Mode: camsim.ModeStatic}}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, map[string]int{"c1": 1})
	cfg.Subnets[0].Interval = testDuration(time.Second)
	g := withGo2RTC(t, cfg, time.Minute)
	cfg.Subnets[0].Via = config.ViaGo2RTC
	h := startTree(t, cams, cfg)
	ok := func(via string) func(*messages.CaptureDone) bool {
		return func(d *messages.CaptureDone) bool {
			return d.Cycle > 0 && d.Outcome == messages.OutcomeOK && d.Via == via
		}
	}
	waitFor(h, 20*time.Second, "a patrol frame through go2rtc", ok("go2rtc"))

	down := h.mark()
	g.Down()
	d := waitAfter(h, down, 30*time.Second, "a patrol frame by ffmpeg while go2rtc is down", ok("ffmpeg"))
	if d.OSPID == 0 {
		t.Errorf("ffmpeg capture without a process: %+v", d)
	}

	up := h.mark()
	g.Up()
	waitAfter(h, up, 45*time.Second, "gateway recovered", func(e *messages.ServiceHealth) bool { return e.Service == "go2rtc" && e.Healthy })
	back := h.mark()
	waitAfter(h, back, 30*time.Second, "a patrol frame through go2rtc again", ok("go2rtc"))
	waitAfter(h, up, 30*time.Second, "the source left while go2rtc was down removed", func(e *messages.StreamRemoved) bool {
		return e.Stream == "camvisor_c1" && e.Error == ""
	})
	if st := cams.Stats("c1"); st.MaxOpen > 1 || st.Refused != 0 {
		t.Errorf("camsim: max_open %d refused %d, budget 1", st.MaxOpen, st.Refused)
	}
}

// gatewayAlone starts a tree whose patrol stays off go2rtc, for tests that
// talk to the gateway directly about a camera "x" no subnet patrols.
func gatewayAlone(t *testing.T) (*harness, *go2rtctest.Server, string) {
	t.Helper()
	cam := camsim.Camera{Name: "c", Mode: camsim.ModeStatic}
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, nil)
	g := withGo2RTC(t, cfg, time.Minute)
	patrolByFFmpeg(cfg)
	h := startTree(t, cams, cfg)
	waitFor(h, 10*time.Second, "start-up cleanup done", func(e *messages.CycleEnded) bool { return e.Number == 1 })
	return h, g, cams.URL("c")
}

// requestsFor are the indexes of go2rtc's requests with method m about stream.
func requestsFor(g *go2rtctest.Server, m, stream string) []int {
	var at []int
	for i, r := range g.Requests() {
		if strings.HasPrefix(r, m+" /api/streams") && (strings.Contains(r, "name="+stream) || strings.Contains(r, "src="+stream)) {
			at = append(at, i)
		}
	}
	return at
}

// flushGateway waits until every request the gateway queued before it has
// been answered: go2rtc takes them in order.
func flushGateway(h *harness, stream string) {
	h.t.Helper()
	if _, err := h.tree.system.Root.RequestFuture(h.env.peers.gateway, &messages.CountViewers{Stream: stream}, 10*time.Second).Result(); err != nil {
		h.t.Fatal(err)
	}
}

// TestLiveViewJoinsTheSourceBeingAdded: a live view asked while its
// camera's patrol source is being registered waits for that registration
// (go2rtc gets one PATCH, never two of one stream); the stream is then
// kept at cycle ends while the view lasts, and removed at the cycle end
// after it.
func TestLiveViewJoinsTheSourceBeingAdded(t *testing.T) {
	h, g, src := gatewayAlone(t)
	gw, root, name := h.env.peers.gateway, h.tree.system.Root, StreamName("x")

	g.SetDelay(time.Second)
	prepared := root.RequestFuture(gw, &messages.PrepareCycle{Subnet: "elsewhere", Construct: true,
		Cameras: []messages.CycleCamera{{ID: "x", URL: src}}}, 15*time.Second)
	testkit.Eventually(t, 5*time.Second, "the source's PATCH under way", func() bool { return len(requestsFor(g, "PATCH", name)) == 1 })
	added := root.RequestFuture(gw, &messages.AddStream{Stream: name, Camera: "x", Subnet: "elsewhere", Source: src}, 15*time.Second)
	g.SetDelay(0)
	if res, err := added.Result(); err != nil || res.(*messages.StreamAdded).Error != "" {
		t.Fatalf("live view: %v %+v", err, res)
	}
	if res, err := prepared.Result(); err != nil || res.(*messages.CyclePrepared).Sources["x"] != name {
		t.Fatalf("cycle prepared: %v %+v", err, res)
	}
	if n := len(requestsFor(g, "PATCH", name)); n != 1 {
		t.Errorf("%d PATCH requests for %s, want one", n, name)
	}

	root.Send(gw, &messages.CycleEnded{Subnet: "elsewhere"})
	flushGateway(h, name)
	if n := len(requestsFor(g, "DELETE", name)); n != 0 {
		t.Fatalf("a watched source removed at its cycle end (%d DELETE)", n)
	}
	root.Send(gw, &messages.StreamExpired{Stream: name, Subnet: "elsewhere"})
	mark := h.mark()
	root.Send(gw, &messages.CycleEnded{Subnet: "elsewhere"})
	rm := waitAfter(h, mark, 10*time.Second, "the source removed at the cycle end after the view", func(e *messages.StreamRemoved) bool { return e.Stream == name })
	if rm.Error != "" || rm.Reason != "cycle ended" {
		t.Errorf("removal %+v", rm)
	}
	if _, still := g.Streams()[name]; still {
		t.Error("stream still in go2rtc")
	}
}

// TestLeaseEndedWhileItsStreamIsRemovedLeavesNothing: a live view asked
// while its stream is being removed waits to register it anew; when it
// ends before that, the stream is not registered again (nobody would
// remove it).
func TestLeaseEndedWhileItsStreamIsRemovedLeavesNothing(t *testing.T) {
	h, g, src := gatewayAlone(t)
	gw, root, name := h.env.peers.gateway, h.tree.system.Root, StreamName("x")
	add := &messages.AddStream{Stream: name, Camera: "x", Subnet: "elsewhere", Source: src}
	expired := &messages.StreamExpired{Stream: name, Subnet: "elsewhere"}

	if res, err := root.RequestFuture(gw, add, 10*time.Second).Result(); err != nil || res.(*messages.StreamAdded).Error != "" {
		t.Fatalf("live view: %v %+v", err, res)
	}
	root.Send(gw, expired)
	g.SetDelay(time.Second)
	mark := h.mark()
	root.Send(gw, &messages.CycleEnded{Subnet: "elsewhere"})
	testkit.Eventually(t, 5*time.Second, "the removal under way", func() bool { return len(requestsFor(g, "DELETE", name)) == 1 })
	root.Send(gw, add)     // a new live view waits for the stream...
	root.Send(gw, expired) // ...and ends before it is registered anew
	g.SetDelay(0)
	rm := waitAfter(h, mark, 10*time.Second, "the expired stream removed", func(e *messages.StreamRemoved) bool { return e.Stream == name })
	if rm.Error != "" || rm.Reason != "lease expired" {
		t.Errorf("removal %+v", rm)
	}
	flushGateway(h, name)
	deleted := requestsFor(g, "DELETE", name)[0]
	for _, i := range requestsFor(g, "PATCH", name) {
		if i > deleted {
			t.Errorf("registered again after its lease ended (request %d, after the DELETE at %d)", i, deleted)
		}
	}
	if _, still := g.Streams()[name]; still {
		t.Error("stream in go2rtc with no lease and no cycle to remove it")
	}
}

// TestStreamMovesFollowTheTable: every move the gateway derives for a
// stream (a live view takes it, a cycle takes it, its lease ends, its
// PATCH is done) is one its transition table allows.
func TestStreamMovesFollowTheTable(t *testing.T) {
	allowed := func(from, to streamState) bool { return from == to || slices.Contains(streamMoves[from], to) }
	for _, from := range []streamState{streamLeased, streamShared, streamSource, streamExpired} {
		for on, to := range map[string]streamState{"AddStream": from.withLease(), "PrepareCycle": from.withSource()} {
			if !allowed(from, to) {
				t.Errorf("%s: %s -> %s is not in the table", on, from, to)
			}
		}
	}
	for _, from := range []streamState{streamLeased, streamShared} {
		if to := from.withoutLease(); !allowed(from, to) {
			t.Errorf("StreamExpired: %s -> %s is not in the table", from, to)
		}
	}
	for _, s := range []*gwStream{{}, {leases: make([]*actor.PID, 1)}, {cycle: &preparing{}}, {leases: make([]*actor.PID, 1), cycle: &preparing{}}} {
		if to := s.once(); !allowed(streamAdding, to) || !to.registered() {
			t.Errorf("PATCH done (leases %d, cycle %v): adding -> %s", len(s.leases), s.cycle != nil, to)
		}
	}
	for st := streamAdding; st <= streamRemoving; st++ {
		if st.String() == "" || int(st) >= len(streamMoves) {
			t.Errorf("state %d has no name or no row", st)
		}
	}
}
