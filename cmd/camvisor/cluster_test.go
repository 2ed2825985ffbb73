package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/cluster"
	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
	"camvisor/db"
)

// Invariant 8 with the real binary: one camvisor per record, and in a
// cluster each camera run by one node at a time. The nodes are camvisor
// processes on one real etcd (Debian's etcd-server), the cameras camsim's
// with max=2; what a test asserts it reads from /proc, from camsim's own
// counts and from each node's API and record, never from camvisor's
// bookkeeping alone.

// clusterToken is the operator token every node of a test cluster shares
// (auth.token from ${CLUSTER_TOKEN}), so that they can forward.
const clusterToken = "cluster-test-token-0123456789"

// node is one camvisor binary of a test cluster.
type node struct {
	name, url, db string
	cmd           *exec.Cmd
	log           *testkit.SyncBuffer
	done          chan struct{}
	exitedAt      time.Time
}

// testCluster is the etcd, the cameras and the nodes of one test.
type testCluster struct {
	t     *testing.T
	etcd  *testkit.Etcd
	cams  *camsim.Server
	names []string
	nodes map[string]*node
	conf  string // the one configuration file every node reads
	dir   string
	cfg   config.Cluster
}

// newCluster writes the shared configuration for cams (YAML lines of
// subnet lab's cameras from cameras) and starts etcd; nodes start with
// start.
func newCluster(t *testing.T, cams *camsim.Server, cameras []string) *testCluster {
	t.Helper()
	testkit.RequireFFmpeg(t)
	c := &testCluster{t: t, etcd: testkit.StartEtcd(t), cams: cams, nodes: map[string]*node{}, dir: t.TempDir()}
	c.cfg = config.Cluster{TTL: config.D(4 * time.Second)}
	var b strings.Builder
	// Per node: --listen, --db, --node on the command line; the token
	// and etcd from ${NAME}, as an operator's units would.
	fmt.Fprintf(&b, "ffmpeg: { capture_timeout: 1m, kill_grace: 1s }\nauth: { token: \"${CLUSTER_TOKEN}\" }\n"+
		"cluster:\n  etcd: [\"${CLUSTER_ETCD}\"]\n  ttl: %s\nsubnets:\n  - name: lab\n    interval: 1h\n    concurrency: 8\n    cameras:\n", c.cfg.TTL.Duration)
	for _, id := range cameras {
		fmt.Fprintf(&b, "      - id: %s\n        url: %s\n        max_connections: 2\n", id, cams.URL(id))
	}
	c.conf = filepath.Join(c.dir, "camvisor.yaml")
	if err := os.WriteFile(c.conf, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// start runs node name reaching etcd at etcdURL ("" for the cluster's).
func (c *testCluster) start(name, etcdURL string) *node {
	c.t.Helper()
	if etcdURL == "" {
		etcdURL = c.etcd.URL
	}
	bin := testkit.Binary(c.t, "camvisor/cmd/camvisor")
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(c.t))
	n := &node{name: name, url: "http://" + addr, db: filepath.Join(c.dir, name+".db"), log: &testkit.SyncBuffer{}, done: make(chan struct{})}
	n.cmd = exec.Command(bin, "run", "--config", c.conf, "--listen", addr, "--db", n.db, "--node", name)
	n.cmd.Env = append(os.Environ(), "CLUSTER_TOKEN="+clusterToken, "CLUSTER_ETCD="+etcdURL)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() {
		_ = n.cmd.Wait()
		n.exitedAt = time.Now()
		close(n.done)
	}()
	home, _ := filepath.Abs(n.db)
	testkit.NoProcessesLeft(c.t, "node "+name, func() []osproc.Info {
		var live []osproc.Info
		for _, p := range testkit.FFmpegOfHome(home) {
			if !p.Zombie() {
				live = append(live, p)
			}
		}
		return live
	})
	c.t.Cleanup(func() {
		if n.running() {
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-n.done:
			case <-time.After(30 * time.Second):
				_ = n.cmd.Process.Kill()
				<-n.done
			}
		}
		if c.t.Failed() {
			c.t.Logf("node %s output:\n%s", name, n.log.String())
		}
	})
	c.nodes[name] = n
	if !slices.Contains(c.names, name) {
		c.names = append(c.names, name)
	}
	return n
}

func (n *node) running() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// home is the node's installation: the tag of its ffmpeg processes.
func (n *node) home() string {
	h, _ := filepath.Abs(n.db)
	return h
}

// ffmpeg lists the node's live ffmpeg processes in /proc.
func (n *node) ffmpeg() []osproc.Info {
	var out []osproc.Info
	for _, p := range testkit.FFmpegOfHome(n.home()) {
		if !p.Zombie() {
			out = append(out, p)
		}
	}
	return out
}

// request calls the node's API with the shared token and decodes the
// JSON answer into into; it returns the status (0 when unreachable).
func (n *node) request(method, path string, into any, timeout time.Duration) int {
	req, _ := http.NewRequest(method, n.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+clusterToken)
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if into != nil {
		_ = json.NewDecoder(resp.Body).Decode(into)
	}
	return resp.StatusCode
}

// clusterView is GET /api/cluster as the issue gives it.
type clusterView struct {
	Node    string `json:"node"`
	Members []struct {
		Node    string `json:"node"`
		URL     string `json:"url"`
		Healthy bool   `json:"healthy"`
		Cameras int    `json:"cameras"`
	} `json:"members"`
	Cameras []struct {
		ID    string `json:"id"`
		Owner string `json:"owner"`
		Epoch int64  `json:"epoch"`
	} `json:"cameras"`
}

// owners is every camera's owner as node n says, nil when it does not
// answer.
func (n *node) owners() map[string]string {
	var v clusterView
	if n.request(http.MethodGet, "/api/cluster", &v, 2*time.Second) != http.StatusOK {
		return nil
	}
	out := map[string]string{}
	for _, c := range v.Cameras {
		out[c.ID] = c.Owner
	}
	return out
}

// live are the nodes still running.
func (c *testCluster) live() []*node {
	var out []*node
	for _, name := range c.names {
		if n := c.nodes[name]; n.running() {
			out = append(out, n)
		}
	}
	return out
}

// agreed waits until every live node's /api/cluster gives every camera
// the owner want says, and returns the owners.
// ownedBy are the cameras owners gives node; the test fails when there
// is none, for it would then show nothing about that node.
func (c *testCluster) ownedBy(owners map[string]string, node string) []string {
	c.t.Helper()
	var theirs []string
	for cam, o := range owners {
		if o == node {
			theirs = append(theirs, cam)
		}
	}
	if len(theirs) == 0 {
		c.t.Fatalf("%s owns no camera: the test would show nothing", node)
	}
	return theirs
}

func (c *testCluster) agreed(within time.Duration, what string, want func(camera, owner string) bool) map[string]string {
	c.t.Helper()
	var got map[string]string
	testkit.Eventually(c.t, within, what, func() bool {
		var first map[string]string
		for _, n := range c.live() {
			o := n.owners()
			if o == nil || len(o) != len(c.cams.Cameras()) {
				return false
			}
			for cam, owner := range o {
				if !want(cam, owner) || (first != nil && first[cam] != owner) {
					return false
				}
			}
			first = o
		}
		got = first
		return got != nil
	})
	return got
}

// ranked says whether owner is the live node camera ranks first.
func (c *testCluster) ranked(camera, owner string) bool {
	var live []string
	for _, n := range c.live() {
		live = append(live, n.name)
	}
	return owner == cluster.Rank(camera, live)[0]
}

// watch samples, until the test ends, camsim's open connections per
// camera (never above max=2) and each camera's live ffmpeg across nodes
// (never on two nodes at once), as /proc shows them.
func (c *testCluster) watch() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			on := map[string]map[string]bool{}
			for _, name := range c.names {
				for _, p := range c.nodes[name].ffmpeg() {
					if on[p.Camera()] == nil {
						on[p.Camera()] = map[string]bool{}
					}
					on[p.Camera()][name] = true
				}
			}
			mu.Lock()
			for cam, nodes := range on {
				if len(nodes) > 1 {
					problems = append(problems, fmt.Sprintf("camera %s had ffmpeg on nodes %v at once", cam, nodes))
				}
			}
			for cam, st := range c.cams.AllStats() {
				if st.Open > 2 {
					problems = append(problems, fmt.Sprintf("camsim saw %d connections open to %s", st.Open, cam))
				}
			}
			mu.Unlock()
		}
	}()
	c.t.Cleanup(func() {
		close(stop)
		wg.Wait()
		for cam, st := range c.cams.AllStats() {
			if st.MaxOpen > 2 || st.Refused != 0 {
				c.t.Errorf("camsim: camera %s max_open %d refused %d; want at most 2 and none refused", cam, st.MaxOpen, st.Refused)
			}
		}
		for _, p := range problems[:min(len(problems), 10)] {
			c.t.Error(p)
		}
	})
}

// capture asks node n for an operator capture of camera, and returns the
// outcome and when the capture started (the answer's arrival minus its
// duration).
func (n *node) capture(camera string) (outcome string, started time.Time, err error) {
	var d struct {
		Outcome    string `json:"outcome"`
		DurationMS int64  `json:"duration_ms"`
		Error      string `json:"error"`
	}
	code := n.request(http.MethodPost, "/api/cameras/"+camera+"/capture", &d, time.Minute)
	at := time.Now()
	if code != http.StatusOK {
		return "", at, fmt.Errorf("capture %s on %s: status %d %s", camera, n.name, code, d.Error)
	}
	return d.Outcome, at.Add(-time.Duration(d.DurationMS) * time.Millisecond), nil
}

// captureReady is capture, asked again while the camera's new owner
// waits out its takeover delay (503 with Retry-After), for up to 15 s.
func (n *node) captureReady(camera string) (string, time.Time, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		outcome, started, err := n.capture(camera)
		if err == nil || !strings.Contains(err.Error(), "just taken over") || time.Now().After(deadline) {
			return outcome, started, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cameraNames are n camsim cameras named prefix01...
func cameraNames(prefix string, n int) ([]string, []camsim.Camera) {
	var ids []string
	var cams []camsim.Camera
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("%s%02d", prefix, i)
		ids = append(ids, id)
		cams = append(cams, camsim.Camera{Name: id, MaxConnections: 2})
	}
	return ids, cams
}

// TestSecondInstanceRefused: a second `camvisor run` on the record of a
// running one exits non-zero at once, naming the holder (pid, listen
// address), and touches nothing: the first one's ffmpeg processes (hung
// captures, counted in /proc) are the same before and after, and its run
// is the only one in the record.
func TestSecondInstanceRefused(t *testing.T) {
	testkit.RequireFFmpeg(t)
	cams := testkit.Camsim(t, camsim.Camera{Name: "hang1", Hang: true}, camsim.Camera{Name: "hang2", Hang: true})
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "camvisor.db")
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	conf := writeFile(t, "camvisor.yaml", fmt.Sprintf("listen: %s\ndb: %s\nffmpeg: { capture_timeout: 1m, kill_grace: 1s }\nsubnets:\n  - name: lab\n    interval: 1h\n    cameras:\n"+
		"      - { id: hang1, url: %q, max_connections: 2 }\n      - { id: hang2, url: %q, max_connections: 2 }\n", addr, dbPath, cams.URL("hang1"), cams.URL("hang2")))
	bin := testkit.Binary(t, "camvisor/cmd/camvisor")
	first := &node{name: "first", db: dbPath, log: &testkit.SyncBuffer{}, done: make(chan struct{})}
	first.cmd = exec.Command(bin, "run", "--config", conf)
	first.cmd.Stdout, first.cmd.Stderr = first.log, first.log
	if err := first.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = first.cmd.Wait(); close(first.done) }()
	testkit.NoProcessesLeft(t, "the first camvisor", first.ffmpeg)
	t.Cleanup(func() {
		_ = first.cmd.Process.Signal(syscall.SIGTERM)
		<-first.done
		if t.Failed() {
			t.Logf("first camvisor:\n%s", first.log.String())
		}
	})
	testkit.Eventually(t, 30*time.Second, "the first camvisor's two hung captures running", func() bool { return len(first.ffmpeg()) == 2 })
	before := first.ffmpeg()

	second := exec.Command(bin, "run", "--config", conf, "--listen", "127.0.0.1:0")
	started := time.Now()
	out, err := second.CombinedOutput()
	took := time.Since(started)
	if err == nil || second.ProcessState.ExitCode() == 0 {
		t.Fatalf("the second camvisor exited 0:\n%s", out)
	}
	msg := string(out)
	for _, want := range []string{"another camvisor runs on this record", fmt.Sprintf("pid %d", first.cmd.Process.Pid), "listen " + addr} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, msg)
		}
	}
	if took > 10*time.Second {
		t.Errorf("the refusal took %s", took)
	}
	t.Logf("refused in %s: %s", took.Round(time.Millisecond), strings.TrimSpace(msg))
	after := first.ffmpeg()
	if fmt.Sprint(pidsOf(before)) != fmt.Sprint(pidsOf(after)) {
		t.Errorf("the first camvisor's ffmpeg were %v, now %v", pidsOf(before), pidsOf(after))
	}
	s, err := db.OpenReadOnly(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var runs, open int
	_ = s.DB.Get(&runs, `SELECT COUNT(*) FROM runs`)
	_ = s.DB.Get(&open, `SELECT COUNT(*) FROM runs WHERE stopped_at IS NULL`)
	if runs != 1 || open != 1 {
		t.Errorf("the record has %d runs, %d open; want the first one only, still running", runs, open)
	}
}

func pidsOf(procs []osproc.Info) []int {
	out := make([]int, len(procs))
	for i, p := range procs {
		out[i] = p.PID
	}
	slices.Sort(out)
	return out
}

// TestClusterOwnsEachCameraOnce: three nodes, thirty cameras: within 15 s
// every camera has one owner, the same in every node's /api/cluster; an
// operator's capture of each through one node succeeds (forwarded to its
// owner); camsim never sees more than 2 connections to a camera, nor
// refuses one.
func TestClusterOwnsEachCameraOnce(t *testing.T) {
	ids, list := cameraNames("cam", 30)
	cams := testkit.Camsim(t, list...)
	c := newCluster(t, cams, ids)
	c.watch()
	start := time.Now()
	for _, name := range []string{"n1", "n2", "n3"} {
		c.start(name, "")
	}
	owners := c.agreed(15*time.Second, "every camera with one owner, the same in every node's /api/cluster",
		func(_, owner string) bool { return owner != "" })
	t.Logf("every camera owned %s after the start", time.Since(start).Round(time.Millisecond))
	owners = c.agreed(30*time.Second, "every camera with the node it ranks first", c.ranked)
	t.Logf("every camera with the node it ranks first %s after the start", time.Since(start).Round(time.Millisecond))
	var v clusterView
	c.nodes["n2"].request(http.MethodGet, "/api/cluster", &v, 2*time.Second)
	if v.Node != "n2" || len(v.Members) != 3 {
		t.Errorf("n2's /api/cluster: node %q, %d members", v.Node, len(v.Members))
	}
	for _, m := range v.Members {
		if !m.Healthy || m.URL != c.nodes[m.Node].url {
			t.Errorf("member %+v: want healthy at %s", m, c.nodes[m.Node].url)
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			outcome, _, err := c.nodes["n1"].captureReady(id)
			if err != nil || outcome != "ok" {
				t.Errorf("capture of %s (owner %s) through n1: %q %v", id, owners[id], outcome, err)
			}
		}()
	}
	wg.Wait()
}

// TestClusterNodeCrash: a node SIGKILLed loses its cameras to the others
// within ttl + takeover delay + 5 s, and camsim never sees more than its
// max.
func TestClusterNodeCrash(t *testing.T) {
	ids, list := cameraNames("cam", 12)
	cams := testkit.Camsim(t, list...)
	c := newCluster(t, cams, ids)
	testkit.AdoptOrphans(t, func() []int { return nil })
	c.watch()
	for _, name := range []string{"n1", "n2", "n3"} {
		c.start(name, "")
	}
	owners := c.agreed(30*time.Second, "every camera with the node it ranks first", c.ranked)
	theirs := c.ownedBy(owners, "n2")
	if outcome, _, err := c.nodes["n1"].captureReady(theirs[0]); err != nil || outcome != "ok" {
		t.Fatalf("capture of n2's %s before the crash: %q %v", theirs[0], outcome, err)
	}
	n2 := c.nodes["n2"]
	if err := n2.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-n2.done
	killed := time.Now()
	within := c.cfg.TTL.Duration + c.cfg.TakeoverDelay(time.Second) + 5*time.Second
	c.agreed(within, "n2's cameras owned by the others", func(_, owner string) bool { return owner == "n1" || owner == "n3" })
	t.Logf("n2's %d cameras owned by the others %s after its SIGKILL (bound %s)", len(theirs), time.Since(killed).Round(time.Millisecond), within)
	for _, cam := range theirs {
		testkit.Eventually(t, 20*time.Second, "a capture of "+cam+" on its new owner", func() bool {
			outcome, _, err := c.nodes["n1"].capture(cam)
			return err == nil && outcome == "ok"
		})
	}
}

// TestClusterPartition: a TCP proxy between one node and etcd is cut: that
// node has no ffmpeg left within the ttl (its hung captures counted in
// /proc), the others take its cameras; when the proxy returns the node
// joins again and gets cameras back by hand-over (no takeover wait).
func TestClusterPartition(t *testing.T) {
	ids, list := cameraNames("cam", 9)
	hungIDs, hung := cameraNames("hang", 3)
	for i := range hung {
		hung[i].Hang = true
	}
	cams := testkit.Camsim(t, append(list, hung...)...)
	c := newCluster(t, cams, append(ids, hungIDs...))
	c.watch()
	proxy := testkit.StartProxy(t, strings.TrimPrefix(c.etcd.URL, "http://"))
	c.start("n1", "")
	c.start("n2", "")
	n3 := c.start("n3", "http://"+proxy.Addr)
	owners := c.agreed(30*time.Second, "every camera with the node it ranks first", c.ranked)
	var held []string
	for _, cam := range hungIDs {
		if owners[cam] == "n3" {
			held = append(held, cam)
			go n3.captureReady(cam) // hangs until n3 stops the camera
		}
	}
	if len(held) == 0 {
		t.Fatalf("n3 owns no hung camera (owners %v): the test would show nothing", owners)
	}
	testkit.Eventually(t, 15*time.Second, "n3's hung captures running", func() bool { return len(n3.ffmpeg()) == len(held) })

	proxy.Cut()
	cut := time.Now()
	testkit.Eventually(t, c.cfg.TTL.Duration, "no ffmpeg left on n3 within the ttl of the cut", func() bool { return len(n3.ffmpeg()) == 0 })
	t.Logf("n3 fenced: no ffmpeg %s after the cut", time.Since(cut).Round(time.Millisecond))
	within := c.cfg.TTL.Duration + c.cfg.TakeoverDelay(time.Second) + 5*time.Second
	testkit.Eventually(t, within, "n3's cameras owned by the others", func() bool {
		for _, n := range []*node{c.nodes["n1"], c.nodes["n2"]} {
			o := n.owners()
			for _, cam := range append(ids, hungIDs...) {
				if o == nil || (o[cam] != "n1" && o[cam] != "n2") {
					return false
				}
			}
		}
		return true
	})
	t.Logf("n3's cameras owned by the others %s after the cut", time.Since(cut).Round(time.Millisecond))

	proxy.Restore()
	restored := time.Now()
	c.agreed(30*time.Second, "n3 back, with the cameras it ranks first", c.ranked)
	t.Logf("n3 holds its cameras again %s after the proxy returned", time.Since(restored).Round(time.Millisecond))
	s, err := db.OpenReadOnly(n3.db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var back []struct {
		Camera string `db:"camera"`
		Wait   int64  `db:"takeover_wait_ms"`
	}
	testkit.Eventually(t, 10*time.Second, "n3's new ownership rows in its record", func() bool {
		back = back[:0]
		_ = s.DB.Select(&back, `SELECT camera, takeover_wait_ms FROM ownership WHERE acquired_at >= ?`, db.T(restored))
		return len(back) > 0
	})
	for _, b := range back {
		if b.Wait != 0 {
			t.Errorf("n3 took %s back with a takeover wait of %d ms, not by hand-over", b.Camera, b.Wait)
		}
	}
	var fenced int
	_ = s.DB.Get(&fenced, `SELECT COUNT(*) FROM processes WHERE stop_reason = 'fenced'`)
	if fenced < len(held) {
		t.Errorf("n3's record has %d processes stopped as fenced, want at least %d", fenced, len(held))
	}
}

// TestClusterOrderlyHandOver: SIGTERM one node: its cameras are captured
// by the others within 2 s of its exit — handed over, without the
// takeover wait.
func TestClusterOrderlyHandOver(t *testing.T) {
	ids, list := cameraNames("cam", 12)
	cams := testkit.Camsim(t, list...)
	c := newCluster(t, cams, ids)
	c.watch()
	for _, name := range []string{"n1", "n2", "n3"} {
		c.start(name, "")
	}
	owners := c.agreed(30*time.Second, "every camera with the node it ranks first", c.ranked)
	theirs := c.ownedBy(owners, "n1")
	n1 := c.nodes["n1"]
	type result struct {
		camera, owner, outcome string
		started                time.Time
		err                    error
	}
	results := make(chan result, len(theirs))
	go func() {
		_ = n1.cmd.Process.Signal(syscall.SIGTERM)
	}()
	for _, cam := range theirs {
		go func() {
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				o := c.nodes["n2"].owners()
				if owner := o[cam]; owner == "n2" || owner == "n3" {
					outcome, started, err := c.nodes[owner].capture(cam)
					results <- result{cam, owner, outcome, started, err}
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			results <- result{camera: cam, err: fmt.Errorf("no new owner within 20 s")}
		}()
	}
	select {
	case <-n1.done:
	case <-time.After(30 * time.Second):
		t.Fatal("n1 did not exit within 30 s of its SIGTERM")
	}
	if code := n1.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("n1 exited %d after SIGTERM", code)
	}
	var worst time.Duration
	for range theirs {
		r := <-results
		if r.err != nil || r.outcome != "ok" {
			t.Errorf("camera %s after n1's exit: %q %v", r.camera, r.outcome, r.err)
			continue
		}
		late := r.started.Sub(n1.exitedAt)
		worst = max(worst, late)
		if late > 2*time.Second {
			t.Errorf("camera %s captured by %s %s after n1's exit, want within 2 s", r.camera, r.owner, late.Round(time.Millisecond))
		}
	}
	t.Logf("n1's %d cameras captured by the others at most %s after its exit", len(theirs), worst.Round(time.Millisecond))
	s, err := db.OpenReadOnly(n1.db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var released int
	_ = s.DB.Get(&released, `SELECT COUNT(*) FROM ownership WHERE release = 'released' AND reason = 'shutdown'`)
	if released != len(theirs) {
		t.Errorf("n1's record: %d cameras released at shutdown, want %d", released, len(theirs))
	}
}

// TestClusterExampleChecks: the cluster example every node reads passes
// `camvisor check` with the node's variables set, and without the node's
// name is refused naming the variable.
func TestClusterExampleChecks(t *testing.T) {
	t.Setenv("CAMVISOR_TOKEN", clusterToken)
	t.Setenv("CAMVISOR_NODE", "n1")
	if code, out := run("check", "--config", "camvisor.cluster.yaml"); code != 0 || !strings.Contains(out, "ok, 1 subnets, 9 cameras") {
		t.Errorf("check of camvisor.cluster.yaml: exit %d, %q", code, out)
	}
	os.Unsetenv("CAMVISOR_NODE") // t.Setenv restores it
	if code, out := run("check", "--config", "camvisor.cluster.yaml"); code == 0 || !strings.Contains(out, "CAMVISOR_NODE") {
		t.Errorf("check without CAMVISOR_NODE: exit %d, %q", code, out)
	}
}
