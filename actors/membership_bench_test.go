package actors

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"camvisor/actors/cluster"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// The cluster's cost and speed, on a real etcd, with in-process nodes at
// the default timings (ttl 6 s, kill_grace 2 s: a renewal a second). The
// cameras are never captured (the patrol's interval is an hour), so what
// is measured is the membership alone. Results: actors/BENCHMARKS.md.

// benchNode is one in-process node of a benchmark cluster.
type benchNode struct {
	name  string
	tree  *Tree
	facts *testkit.Facts
}

// startBenchNode starts node name with cameras on etcd.
func startBenchNode(b *testing.B, name, etcd string, cameras int, dir string) *benchNode {
	b.Helper()
	cfg := config.Defaults()
	cfg.DB = filepath.Join(dir, name+".db")
	cfg.Cluster = config.Cluster{Etcd: []string{etcd}, Node: name, Advertise: "http://127.0.0.1:9", TTL: config.D(6 * time.Second)}
	s := config.Subnet{Name: "lab", Interval: config.D(time.Hour), Concurrency: 4}
	for i := range cameras {
		s.Cameras = append(s.Cameras, config.Camera{ID: fmt.Sprintf("cam%04d", i), URL: fmt.Sprintf("rtsp://127.0.0.1:9/cam%04d", i),
			MaxConnections: 2, Queue: config.DefaultQueue})
	}
	cfg.Subnets = []config.Subnet{s}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	n := &benchNode{name: name, facts: testkit.NewFacts()}
	env := &Env{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), RunID: fmt.Sprintf("bench-%s-%d", name, time.Now().UnixNano()),
		Version: "bench", Tap: n.facts.Add}
	tree, err := Start(env)
	if err != nil {
		b.Fatal(err)
	}
	n.tree = tree
	b.Cleanup(func() { n.stop() })
	return n
}

func (n *benchNode) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = n.tree.Stop(ctx, "bench over")
}

func (n *benchNode) view(b *testing.B) *messages.ClusterView {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := n.tree.Cluster(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// settle waits until every camera runs on the node it ranks first among
// nodes.
func settle(b *testing.B, nodes []*benchNode, cameras int, within time.Duration) {
	b.Helper()
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.name
	}
	testkit.Eventually(b, within, "every camera on the node it ranks first", func() bool {
		for i := range cameras {
			id := fmt.Sprintf("cam%04d", i)
			want := cluster.Rank(id, names)[0]
			for _, n := range nodes {
				if n.tree.running(CameraPath("lab", id)) != (n.name == want) {
					return false
				}
			}
		}
		return true
	})
}

// BenchmarkClusterRequests: the etcd requests a cluster sends per second
// at rest, counted by each node's own client, for 1 and 3 nodes with 100
// and 1,000 cameras: it grows with the nodes (a renewal per node per
// second, a read every 30 s), not with the cameras.
func BenchmarkClusterRequests(b *testing.B) {
	const window = 10 * time.Second
	for _, nodes := range []int{1, 3} {
		for _, cameras := range []int{100, 1000} {
			b.Run(fmt.Sprintf("nodes=%d/cameras=%d", nodes, cameras), func(b *testing.B) {
				e := testkit.StartEtcd(b)
				dir := b.TempDir()
				var list []*benchNode
				for i := range nodes {
					list = append(list, startBenchNode(b, fmt.Sprintf("n%d", i+1), e.URL, cameras, dir))
				}
				settle(b, list, cameras, 60*time.Second)
				count := func() int64 {
					var sum int64
					for _, n := range list {
						sum += n.view(b).Requests
					}
					return sum
				}
				b.ResetTimer()
				for range b.N {
					before := count()
					time.Sleep(window)
					perSec := float64(count()-before) / window.Seconds()
					b.ReportMetric(perSec, "etcd-req/s")
					b.ReportMetric(perSec/float64(nodes), "etcd-req/s/node")
				}
			})
		}
	}
}

// BenchmarkClusterHandOver: with 1,000 cameras on three nodes, a fourth
// joins and takes the cameras it ranks first one at a time (hand-over:
// the old owner's stop begins → the camera acquired by the new one,
// without the takeover wait); then the fourth stops in order (SIGTERM):
// its Stop begins → each of its cameras acquired by another node.
func BenchmarkClusterHandOver(b *testing.B) {
	const cameras = 1000
	e := testkit.StartEtcd(b)
	dir := b.TempDir()
	var list []*benchNode
	for i := range 3 {
		list = append(list, startBenchNode(b, fmt.Sprintf("n%d", i+1), e.URL, cameras, dir))
	}
	settle(b, list, cameras, 60*time.Second)
	b.ResetTimer()
	for range b.N {
		n4 := startBenchNode(b, "n4", e.URL, cameras, dir)
		joined := time.Now()
		all := append(slices.Clone(list), n4)
		settle(b, all, cameras, 5*time.Minute)
		took := time.Since(joined)
		var moves []time.Duration
		began := map[string]time.Time{}
		for _, n := range list {
			for _, r := range testkit.All(n.facts, testkit.Start, func(e *messages.OwnershipChanged) bool {
				return e.Change == messages.OwnershipReleased && !e.Began.IsZero() && e.At.After(joined)
			}) {
				began[r.Camera] = r.Began
			}
		}
		for _, a := range testkit.All(n4.facts, testkit.Start, func(e *messages.OwnershipChanged) bool { return e.Change == messages.OwnershipAcquired }) {
			if a.Wait != 0 {
				b.Errorf("camera %s taken by the joining node with a takeover wait of %s, not handed over", a.Camera, a.Wait)
			}
			if t0, ok := began[a.Camera]; ok {
				moves = append(moves, a.At.Sub(t0))
			}
		}
		report(b, "join", moves)
		b.ReportMetric(float64(len(testkit.All(n4.facts, testkit.Start, func(e *messages.OwnershipChanged) bool { return e.Change == messages.OwnershipAcquired }))), "join-acquired")
		b.ReportMetric(float64(len(moves)), "join-moves")
		b.ReportMetric(took.Seconds(), "join-settled-s")

		// n4 stops in order: its cameras go to the others at once.
		var mine []string
		for _, c := range n4.view(b).Cameras {
			if c.Local {
				mine = append(mine, c.ID)
			}
		}
		marks := make([]testkit.Mark, len(list))
		for i, n := range list {
			marks[i] = n.facts.Mark()
		}
		stopped := time.Now()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); n4.stop() }()
		settle(b, list, cameras, time.Minute)
		wg.Wait()
		var leave []time.Duration
		for i, n := range list {
			for _, a := range testkit.All(n.facts, marks[i], func(e *messages.OwnershipChanged) bool {
				return e.Change == messages.OwnershipAcquired && slices.Contains(mine, e.Camera)
			}) {
				if a.Wait != 0 {
					b.Errorf("camera %s taken after n4's orderly stop with a takeover wait of %s", a.Camera, a.Wait)
				}
				leave = append(leave, a.At.Sub(stopped))
			}
		}
		report(b, "leave", leave)
		b.Logf("join: %d cameras moved one at a time in %s; leave: %d cameras", len(moves), took.Round(time.Millisecond), len(leave))
	}
}

// report adds the p50 and p99 of ds, in milliseconds, as metrics.
func report(b *testing.B, what string, ds []time.Duration) {
	if len(ds) == 0 {
		b.Errorf("%s: nothing measured", what)
		return
	}
	slices.Sort(ds)
	p := func(q float64) float64 {
		return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(p(0.5), what+"-p50-ms")
	b.ReportMetric(p(0.99), what+"-p99-ms")
}
