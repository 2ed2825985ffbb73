package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"camvisor/actors/testkit"
)

func dial(t *testing.T, e *testkit.Etcd) *Client {
	t.Helper()
	c, err := Dial([]string{e.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestAcquireGivesOneOwner: nodes racing for the same cameras each get
// some; every camera has exactly one owner, its epoch is its key's create
// revision, and a clean release leaves the hand-over the next owner reads.
func TestAcquireGivesOneOwner(t *testing.T) {
	e := testkit.StartEtcd(t)
	nodes := []string{"n1", "n2", "n3"}
	type result struct {
		node string
		a    Acquired
	}
	var mu sync.Mutex
	won := map[string][]result{}
	leases := map[string]Lease{}
	clients := map[string]*Client{}
	for _, n := range nodes {
		clients[n] = dial(t, e)
		l, _, err := clients[n].Grant(ctx(t), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		leases[n] = l
	}
	var wg sync.WaitGroup
	for _, n := range nodes {
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := clients[n].Acquire(ctx(t), leases[n], n, fmt.Sprintf("cam%02d", i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if a.Won {
					won[fmt.Sprintf("cam%02d", i)] = append(won[fmt.Sprintf("cam%02d", i)], result{n, a})
				}
			}()
		}
	}
	wg.Wait()
	snap, err := clients["n1"].Read(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		id := fmt.Sprintf("cam%02d", i)
		if len(won[id]) != 1 {
			t.Fatalf("camera %s won by %d nodes", id, len(won[id]))
		}
		w := won[id][0]
		if h := snap.Cameras[id]; h.Node != w.node || h.Epoch != w.a.Epoch || h.Lease != leases[w.node].ID {
			t.Errorf("camera %s: key says %+v, winner %s epoch %d", id, h, w.node, w.a.Epoch)
		}
	}
	// A clean release: the next owner reads the released epoch.
	w := won["cam00"][0]
	_, ok, err := clients[w.node].Release(ctx(t), w.node, Owned{Camera: "cam00", Epoch: w.a.Epoch})
	if err != nil || !ok {
		t.Fatalf("release: %v %v", ok, err)
	}
	other := "n1"
	if w.node == other {
		other = "n2"
	}
	a, err := clients[other].Acquire(ctx(t), leases[other], other, "cam00")
	if err != nil || !a.Won {
		t.Fatalf("acquire after release: %+v %v", a, err)
	}
	if a.HandOver == nil || a.HandOver.Epoch != w.a.Epoch || a.HandOver.Node != w.node {
		t.Errorf("hand-over read %+v, want epoch %d by %s", a.HandOver, w.a.Epoch, w.node)
	}
	if a.Epoch <= w.a.Epoch {
		t.Errorf("new epoch %d not after %d", a.Epoch, w.a.Epoch)
	}
	// A release of an epoch that is not the key's writes nothing.
	if _, ok, err := clients[w.node].Release(ctx(t), w.node, Owned{Camera: "cam00", Epoch: w.a.Epoch}); err != nil || ok {
		t.Errorf("stale release: %v %v", ok, err)
	}
}

// TestLeaseExpiryFreesCameras: a lease nobody renews expires on the
// server no sooner than its ttl after the last renewal was sent; its
// cameras go with it, and renewing it then answers ErrLeaseLost.
func TestLeaseExpiryFreesCameras(t *testing.T) {
	e := testkit.StartEtcd(t)
	c := dial(t, e)
	l, _, err := c.Grant(ctx(t), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Acquire(ctx(t), l, "n1", "cam1"); err != nil {
		t.Fatal(err)
	}
	sent, err := c.Renew(ctx(t), l)
	if err != nil {
		t.Fatal(err)
	}
	var gone time.Time
	testkit.Eventually(t, 10*time.Second, "the camera key gone with the lease", func() bool {
		s, err := c.Read(ctx(t))
		if err != nil {
			return false
		}
		_, held := s.Cameras["cam1"]
		gone = time.Now()
		return !held
	})
	if gone.Sub(sent) < 2*time.Second {
		t.Errorf("the lease expired %s after the renewal was sent, before its ttl", gone.Sub(sent))
	}
	if _, err := c.Renew(ctx(t), l); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("renewing an expired lease: %v, want ErrLeaseLost", err)
	}
}

// TestLeaveReleasesEverything: a leaving node's cameras are free at once,
// each with its hand-over, and its member key is gone.
func TestLeaveReleasesEverything(t *testing.T) {
	e := testkit.StartEtcd(t)
	c := dial(t, e)
	l, _, err := c.Grant(ctx(t), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutMember(ctx(t), l, Member{Node: "n1", URL: "http://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	var owned []Owned
	for i := range 150 { // more than one transaction's worth
		a, err := c.Acquire(ctx(t), l, "n1", fmt.Sprintf("c%03d", i))
		if err != nil || !a.Won {
			t.Fatal(a, err)
		}
		owned = append(owned, Owned{Camera: fmt.Sprintf("c%03d", i), Epoch: a.Epoch})
	}
	events := make(chan Event, 1000)
	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snap, _ := c.Read(ctx(t))
	go c.Watch(wctx, snap.Revision, func(evs []Event) {
		for _, ev := range evs {
			events <- ev
		}
	})
	if err := c.Leave(ctx(t), l, "n1", owned); err != nil {
		t.Fatal(err)
	}
	s, err := c.Read(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Cameras) != 0 || len(s.Members) != 0 {
		t.Errorf("after leave: %d cameras, %d members", len(s.Cameras), len(s.Members))
	}
	l2, _, _ := c.Grant(ctx(t), 30*time.Second)
	a, err := c.Acquire(ctx(t), l2, "n2", "c149")
	if err != nil || !a.Won || a.HandOver == nil || a.HandOver.Epoch != owned[149].Epoch {
		t.Errorf("after leave: %+v %v", a, err)
	}
	// The watch saw each camera go, naming its epoch.
	seen := 0
	for seen < 150 {
		select {
		case ev := <-events:
			if ev.Camera != "" && ev.Holder == nil && ev.Prev != nil && ev.Prev.Node == "n1" {
				seen++
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the watch saw %d of 150 cameras released", seen)
		}
	}
}

// TestRank: every node computes the same order; a member that goes moves
// only the cameras it ranked first, and the cameras spread.
func TestRank(t *testing.T) {
	three := []string{"n1", "n2", "n3"}
	per := map[string]int{}
	moved := 0
	for i := range 3000 {
		id := fmt.Sprintf("cam%04d", i)
		r := Rank(id, three)
		if fmt.Sprint(r) != fmt.Sprint(Rank(id, []string{"n3", "n1", "n2"})) {
			t.Fatalf("%s: order depends on the input's order", id)
		}
		per[r[0]]++
		two := Rank(id, []string{"n1", "n2"})
		if r[0] != "n3" && two[0] != r[0] {
			moved++
		}
	}
	if moved != 0 {
		t.Errorf("%d cameras not ranked first for n3 moved when n3 went", moved)
	}
	for n, c := range per {
		if c < 800 || c > 1200 {
			t.Errorf("node %s ranks first for %d of 3000 cameras", n, c)
		}
	}
	// Names that differ by one character still spread (a weak hash left
	// n2 first for none of cam1…cam12).
	few := map[string]int{}
	for i := 1; i <= 9; i++ {
		few[Rank(fmt.Sprintf("cam%d", i), three)[0]]++
	}
	if len(few) != 3 {
		t.Errorf("cam1…cam9 rank first only %v", few)
	}
}
