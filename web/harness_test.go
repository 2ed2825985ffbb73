package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"camvisor/actors"
	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/go2rtc/go2rtctest"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/db"
	"camvisor/messages"

	"github.com/gorilla/websocket"
)

// stack is a running camvisor: tree, record and HTTP server on loopback.
type stack struct {
	t     *testing.T
	tree  *actors.Tree
	env   *actors.Env
	srv   *Server
	store *db.Store
	cams  *camsim.Server
	token string // the operator token

	facts *testkit.Facts
	log   *testkit.SyncBuffer // camvisor's log
}

// logs is what camvisor logged so far.
func (st *stack) logs() string { return st.log.String() }

// startStack runs camvisor against cams with cfg adjusted by tune.
func startStack(t *testing.T, cams *camsim.Server, tune func(*config.Config)) *stack {
	t.Helper()
	return startStackWith(t, cams, tune, stackOptions{})
}

// stackOptions adjust a stack beyond its config.
type stackOptions struct {
	env    func(*actors.Env)              // before the tree starts (its policy)
	limits *Limits                        // the HTTP server's; nil for the defaults
	load   func() (*config.Config, error) // the tree's Env.Load: what a reload reads
}

// startStackWith is startStack with opt applied.
func startStackWith(t *testing.T, cams *camsim.Server, tune func(*config.Config), opt stackOptions) *stack {
	t.Helper()
	testkit.RequireFFmpeg(t)
	cfg := config.Defaults()
	cfg.DB = filepath.Join(t.TempDir(), "camvisor.db")
	cfg.Listen = "127.0.0.1:0"
	cfg.FFmpeg.CaptureTimeout = config.D(4 * time.Second)
	cfg.FFmpeg.RTSPTimeout = config.D(time.Minute)
	s := config.Subnet{Name: "lab", Interval: config.D(time.Hour), Concurrency: 4}
	for _, c := range cams.Cameras() {
		s.Cameras = append(s.Cameras, config.Camera{ID: c.Name, URL: cams.URL(c.Name), MaxConnections: 2, Queue: 8})
	}
	cfg.Subnets = []config.Subnet{s}
	if tune != nil {
		tune(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	st := &stack{t: t, cams: cams, facts: testkit.NewFacts(), log: logs}
	st.env = &actors.Env{Config: cfg, Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RunID: testkit.RunID(t), Record: true, Version: "test", Tap: st.facts.Add, Wire: Wire, Load: opt.load}
	run := st.env.RunID
	testkit.NoProcessesLeft(t, "run "+run, func() []osproc.Info { return testkit.FFmpeg(run) })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("camvisor log:\n%s", logs.String())
		}
	})
	if opt.env != nil {
		opt.env(st.env)
	}
	var err error
	if st.tree, err = actors.Start(st.env); err != nil {
		t.Fatal(err)
	}
	st.store = st.tree.Store()
	st.token = "test-token-0123456789abcdef"
	st.srv = New(Options{Listen: cfg.Listen, DBPath: cfg.DB, Tree: st.tree, Config: cfg, Log: st.env.Log, Token: st.token,
		Version: "test", RunID: st.env.RunID, StartedAt: time.Now(), Limits: opt.limits})
	if err := st.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		st.srv.Shutdown(ctx)
		if err := st.tree.Stop(ctx, "test over"); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := st.tree.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// dropDashboards closes every signed-in dashboard's WebSocket on the
// server's side, as a network that drops connections would; the sessions
// stay valid, so the pages may connect again. It returns how many it
// closed.
func (st *stack) dropDashboards() int {
	ss := st.srv.sessions
	var socks []io.Closer
	ss.mu.Lock()
	for _, v := range ss.m {
		for c := range v.sockets {
			socks = append(socks, c)
		}
	}
	ss.mu.Unlock()
	for _, c := range socks {
		c.Close() // outside the lock: a socket's Close detaches it from its session
	}
	return len(socks)
}

// startLive asks for a live view as the backend's playback policy would
// grant one to an operator.
func (st *stack) startLive(camera string) (*messages.PlaybackAnswer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return st.tree.StartLive(ctx, camera, "test")
}

// count returns how many published facts of type T pred accepts.
func count[T any](st *stack, pred func(*T) bool) int {
	return testkit.Count(st.facts, testkit.Start, pred)
}

// get fetches path from the server and decodes its JSON.
func (st *stack) get(path string, into any) int {
	st.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, st.srv.URL()+strings.TrimPrefix(path, "/"), nil)
	req.Header.Set("Authorization", "Bearer "+st.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		st.t.Fatal(err)
	}
	defer resp.Body.Close()
	if into != nil {
		json.NewDecoder(resp.Body).Decode(into)
	}
	return resp.StatusCode
}

// dashboard is a WebSocket client as the dashboard's page would be.
type dashboard struct {
	conn *websocket.Conn
	mu   sync.Mutex
	msgs []map[string]any
	done chan struct{}
	err  error
}

// connect opens /ws; when read is false the client never reads (a stuck
// browser tab).
func (st *stack) connect(read bool) *dashboard {
	st.t.Helper()
	u := "ws" + strings.TrimPrefix(st.srv.URL(), "http") + "ws"
	conn, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Authorization": {"Bearer " + st.token}})
	if err != nil {
		st.t.Fatal(err)
	}
	d := &dashboard{conn: conn, done: make(chan struct{})}
	st.t.Cleanup(func() { conn.Close() })
	if !read {
		return d
	}
	go func() {
		defer close(d.done)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				d.mu.Lock()
				d.err = err
				d.mu.Unlock()
				return
			}
			var m map[string]any
			json.Unmarshal(data, &m)
			d.mu.Lock()
			d.msgs = append(d.msgs, m)
			d.mu.Unlock()
		}
	}()
	return d
}

// of returns the messages of one type received so far.
func (d *dashboard) of(typ string) []map[string]any {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []map[string]any
	for _, m := range d.msgs {
		if m["type"] == typ {
			out = append(out, m)
		}
	}
	return out
}

// afterPlaybacks is a stack whose history holds events that qualified for
// live playback on two moving cameras ("yard", "gate"), every playback of
// which has started and ended (the cameras then stood still), with every
// lease released: the state in which a page reload must start nothing.
func afterPlaybacks(t *testing.T) (*stack, *go2rtctest.Server) {
	t.Helper()
	cams := testkit.Camsim(t, camsim.Camera{Name: "yard", Mode: camsim.ModeMotion}, camsim.Camera{Name: "gate", Mode: camsim.ModeMotion})
	g2 := go2rtctest.New(t, go2rtctest.Options{})
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.Go2RTC.URL = g2.URL()
		cfg.Go2RTC.Lease = config.D(3 * time.Second)
		cfg.Subnets[0].Interval = config.D(time.Second)
		cfg.Playback.Cooldown = config.D(time.Hour) // one playback per camera
		cfg.Playback.MinScore = 0.01
		cfg.Detector.MinScore = 0.01
		cfg.Playback.MaxLive = 2
	})
	// Each detection on a playing camera extends it: the cameras must stand
	// still for the playbacks to run out.
	testkit.Eventually(t, 30*time.Second, "playback of an event started",
		func() bool { return count(st, func(*messages.PlaybackStarted) bool { return true }) >= 1 })
	static := camsim.ModeStatic
	for _, c := range []string{"yard", "gate"} {
		if err := cams.Update(c, camsim.CameraPatch{Mode: &static}); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 30*time.Second, "every playback ended", func() bool {
		stopped := count(st, func(*messages.PlaybackStopped) bool { return true })
		return stopped >= 1 && stopped >= count(st, func(e *messages.PlaybackStarted) bool { return !e.Extended })
	})
	testkit.Eventually(t, 15*time.Second, "every lease ended", func() bool {
		return count(st, func(*messages.LeaseEnded) bool { return true }) >= count(st, func(e *messages.LeaseGranted) bool { return !e.Extended })
	})
	return st, g2
}
