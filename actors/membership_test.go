package actors

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/cluster"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// Invariant 8 in one process, under the race detector: two trees are two
// nodes of a cluster on a real etcd. The binary's own tests (cmd/camvisor,
// TestCluster*) run three processes; these watch the membership actor.

// clusterConfig is testConfig as node of a cluster on etcd, with its own
// installation (record path: the reaper of one node must not take the
// other's processes for an earlier run's).
func clusterConfig(t *testing.T, cams *camsim.Server, list []camsim.Camera, node, etcd string) *config.Config {
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	cfg.DB = filepath.Join(t.TempDir(), node+".db")
	cfg.FFmpeg.CaptureTimeout = testDuration(time.Minute) // only a stop ends a hung capture
	cfg.Cluster = config.Cluster{Etcd: []string{etcd}, Node: node, Advertise: "http://127.0.0.1:9", TTL: testDuration(4 * time.Second)}
	return cfg
}

// owner is which of the harnesses runs camera id's actor now ("" none,
// "both" both).
func owner(nodes map[string]*harness, id string) string {
	var on []string
	for n, h := range nodes {
		if h.tree.running(CameraPath("lab", id)) {
			on = append(on, n)
		}
	}
	switch len(on) {
	case 0:
		return ""
	case 1:
		return on[0]
	}
	return "both"
}

// pickCameras names cameras with prefix, n that rank node first and m that
// rank the other first.
func pickCameras(prefix, node, other string, n, m int) []string {
	var out []string
	for i := 0; n > 0 || m > 0; i++ {
		id := fmt.Sprintf("%s%d", prefix, i)
		switch first := cluster.Rank(id, []string{node, other})[0]; {
		case first == node && n > 0:
			n--
			out = append(out, id)
		case first == other && m > 0:
			m--
			out = append(out, id)
		}
	}
	return out
}

func TestMembershipFenceAndHandOver(t *testing.T) {
	e := testkit.StartEtcd(t)
	proxy := testkit.StartProxy(t, strings.TrimPrefix(e.URL, "http://"))
	var list []camsim.Camera
	var hung []string
	for _, id := range pickCameras("hang", "n1", "n2", 2, 1) {
		list = append(list, camsim.Camera{Name: id, Hang: true})
		hung = append(hung, id)
	}
	for _, id := range pickCameras("cam", "n1", "n2", 2, 2) {
		list = append(list, camsim.Camera{Name: id})
	}
	cams := startCamsim(t, list...)
	nodes := map[string]*harness{
		"n1": startTree(t, cams, clusterConfig(t, cams, list, "n1", "http://"+proxy.Addr)),
		"n2": startTree(t, cams, clusterConfig(t, cams, list, "n2", e.URL)),
	}
	// Never two actors of one camera, sampled throughout.
	var both atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			for _, c := range list {
				if owner(nodes, c.Name) == "both" {
					both.Store(c.Name)
				}
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
		if c := both.Load(); c != nil {
			t.Errorf("camera %s had an actor on both nodes at once", c)
		}
	}()

	settled := func(what string, want func(id string) string, within time.Duration) {
		t.Helper()
		testkit.Eventually(t, within, what, func() bool {
			for _, c := range list {
				if owner(nodes, c.Name) != want(c.Name) {
					return false
				}
			}
			return true
		})
	}
	ranked := func(id string) string { return cluster.Rank(id, []string{"n1", "n2"})[0] }
	settled("every camera run by the node it ranks first", ranked, 20*time.Second)
	for n, h := range nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		v, err := h.tree.Cluster(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range v.Cameras {
			if c.Owner != ranked(c.ID) || c.Epoch == 0 {
				t.Errorf("%s says camera %s is owned by %q epoch %d, want %s", n, c.ID, c.Owner, c.Epoch, ranked(c.ID))
			}
		}
	}
	if d := nodes["n1"].capture("lab", "cam0", 20*time.Second); ranked("cam0") == "n1" && d.Outcome != messages.OutcomeOK {
		t.Errorf("capture on its owner: %s %s", d.Outcome, d.Error)
	}

	// n1's hung captures hold ffmpeg processes when its etcd is cut off.
	n1 := nodes["n1"]
	for _, id := range hung {
		if ranked(id) == "n1" {
			go n1.tree.system.Root.RequestFuture(n1.camera("lab", id), &messages.Capture{Camera: id, Reason: "operator"}, time.Minute)
		}
	}
	testkit.Eventually(t, 10*time.Second, "n1's hung captures running", func() bool { return len(testkit.FFmpeg(n1.env.RunID)) == 2 })
	mark := n1.mark()
	proxy.Cut()
	cut := time.Now()
	testkit.Eventually(t, 4*time.Second, "n1 has no ffmpeg left within the ttl of the cut", func() bool {
		return len(testkit.FFmpeg(n1.env.RunID)) == 0
	})
	t.Logf("n1 fenced: no ffmpeg %s after the cut", time.Since(cut).Round(time.Millisecond))
	for _, p := range testkit.All(n1.facts, mark, func(e *messages.ProcessExited) bool { return true }) {
		if p.StopReason != messages.StopFenced {
			t.Errorf("pid %d of camera %s stopped for %s, want fenced", p.OSPID, p.Camera, p.StopReason)
		}
	}
	cfg := n1.env.Config.Cluster
	settled("n2 runs every camera", func(string) string { return "n2" }, cfg.TTL.Duration+cfg.TakeoverDelay(time.Second)+5*time.Second)
	t.Logf("n2 runs every camera %s after the cut", time.Since(cut).Round(time.Millisecond))

	// Back: n1 rejoins and gets its cameras by hand-over, without the wait.
	mark = n1.mark()
	proxy.Restore()
	settled("every camera back with the node it ranks first", ranked, 30*time.Second)
	for _, a := range testkit.All(n1.facts, mark, func(e *messages.OwnershipChanged) bool { return e.Change == messages.OwnershipAcquired }) {
		if a.Wait != 0 {
			t.Errorf("n1 waited %s for camera %s, which n2 handed over", a.Wait, a.Camera)
		}
	}
}
