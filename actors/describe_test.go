package actors

import (
	"sync"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/testkit"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// A test-only parent and a child that is too busy to answer.
type (
	describedParent struct {
		life
		release chan struct{}
	}
	busyChild struct {
		life
		release chan struct{}
	}
)

func (a *describedParent) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		ctx.SpawnNamed(actor.PropsFromProducer(lived(func() *busyChild { return &busyChild{release: a.release} })), "busy")
		ctx.SpawnNamed(actor.PropsFromProducer(lived(func() *busyChild { return &busyChild{} })), "idle")
	case *messages.Describe:
		answerDescribe(ctx, a.node(ctx, "parent", "running", nil))
	}
}

func (a *busyChild) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*messages.Describe); ok {
		if a.release != nil {
			<-a.release // blocks its mailbox: the situation under test, not a pattern
		}
		answerDescribe(ctx, a.node(ctx, "child", "running", nil))
	}
}

func TestDescribeChildThatDoesNotAnswer(t *testing.T) {
	system := actor.NewActorSystem()
	release := make(chan struct{})
	defer close(release)
	parent, _ := system.Root.SpawnNamed(actor.PropsFromProducer(lived(func() *describedParent {
		return &describedParent{release: release}
	})), "parent")
	testkit.Eventually(t, 2*time.Second, "children spawned", func() bool {
		_, busy := system.ProcessRegistry.GetLocal("parent/busy")
		_, idle := system.ProcessRegistry.GetLocal("parent/idle")
		return busy && idle
	})
	start := time.Now()
	res, err := system.Root.RequestFuture(parent, &messages.Describe{}, 5*time.Second).Result()
	if err != nil {
		t.Fatalf("the parent did not answer although one child did: %v", err)
	}
	if took := time.Since(start); took > DefaultPolicy().DescribeTimeout+time.Second {
		t.Errorf("answered after %s", took)
	}
	states := map[string]string{}
	for _, c := range res.(*messages.Node).Children {
		states[c.Path] = c.State
	}
	if states["parent/busy"] != "no answer" || states["parent/idle"] != "running" {
		t.Errorf("children %v", states)
	}
}

func TestDescribeUnderConcurrentCaptures(t *testing.T) {
	list := []camsim.Camera{{Name: "d1"}, {Name: "d2", Hang: true}}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	cfg.Subnets[0].Interval = testDuration(500 * time.Millisecond)
	cfg.FFmpeg.CaptureTimeout = testDuration(time.Second)
	h := startTree(t, cams, cfg)
	h.waitCamera("lab", "d1")
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				h.tree.system.Root.RequestFuture(h.camera("lab", "d1"), &messages.Capture{Camera: "d1"}, 10*time.Second).Wait()
			}
		}()
	}
	kinds := map[string]int{}
	for range 20 {
		res, err := h.tree.system.Root.RequestFuture(h.tree.root, &messages.Describe{}, 5*time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		var visit func(n *messages.Node)
		visit = func(n *messages.Node) {
			kinds[n.Kind]++
			if n.State == "no answer" {
				t.Errorf("%s did not answer", n.Path)
			}
			for _, c := range n.Children {
				visit(c)
			}
		}
		visit(res.(*messages.Node))
	}
	wg.Wait()
	for _, k := range []string{"root", "patrol", "subnet", "camera", "reaper", "detector", "playback", "hub"} {
		if kinds[k] == 0 {
			t.Errorf("no %s node in 20 descriptions", k)
		}
	}
	if kinds["ffmpeg"] == 0 {
		t.Error("no ffmpeg node while captures ran")
	}
}
