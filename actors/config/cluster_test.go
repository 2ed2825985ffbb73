package config

import (
	"strings"
	"testing"
	"time"
)

// TestClusterConfig: without a cluster section camvisor is one node; with
// one, each key is checked and a refusal names the field and the value.
func TestClusterConfig(t *testing.T) {
	single, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if single.Cluster.Enabled() {
		t.Error("no cluster section, but cluster mode is on")
	}
	t.Setenv("NODE_NAME", "n2")
	cfg, err := Parse([]byte(good + "cluster:\n  etcd: [\"http://127.0.0.1:2379\", \"http://127.0.0.2:2379\"]\n  node: ${NODE_NAME}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Cluster
	if !c.Enabled() || c.Node != "n2" || len(c.Etcd) != 2 {
		t.Errorf("cluster section read as %+v", c)
	}
	if c.TTL.Duration != 6*time.Second {
		t.Errorf("default ttl %s, want 6s", c.TTL.Duration)
	}
	if got := c.AdvertiseURL("127.0.0.1:8080"); got != "http://127.0.0.1:8080" {
		t.Errorf("default advertise %q, want http://<listen>", got)
	}
	// kill_grace 2s: margin 3s, takeover 5s, a renewal every second.
	if m, d, r := c.Margin(2*time.Second), c.TakeoverDelay(2*time.Second), c.RenewEvery(2*time.Second); m != 3*time.Second || d != 5*time.Second || r != time.Second {
		t.Errorf("margin %s, takeover %s, renew every %s; want 3s, 5s, 1s", m, d, r)
	}

	const base = "cluster:\n  etcd: [\"http://127.0.0.1:2379\"]\n  node: n1\n"
	cases := []struct {
		name, section string
		want          []string
	}{
		{"etcd not a URL", "cluster:\n  etcd: [\"127.0.0.1:2379\"]\n  node: n1\n", []string{"cluster.etcd[0]", `"127.0.0.1:2379"`}},
		{"etcd over TLS", "cluster:\n  etcd: [\"https://127.0.0.1:2379\"]\n  node: n1\n", []string{"cluster.etcd[0]", "TLS", "not supported"}},
		{"etcd with a path", "cluster:\n  etcd: [\"http://127.0.0.1:2379/v3\"]\n  node: n1\n", []string{"cluster.etcd[0]", "no path"}},
		{"node missing", "cluster:\n  etcd: [\"http://127.0.0.1:2379\"]\n", []string{"cluster.node", `""`, "--node"}},
		{"node with a slash", "cluster:\n  etcd: [\"http://127.0.0.1:2379\"]\n  node: a/b\n", []string{"cluster.node", `"a/b"`}},
		{"advertise not http", base + "  advertise: tcp://10.0.0.5:8080\n", []string{"cluster.advertise", "tcp://10.0.0.5:8080"}},
		{"ttl unparsable", base + "  ttl: long\n", []string{"cluster.ttl", "long"}},
		{"ttl too short for the kill grace", base + "  ttl: 4s\n", []string{"cluster.ttl", "4s", "kill_grace 2s", "at least 4.5s"}},
		{"node without etcd", "cluster:\n  node: n1\n", []string{"cluster.etcd", "remove the cluster section"}},
		{"unknown key", base + "  prefix: /x\n", []string{"cluster.prefix", "unknown key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(good + tc.section))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// A node listening on every address must say how it is reached.
	if _, err := Parse([]byte(strings.Replace(good, "listen: 127.0.0.1:8080", "listen: 0.0.0.0:8080", 1) + base)); err == nil || !strings.Contains(err.Error(), "cluster.advertise") {
		t.Errorf("listen 0.0.0.0 without advertise: %v", err)
	}
}
