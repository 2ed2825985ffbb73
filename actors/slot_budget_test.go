package actors

import (
	"bytes"
	"image/jpeg"
	"sync"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/messages"
)

// Invariant 2: a camera never has more connections from camvisor than its
// max_connections N. The camera's own count (camsim /stats) is the judge.

func TestSlotBudgetNeverExceeded(t *testing.T) {
	captureModes(t, testSlotBudgetNeverExceeded)
}

func testSlotBudgetNeverExceeded(t *testing.T, patrol func(*config.Config), codec camsim.Codec) {
	cam := withCodec(codec, camsim.Camera{Name: "tapo", MaxConnections: 2})[0]
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, map[string]int{"tapo": 2})
	cfg.Subnets[0].Cameras[0].Queue = 40
	cfg.FFmpeg.CaptureTimeout = testDuration(30 * time.Second)
	patrol(cfg)
	h := startTree(t, cams, cfg)
	h.waitCamera("lab", "tapo")

	// The patrol's first capture plus 24 operator captures at once.
	const n = 24
	var wg sync.WaitGroup
	results := make([]*messages.CaptureDone, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.tree.system.Root.RequestFuture(h.camera("lab", "tapo"), &messages.Capture{Camera: "tapo", Reason: "operator"}, time.Minute).Result()
			if err == nil {
				results[i] = res.(*messages.CaptureDone)
			}
		}()
	}
	worstProc := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
sampling:
	for {
		select {
		case <-done:
			break sampling
		case <-time.After(10 * time.Millisecond):
			worstProc = max(worstProc, len(h.ffmpegOf("tapo")))
		}
	}
	for i, r := range results {
		if r == nil {
			t.Fatalf("capture %d got no answer", i)
		}
		if r.Outcome != messages.OutcomeOK {
			t.Errorf("capture %d: %s %s", i, r.Outcome, r.Error)
			continue
		}
		if _, err := jpeg.Decode(bytes.NewReader(r.JPEG)); err != nil {
			t.Errorf("capture %d: not a JPEG: %v", i, err)
		}
	}
	st := cams.Stats("tapo")
	if st.MaxOpen > 2 {
		t.Errorf("camsim saw %d connections at once, budget 2", st.MaxOpen)
	}
	if st.Refused != 0 {
		t.Errorf("camsim refused %d connections: camvisor went over the camera's limit", st.Refused)
	}
	if worstProc > 2 {
		t.Errorf("/proc showed %d ffmpeg processes for the camera at once, budget 2", worstProc)
	}
	if st.MaxOpen < 2 && worstProc < 2 {
		t.Errorf("never used both slots (camsim max %d, /proc max %d): the test did not push the budget", st.MaxOpen, worstProc)
	}
	t.Logf("%d captures, camsim max_open %d total %d, /proc max %d", n, st.MaxOpen, st.Total, worstProc)
}

func TestSlotBudgetQueueBound(t *testing.T) {
	cam := camsim.Camera{Name: "slowcam", Hang: true}
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, map[string]int{"slowcam": 1})
	cfg.Subnets[0].Cameras[0].Queue = 1
	cfg.FFmpeg.CaptureTimeout = testDuration(3 * time.Second)
	h := startTree(t, cams, cfg)
	// The patrol holds the only slot; one request may wait; the rest are
	// refused at once with a reason.
	h.waitProcesses(1)
	deadline := time.Now().Add(8 * time.Second) // outlives the patrol's capture
	futures := make([]*messages.CaptureDone, 0, 4)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.tree.system.Root.RequestFuture(h.camera("lab", "slowcam"), &messages.Capture{Camera: "slowcam", Deadline: deadline}, 30*time.Second).Result()
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			futures = append(futures, res.(*messages.CaptureDone))
			mu.Unlock()
		}()
	}
	wg.Wait()
	refused, timedOut := 0, 0
	for _, r := range futures {
		switch r.Outcome {
		case messages.OutcomeNoSlot:
			refused++
			if !bytes.Contains([]byte(r.Error), []byte("no free slot")) {
				t.Errorf("refusal without a clear reason: %q", r.Error)
			}
		case messages.OutcomeTimeout:
			timedOut++
		default:
			t.Errorf("unexpected %s %s", r.Outcome, r.Error)
		}
	}
	if refused != 3 || timedOut != 1 {
		t.Errorf("%d refused and %d timed out; want 3 refused (queue full) and 1 that waited, ran and timed out", refused, timedOut)
	}
	if st := cams.Stats("slowcam"); st.MaxOpen > 1 {
		t.Errorf("camsim saw %d connections at once, budget 1", st.MaxOpen)
	}
}
