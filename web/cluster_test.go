package web

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/cluster"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
)

// clusterStacks starts two camvisors, n1 and n2, as nodes of one cluster
// on a real etcd, sharing cams and the operator token, and waits until
// every camera is owned by the node it ranks first, in both nodes'
// answers.
func clusterStacks(t *testing.T, cams *camsim.Server) (n1, n2 *stack) {
	t.Helper()
	e := testkit.StartEtcd(t)
	node := func(name string) *stack {
		st := startStack(t, cams, func(cfg *config.Config) {
			cfg.FFmpeg.KillGrace = config.D(time.Second)
			cfg.Cluster = config.Cluster{Etcd: []string{e.URL}, Node: name, TTL: config.D(4 * time.Second)}
		})
		st.tree.SetListen(st.srv.Addr()) // as camvisor run does: the node joins, advertising it
		return st
	}
	n1, n2 = node("n1"), node("n2")
	for _, st := range []*stack{n1, n2} {
		testkit.Eventually(t, 30*time.Second, "every camera owned, as "+st.env.Config.Cluster.Node+" sees it", func() bool {
			var v clusterAnswer
			if st.get("/api/cluster", &v) != http.StatusOK || len(v.Members) != 2 {
				return false
			}
			for _, c := range v.Cameras {
				if c.Owner != cluster.Rank(c.ID, []string{"n1", "n2"})[0] {
					return false
				}
			}
			return len(v.Cameras) == len(cams.Cameras())
		})
	}
	// Taken at start, each camera waits out the takeover delay before its
	// actor runs.
	testkit.Eventually(t, 15*time.Second, "every camera's actor running on its owner", func() bool {
		for _, c := range cams.Cameras() {
			owner := map[string]*stack{"n1": n1, "n2": n2}[cluster.Rank(c.Name, []string{"n1", "n2"})[0]]
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := owner.tree.CameraStatus(ctx, config.SubnetCamera{Subnet: "lab", Camera: config.Camera{ID: c.Name}})
			cancel()
			if err != nil {
				return false
			}
		}
		return true
	})
	return n1, n2
}

// post sends an operator's POST to st and returns the status, the node
// that answered (forwarded) and the decoded body.
func (st *stack) post(path string, header http.Header) (int, string, map[string]any) {
	st.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, st.srv.URL()+strings.TrimPrefix(path, "/"), nil)
	req.Header.Set("Authorization", "Bearer "+st.token)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		st.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, resp.Header.Get(OwnerHeader), body
}

// TestClusterAPIAndForwarding: GET /api/cluster answers the issue's
// shape on every node; an operator's capture on a camera another node
// runs is forwarded there with the shared token, and answered with a
// clear error once that node cannot be reached.
func TestClusterAPIAndForwarding(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "c1"}, camsim.Camera{Name: "c2"}, camsim.Camera{Name: "c3"}, camsim.Camera{Name: "c4"})
	n1, n2 := clusterStacks(t, cams)

	var raw map[string]any
	n1.get("/api/cluster", &raw)
	if raw["node"] != "n1" || raw["members"] == nil || raw["cameras"] == nil || len(raw) != 3 {
		t.Errorf("/api/cluster answers %v, want exactly node, members, cameras", raw)
	}
	var v clusterAnswer
	n1.get("/api/cluster", &v)
	urls := map[string]string{}
	owned := map[string]int{}
	for _, m := range v.Members {
		if !m.Healthy {
			t.Errorf("member %s not healthy", m.Node)
		}
		urls[m.Node] = m.URL
		owned[m.Node] = m.Cameras
	}
	if urls["n1"] != "http://"+n1.srv.Addr() || urls["n2"] != "http://"+n2.srv.Addr() {
		t.Errorf("member URLs %v, want each node's listen address", urls)
	}
	remote, local := "", ""
	for _, c := range v.Cameras {
		want := cluster.Rank(c.ID, []string{"n1", "n2"})[0]
		if c.Owner != want || c.Epoch == 0 {
			t.Errorf("camera %s: owner %q epoch %d, want %s and an epoch", c.ID, c.Owner, c.Epoch, want)
		}
		owned[c.Owner]--
		if c.Owner == "n2" {
			remote = c.ID
		} else {
			local = c.ID
		}
	}
	for n, left := range owned {
		if left != 0 {
			t.Errorf("member %s's camera count is off by %d", n, left)
		}
	}
	if remote == "" || local == "" {
		t.Fatalf("the test needs a camera on each node: %+v", v.Cameras)
	}

	code, via, body := n1.post("/api/cameras/"+remote+"/capture", nil)
	if code != http.StatusOK || via != "n2" || body["outcome"] != "ok" {
		t.Errorf("capture of %s (n2's) through n1: %d via %q %v", remote, code, via, body)
	}
	if n := n2.dbInt(`SELECT COUNT(*) FROM captures WHERE camera = ? AND reason = 'operator' AND node = 'n2' AND epoch > 0`, remote); n != 1 {
		testkit.Eventually(t, 5*time.Second, "the forwarded capture in n2's record, with node and epoch", func() bool {
			return n2.dbInt(`SELECT COUNT(*) FROM captures WHERE camera = ? AND reason = 'operator' AND node = 'n2' AND epoch > 0`, remote) == 1
		})
	}
	if code, via, body := n1.post("/api/cameras/"+local+"/capture", nil); code != http.StatusOK || via != "" || body["outcome"] != "ok" {
		t.Errorf("capture of %s (n1's own) on n1: %d via %q %v", local, code, via, body)
	}
	// A forwarded request is never forwarded again.
	if code, _, body := n2.post("/api/cameras/"+local+"/capture", http.Header{ForwardedHeader: {"n1"}}); code != http.StatusServiceUnavailable ||
		!strings.Contains(body["error"].(string), "not forwarded again") {
		t.Errorf("a forwarded request for another node's camera: %d %v", code, body)
	}
	// n2's API goes away (its node still holds the camera): a clear error.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	n2.srv.Shutdown(ctx)
	cancel()
	code, _, body = n1.post("/api/cameras/"+remote+"/restart", nil)
	if msg, _ := body["error"].(string); code != http.StatusBadGateway || !strings.Contains(msg, "n2") || !strings.Contains(msg, "cannot be reached") {
		t.Errorf("restart of %s with n2 unreachable: %d %v", remote, code, body)
	}
}

// TestClusterAPISingleNode: without a cluster section the one member is
// this node, named by its host name, owning every camera at epoch 0.
func TestClusterAPISingleNode(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"}, camsim.Camera{Name: "back"})
	st := startStack(t, cams, nil)
	var v clusterAnswer
	if code := st.get("/api/cluster", &v); code != http.StatusOK {
		t.Fatalf("GET /api/cluster: %d", code)
	}
	host, _ := os.Hostname()
	if v.Node != host || len(v.Members) != 1 || v.Members[0].Node != host || !v.Members[0].Healthy || v.Members[0].Cameras != 2 {
		t.Errorf("single node answers %+v, want this host owning both cameras", v)
	}
	for _, c := range v.Cameras {
		if c.Owner != host || c.Epoch != 0 {
			t.Errorf("camera %s: owner %q epoch %d", c.ID, c.Owner, c.Epoch)
		}
	}
}
