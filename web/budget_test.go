package web

import (
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"camvisor/actors"
	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// timed is one request's answer and how long it took.
type timed struct {
	code int
	body string
	took time.Duration
	at   time.Time // when the answer came
	err  error
}

// timedRequest sends one request with the token through a client that
// gives up after giveUp (a request that hangs is an answer too late).
func (st *stack) timedRequest(method, path string, giveUp time.Duration) timed {
	req, _ := http.NewRequest(method, st.srv.URL()+strings.TrimPrefix(path, "/"), nil)
	req.Header.Set("Authorization", "Bearer "+st.token)
	client := &http.Client{Timeout: giveUp}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return timed{took: time.Since(start), at: time.Now(), err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return timed{code: resp.StatusCode, body: string(data), took: time.Since(start), at: time.Now(), err: err}
}

// restartStorm sends n restarts of camera at once and returns their
// answers.
func (st *stack) restartStorm(camera string, n int, giveUp time.Duration) []timed {
	out := make([]timed, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i] = st.timedRequest("POST", "/api/cameras/"+camera+"/restart", giveUp) })
	}
	wg.Wait()
	return out
}

// handlersLeft are the goroutines still running an API handler or
// waiting on a question to the tree.
func handlersLeft() []string {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "camvisor/actors.(*Tree).ask") || strings.Contains(g, "camvisor/web.(*Server).cameras") ||
			strings.Contains(g, "camvisor/web.(*Server).restart") {
			left = append(left, g)
		}
	}
	return left
}

// TestAnswersWithinBudgetUnderRestartStorm: thirty operators restart one
// camera at once while a dashboard reads GET /api/cameras every second:
// every answer comes within its documented budget (the camera list's
// question budget, the restart's), none hangs, and once all answered no
// handler or question is left running.
func TestAnswersWithinBudgetUnderRestartStorm(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"}, camsim.Camera{Name: "back"})
	st := startStack(t, cams, func(cfg *config.Config) { cfg.Subnets[0].Interval = config.D(2 * time.Second) })
	testkit.WaitFor(t, st.facts, testkit.Start, 20*time.Second, "the patrol's first capture", func(d *messages.CaptureDone) bool {
		return d.Outcome == messages.OutcomeOK
	})
	lim := st.srv.lim
	slack := 2 * time.Second // a busy machine's scheduling, the client's own work
	listBudget := lim.Question + slack
	restartBudget := st.env.Config.FFmpeg.KillGrace.Duration + lim.Restart + slack

	var lists []timed
	stop := make(chan struct{})
	listed := make(chan struct{})
	go func() {
		defer close(listed)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			lists = append(lists, st.timedRequest("GET", "/api/cameras", 2*listBudget))
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	restarts := st.restartStorm("front", 30, 2*restartBudget)
	// Read on while the camera settles: what the storm left behind shows now.
	time.Sleep(3 * time.Second) // the reader's pace: three more reads, not a wait for a condition
	close(stop)
	<-listed

	for i, a := range restarts {
		switch {
		case a.err != nil:
			t.Errorf("restart %d: no answer after %s: %v", i, a.took.Round(time.Millisecond), a.err)
		case a.took > restartBudget:
			t.Errorf("restart %d: %d after %s, over its budget %s", i, a.code, a.took.Round(time.Millisecond), restartBudget)
		case a.code != http.StatusOK && !strings.Contains(a.body, `"error"`):
			t.Errorf("restart %d: %d %s: want 200, or an error naming what it waited for", i, a.code, a.body)
		}
	}
	if len(lists) < 4 {
		t.Errorf("only %d camera lists read during the storm", len(lists))
	}
	for i, a := range lists {
		var ans camerasAnswer
		switch {
		case a.err != nil:
			t.Errorf("GET /api/cameras %d: no answer after %s: %v", i, a.took.Round(time.Millisecond), a.err)
		case a.took > listBudget:
			t.Errorf("GET /api/cameras %d: %d after %s, over its budget %s", i, a.code, a.took.Round(time.Millisecond), listBudget)
		case a.code != http.StatusOK || json.Unmarshal([]byte(a.body), &ans) != nil || len(ans.Cameras) != 2:
			t.Errorf("GET /api/cameras %d: %d %s", i, a.code, a.body)
		}
	}
	testkit.Eventually(t, 5*time.Second, "no handler or question left once everything answered", func() bool {
		return len(handlersLeft()) == 0
	})
	if left := handlersLeft(); len(left) > 0 {
		t.Logf("left:\n%s", strings.Join(left, "\n\n"))
	}
}

// TestRestartStormEndsWithItsAnswers: thirty restarts of one camera at
// once all answer 200 within their budget, none carried out twice; no
// restart is carried out after the last answer; the camera
// captures again within 5 s of it (a restart whose asker gave up is
// withdrawn: actors' TestRestartIsNoFailure).
func TestRestartStormEndsWithItsAnswers(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	st := startStack(t, cams, func(cfg *config.Config) { cfg.Subnets[0].Interval = config.D(2 * time.Second) })
	testkit.WaitFor(t, st.facts, testkit.Start, 20*time.Second, "the patrol's first capture", func(d *messages.CaptureDone) bool {
		return d.Outcome == messages.OutcomeOK
	})
	restartBudget := st.env.Config.FFmpeg.KillGrace.Duration + st.srv.lim.Restart + 2*time.Second
	mark := st.facts.Mark()
	answers := st.restartStorm("front", 30, 2*restartBudget)
	var last time.Time
	for i, a := range answers {
		if a.err != nil || a.code != http.StatusOK || a.took > restartBudget {
			t.Errorf("restart %d: %d %s after %s (%v): want 200 within %s", i, a.code, a.body, a.took.Round(time.Millisecond), a.err, restartBudget)
		}
		if a.at.After(last) {
			last = a.at
		}
	}
	// A capture is read after every restart sent before it: when it is
	// answered, each restart asked before the last answer is done or
	// withdrawn.
	capture := st.timedRequest("POST", "/api/cameras/front/capture", 20*time.Second)
	var done captureAnswer
	json.Unmarshal([]byte(capture.body), &done)
	if capture.code != http.StatusOK || done.Outcome != string(messages.OutcomeOK) || capture.at.Sub(last) > 5*time.Second {
		t.Errorf("capture after the storm: %d %s, answered %s after the last restart's answer: want ok within 5s",
			capture.code, capture.body, capture.at.Sub(last).Round(time.Millisecond))
	}
	restarted := testkit.All(st.facts, mark, func(e *messages.ActorRestarted) bool { return e.Kind == "camera" })
	for _, e := range restarted {
		if e.At.After(last) {
			t.Errorf("camera restarted at %s, %s after the last answer (%s)", e.At.Format(time.RFC3339Nano), e.At.Sub(last), e.Reason)
		}
	}
	// Each restart is quick now: how many of them find another pending,
	// and join it, depends on the machine's pace (TestRestartIsNoFailure
	// joins one for sure). None is carried out twice.
	if len(restarted) == 0 || len(restarted) > len(answers) {
		t.Errorf("%d restarts carried out for %d asked at once", len(restarted), len(answers))
	}
	t.Logf("%d restarts asked at once, %d carried out (the others joined one pending); capture %s after the last answer",
		len(answers), len(restarted), capture.at.Sub(last).Round(time.Millisecond))
}

// TestReloadWaitsWithinItsBudget: a reload asked while another one runs
// waits for its turn only within its own budget, then answers 503 saying
// why, instead of queueing behind the first for as long as that takes.
func TestReloadWaitsWithinItsBudget(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var cfg *config.Config
	st := startStackWith(t, cams, func(c *config.Config) {
		c.FFmpeg.KillGrace = config.D(500 * time.Millisecond)
		cfg = c
	}, stackOptions{
		env: func(env *actors.Env) {
			p := actors.DefaultPolicy()
			p.RetireWait, p.ReloadStepMargin, p.ReloadMargin = 100*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond
			env.Policy = p
		},
		load: func() (*config.Config, error) {
			entered <- struct{}{}
			<-release // a reload that takes its time (a slow disk, a file being written)
			return cfg, nil
		},
	})
	budget := st.tree.ReloadBudget()
	first := make(chan timed, 1)
	go func() { first <- st.timedRequest("POST", "/api/config/reload", time.Minute) }()
	<-entered
	second := st.timedRequest("POST", "/api/config/reload", 2*budget+10*time.Second)
	close(release)
	if second.err != nil || second.code != http.StatusServiceUnavailable || !strings.Contains(second.body, "another reload is still running") ||
		second.took > budget+2*time.Second {
		t.Errorf("a reload behind a running one: %d %s after %s (%v); want 503 within its budget %s",
			second.code, second.body, second.took.Round(time.Millisecond), second.err, budget)
	}
	if f := <-first; f.err != nil || f.code != http.StatusOK {
		t.Errorf("the first reload: %d %s (%v)", f.code, f.body, f.err)
	}
}
