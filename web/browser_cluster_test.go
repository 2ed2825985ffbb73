package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/cluster"
	"camvisor/actors/testkit"
)

// TestBrowserCameraOwner: in a cluster, each node's dashboard shows every
// camera with the node that runs it — this one, or another as a link to
// its dashboard — and Capture now on another node's camera is forwarded
// there and answered on the card. A single node shows no owner line.
func TestBrowserCameraOwner(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "c1"}, camsim.Camera{Name: "c2"}, camsim.Camera{Name: "c3"}, camsim.Camera{Name: "c4"})
	n1, n2 := clusterStacks(t, cams)
	b := newBrowser(t, n1)
	b.signIn("/")
	remote := ""
	for _, c := range cams.Cameras() {
		owner := cluster.Rank(c.Name, []string{"n1", "n2"})[0]
		b.waitJS(15*time.Second, "camera "+c.Name+"'s owner on its card",
			fmt.Sprintf(`document.querySelector('[data-camera=%s] [data-role=owner]')?.dataset.owner === %s`, jsString(c.Name), jsString(owner)))
		text := b.text(cam(c.Name, "[data-role=owner]"))
		if owner == "n1" {
			if text != "n1 (this node)" {
				t.Errorf("camera %s (n1's) reads %q", c.Name, text)
			}
			continue
		}
		remote = c.Name
		href := eval[string](b, fmt.Sprintf(`document.querySelector('[data-camera=%s] [data-role=owner] a')?.href || ""`, jsString(c.Name)))
		if !strings.Contains(text, "n2") || !strings.Contains(text, "forwarded") || href != n2.srv.URL() {
			t.Errorf("camera %s (n2's) reads %q, links to %q; want n2 and a link to %s", c.Name, text, href, n2.srv.URL())
		}
	}
	if remote == "" {
		t.Fatal("the test needs a camera on n2")
	}
	b.click(cam(remote, "[data-action=capture]"))
	b.waitJS(20*time.Second, "the forwarded capture's outcome on the card",
		fmt.Sprintf(`document.querySelector('[data-camera=%s] [data-role=result][data-action=capture]')?.dataset.outcome === "ok"`, jsString(remote)))
	testkit.Eventually(t, 10*time.Second, "the capture in the record of n2, which runs the camera", func() bool {
		return n2.dbInt(`SELECT COUNT(*) FROM captures WHERE camera = ? AND reason = 'operator' AND node = 'n2'`, remote) == 1
	})
	b.shot("cluster-owner")

	single := startStack(t, testkit.Camsim(t, camsim.Camera{Name: "alone"}), nil)
	b1 := newBrowser(t, single)
	b1.signIn("/")
	b1.waitJS(10*time.Second, "the single node's card", `document.querySelector('[data-camera=alone] [data-role=owner]')`)
	if shown := eval[bool](b1, `!document.querySelector('[data-camera=alone] [data-role=owner]').parentElement.hidden`); shown {
		t.Error("a single node shows an owner line")
	}
}
