package actors

import (
	"errors"
	"sync/atomic"
	"time"
)

// The ownership: what the membership (membership.go) decided this node
// runs, read by the subnets and by every process start. On a single node
// it is empty and means every camera, no fence.

// ErrFenced refuses a process start on a node that may have lost its etcd
// lease.
var ErrFenced = errors.New("this node may have lost its etcd lease: no camera connection until it holds one again")

// ownership is what the membership decided this node runs, read by the
// subnets (which cameras to start, also after a restart) and by every
// process start (the fence). Values are swapped whole and written only by
// the membership actor; a message would not do: a subnet restarted in
// the middle must find its cameras without asking anyone, and the fence
// must hold at the instant a process would start, whatever a mailbox
// holds.
type ownership struct {
	cameras atomic.Pointer[map[string]int64] // camera id -> epoch of the cameras whose actor may run
	fence   atomic.Int64                     // no process starts after monoBase + this; 0: none may
	wall    atomic.Int64                     // nor after this wall-clock time (Unix ns)
	// advertised is this node's API URL once the HTTP server listens
	// (Tree.SetListen), which may come before the membership starts.
	advertised atomic.Value
}

// monoBase anchors the fence on the monotonic clock: a step of the wall
// clock moves no fence.
var monoBase = time.Now()

func (o *ownership) set(m map[string]int64) { o.cameras.Store(&m) }
func (o *ownership) closeFence()            { o.fence.Store(0) }
func (o *ownership) setFence(t time.Time) {
	o.wall.Store(t.Round(0).UnixNano())
	o.fence.Store(max(int64(t.Sub(monoBase)), 1))
}

// owns reports whether this node runs camera id's actor: always on a
// single node; in a cluster, while the membership says so.
func (e *Env) owns(id string) bool {
	if !e.Config.Cluster.Enabled() {
		return true
	}
	m := e.owners.cameras.Load()
	return m != nil && (*m)[id] != 0
}

// mayConnect is nil unless this node is in a cluster and past its fence
// (or holds no lease): then no process may open a camera connection.
func (e *Env) mayConnect() error {
	if !e.Config.Cluster.Enabled() {
		return nil
	}
	if f := e.owners.fence.Load(); f == 0 || time.Since(monoBase) >= time.Duration(f) || time.Now().UnixNano() >= e.owners.wall.Load() {
		return ErrFenced
	}
	return nil
}

// announceListen tells the membership where this node's API listens,
// when cluster.advertise does not say.
func (t *Tree) announceListen(addr string) {
	if c := t.env.Config.Cluster; c.Enabled() && c.Advertise == "" {
		t.env.owners.advertised.Store(c.AdvertiseURL(addr))
		t.system.Root.Send(t.env.peers.membership, &advertised{url: c.AdvertiseURL(addr)})
	}
}
