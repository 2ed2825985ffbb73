package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"camvisor/actors"
	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/go2rtc/go2rtctest"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/messages"

	"github.com/gorilla/websocket"
)

// Invariant 4: the backend alone decides live playback.

func TestReloadNeverStartsPlayback(t *testing.T) {
	st, _ := afterPlaybacks(t)
	leasesBefore := count(st, func(e *messages.LeaseGranted) bool { return true })

	// The page reloads: it connects and fetches history, over and over.
	var history struct{ Events []map[string]any }
	for range 3 {
		joined := count(st, func(e *messages.ClientJoined) bool { return true })
		d := st.connect(true)
		if code := st.get("/api/events", &history); code != 200 || len(history.Events) == 0 {
			t.Fatalf("GET /api/events: %d with %d events", code, len(history.Events))
		}
		testkit.Eventually(t, 5*time.Second, "client joined", func() bool { return count(st, func(e *messages.ClientJoined) bool { return true }) > joined })
		// A ping answered means everything the hub sent on joining came first.
		d.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`))
		testkit.Eventually(t, 5*time.Second, "pong", func() bool { return len(d.of("pong")) == 1 })
		if plays := d.of("play"); len(plays) > 0 {
			t.Fatalf("a reloaded page received play with no live lease: %v", plays)
		}
		d.conn.Close()
	}
	if after := count(st, func(e *messages.LeaseGranted) bool { return true }); after != leasesBefore {
		t.Errorf("connecting or fetching history created %d leases", after-leasesBefore)
	}
	var n int
	st.store.DB.Get(&n, "SELECT COUNT(*) FROM leases")
	if n != count(st, func(e *messages.LeaseGranted) bool { return !e.Extended }) {
		t.Errorf("%d lease rows, facts say %d", n, leasesBefore)
	}

	// While a lease IS live, a connecting page is told what plays now.
	ans, err := st.startLive("gate")
	if err != nil || !ans.Playing {
		t.Fatalf("operator playback: %v %+v", err, ans)
	}
	d := st.connect(true)
	testkit.Eventually(t, 3*time.Second, "the live playback announced on connect", func() bool { return len(d.of("play")) == 1 })
	play := d.of("play")[0]
	if play["camera"] != "gate" || !strings.Contains(fmt.Sprint(play["player_url"]), "stream.html?src=camvisor_gate") {
		t.Errorf("play on connect: %v", play)
	}
}

func TestSlowDashboardDroppedFastOneKeepsEverything(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "c"})
	// Every reload reads a file that does not load, with a long error: a
	// rejected reload changes nothing and is pushed to every dashboard.
	pad := strings.Repeat("x", 5000)
	st := startStackWith(t, cams, nil, stackOptions{load: func() (*config.Config, error) { return nil, errors.New(pad) }})
	fast := st.connect(true)
	slow := st.connect(false)
	testkit.Eventually(t, 5*time.Second, "both clients joined", func() bool {
		return count(st, func(e *messages.ClientJoined) bool { return true }) == 2
	})
	// A steady stream, ~2,000 messages/s of 5 KB: far more than a stuck
	// tab's socket buffers hold, easy for a reading client.
	const n = 4000
	for i := range n {
		if _, err := st.tree.Reload(context.Background(), fmt.Sprintf("c%d", i)); !errors.Is(err, actors.ErrReloadRejected) {
			t.Fatalf("reload %d: %v", i, err)
		}
		if i%100 == 99 {
			time.Sleep(50 * time.Millisecond) // the publisher's pace, not a wait for a condition
		}
	}
	testkit.Eventually(t, 20*time.Second, "the fast client received every message", func() bool { return len(fast.of("reload")) == n })
	for i, m := range fast.of("reload") {
		if m["who"] != fmt.Sprintf("c%d", i) {
			t.Fatalf("message %d out of order: %v", i, m["who"])
		}
	}
	left := 0
	testkit.Eventually(t, 10*time.Second, "the slow client dropped", func() bool {
		left = count(st, func(e *messages.ClientLeft) bool { return strings.HasPrefix(e.Reason, "too slow") })
		return left == 1
	})
	// The slow client's connection is closed by the server.
	slow.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var closeErr error
	for closeErr == nil {
		_, _, closeErr = slow.conn.ReadMessage()
	}
	// Behind megabytes of unread data the close frame may not fit: then the
	// tab sees the connection end (1006) instead of the 1013 frame.
	if ce, ok := closeErr.(*websocket.CloseError); !ok || (ce.Code != websocket.CloseTryAgainLater && ce.Code != websocket.CloseAbnormalClosure) {
		t.Errorf("slow client's connection ended with %v", closeErr)
	}
}

func TestDashboardMessagesValidated(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "c"})
	st := startStack(t, cams, nil)
	cases := map[string][]byte{
		"unknown type":   []byte(`{"type":"play","camera":"c"}`),
		"not json":       []byte(`hello`),
		"stop no camera": []byte(`{"type":"stop"}`),
		"oversized":      []byte(`{"type":"ping","pad":"` + strings.Repeat("x", 8000) + `"}`),
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			d := st.connect(true)
			if err := d.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				t.Fatal(err)
			}
			select {
			case <-d.done:
			case <-time.After(5 * time.Second):
				t.Fatal("connection not closed")
			}
			d.mu.Lock()
			err := d.err
			d.mu.Unlock()
			ce, ok := err.(*websocket.CloseError)
			if !ok || (ce.Code != websocket.ClosePolicyViolation && ce.Code != websocket.CloseMessageTooBig) {
				t.Errorf("closed with %v", err)
			}
			if ok && name != "oversized" && ce.Text == "" {
				t.Errorf("closed without a reason")
			}
		})
	}
	// A good client's ping is answered.
	d := st.connect(true)
	b, _ := json.Marshal(map[string]string{"type": "ping"})
	d.conn.WriteMessage(websocket.TextMessage, b)
	testkit.Eventually(t, 2*time.Second, "pong", func() bool { return len(d.of("pong")) == 1 })
}

// TestLiveViewPreemptsPatrol: on a camera with room for one connection,
// held by a patrol snapshot that takes longer than the interval, an
// operator's live view is granted at once: the patrol's ffmpeg gives its
// slot up (recorded preempted, gone from /proc) instead of the view being
// refused because a snapshot is in flight.
func TestLiveViewPreemptsPatrol(t *testing.T) {
	// Each RTSP answer takes 1.5 s: a snapshot takes 6 s, the interval is 3.
	cams := testkit.Camsim(t, camsim.Camera{Name: "c1", MaxConnections: 1, Mode: camsim.ModeStatic, Slow: camsim.Duration(1500 * time.Millisecond)})
	g2 := go2rtctest.New(t, go2rtctest.Options{})
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.Go2RTC.URL = g2.URL()
		cfg.Subnets[0].Via = config.ViaFFmpeg
		cfg.Subnets[0].Interval = config.D(3 * time.Second)
		cfg.Subnets[0].Cameras[0].MaxConnections = 1
		cfg.FFmpeg.CaptureTimeout = config.D(20 * time.Second)
	})
	var patrol osproc.Info
	testkit.Eventually(t, 20*time.Second, "the patrol's ffmpeg holding the only slot", func() bool {
		for _, p := range testkit.FFmpeg(st.env.RunID) {
			if p.Camera() == "c1" && !p.Zombie() {
				patrol = p
				return cams.Stats("c1").Open == 1
			}
		}
		return false
	})
	asked := time.Now()
	resp, body := st.do(http.MethodPost, "/api/cameras/c1/live", nil, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST live while a patrol snapshot held the only slot: %d %s", resp.StatusCode, body)
	}
	// A snapshot takes 6 s here: the view did not wait for it to end.
	if took := time.Since(asked); took > 4*time.Second {
		t.Errorf("live view granted after %s: it waited for the snapshot", took)
	}
	testkit.Eventually(t, 10*time.Second, fmt.Sprintf("the preempted pid %d gone from /proc", patrol.PID), func() bool {
		info, ok := osproc.Read(patrol.PID)
		return !ok || info.Zombie() || info.StartAt != patrol.StartAt
	})
	testkit.Eventually(t, 10*time.Second, "the preempted process and capture in the record", func() bool {
		return st.dbInt(`SELECT COUNT(*) FROM processes WHERE os_pid = ? AND stop_reason = 'preempted'`, patrol.PID) == 1 &&
			st.dbInt(`SELECT COUNT(*) FROM captures WHERE camera = 'c1' AND outcome = 'preempted' AND os_pid = ?`, patrol.PID) == 1
	})
	if s := cams.Stats("c1"); s.MaxOpen > 1 || s.Refused != 0 {
		t.Errorf("camsim: max_open %d refused %d, budget 1", s.MaxOpen, s.Refused)
	}
}
