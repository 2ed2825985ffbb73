package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"camvisor/actors/cluster"
	"camvisor/actors/config"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// membershipActor is this node's place in a cluster (cluster mode only)
// and the home of invariant 8 across nodes: a camera's actor runs on the
// one node that holds the camera's etcd key, under that node's lease.
// actors/CLUSTER.md tells the protocol and what it guarantees.
//
// It holds the node's lease and renews it itself, every
// config.Cluster.RenewEvery, so that it knows when each acknowledged
// renewal was sent: the lease cannot expire on the server before that
// time plus the ttl. Its fence is that time plus the ttl minus the margin
// (kill_grace + FenceSlack): when the fence passes without a newer
// acknowledged renewal, every camera's actor is stopped — its processes
// killed and reaped — before anyone else can win the camera, and no
// process starts any more (Env.mayConnect in ownership.go, checked by every process
// start). Then it rejoins with a new lease, through the same protocol.
//
// Every configured camera nobody holds is tried for by the node the
// rendezvous hash ranks first among the live members that have it in
// their configuration (the k-th ranked tries once it has been unowned k
// times the ttl); etcd's transaction decides. A winner waits the takeover
// delay (margin + kill_grace) before the camera's actor starts, unless the
// previous owner handed the camera over cleanly (its actor stopped, then
// its key deleted with a hand-over naming the epoch). A camera this node
// holds that ranks another live member first is handed over, one at a
// time, stop before release. At shutdown the patrol stops every camera
// first; then this actor releases their keys, each with its hand-over,
// and revokes its lease.
//
// Every etcd request runs on a goroutine; its answer comes back as a
// message, tagged with the session (gen) it belongs to, and an answer of
// an older session is dropped. State machine:
//
//	joining  --joined-------------------------> member
//	joining  --join failed--------------------> joining (after a back-off)
//	member   --fence passed / lease lost------> fencing
//	fencing  --every camera's actor gone------> joining (the old lease revoked, best effort)
//	any      --Stopping-----------------------> released keys, revoked lease (after the patrol stopped)
type membershipActor struct {
	life
	env      *Env
	cfg      config.Cluster
	nodeName string
	carry    *membershipCarry

	state    memberState
	url      string // this node's API, as the others reach it
	gen      int    // the session: answers of an older one are dropped
	joining  bool   // a join is in flight
	joinWait time.Duration
	joinErr  string
	lease    cluster.Lease
	deadline time.Time // the fence, on the monotonic clock
	wallDue  time.Time // the fence on the wall clock (see extendFence)
	fence    *time.Timer
	tick     *time.Timer
	lastRead time.Time
	joinedAt time.Time
	queued   bool // an evaluateDue is in the mailbox

	members   map[string]cluster.Member
	offers    map[string]map[string]bool // node -> the cameras its configuration has
	seen      map[string]time.Time       // node -> since when this node sees it live
	memberRev map[string]int64
	holders   map[string]cluster.Holder
	holderRev map[string]int64
	lastEpoch map[string]int64 // the last epoch seen of each camera
	mine      map[string]*ownedCamera
	acquiring int
	unowned   map[string]time.Time // configured cameras nobody holds, since
	alerted   map[string]bool      // camera_unowned announced
	moving    string               // the camera this node hands over now
	movedAt   time.Time
	shown     messages.MembershipChanged // the last one published
}

// memberState is where the node is in the cluster.
type memberState int

const (
	stateJoining memberState = iota // no lease: asking etcd for one
	stateMember                     // holds a lease: takes, runs and hands over cameras
	stateFencing                    // its lease may be lost: every camera stopping
)

func (s memberState) String() string {
	return [...]string{messages.MembershipJoining, messages.MembershipMember, messages.MembershipFenced}[s]
}

// ownedCamera is a camera this node holds, or is taking.
type ownedCamera struct {
	id, subnet string
	epoch      int64
	state      camOwnership
	gen        int           // the session that won it
	wait       time.Duration // the takeover delay it waited
	until      time.Time     // when the takeover delay ends
	began      time.Time     // when its stop began
	timer      *time.Timer   // the takeover delay
	release    bool          // once stopped, its key is released with a hand-over
	reason     messages.StopReason
	why        string
}

// camOwnership is where an owned camera is: the transitions are
// acquiring → waiting → running → stopping, and from any of them gone.
type camOwnership int

const (
	camAcquiring camOwnership = iota // the acquiring transaction is in flight
	camWaiting                       // won: the takeover delay runs, no actor yet
	camRunning                       // its actor may run (OwnCamera sent)
	camStopping                      // its actor stopping (DisownCamera sent), then its key released or left to expire
)

// membershipCarry is what one incarnation hands the next: the etcd
// connection, and what a crashed incarnation left running, which the next
// one stops before it joins again (a restart is a clean start: a fence).
type membershipCarry struct {
	client  *cluster.Client
	cancel  context.CancelFunc // the session's renewals and watch
	lease   *cluster.Lease
	running map[string]string // cameras whose actor may run: id -> subnet
}

// Internal messages: each etcd answer, and the timers.
type (
	joined struct {
		gen    int
		client *cluster.Client
		lease  cluster.Lease
		sent   time.Time
		snap   *cluster.Snapshot
		err    error
	}
	joinDue struct{}
	renewed struct {
		gen  int
		sent time.Time
		err  error
	}
	fenceDue struct{ gen int }
	watched  struct {
		gen    int
		events []cluster.Event
	}
	watchEnded struct {
		gen int
		err error
	}
	resynced struct {
		gen     int
		rewatch bool // the watch ended: start a new one from this read
		snap    *cluster.Snapshot
		err     error
	}
	acquiredKey struct {
		gen    int
		camera string
		res    cluster.Acquired
		err    error
	}
	takeoverDue struct {
		camera string
		epoch  int64
	}
	releasedKey struct {
		gen    int
		camera string
		rev    int64
		ok     bool
		err    error
	}
	memberTick  struct{}
	evaluateDue struct{}
	advertised  struct{ url string }
)

func membershipProps(env *Env) *actor.Props {
	carry := &membershipCarry{running: map[string]string{}}
	return actor.PropsFromProducer(lived(func() *membershipActor {
		return &membershipActor{env: env, cfg: env.Config.Cluster, nodeName: env.Config.Cluster.Node, carry: carry,
			members: map[string]cluster.Member{}, offers: map[string]map[string]bool{}, seen: map[string]time.Time{}, memberRev: map[string]int64{},
			holders: map[string]cluster.Holder{}, holderRev: map[string]int64{}, lastEpoch: map[string]int64{},
			mine: map[string]*ownedCamera{}, unowned: map[string]time.Time{}, alerted: map[string]bool{}}
	}))
}

// membershipWants are the facts the root subscribes the membership to.
func membershipWants(evt any) bool {
	_, ok := evt.(*messages.ConfigReloaded)
	return ok
}

// Receive handles one message.
func (a *membershipActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *advertised:
		a.onAdvertised(ctx, msg)
	case *joinDue:
		a.startJoin(ctx)
	case *joined:
		a.onJoined(ctx, msg)
	case *renewed:
		a.onRenewed(ctx, msg)
	case *fenceDue:
		a.onFenceDue(ctx, msg)
	case *watched:
		a.onWatched(ctx, msg)
	case *watchEnded:
		a.onWatchEnded(ctx, msg)
	case *resynced:
		a.onResynced(ctx, msg)
	case *acquiredKey:
		a.onAcquired(ctx, msg)
	case *takeoverDue:
		a.onTakeoverDue(ctx, msg)
	case *releasedKey:
		a.onReleased(ctx, msg)
	case *memberTick:
		a.onTick(ctx)
	case *evaluateDue:
		a.queued = false
		a.evaluate(ctx)
	case *messages.ConfigReloaded:
		a.onConfigReloaded(ctx, msg)
	case *messages.GetCluster:
		ctx.Respond(a.view())
	case *messages.Describe:
		answerDescribe(ctx, a.node(ctx, "membership", a.state.String(), map[string]any{"node": a.nodeName, "lease": a.lease.ID,
			"members": len(a.members), "owned": a.owned(), "fence_in_ms": time.Until(a.deadline).Milliseconds()}))
	case *actor.Restarting:
		a.onRestarting()
	case *actor.Stopping:
		a.onStopping(ctx)
	}
}

func (a *membershipActor) onStarted(ctx actor.Context) {
	a.env.owners.closeFence()
	a.env.owners.set(nil)
	a.tick = after(ctx.ActorSystem(), ctx.Self(), a.env.Policy.Cluster.Tick, &memberTick{})
	a.url = a.cfg.Advertise
	if u, ok := a.env.owners.advertised.Load().(string); ok && a.url == "" {
		a.url = u // told before this actor started
	}
	if len(a.carry.running) > 0 {
		// The previous incarnation crashed with cameras running: stop
		// them before anything else, then join anew.
		a.state = stateFencing
		a.joinErr = "the membership restarted"
		for id, subnet := range a.carry.running {
			o := &ownedCamera{id: id, subnet: subnet, state: camRunning, gen: -1}
			a.mine[id] = o
			a.stop(ctx, o, messages.StopFenced, "the membership restarted", false)
		}
		return
	}
	if a.url != "" {
		a.startJoin(ctx)
	}
}

// onAdvertised learns where this node's API listens, when
// cluster.advertise does not say: the node joins once it knows.
func (a *membershipActor) onAdvertised(ctx actor.Context, msg *advertised) {
	if a.url != "" {
		return
	}
	a.url = msg.url
	if a.state == stateJoining {
		a.startJoin(ctx)
	}
}

// startJoin asks etcd for a lease, writes the member key under it and
// reads the cluster, on a goroutine.
func (a *membershipActor) startJoin(ctx actor.Context) {
	if a.joining || a.state != stateJoining || a.url == "" {
		return
	}
	a.joining = true
	a.gen++
	gen, client, ttl, timeout := a.gen, a.carry.client, a.cfg.TTL.Duration, a.env.Policy.Cluster.RequestTimeout
	m := cluster.Member{Node: a.nodeName, URL: a.url, Cameras: a.configured()}
	endpoints := a.cfg.Etcd
	a.async(ctx, func() any {
		j := &joined{gen: gen, client: client}
		if j.client == nil {
			if j.client, j.err = cluster.Dial(endpoints); j.err != nil {
				return j
			}
		}
		c, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if j.lease, j.sent, j.err = j.client.Grant(c, ttl); j.err != nil {
			return j
		}
		if j.err = j.client.PutMember(c, j.lease, m); j.err != nil {
			return j
		}
		j.snap, j.err = j.client.Read(c)
		return j
	})
}

func (a *membershipActor) onJoined(ctx actor.Context, msg *joined) {
	if msg.client != nil {
		a.carry.client = msg.client
	}
	if msg.gen != a.gen || a.state != stateJoining {
		return
	}
	a.joining = false
	deadline := msg.sent.Add(a.cfg.TTL.Duration - a.margin())
	if msg.err == nil && time.Now().After(deadline) {
		msg.err = errors.New("joining took longer than the lease leaves before its fence")
	}
	if msg.err != nil {
		a.joinErr = msg.err.Error()
		a.joinWait = min(max(2*a.joinWait, a.env.Policy.Cluster.JoinFirstBackoff), a.env.Policy.Cluster.JoinMaxBackoff)
		a.env.Log.Warn("cluster: cannot join; trying again", "node", a.nodeName, "reason", msg.err.Error(), "retry_in", a.joinWait.String())
		after(ctx.ActorSystem(), ctx.Self(), a.joinWait, &joinDue{})
		a.publishState(ctx)
		return
	}
	a.state, a.lease, a.joinErr, a.joinWait, a.joinedAt = stateMember, msg.lease, "", 0, time.Now()
	a.carry.lease = &msg.lease
	a.extendFence(ctx, msg.sent)
	a.applySnapshot(msg.snap)
	a.lastRead = time.Now()
	session, cancel := context.WithCancel(context.Background())
	a.carry.cancel = cancel
	a.renewLoop(ctx, session)
	a.watch(ctx, session, msg.snap.Revision)
	a.env.Log.Info("cluster: joined", "node", a.nodeName, "lease", fmt.Sprintf("%x", a.lease.ID), "members", len(a.members),
		"url", a.url, "fence_in", time.Until(a.deadline).Round(time.Millisecond).String())
	a.evaluate(ctx)
}

// renewLoop renews the lease every RenewEvery until the session ends or
// etcd says the lease is gone; each answer comes back as renewed.
func (a *membershipActor) renewLoop(ctx actor.Context, session context.Context) {
	self, system := ctx.Self(), ctx.ActorSystem()
	gen, client, lease, every := a.gen, a.carry.client, a.lease, a.cfg.RenewEvery(a.killGrace())
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-session.Done():
				return
			case <-t.C:
			}
			c, cancel := context.WithTimeout(session, every)
			sent, err := client.Renew(c, lease)
			cancel()
			if session.Err() != nil {
				return
			}
			system.Root.Send(self, &renewed{gen: gen, sent: sent, err: err})
			if errors.Is(err, cluster.ErrLeaseLost) {
				return
			}
		}
	}()
}

func (a *membershipActor) onRenewed(ctx actor.Context, msg *renewed) {
	if msg.gen != a.gen || a.state != stateMember {
		return
	}
	switch {
	case errors.Is(msg.err, cluster.ErrLeaseLost):
		a.fenceNow(ctx, "etcd no longer has the lease")
	case msg.err != nil:
		a.env.Log.Debug("cluster: renewal failed", "node", a.nodeName, "reason", msg.err.Error(),
			"fence_in", time.Until(a.deadline).Round(time.Millisecond).String())
	default:
		a.extendFence(ctx, msg.sent)
	}
}

// extendFence moves the fence to sent + ttl − margin: etcd renewed the
// lease no sooner than sent, so it cannot expire before sent + ttl.
func (a *membershipActor) extendFence(ctx actor.Context, sent time.Time) {
	d := sent.Add(a.cfg.TTL.Duration - a.margin())
	if !d.After(a.deadline) {
		return
	}
	// The monotonic clock does not count the time a paused VM or a
	// suspended machine stood still, the wall clock (set again on resume)
	// does: the fence passes when either says so. A wall clock stepped
	// forward fences early, which is safe.
	a.deadline, a.wallDue = d, d.Round(0)
	a.env.owners.setFence(d)
	stopTimer(a.fence)
	a.fence = after(ctx.ActorSystem(), ctx.Self(), time.Until(d), &fenceDue{gen: a.gen})
}

func (a *membershipActor) onFenceDue(ctx actor.Context, msg *fenceDue) {
	if msg.gen != a.gen || a.state != stateMember || time.Now().Before(a.deadline) {
		return
	}
	a.fenceNow(ctx, fmt.Sprintf("no renewal of the lease acknowledged for %s", (a.cfg.TTL.Duration-a.margin()).Round(time.Millisecond)))
}

// fenceNow stops every camera this node runs: its lease may be lost, and
// another node may win the cameras once it expires. Nothing starts until
// the node holds a new lease.
func (a *membershipActor) fenceNow(ctx actor.Context, why string) {
	if a.state != stateMember {
		return
	}
	a.env.owners.closeFence()
	a.state, a.joinErr = stateFencing, why
	a.endSession()
	n := 0
	for _, o := range a.sorted() {
		switch o.state {
		case camAcquiring, camWaiting:
			stopTimer(o.timer)
			a.forget(ctx, o, messages.OwnershipFenced, why)
		case camRunning:
			n++
			a.stop(ctx, o, messages.StopFenced, why, false)
		case camStopping:
			n++
			o.release = false // its key goes with the lease
		}
	}
	a.env.Log.Error("cluster: the lease may be lost; stopping every camera before it can expire", "node", a.nodeName,
		"reason", why, "cameras", n)
	a.publishState(ctx)
	a.rejoinIfStopped(ctx)
}

// endSession stops the renewals and the watch, and forgets the lease.
func (a *membershipActor) endSession() {
	if a.carry.cancel != nil {
		a.carry.cancel()
		a.carry.cancel = nil
	}
	stopTimer(a.fence)
	a.gen++
}

// rejoinIfStopped joins again once a fence has stopped every camera: the
// old lease is revoked (best effort: its keys free at once when etcd can
// be reached, else they expire).
func (a *membershipActor) rejoinIfStopped(ctx actor.Context) {
	if a.state != stateFencing || len(a.mine) > 0 {
		return
	}
	if old, client := a.carry.lease, a.carry.client; old != nil && client != nil {
		timeout := a.env.Policy.Cluster.RequestTimeout
		go func() {
			c, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			_ = client.Revoke(c, *old)
		}()
	}
	a.carry.lease = nil
	a.lease = cluster.Lease{}
	a.deadline = time.Time{}
	a.members, a.offers, a.seen, a.memberRev = map[string]cluster.Member{}, map[string]map[string]bool{}, map[string]time.Time{}, map[string]int64{}
	a.holders, a.holderRev, a.lastEpoch = map[string]cluster.Holder{}, map[string]int64{}, map[string]int64{}
	a.state = stateJoining
	a.env.Log.Info("cluster: every camera stopped; joining again", "node", a.nodeName)
	a.publishState(ctx)
	a.startJoin(ctx)
}

// watch follows every change from revision rev on, on a goroutine.
func (a *membershipActor) watch(ctx actor.Context, session context.Context, rev int64) {
	self, system := ctx.Self(), ctx.ActorSystem()
	gen, client := a.gen, a.carry.client
	go func() {
		err := client.Watch(session, rev, func(evs []cluster.Event) {
			system.Root.Send(self, &watched{gen: gen, events: evs})
		})
		if session.Err() == nil {
			system.Root.Send(self, &watchEnded{gen: gen, err: err})
		}
	}()
}

func (a *membershipActor) onWatched(ctx actor.Context, msg *watched) {
	if msg.gen != a.gen || a.state != stateMember {
		return
	}
	for _, e := range msg.events {
		if e.MemberNode != "" {
			a.applyMember(e.MemberNode, e.Member, e.Revision)
		} else {
			a.applyHolder(e.Camera, e.Holder, e.Prev, e.Revision)
		}
	}
	if _, ok := a.members[a.nodeName]; !ok && a.state == stateMember {
		a.fenceNow(ctx, "this node's member key is gone: its lease expired")
		return
	}
	a.evaluateSoon(ctx)
}

// onWatchEnded reads everything again and watches from there.
func (a *membershipActor) onWatchEnded(ctx actor.Context, msg *watchEnded) {
	if msg.gen != a.gen || a.state != stateMember {
		return
	}
	a.env.Log.Warn("cluster: the watch ended; reading everything again", "node", a.nodeName, "reason", fmt.Sprint(msg.err))
	a.resync(ctx, true)
}

// resync reads every key again, behind the watch (and, with rewatch,
// starts a new watch from there).
func (a *membershipActor) resync(ctx actor.Context, rewatch bool) {
	a.lastRead = time.Now()
	gen, client, timeout := a.gen, a.carry.client, a.env.Policy.Cluster.RequestTimeout
	a.async(ctx, func() any {
		c, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		snap, err := client.Read(c)
		return &resynced{gen: gen, rewatch: rewatch, snap: snap, err: err}
	})
}

func (a *membershipActor) onResynced(ctx actor.Context, msg *resynced) {
	rewatch := msg.rewatch
	if msg.gen != a.gen || a.state != stateMember {
		return
	}
	if msg.err != nil {
		if rewatch {
			after(ctx.ActorSystem(), ctx.Self(), a.env.Policy.Cluster.Tick, &watchEnded{gen: a.gen, err: msg.err})
		}
		return
	}
	a.applySnapshot(msg.snap)
	if rewatch && a.carry.cancel != nil {
		session, cancel := context.WithCancel(context.Background())
		a.carry.cancel()
		a.carry.cancel = cancel
		a.renewLoop(ctx, session)
		a.watch(ctx, session, msg.snap.Revision)
	}
	if _, ok := a.members[a.nodeName]; !ok {
		a.fenceNow(ctx, "this node's member key is gone: its lease expired")
		return
	}
	a.evaluateSoon(ctx)
}

// applySnapshot takes every key of a read, except those a later change
// already told.
func (a *membershipActor) applySnapshot(s *cluster.Snapshot) {
	for node := range a.members {
		if _, ok := s.Members[node]; !ok {
			a.applyMember(node, nil, s.Revision)
		}
	}
	for node, m := range s.Members {
		a.applyMember(node, &m, s.Revision)
	}
	for id := range a.holders {
		if _, ok := s.Cameras[id]; !ok {
			a.applyHolder(id, nil, nil, s.Revision)
		}
	}
	for id, h := range s.Cameras {
		a.applyHolder(id, &h, nil, s.Revision)
	}
}

// applyMember takes a member's key as of revision rev (nil: gone).
func (a *membershipActor) applyMember(node string, m *cluster.Member, rev int64) {
	if rev < a.memberRev[node] {
		return
	}
	a.memberRev[node] = rev
	if m == nil {
		delete(a.members, node)
		delete(a.offers, node)
		delete(a.seen, node)
		return
	}
	if _, ok := a.seen[node]; !ok {
		a.seen[node] = time.Now()
	}
	a.members[node] = *m
	offers := make(map[string]bool, len(m.Cameras))
	for _, id := range m.Cameras {
		offers[id] = true
	}
	a.offers[node] = offers
}

// applyHolder takes a camera's key as of revision rev (nil: gone, from
// prev when known). lastEpoch keeps the last epoch of another holder
// (another node, or this one's earlier session): the one a hand-over must
// name for the wait to be skipped.
func (a *membershipActor) applyHolder(id string, h *cluster.Holder, prev *cluster.Holder, rev int64) {
	if rev < a.holderRev[id] {
		return
	}
	a.holderRev[id] = rev
	other := func(x cluster.Holder) bool { return x.Node != a.nodeName || x.Lease != a.lease.ID }
	if h != nil {
		a.holders[id] = *h
		if other(*h) {
			a.lastEpoch[id] = h.Epoch
		}
		return
	}
	if old, ok := a.holders[id]; ok && other(old) {
		a.lastEpoch[id] = old.Epoch
	}
	if prev != nil && other(*prev) {
		a.lastEpoch[id] = prev.Epoch
	}
	delete(a.holders, id)
}

func (a *membershipActor) evaluateSoon(ctx actor.Context) {
	if !a.queued {
		a.queued = true
		ctx.Send(ctx.Self(), &evaluateDue{})
	}
}

// evaluate compares what etcd says with what this node runs, and acts:
// tries for the cameras it should, stops those it lost, releases those it
// no longer has in its configuration and hands over (one at a time) those
// another live member ranks first for.
func (a *membershipActor) evaluate(ctx actor.Context) {
	if a.state != stateMember {
		return
	}
	now := time.Now()
	// A node that just joined looks before it takes: nodes started
	// together see each other, and each takes the cameras it ranks first
	// for instead of one node taking all and handing most over.
	settled := now.Sub(a.joinedAt) >= a.settle()
	configured := map[string]bool{}
	for _, c := range a.env.Current().Cameras() {
		configured[c.ID] = true
		h, held := a.holders[c.ID]
		if o := a.mine[c.ID]; o != nil {
			a.check(ctx, o, h, held)
			continue
		}
		if held {
			delete(a.unowned, c.ID)
			if h.Node == a.nodeName && h.Lease == a.lease.ID {
				// Ours under this lease, yet not known: no actor runs for
				// it; give it back.
				o := &ownedCamera{id: c.ID, subnet: c.Subnet, epoch: h.Epoch, state: camWaiting, gen: a.gen}
				a.mine[c.ID] = o
				a.stop(ctx, o, messages.StopHandedOver, "held without an actor", true)
			}
			continue
		}
		since, ok := a.unowned[c.ID]
		if !ok {
			since = now
			a.unowned[c.ID] = now
		}
		if settled && a.acquiring < a.env.Policy.Cluster.MaxAcquiring && a.shouldTry(c.ID, since, now) {
			a.acquire(ctx, c)
		}
	}
	for id := range a.unowned {
		if !configured[id] {
			delete(a.unowned, id)
		}
	}
	for _, o := range a.sorted() {
		if !configured[o.id] && (o.state == camWaiting || o.state == camRunning) {
			a.stop(ctx, o, messages.StopHandedOver, "removed from the configuration", true)
		}
	}
	a.rebalance(ctx, now)
	a.publishState(ctx)
}

// check looks at a camera this node holds against its key.
func (a *membershipActor) check(ctx actor.Context, o *ownedCamera, h cluster.Holder, held bool) {
	if o.state != camWaiting && o.state != camRunning {
		return
	}
	if held && h.Node == a.nodeName && h.Lease == a.lease.ID && h.Epoch == o.epoch {
		return
	}
	why := "its key is gone"
	if held {
		why = fmt.Sprintf("its key is held by %s (epoch %d)", h.Node, h.Epoch)
	}
	a.env.Log.Error("cluster: a camera this node runs is not its own in etcd; stopping it", "node", a.nodeName, "camera", o.id, "reason", why)
	a.stop(ctx, o, messages.StopFenced, why, false)
}

// candidates are the live members whose configuration has camera id,
// this node included.
func (a *membershipActor) candidates(id string) []string {
	out := []string{a.nodeName}
	for node, offers := range a.offers {
		if node != a.nodeName && offers[id] {
			out = append(out, node)
		}
	}
	return out
}

// shouldTry: the member ranked first for a camera tries for it at once,
// the k-th once it has been unowned k times the ttl (the first may lack
// it, or be dying).
func (a *membershipActor) shouldTry(id string, since, now time.Time) bool {
	rank := slices.Index(cluster.Rank(id, a.candidates(id)), a.nodeName)
	return rank == 0 || now.Sub(since) >= time.Duration(rank)*a.cfg.TTL.Duration
}

// acquire tries for camera c in one transaction, on a goroutine.
func (a *membershipActor) acquire(ctx actor.Context, c config.SubnetCamera) {
	a.mine[c.ID] = &ownedCamera{id: c.ID, subnet: c.Subnet, state: camAcquiring, gen: a.gen}
	a.acquiring++
	gen, client, lease, node, timeout := a.gen, a.carry.client, a.lease, a.nodeName, a.env.Policy.Cluster.RequestTimeout
	a.async(ctx, func() any {
		cc, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		res, err := client.Acquire(cc, lease, node, c.ID)
		return &acquiredKey{gen: gen, camera: c.ID, res: res, err: err}
	})
}

func (a *membershipActor) onAcquired(ctx actor.Context, msg *acquiredKey) {
	o := a.mine[msg.camera]
	if o == nil || o.state != camAcquiring || o.gen != msg.gen {
		return // a fence came in between: a key it won goes with the old lease
	}
	a.acquiring--
	switch {
	case errors.Is(msg.err, cluster.ErrLeaseLost):
		delete(a.mine, o.id)
		a.fenceNow(ctx, "etcd no longer has the lease")
		return
	case msg.err != nil:
		delete(a.mine, o.id)
		a.env.Log.Debug("cluster: acquiring failed", "node", a.nodeName, "camera", o.id, "reason", msg.err.Error())
		return
	case !msg.res.Won:
		delete(a.mine, o.id)
		return
	}
	// The previous owner's clean hand-over: its processes are gone. A
	// hand-over is removed by every acquisition, so one read here names
	// the last epoch; it must match the one this node saw last, if any.
	last := a.lastEpoch[o.id]
	if h := msg.res.HandOver; h == nil || (last != 0 && h.Epoch != last) {
		o.wait = a.cfg.TakeoverDelay(a.killGrace())
	}
	o.epoch = msg.res.Epoch
	a.applyHolder(o.id, &cluster.Holder{Camera: o.id, Node: a.nodeName, Epoch: o.epoch, Lease: a.lease.ID}, nil, o.epoch)
	delete(a.unowned, o.id)
	a.publishOwnership(ctx, o, messages.OwnershipAcquired, "", o.wait)
	if o.wait == 0 {
		a.run(ctx, o)
		return
	}
	o.state, o.until = camWaiting, time.Now().Add(o.wait)
	o.timer = after(ctx.ActorSystem(), ctx.Self(), o.wait, &takeoverDue{camera: o.id, epoch: o.epoch})
}

func (a *membershipActor) onTakeoverDue(ctx actor.Context, msg *takeoverDue) {
	if o := a.mine[msg.camera]; o != nil && o.state == camWaiting && o.epoch == msg.epoch && a.state == stateMember {
		a.run(ctx, o)
	}
}

// run starts the camera's actor: its subnet is told, and a subnet that
// restarts finds it in the ownership.
func (a *membershipActor) run(ctx actor.Context, o *ownedCamera) {
	o.state = camRunning
	a.carry.running[o.id] = o.subnet
	a.publishOwners()
	ctx.Send(a.env.peers.subnet(o.subnet), &messages.OwnCamera{Camera: o.id, Epoch: o.epoch})
}

// stop stops a camera's actor (when one may run) and then, with release,
// gives its key up with a hand-over; otherwise its key is left to expire
// with the lease (or is not ours).
func (a *membershipActor) stop(ctx actor.Context, o *ownedCamera, reason messages.StopReason, why string, release bool) {
	if o.state == camStopping {
		return
	}
	stopTimer(o.timer)
	wasRunning := o.state == camRunning
	o.state, o.reason, o.why, o.release, o.began = camStopping, reason, why, release, time.Now()
	a.publishOwners()
	if !wasRunning {
		a.stopped(ctx, o)
		return
	}
	pid := a.env.peers.subnet(o.subnet)
	wait := 2*a.killGrace() + a.env.Policy.Cluster.RequestTimeout
	f := ctx.RequestFuture(pid, &messages.DisownCamera{Camera: o.id, Reason: reason, Why: why}, wait)
	ctx.ReenterAfter(f, func(res any, err error) {
		if _, ok := res.(*messages.CameraDisowned); !ok {
			if a.cameraRuns(ctx, o) {
				a.env.Log.Warn("cluster: the camera has not stopped yet; asking again", "node", a.nodeName, "camera", o.id,
					"reason", fmt.Sprint(err))
				o.state = camRunning
				a.stop(ctx, o, reason, why, o.release)
				return
			}
		}
		a.stopped(ctx, o)
	})
}

// cameraRuns reports whether the camera's actor is still alive.
func (a *membershipActor) cameraRuns(ctx actor.Context, o *ownedCamera) bool {
	_, ok := ctx.ActorSystem().ProcessRegistry.GetLocal(RootName + "/" + CameraPath(o.subnet, o.id))
	return ok
}

// stopped: the camera's actor is gone, its processes reaped. Its key is
// released now, or forgotten.
func (a *membershipActor) stopped(ctx actor.Context, o *ownedCamera) {
	delete(a.carry.running, o.id)
	if !o.release || o.gen != a.gen || a.state != stateMember {
		change := messages.OwnershipFenced
		if o.reason == messages.StopFenced && a.state == stateMember {
			change = messages.OwnershipLost // this camera only
		}
		a.forget(ctx, o, change, o.why)
		a.rejoinIfStopped(ctx)
		return
	}
	gen, client, node, timeout := a.gen, a.carry.client, a.nodeName, a.env.Policy.Cluster.RequestTimeout
	owned := cluster.Owned{Camera: o.id, Epoch: o.epoch}
	a.async(ctx, func() any {
		c, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		rev, ok, err := client.Release(c, node, owned)
		return &releasedKey{gen: gen, camera: owned.Camera, rev: rev, ok: ok, err: err}
	})
}

func (a *membershipActor) onReleased(ctx actor.Context, msg *releasedKey) {
	o := a.mine[msg.camera]
	if o == nil || o.state != camStopping {
		return
	}
	if msg.ok {
		a.applyHolder(o.id, nil, &cluster.Holder{Camera: o.id, Node: a.nodeName, Epoch: o.epoch}, msg.rev)
	} else if msg.err != nil {
		a.env.Log.Warn("cluster: releasing a camera failed; its key goes with the lease", "node", a.nodeName, "camera", o.id, "reason", msg.err.Error())
	}
	if a.moving == o.id && !msg.ok {
		a.moving = ""
	}
	a.forget(ctx, o, messages.OwnershipReleased, o.why)
	a.rejoinIfStopped(ctx)
	a.evaluateSoon(ctx)
}

// forget drops an owned camera, publishing why.
func (a *membershipActor) forget(ctx actor.Context, o *ownedCamera, change, why string) {
	delete(a.mine, o.id)
	delete(a.carry.running, o.id)
	if o.state == camAcquiring {
		a.acquiring--
	}
	if o.epoch != 0 {
		a.publishOwnership(ctx, o, change, why, 0)
	}
	a.publishOwners()
}

// rebalance hands over, one at a time, a running camera that another live
// member ranks first for: stop, then release, then the next once that
// member holds it (or twice the ttl passed). A member is given cameras
// once it has been seen for as long as a new member looks before it takes
// (settle): it takes them at once, and a node that comes and goes at once
// moves nothing.
func (a *membershipActor) rebalance(ctx actor.Context, now time.Time) {
	if a.moving != "" {
		if h, held := a.holders[a.moving]; !(held && h.Node != a.nodeName) && now.Sub(a.movedAt) < 2*a.cfg.TTL.Duration {
			return // not taken yet
		}
		a.moving = ""
	}
	for _, o := range a.sorted() {
		if o.state != camRunning {
			continue
		}
		if best := cluster.Rank(o.id, a.candidates(o.id))[0]; best != a.nodeName && now.Sub(a.seen[best]) >= a.settle() {
			a.moving, a.movedAt = o.id, now
			a.env.Log.Info("cluster: handing a camera over", "node", a.nodeName, "camera", o.id, "to", best)
			a.stop(ctx, o, messages.StopHandedOver, "handed over to "+best, true)
			return
		}
	}
}

func (a *membershipActor) onTick(ctx actor.Context) {
	a.tick = after(ctx.ActorSystem(), ctx.Self(), a.env.Policy.Cluster.Tick, &memberTick{})
	if a.state != stateMember {
		return
	}
	if time.Now().Round(0).After(a.wallDue) {
		a.fenceNow(ctx, "the wall clock is past the fence: this node stood still (a paused VM?) or its clock jumped")
		return
	}
	if time.Since(a.lastRead) >= a.env.Policy.Cluster.Resync {
		a.resync(ctx, false)
	}
	a.evaluate(ctx)
	// camera_unowned: a configured camera no node held for 2×ttl.
	now := time.Now()
	for id, since := range a.unowned {
		if !a.alerted[id] && now.Sub(since) > 2*a.cfg.TTL.Duration {
			a.alerted[id] = true
			ctx.ActorSystem().EventStream.Publish(&messages.CameraUnowned{Camera: id, Unowned: true, Since: since, At: now})
		}
	}
	for id := range a.alerted {
		if _, still := a.unowned[id]; !still {
			delete(a.alerted, id)
			ctx.ActorSystem().EventStream.Publish(&messages.CameraUnowned{Camera: id, At: now})
		}
	}
}

// onConfigReloaded tells the other members which cameras this node now
// has, and lets evaluate take the new ones and release the removed ones.
func (a *membershipActor) onConfigReloaded(ctx actor.Context, msg *messages.ConfigReloaded) {
	if msg.Outcome != messages.ReloadApplied && msg.Outcome != messages.ReloadIncomplete {
		return
	}
	for _, o := range a.mine {
		if c, ok := a.env.Current().Camera(o.id); ok && c.Subnet != o.subnet {
			o.subnet = c.Subnet // moved: its new subnet starts it (it is owned)
			if _, runs := a.carry.running[o.id]; runs {
				a.carry.running[o.id] = c.Subnet
			}
		}
	}
	if a.state == stateMember {
		client, lease, timeout := a.carry.client, a.lease, a.env.Policy.Cluster.RequestTimeout
		m := cluster.Member{Node: a.nodeName, URL: a.url, Cameras: a.configured()}
		go func() {
			c, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			_ = client.PutMember(c, lease, m)
		}()
	}
	a.evaluate(ctx)
}

// onRestarting: a crash. The next incarnation stops what runs and joins
// anew; meanwhile no process starts and the lease is no longer renewed.
func (a *membershipActor) onRestarting() {
	a.env.owners.closeFence()
	if a.carry.cancel != nil {
		a.carry.cancel()
		a.carry.cancel = nil
	}
	stopTimer(a.fence)
	stopTimer(a.tick)
	for _, o := range a.mine {
		stopTimer(o.timer)
	}
}

// onStopping releases every camera key with its hand-over and revokes the
// lease: the shutdown stopped the patrol first, so no camera actor runs.
// This handler blocks, at most Policy.Cluster.LeaveTimeout: it is the
// last thing this actor does, and what comes after it (the recorder
// writing the releases) must see it done.
func (a *membershipActor) onStopping(ctx actor.Context) {
	a.env.owners.closeFence()
	a.env.owners.set(nil)
	stopTimer(a.fence)
	stopTimer(a.tick)
	if a.carry.cancel != nil {
		a.carry.cancel()
		a.carry.cancel = nil
	}
	if _, patrolRuns := ctx.ActorSystem().ProcessRegistry.GetLocal(RootName + "/" + PatrolName); patrolRuns {
		// Stopped on its own while cameras run: stop them; their keys
		// expire with the lease, after they are gone.
		for _, o := range a.mine {
			if o.state == camRunning {
				ctx.Send(a.env.peers.subnet(o.subnet), &messages.DisownCamera{Camera: o.id, Reason: messages.StopFenced, Why: "the membership stopped"})
			}
		}
		a.closeClient()
		return
	}
	if a.state == stateMember && a.carry.client != nil {
		var owned []cluster.Owned
		for _, o := range a.sorted() {
			if o.epoch != 0 {
				owned = append(owned, cluster.Owned{Camera: o.id, Epoch: o.epoch})
			}
		}
		c, cancel := context.WithTimeout(context.Background(), a.env.Policy.Cluster.LeaveTimeout)
		err := a.carry.client.Leave(c, a.lease, a.nodeName, owned)
		cancel()
		if err != nil {
			a.env.Log.Warn("cluster: could not release the cameras; they are free when the lease expires", "node", a.nodeName,
				"reason", err.Error(), "ttl", a.cfg.TTL.String())
		} else {
			a.env.Log.Info("cluster: left; every camera handed over", "node", a.nodeName, "cameras", len(owned))
			for _, o := range a.sorted() {
				if o.epoch != 0 {
					a.publishOwnership(ctx, o, messages.OwnershipReleased, "shutdown", 0)
				}
			}
		}
	}
	a.mine = map[string]*ownedCamera{}
	a.carry.running = map[string]string{}
	a.state = stateJoining
	ctx.ActorSystem().EventStream.Publish(&messages.MembershipChanged{Node: a.nodeName, State: messages.MembershipLeft, At: time.Now()})
	a.closeClient()
}

func (a *membershipActor) closeClient() {
	if a.carry.client != nil {
		a.carry.client.Close()
		a.carry.client = nil
	}
}

// view is the cluster as this node sees it (GetCluster).
func (a *membershipActor) view() *messages.ClusterView {
	v := &messages.ClusterView{Node: a.nodeName}
	if a.carry.client != nil {
		v.Requests = a.carry.client.Requests()
	}
	owns := map[string]int{}
	for _, h := range a.holders {
		owns[h.Node]++
	}
	nodes := make([]string, 0, len(a.members)+1)
	for n := range a.members {
		nodes = append(nodes, n)
	}
	if _, ok := a.members[a.nodeName]; !ok {
		nodes = append(nodes, a.nodeName)
	}
	slices.Sort(nodes)
	for _, n := range nodes {
		m, ok := a.members[n]
		url := m.URL
		if n == a.nodeName {
			url = a.url
		}
		v.Members = append(v.Members, messages.ClusterMember{Node: n, URL: url, Cameras: owns[n],
			Healthy: ok && (n != a.nodeName || a.state == stateMember)})
	}
	for _, c := range a.env.Current().Cameras() {
		co := messages.CameraOwner{ID: c.ID}
		if h, ok := a.holders[c.ID]; ok {
			co.Owner, co.Epoch, co.URL, co.Local = h.Node, h.Epoch, a.members[h.Node].URL, h.Node == a.nodeName
			if co.Local {
				co.URL = a.url
				if o := a.mine[c.ID]; o != nil && o.state != camRunning {
					co.StartsIn = max(time.Until(o.until), time.Millisecond)
				}
			}
		}
		v.Cameras = append(v.Cameras, co)
	}
	return v
}

// configured lists the cameras of this node's configuration.
func (a *membershipActor) configured() []string {
	cams := a.env.Current().Cameras()
	out := make([]string, len(cams))
	for i, c := range cams {
		out[i] = c.ID
	}
	return out
}

// sorted are the owned cameras by id: decisions in a stable order.
func (a *membershipActor) sorted() []*ownedCamera {
	out := make([]*ownedCamera, 0, len(a.mine))
	for _, o := range a.mine {
		out = append(out, o)
	}
	slices.SortFunc(out, func(x, y *ownedCamera) int { return compareStrings(x.id, y.id) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// owned counts the cameras whose key this node holds.
func (a *membershipActor) owned() int {
	n := 0
	for _, o := range a.mine {
		if o.epoch != 0 {
			n++
		}
	}
	return n
}

// publishOwners hands the subnets (and every process start) the cameras
// whose actor may run now.
func (a *membershipActor) publishOwners() {
	m := make(map[string]int64, len(a.mine))
	for id, o := range a.mine {
		if o.state == camRunning {
			m[id] = o.epoch
		}
	}
	a.env.owners.set(m)
}

func (a *membershipActor) publishOwnership(ctx actor.Context, o *ownedCamera, change, why string, wait time.Duration) {
	log := a.env.Log.Info
	if change == messages.OwnershipLost || change == messages.OwnershipFenced {
		log = a.env.Log.Warn
	}
	log("cluster: camera "+change, "node", a.nodeName, "camera", o.id, "epoch", o.epoch, "takeover_wait", wait.String(), "reason", why)
	ctx.ActorSystem().EventStream.Publish(&messages.OwnershipChanged{Camera: o.id, Subnet: o.subnet, Node: a.nodeName, Epoch: o.epoch,
		Change: change, Reason: why, Wait: wait, Began: o.began, At: time.Now()})
}

// publishState publishes MembershipChanged when the state, the members
// seen or the cameras owned changed.
func (a *membershipActor) publishState(ctx actor.Context) {
	s := messages.MembershipChanged{Node: a.nodeName, State: a.state.String(), Owned: a.owned(), Lease: a.lease.ID}
	if a.state == stateMember {
		s.Members = len(a.members)
	} else {
		s.Error = a.joinErr
	}
	if s == a.shown {
		return
	}
	a.shown = s
	s.At = time.Now()
	ctx.ActorSystem().EventStream.Publish(&s)
}

// async runs f on a goroutine and sends its answer to this actor.
func (a *membershipActor) async(ctx actor.Context, f func() any) {
	self, system := ctx.Self(), ctx.ActorSystem()
	go func() { system.Root.Send(self, f()) }()
}

func (a *membershipActor) killGrace() time.Duration { return a.env.Config.FFmpeg.KillGrace.Duration }
func (a *membershipActor) margin() time.Duration    { return a.cfg.Margin(a.killGrace()) }

// settle is how long a node that just joined looks before it takes
// cameras, and how long a new member is seen before cameras move to it:
// one renewal period.
func (a *membershipActor) settle() time.Duration { return a.cfg.RenewEvery(a.killGrace()) }
