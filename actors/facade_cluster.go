package actors

import (
	"context"
	"os"

	"camvisor/messages"
)

// Cluster is the cluster as this node sees it: its members, and who owns
// each camera of its configuration. On a single node (no cluster section)
// the one member is this node, named NodeName, owning every camera with
// epoch 0.
func (t *Tree) Cluster(ctx context.Context) (*messages.ClusterView, error) {
	if t.env.Config.Cluster.Enabled() {
		return askFor[messages.ClusterView](ctx, t, t.env.peers.membership, "the membership", &messages.GetCluster{})
	}
	node, url := t.NodeName(), ""
	if addr, ok := t.listen.Load().(string); ok {
		url = "http://" + addr
	}
	cams := t.env.Current().Cameras()
	v := &messages.ClusterView{Node: node, Members: []messages.ClusterMember{{Node: node, URL: url, Healthy: true, Cameras: len(cams)}}}
	for _, c := range cams {
		v.Cameras = append(v.Cameras, messages.CameraOwner{ID: c.ID, Owner: node, URL: url, Local: true})
	}
	return v, nil
}

// NodeName is this node's name: cluster.node, or on a single node the
// machine's host name.
func (t *Tree) NodeName() string {
	if n := t.env.Config.Cluster.Node; t.env.Config.Cluster.Enabled() && n != "" {
		return n
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "camvisor"
}
