// Package cluster is camvisor's side of etcd: the keys several nodes
// share, the transactions that give a camera exactly one owner, the
// node's lease and its renewals, the watch, and the rendezvous hash that
// says which node should try for a camera. It knows nothing of actors: the
// membership actor (actors/membership.go) drives it, from goroutines, and
// decides what to do with each answer. actors/CLUSTER.md tells the whole
// protocol.
//
// The keys, under Prefix:
//
//	members/<node>     {"url": ..., "cameras": [...]}, under the node's lease
//	cameras/<id>       the owner's node name, under the owner's lease; its
//	                   create revision is the camera's epoch
//	handover/<id>      {"epoch": E, "node": ...}: epoch E's owner released the
//	                   camera cleanly, its processes gone (no lease)
//
// Every call to etcd goes through a Client, which counts them: what a
// cluster costs etcd is measured, not guessed (BenchmarkCluster).
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Prefix is where camvisor's keys live in etcd.
const Prefix = "/camvisor/"

// MemberKey, CameraKey and HandOverKey are the keys of a node, a camera
// and a camera's clean hand-over.
func MemberKey(node string) string { return Prefix + "members/" + node }
func CameraKey(id string) string   { return Prefix + "cameras/" + id }
func HandOverKey(id string) string { return Prefix + "handover/" + id }

// ErrLeaseLost is the answer of etcd about a lease it no longer has: it
// expired (or was revoked), and every key under it is gone.
var ErrLeaseLost = errors.New("the node's etcd lease is gone")

// maxTxnOps bounds the operations of one transaction (etcd refuses more
// than --max-txn-ops, 128 by default).
const maxTxnOps = 120

// Client is a connection to etcd that counts the requests it makes.
type Client struct {
	cli      *clientv3.Client
	requests atomic.Int64
}

// Dial connects to the etcd cluster at endpoints. It does not wait for
// the connection: the first request does.
func Dial(endpoints []string) (*Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 3 * time.Second,
		// etcd refuses pings more often than every 5 s (too_many_pings).
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		Logger:               zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(endpoints, ","), err)
	}
	return &Client{cli: cli}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.cli.Close() }

// Requests is how many requests this client made so far (a watch counts
// once, when it is opened).
func (c *Client) Requests() int64 { return c.requests.Load() }

func (c *Client) count() { c.requests.Add(1) }

// Member is a live node as its key says.
type Member struct {
	Node    string   `json:"-"`
	URL     string   `json:"url"`
	Cameras []string `json:"cameras"` // the cameras its configuration has
	Lease   int64    `json:"-"`
}

// Holder is a camera's owner as its key says.
type Holder struct {
	Camera string
	Node   string
	Epoch  int64 // the key's create revision
	Lease  int64
}

// HandOver is what a node that released a camera cleanly left behind.
type HandOver struct {
	Epoch int64     `json:"epoch"`
	Node  string    `json:"node"`
	At    time.Time `json:"at"`
}

// Snapshot is everything under Prefix at one revision.
type Snapshot struct {
	Revision int64
	Members  map[string]Member
	Cameras  map[string]Holder
}

// Lease is a node's etcd lease.
type Lease struct {
	ID  int64
	TTL time.Duration // as asked; etcd may keep it longer, never shorter
}

// Grant asks for a lease of ttl. Sent is when the request left: the lease
// cannot expire on the server before sent+ttl.
func (c *Client) Grant(ctx context.Context, ttl time.Duration) (l Lease, sent time.Time, err error) {
	c.count()
	sent = time.Now()
	secs := int64((ttl + time.Second - 1) / time.Second)
	resp, err := c.cli.Grant(ctx, secs)
	if err != nil {
		return Lease{}, sent, fmt.Errorf("grant a lease: %w", err)
	}
	return Lease{ID: int64(resp.ID), TTL: ttl}, sent, nil
}

// Renew renews the lease once. Sent is when the request left; a nil error
// means etcd renewed it at or after sent. ErrLeaseLost: it is gone.
func (c *Client) Renew(ctx context.Context, l Lease) (sent time.Time, err error) {
	c.count()
	sent = time.Now()
	_, err = c.cli.KeepAliveOnce(ctx, clientv3.LeaseID(l.ID))
	return sent, leaseErr("renew the lease", err)
}

// Revoke ends the lease now: every key under it goes.
func (c *Client) Revoke(ctx context.Context, l Lease) error {
	c.count()
	_, err := c.cli.Revoke(ctx, clientv3.LeaseID(l.ID))
	return leaseErr("revoke the lease", err)
}

// PutMember writes (or rewrites) the node's member key under its lease.
func (c *Client) PutMember(ctx context.Context, l Lease, m Member) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.count()
	_, err = c.cli.Put(ctx, MemberKey(m.Node), string(v), clientv3.WithLease(clientv3.LeaseID(l.ID)))
	return leaseErr("write the member key", err)
}

// Read reads every member and camera key at one revision.
func (c *Client) Read(ctx context.Context) (*Snapshot, error) {
	c.count()
	resp, err := c.cli.Get(ctx, Prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", Prefix, err)
	}
	s := &Snapshot{Revision: resp.Header.Revision, Members: map[string]Member{}, Cameras: map[string]Holder{}}
	for _, kv := range resp.Kvs {
		if m, ok := member(kv); ok {
			s.Members[m.Node] = m
		} else if h, ok := holder(kv); ok {
			s.Cameras[h.Camera] = h
		}
	}
	return s, nil
}

// Acquired is the answer to Acquire.
type Acquired struct {
	Won   bool
	Epoch int64 // won: the camera's new epoch
	// HandOver is the previous owner's clean release, when it left one
	// (won only).
	HandOver *HandOver
	// Holder is who holds the camera (lost only).
	Holder Holder
}

// Acquire takes camera id for node under lease l, if nobody holds it: one
// transaction that puts the key only when it does not exist, and reads
// (and removes) the hand-over the previous owner left.
func (c *Client) Acquire(ctx context.Context, l Lease, node, id string) (Acquired, error) {
	ck, hk := CameraKey(id), HandOverKey(id)
	c.count()
	resp, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(ck), "=", 0)).
		Then(clientv3.OpPut(ck, node, clientv3.WithLease(clientv3.LeaseID(l.ID))), clientv3.OpGet(hk), clientv3.OpDelete(hk)).
		Else(clientv3.OpGet(ck)).
		Commit()
	if err != nil {
		return Acquired{}, leaseErr("acquire camera "+id, err)
	}
	if !resp.Succeeded {
		var a Acquired
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			a.Holder, _ = holder(kvs[0])
		}
		return a, nil
	}
	a := Acquired{Won: true, Epoch: resp.Header.Revision}
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		var h HandOver
		if json.Unmarshal(kvs[0].Value, &h) == nil {
			a.HandOver = &h
		}
	}
	return a, nil
}

// Owned is a camera a node holds, for Release and Leave.
type Owned struct {
	Camera string
	Epoch  int64
}

// Release gives camera o up cleanly, once its processes are gone: one
// transaction that deletes its key, if it is still epoch o.Epoch's, and
// leaves the hand-over that lets the next owner start at once. False: the
// key was not ours any more (nothing was written). Rev is the revision
// of the answer.
func (c *Client) Release(ctx context.Context, node string, o Owned) (rev int64, ok bool, err error) {
	c.count()
	resp, err := c.cli.Txn(ctx).Then(releaseOp(node, o, time.Now().UTC())).Commit()
	if err != nil {
		return 0, false, fmt.Errorf("release camera %s: %w", o.Camera, err)
	}
	return resp.Header.Revision, resp.Responses[0].GetResponseTxn().Succeeded, nil
}

// releaseOp deletes camera o's key, if it is still epoch o.Epoch's and
// node's, and leaves its hand-over.
func releaseOp(node string, o Owned, at time.Time) clientv3.Op {
	ck := CameraKey(o.Camera)
	v, _ := json.Marshal(HandOver{Epoch: o.Epoch, Node: node, At: at})
	return clientv3.OpTxn(
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(ck), "=", o.Epoch), clientv3.Compare(clientv3.Value(ck), "=", node)},
		[]clientv3.Op{clientv3.OpDelete(ck), clientv3.OpPut(HandOverKey(o.Camera), string(v))}, nil)
}

// Leave releases every camera of owned cleanly, as Release does each
// (a few cameras per transaction), then revokes the lease, which takes
// the member key. The caller has stopped every camera first.
func (c *Client) Leave(ctx context.Context, l Lease, node string, owned []Owned) error {
	now := time.Now().UTC()
	for len(owned) > 0 {
		n := min(len(owned), maxTxnOps/2)
		ops := make([]clientv3.Op, 0, n)
		for _, o := range owned[:n] {
			ops = append(ops, releaseOp(node, o, now))
		}
		owned = owned[n:]
		c.count()
		if _, err := c.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("release the cameras: %w", err)
		}
	}
	return c.Revoke(ctx, l)
}

// Event is one change under Prefix.
type Event struct {
	Revision int64
	// A member's key: Member set when written, nil when gone.
	MemberNode string
	Member     *Member
	// A camera's key: Holder set when taken, nil when gone (Prev is
	// whom it was gone from, when known).
	Camera string
	Holder *Holder
	Prev   *Holder
}

// ErrWatchBroken is the end of a watch that must be started again from a
// fresh Read (the revision it was at was compacted away, or etcd ended
// it).
var ErrWatchBroken = errors.New("the watch ended")

// Watch sends every member and camera change after revision from to
// each, a response's events at a time, until ctx ends (nil) or the watch
// breaks (ErrWatchBroken).
func (c *Client) Watch(ctx context.Context, from int64, each func([]Event)) error {
	c.count()
	wc := c.cli.Watch(clientv3.WithRequireLeader(ctx), Prefix, clientv3.WithPrefix(), clientv3.WithRev(from+1), clientv3.WithPrevKV())
	for resp := range wc {
		if err := resp.Err(); err != nil {
			return fmt.Errorf("%w: %v", ErrWatchBroken, err)
		}
		var out []Event
		for _, ev := range resp.Events {
			e := Event{Revision: ev.Kv.ModRevision}
			switch {
			case strings.HasPrefix(string(ev.Kv.Key), Prefix+"members/"):
				e.MemberNode = strings.TrimPrefix(string(ev.Kv.Key), Prefix+"members/")
				if ev.Type == clientv3.EventTypePut {
					if m, ok := member(ev.Kv); ok {
						e.Member = &m
					}
				}
			case strings.HasPrefix(string(ev.Kv.Key), Prefix+"cameras/"):
				e.Camera = strings.TrimPrefix(string(ev.Kv.Key), Prefix+"cameras/")
				if ev.Type == clientv3.EventTypePut {
					if h, ok := holder(ev.Kv); ok {
						e.Holder = &h
					}
				}
				if ev.PrevKv != nil {
					if h, ok := holder(ev.PrevKv); ok {
						e.Prev = &h
					}
				}
			default:
				continue
			}
			out = append(out, e)
		}
		if len(out) > 0 {
			each(out)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return ErrWatchBroken
}

func member(kv *mvccpb.KeyValue) (Member, bool) {
	node, ok := strings.CutPrefix(string(kv.Key), Prefix+"members/")
	if !ok {
		return Member{}, false
	}
	var m Member
	if json.Unmarshal(kv.Value, &m) != nil {
		return Member{}, false
	}
	m.Node, m.Lease = node, kv.Lease
	return m, true
}

func holder(kv *mvccpb.KeyValue) (Holder, bool) {
	id, ok := strings.CutPrefix(string(kv.Key), Prefix+"cameras/")
	if !ok {
		return Holder{}, false
	}
	return Holder{Camera: id, Node: string(kv.Value), Epoch: kv.CreateRevision, Lease: kv.Lease}, true
}

// leaseErr names what failed, as ErrLeaseLost when etcd no longer has the
// lease.
func leaseErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rpctypes.ErrLeaseNotFound) || strings.Contains(err.Error(), rpctypes.ErrLeaseNotFound.Error()):
		return fmt.Errorf("%s: %w", what, ErrLeaseLost)
	}
	return fmt.Errorf("%s: %w", what, err)
}
