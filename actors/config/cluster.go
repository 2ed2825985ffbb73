package config

import (
	"fmt"
	"net"
	"net/url"
	"time"
)

// Cluster is the cluster section: several camvisor nodes sharing one
// camera configuration, each camera owned by exactly one live node, the
// ownership held in etcd (actors/CLUSTER.md). Without it (no etcd
// endpoints) camvisor runs as one node and needs no etcd.
type Cluster struct {
	// Etcd are the client endpoints of the etcd cluster
	// (http://10.0.0.1:2379, ...).
	Etcd []string `yaml:"etcd"`
	// Node is this node's unique name; it differs per node (a flag,
	// --node, or ${NAME}).
	Node string `yaml:"node"`
	// Advertise is how the other nodes reach this node's API (forwarded
	// operator requests); empty means http://<listen>.
	Advertise string `yaml:"advertise"`
	// TTL is the node's etcd lease: a node that cannot renew it stops its
	// cameras before it can expire, and a node that dies loses its cameras
	// when it does.
	TTL Duration `yaml:"ttl"`
}

// Enabled reports whether this node is part of a cluster.
func (c Cluster) Enabled() bool { return len(c.Etcd) > 0 }

// FenceSlack is what the fence keeps in hand besides the kill grace:
// scheduling, one etcd round trip, and the difference between this
// machine's clock rate and the etcd leader's.
const FenceSlack = time.Second

// MinRenewWindow is the least time ttl leaves between an acknowledged
// renewal and the fence: renewals go out three times in it.
const MinRenewWindow = 1500 * time.Millisecond

// Margin is how long before its lease can expire on the server a node
// starts stopping its cameras: the kill grace of their processes plus
// FenceSlack. A node that wins a camera waits Margin plus the kill grace
// before it opens any connection to it (TakeoverDelay).
func (c Cluster) Margin(killGrace time.Duration) time.Duration { return killGrace + FenceSlack }

// TakeoverDelay is how long a node that won a camera the previous owner
// did not hand over cleanly waits before it opens a connection to it.
func (c Cluster) TakeoverDelay(killGrace time.Duration) time.Duration {
	return c.Margin(killGrace) + killGrace
}

// RenewEvery is how often the node renews its lease: three times in the
// window between an acknowledged renewal and its fence.
func (c Cluster) RenewEvery(killGrace time.Duration) time.Duration {
	return (c.TTL.Duration - c.Margin(killGrace)) / 3
}

// AdvertiseURL is the URL the other nodes reach this node's API by:
// cluster.advertise, else http://<listen>. listen is the address the
// server listens on (it may differ from the configured one when the
// configuration asks for port 0).
func (c Cluster) AdvertiseURL(listen string) string {
	if c.Advertise != "" {
		return c.Advertise
	}
	return "http://" + listen
}

// validate checks the section; killGrace is ffmpeg.kill_grace, which the
// ttl must leave room for.
func (c Cluster) validate(listen string, killGrace time.Duration) []error {
	if !c.Enabled() {
		var errs []error
		if c.Node != "" || c.Advertise != "" {
			errs = append(errs, fmt.Errorf("cluster.etcd: empty, but cluster.node or cluster.advertise is set: give the etcd endpoints, or remove the cluster section to run one node"))
		}
		return errs
	}
	var errs []error
	for i, e := range c.Etcd {
		u, err := url.Parse(e)
		switch {
		case err == nil && u.Scheme == "https":
			errs = append(errs, fmt.Errorf("cluster.etcd[%d]: %q: TLS to etcd is not supported yet; reach etcd's client port over a private network with http://", i, e))
		case err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil:
			errs = append(errs, fmt.Errorf("cluster.etcd[%d]: %q must be an etcd client URL like http://10.0.0.1:2379 (no path, no user)", i, e))
		}
	}
	if !idPattern.MatchString(c.Node) {
		errs = append(errs, fmt.Errorf("cluster.node: %q must be 1-64 letters, digits, '.', '_' or '-' and unique in the cluster (set it per node: --node or ${NAME})", c.Node))
	}
	if c.Advertise != "" {
		if err := checkHTTPURL("cluster.advertise", c.Advertise, false); err != nil {
			errs = append(errs, err)
		}
	} else if host, _, err := net.SplitHostPort(listen); err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			errs = append(errs, fmt.Errorf("cluster.advertise: empty, and listen %q names no address the other nodes could reach: set cluster.advertise (http://10.0.0.5:8080)", listen))
		}
	}
	if err := c.TTL.check("cluster.ttl"); err != nil {
		errs = append(errs, err)
	} else if least := c.Margin(killGrace) + MinRenewWindow; c.TTL.Duration < least {
		errs = append(errs, fmt.Errorf("cluster.ttl: %s is too short for ffmpeg.kill_grace %s: a node stops its cameras %s (kill_grace + %s) before its lease can expire and must renew it in the time left; use at least %s",
			c.TTL.Duration, killGrace, c.Margin(killGrace), FenceSlack, least))
	}
	return errs
}
