package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"camvisor/actors"
	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/go2rtc/go2rtctest"
	"camvisor/actors/testkit"
	"camvisor/db"
	"camvisor/db/dbtest"
	"camvisor/messages"

	"github.com/chromedp/chromedp"
)

// The dashboard in a real browser (headless Chromium) against a real
// server: every test operates a control in the page and checks what the
// backend did, in the record or in /proc, not only what the page says.

func TestBrowserLogin(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"}, camsim.Camera{Name: "back"})
	st := startStack(t, cams, nil)
	b := newBrowser(t, st)

	b.open("/")
	b.waitVisible("#login-token", 10*time.Second)
	if n := count(st, func(*messages.ClientJoined) bool { return true }); n != 0 {
		t.Errorf("%d dashboards joined before signing in", n)
	}
	b.shot("login")

	b.login("wrong-token-wrong-token")
	b.waitJS(10*time.Second, "the refusal shown", `!document.getElementById("login-error").hidden`)
	if msg := b.text("#login-error"); !strings.Contains(msg, "wrong token") {
		t.Errorf("refusal reads %q, want it to say wrong token", msg)
	}
	if !eval[bool](b, `!document.getElementById("login").hidden && document.getElementById("app").hidden`) {
		t.Errorf("after a wrong token the login form did not stay: %s", b.describePage())
	}
	if n := count(st, func(*messages.ClientJoined) bool { return true }); n != 0 {
		t.Errorf("%d dashboards joined with a wrong token", n)
	}
	b.shot("login-refused")

	// The right token, typed and sent with Enter: the keyboard is enough.
	b.run("sign in with the keyboard",
		chromedp.Clear(chromedp.CSS("#login-token")),
		chromedp.SendKeys(chromedp.CSS("#login-token"), st.token+"\n"))
	b.waitReady()
	b.waitVisible(cam("front", "[data-role=snapshot]"), 20*time.Second)
	if !eval[bool](b, `document.getElementById("login").hidden`) {
		t.Error("the login form still shows after signing in")
	}
	// The session cookie took the WebSocket in: the hub has a dashboard.
	testkit.Eventually(t, 5*time.Second, "the page's WebSocket joined the hub",
		func() bool { return count(st, func(*messages.ClientJoined) bool { return true }) >= 1 })
	b.shot("cameras")

	// The operator's night: the dark scheme, same page.
	b.darkScheme()
	b.shot("cameras-dark")

	// The keyboard reaches the last card's last button (and all before it).
	b.tabTo(cam("back", "[data-action=restart]"), 60)

	// A phone: one column, nothing wider than the screen.
	b.run("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.waitJS(5*time.Second, "one column of cameras", `(() => {
		const [a, c] = [...document.querySelectorAll("#camera-list .card")].map(e => e.getBoundingClientRect());
		return a && c && a.left === c.left && c.top >= a.bottom; })()`)
	if w := eval[int](b, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		t.Errorf("the page is %dpx wider than a phone's screen", w)
	}
	b.shot("phone-cameras")
}

func TestBrowserCaptureNow(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	st := startStack(t, cams, nil)
	b := newBrowser(t, st)
	b.signIn("/")
	// Before anyone asks, the patrol's capture (at start) shows.
	b.waitJS(15*time.Second, "the patrol's frame on the card",
		`document.querySelector('[data-camera="front"] [data-role=snapshot]').naturalWidth > 0`)
	before := eval[string](b, `document.querySelector('[data-camera="front"] [data-role=snapshot]').src`)

	b.click(cam("front", "[data-action=capture]"))
	b.waitJS(20*time.Second, "the capture's outcome on the card",
		`document.querySelector('[data-camera="front"] [data-role=result][data-action=capture]')?.dataset.outcome === "ok"`)
	if msg := b.text(cam("front", "[data-role=result]")); !strings.Contains(msg, "Capture ok") || !strings.Contains(msg, "pid") {
		t.Errorf("capture result reads %q", msg)
	}
	testkit.Eventually(t, 10*time.Second, "an operator capture in the record", func() bool {
		return st.dbInt(`SELECT COUNT(*) FROM captures WHERE camera = ? AND reason = 'operator' AND outcome = 'ok'`, "front") == 1
	})
	b.waitJS(10*time.Second, "the new frame on the card", fmt.Sprintf(`(() => {
		const img = document.querySelector('[data-camera="front"] [data-role=snapshot]');
		return img.src !== %s && img.complete && img.naturalWidth > 0; })()`, jsString(before)))
	b.shot("capture")
}

func TestBrowserWatchLiveAndStop(t *testing.T) {
	// Static pictures: no motion, so no detection starts a playback of its own.
	cams := testkit.Camsim(t, camsim.Camera{Name: "front", Mode: camsim.ModeStatic}, camsim.Camera{Name: "back", Mode: camsim.ModeStatic})
	var g2 *go2rtctest.Server
	st := startStack(t, cams, func(cfg *config.Config) {
		g2 = go2rtctest.New(t, go2rtctest.Options{})
		cfg.Go2RTC.URL = g2.URL()
		cfg.Go2RTC.Lease = config.D(time.Minute)
		cfg.Playback.MaxLive = 1 // a second live view is refused: the 409 path
	})
	b := newBrowser(t, st)
	b.signIn("/")
	if eval[bool](b, `!!document.querySelector("#live-pane iframe, #live-list .live-item")`) {
		t.Fatal("a player shows before anyone asked for one")
	}

	b.click(cam("front", "[data-action=live]"))
	player := `#live-pane .live-item[data-camera="front"] iframe[data-role=player]`
	b.waitVisible(player, 15*time.Second)
	src := eval[string](b, fmt.Sprintf(`document.querySelector(%s).src`, jsString(player)))
	if !strings.HasPrefix(src, g2.URL()) || !strings.Contains(src, "stream.html?src=camvisor_front") {
		t.Errorf("player src %q, want go2rtc's %s/stream.html?src=camvisor_front", src, g2.URL())
	}
	testkit.Eventually(t, 10*time.Second, "a live lease in the record", func() bool {
		return st.dbInt(`SELECT COUNT(*) FROM leases WHERE camera = 'front' AND released_at IS NULL`) == 1
	})
	testkit.Eventually(t, 10*time.Second, "the player watching through go2rtc", func() bool { return g2.Consumers("camvisor_front") == 1 })
	b.waitPlayerFrame(player)
	// The card shows the lease's slot, in words as well as in colour.
	b.waitJS(5*time.Second, "a lease pip on front's card", `document.querySelector('[data-camera="front"] .pip.lease')?.textContent === "L"`)
	if label := eval[string](b, `document.querySelector('[data-camera="front"] [data-role=slots]').getAttribute("aria-label")`); !strings.Contains(label, "1 live") {
		t.Errorf("slots read %q", label)
	}
	if left := eval[string](b, `document.querySelector('.live-item[data-camera="front"] [data-role=remaining]').textContent`); !strings.HasSuffix(left, "left") {
		t.Errorf("remaining time reads %q", left)
	}

	b.shot("live")

	// A second camera is refused (max_live 1): the card says why.
	b.click(cam("back", "[data-action=live]"))
	b.waitJS(15*time.Second, "the refusal on the card",
		`document.querySelector('[data-camera="back"] [data-role=result][data-action=live]')?.dataset.outcome === "refused"`)
	if msg := b.text(cam("back", "[data-role=result]")); len(strings.TrimPrefix(msg, "No live view: ")) < 3 {
		t.Errorf("refusal reads %q: no reason", msg)
	}
	if n := st.dbInt(`SELECT COUNT(*) FROM leases WHERE camera = 'back'`); n != 0 {
		t.Errorf("a refused live view left %d lease rows", n)
	}
	if eval[int](b, `document.querySelectorAll("#live-list .live-item").length`) != 1 {
		t.Error("the refused camera shows a player")
	}
	b.shot("live-refused")

	b.click(`#live-pane .live-item[data-camera="front"] [data-action=stop]`)
	b.waitJS(15*time.Second, "the live pane gone", `document.getElementById("live-pane").hidden && !document.querySelector("#live-pane iframe")`)
	testkit.Eventually(t, 20*time.Second, "the lease ended in the record", func() bool {
		return st.dbInt(`SELECT COUNT(*) FROM leases WHERE camera = 'front' AND released_at IS NOT NULL`) == 1
	})
	if n := g2.Consumers("camvisor_front"); n != 0 {
		t.Errorf("go2rtc still has %d viewers of front after Stop", n)
	}
	b.shot("live-stopped")
}

func TestBrowserRestartKillsCaptureInFlight(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "stuck", Hang: true})
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.FFmpeg.CaptureTimeout = config.D(2 * time.Minute) // the capture hangs until the restart
	})
	pid := waitFFmpeg(t, st, "stuck")
	b := newBrowser(t, st)
	b.signIn("/")

	b.click(cam("stuck", "[data-action=restart]"))
	b.waitVisible(cam("stuck", "[data-role=confirm]"), 5*time.Second)
	b.shot("restart-confirm")
	b.click(cam("stuck", "[data-action=restart-confirm]"))
	b.waitJS(30*time.Second, "the restart's outcome on the card",
		`document.querySelector('[data-camera="stuck"] [data-role=result][data-action=restart]')?.dataset.outcome === "ok"`)
	if msg := b.text(cam("stuck", "[data-role=result]")); !strings.Contains(msg, strconv.Itoa(pid)) {
		t.Errorf("restart result %q does not name the killed pid %d", msg, pid)
	}
	b.waitJS(10*time.Second, "the card's slots freed", `document.querySelector('[data-camera="stuck"] [data-role=slots]').dataset.ffmpeg === "0"`)
	// /proc, not the server's word.
	testkit.Eventually(t, 5*time.Second, fmt.Sprintf("pid %d gone from /proc", pid), func() bool { return !procAlive(pid) })
	if n := count(st, func(e *messages.ActorRestarted) bool { return e.Actor == "root/"+actors.CameraPath("lab", "stuck") }); n != 1 {
		t.Errorf("camera actor restarted %d times, want once", n)
	}
	testkit.Eventually(t, 10*time.Second, "the process's end in the record", func() bool {
		return st.dbInt(`SELECT COUNT(*) FROM processes WHERE os_pid = ? AND ended_at IS NOT NULL`, pid) == 1
	})
	b.shot("restarted")
}

func TestBrowserActorTreeShowsRunningFFmpeg(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "stuck", Hang: true})
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.FFmpeg.CaptureTimeout = config.D(2 * time.Minute)
	})
	pid := waitFFmpeg(t, st, "stuck")
	stray := strayFFmpeg(t)
	b := newBrowser(t, st)
	b.signIn("/#actors")

	node := fmt.Sprintf(`#actor-tree li[data-kind=ffmpeg][data-os-pid="%d"]`, pid)
	b.waitVisible(node, 10*time.Second)
	if line := b.text(node); !strings.Contains(line, fmt.Sprintf("pid %d", pid)) || !strings.Contains(line, "age") {
		t.Errorf("ffmpeg node reads %q", line)
	}
	camNode := `#actor-tree li[data-kind=camera][data-path$="/stuck"] > details > summary`
	if line := b.text(camNode); !strings.Contains(line, "slots 1/2") {
		t.Errorf("camera node reads %q, want slots 1/2", line)
	}
	b.waitVisible(fmt.Sprintf(`#process-list tr[data-os-pid="%d"][data-owned=true]`, pid), 10*time.Second)
	unowned := fmt.Sprintf(`#process-list tr.unowned[data-os-pid="%d"]`, stray)
	b.waitVisible(unowned, 10*time.Second)
	if row := b.text(unowned); !strings.Contains(row, "unowned") {
		t.Errorf("unowned process row reads %q", row)
	}
	b.noSecret()
	// Every node's name sits on its first line, right of its triangle (or
	// of a leaf's blank), also when the line wraps in a narrow pane.
	for _, width := range []int64{1280, 760} {
		b.run("viewport", chromedp.EmulateViewport(width, 900))
		b.waitVisible(node, 5*time.Second)
		if bad := eval[[]string](b, `[...document.querySelectorAll("#actor-tree .node-line")].filter(line => {
				const name = line.querySelector(".node-name").getBoundingClientRect();
				const row = line.parentElement.getBoundingClientRect();
				return name.top - row.top > 6 || name.left - row.left < 12;
			}).map(line => line.querySelector(".node-name").textContent)`); len(bad) > 0 {
			t.Errorf("at %dpx wide these names are not on their line right of the triangle: %v", width, bad)
		}
	}
	b.run("viewport", chromedp.EmulateViewport(1280, 900))
	// Fields read in their units, not raw.
	sub := `#actor-tree li[data-kind=subnet] > details > summary`
	if line := b.text(sub); !strings.Contains(line, "interval 1 h 0 min") || strings.Contains(line, " ms ") || strings.Contains(line, "interval ms") {
		t.Errorf("subnet node reads %q", line)
	}
	// The playback node names the cameras that play.
	if ans, err := st.startLive("stuck"); err != nil || !ans.Playing {
		t.Fatalf("live view of stuck: %v %+v", err, ans)
	}
	b.waitJS(10*time.Second, "the playback node naming stuck", `document.querySelector("#actor-tree li[data-kind=playback]").textContent.includes("playing: stuck")`)
	b.shot("actors")

	// The record's download link works with the page's session.
	head := eval[string](b, `fetch(document.getElementById("backup").href)
		.then(r => r.ok ? r.arrayBuffer() : Promise.reject(new Error("HTTP " + r.status)))
		.then(buf => new TextDecoder().decode(buf.slice(0, 15)))`, chromedp.EvalAwaitPromise)
	if head != "SQLite format 3" {
		t.Errorf("the backup link gave %q, want an SQLite file", head)
	}

	// Collapsing a node survives the refresh every 2 s.
	b.click(`#actor-tree li[data-kind=patrol] > details > summary`)
	b.waitJS(5*time.Second, "the patrol collapsed", `!document.querySelector("#actor-tree li[data-kind=patrol] > details").open`)
	stamp := b.text("#actors-updated")
	b.waitJS(10*time.Second, "a refresh", fmt.Sprintf(`document.getElementById("actors-updated").textContent !== %s`, jsString(stamp)))
	if eval[bool](b, `document.querySelector("#actor-tree li[data-kind=patrol] > details").open`) {
		t.Error("a refresh reopened a node the operator collapsed")
	}
}

func TestBrowserReloadNeverStartsPlayback(t *testing.T) {
	// As TestReloadNeverStartsPlayback (live_test.go), in a real browser:
	// history with playback-worthy events, no playback live, page reloads.
	st, g2 := afterPlaybacks(t)
	grants := count(st, func(*messages.LeaseGranted) bool { return true })
	rows := st.dbInt(`SELECT COUNT(*) FROM leases`)
	if st.dbInt(`SELECT COUNT(*) FROM events`) == 0 {
		t.Fatal("no event in the record: history would be empty")
	}

	b := newBrowser(t, st)
	b.signIn("/#events")
	for i := range 4 {
		if i > 0 {
			b.run("reload", chromedp.Reload())
			b.waitReady()
		}
		b.waitJS(10*time.Second, "history listed", `document.querySelectorAll("#event-list tr[data-event-id]").length > 0`)
		if eval[bool](b, `!document.getElementById("live-pane").hidden || !!document.querySelector("#live-list .live-item, iframe")`) {
			b.shot("reload-played")
			t.Fatalf("load %d showed a player with no playback live: %s", i+1, b.describePage())
		}
	}
	b.shot("reloaded")
	if n := count(st, func(*messages.LeaseGranted) bool { return true }); n != grants {
		t.Errorf("loading the page 4 times granted %d leases", n-grants)
	}
	if n := st.dbInt(`SELECT COUNT(*) FROM leases`); n != rows {
		t.Errorf("loading the page 4 times added %d lease rows", n-rows)
	}
	if n := g2.Consumers("camvisor_yard") + g2.Consumers("camvisor_gate"); n != 0 {
		t.Errorf("go2rtc has %d viewers", n)
	}

	// The backend decides: a playback it starts shows without a reload, and
	// goes when its time is over (lease 3 s).
	ans, err := st.startLive("gate")
	if err != nil || !ans.Playing {
		t.Fatalf("backend playback: %v %+v", err, ans)
	}
	player := `#live-pane .live-item[data-camera="gate"] iframe[data-role=player]`
	b.waitVisible(player, 10*time.Second)
	b.shot("backend-play")
	b.waitJS(20*time.Second, "the player gone when the playback is over",
		`document.getElementById("live-pane").hidden && !document.querySelector("iframe")`)
	testkit.Eventually(t, 20*time.Second, "gate's lease ended in the record", func() bool {
		return st.dbInt(`SELECT COUNT(*) FROM leases WHERE camera = 'gate' AND released_at IS NULL`) == 0
	})
}

func TestBrowserReconnectDropsEndedPlayback(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front", Mode: camsim.ModeStatic})
	var g2 *go2rtctest.Server
	st := startStack(t, cams, func(cfg *config.Config) {
		g2 = go2rtctest.New(t, go2rtctest.Options{})
		cfg.Go2RTC.URL = g2.URL()
		cfg.Go2RTC.Lease = config.D(time.Minute)
	})
	b := newBrowser(t, st)
	b.signIn("/")
	ans, err := st.startLive("front")
	if err != nil || !ans.Playing {
		t.Fatalf("backend playback: %v %+v", err, ans)
	}
	b.waitVisible(`#live-pane .live-item[data-camera="front"] iframe[data-role=player]`, 10*time.Second)

	// The server drops the page's WebSocket; while the page is away, the
	// playback ends, so the page never hears the stop.
	if n := count(st, func(e *messages.ClientJoined) bool { return true }); n != 1 {
		t.Fatalf("%d dashboards joined, want the page's one", n)
	}
	if n := st.dropDashboards(); n != 1 {
		t.Fatalf("dropped %d dashboards' connections, want the page's one", n)
	}
	b.waitJS(5*time.Second, "the page noticing the drop", `document.getElementById("hdr-ws").dataset.ws !== "connected"`)
	b.shot("reconnecting")
	st.tree.StopLive("front", "test")
	testkit.Eventually(t, 10*time.Second, "the playback stopped", func() bool {
		return count(st, func(*messages.PlaybackStopped) bool { return true }) == 1
	})
	// It reconnects by itself, learns nothing plays, and lets go of the player.
	b.waitJS(15*time.Second, "reconnected", `document.body.dataset.synced === "true"`)
	b.waitJS(10*time.Second, "the ended playback's player gone", `document.getElementById("live-pane").hidden && !document.querySelector("iframe")`)
	if n := count(st, func(*messages.ClientJoined) bool { return true }); n != 2 {
		t.Errorf("%d joins, want the first and one reconnection", n)
	}
	testkit.Eventually(t, 20*time.Second, "the lease ended in the record", func() bool {
		return st.dbInt(`SELECT COUNT(*) FROM leases WHERE camera = 'front' AND released_at IS NOT NULL`) == 1
	})
	if n := g2.Consumers("camvisor_front"); n != 0 {
		t.Errorf("go2rtc still has %d viewers of front", n)
	}
}

func TestBrowserEventLog(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "yard", Mode: camsim.ModeMotion}, camsim.Camera{Name: "gate", Mode: camsim.ModeMotion})
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.Subnets[0].Interval = config.D(time.Second)
		cfg.Detector.MinScore = 0.01
		cfg.Detector.EventGap = config.D(time.Millisecond) // every detection opens an event
		cfg.Playback.MinScore = 0.01                       // and starts a live view: without go2rtc, of snapshots
	})
	testkit.Eventually(t, 30*time.Second, "events of both cameras in the record", func() bool {
		return st.dbInt(`SELECT COUNT(DISTINCT camera) FROM events`) == 2 && st.dbInt(`SELECT COUNT(*) FROM events`) >= 4
	})
	var history []int64
	if err := st.store.DB.Select(&history, `SELECT id FROM events ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	newest := history[len(history)-1]

	b := newBrowser(t, st)
	b.signIn("/#events")
	b.waitJS(10*time.Second, "the history listed", fmt.Sprintf(`(() => {
		const ids = new Set([...document.querySelectorAll("#event-list tr[data-event-id]")].map(r => r.dataset.eventId));
		return %s.every(id => ids.has(String(id))); })()`, int64s(history)))
	// A live event goes on top.
	b.waitJS(20*time.Second, "a live event prepended", fmt.Sprintf(`(() => {
		const first = document.querySelector("#event-list tr[data-event-id]");
		return first && first.classList.contains("new") && BigInt(first.dataset.eventId) > %dn; })()`, newest))
	live := eval[string](b, `document.querySelector("#event-list tr[data-event-id]").dataset.eventId`)
	testkit.Eventually(t, 10*time.Second, "the live event in the record", func() bool {
		return st.dbInt(`SELECT COUNT(*) FROM events WHERE id = ?`, live) == 1
	})
	b.shot("events")

	// Without go2rtc a live view is the camera's latest frame, refreshed.
	snap := `document.querySelector("#live-list .live-item img[data-role=player-snapshot]")`
	b.waitJS(15*time.Second, "a snapshot live view", snap+`?.naturalWidth > 0`)
	first := eval[string](b, snap+`.src`)
	b.waitJS(5*time.Second, "the snapshot refreshed", snap+`.src !== `+jsString(first)+` && `+snap+`.complete`)

	// Filters narrow the list.
	all := eval[int](b, `document.querySelectorAll("#event-list tr[data-event-id]").length`)
	b.choose("#filter-camera", "yard")
	b.waitJS(10*time.Second, "only yard's events", `(() => {
		const rows = [...document.querySelectorAll("#event-list tr[data-event-id]")];
		return rows.length > 0 && rows.every(r => r.dataset.camera === "yard"); })()`)
	if n := eval[int](b, `document.querySelectorAll("#event-list tr[data-event-id]").length`); n >= all {
		t.Errorf("camera filter kept %d of %d rows", n, all)
	}
	label := eval[string](b, `[...document.querySelectorAll("#filter-label option")].map(o => o.value).find(v => v) || ""`)
	if label == "" {
		t.Fatal("no label to filter by")
	}
	b.choose("#filter-label", label)
	b.waitJS(10*time.Second, "only yard's "+label+" events", fmt.Sprintf(`(() => {
		const rows = [...document.querySelectorAll("#event-list tr[data-event-id]")];
		return rows.length > 0 && rows.every(r => r.dataset.camera === "yard" && r.dataset.label === %s); })()`, jsString(label)))
	b.shot("events-filtered")

	// Clicking an event opens its frame.
	id := eval[string](b, `document.querySelector("#event-list tr[data-event-id]").dataset.eventId`)
	b.click(fmt.Sprintf(`#event-list tr[data-event-id="%s"] [data-action=open-event]`, id))
	b.waitJS(10*time.Second, "the event's frame loaded", `document.getElementById("event-dialog").open &&
		document.getElementById("event-dialog-img").complete && document.getElementById("event-dialog-img").naturalWidth > 0`)
	if src := eval[string](b, `document.getElementById("event-dialog-img").src`); !strings.HasSuffix(src, "/api/events/"+id+"/snapshot.jpg") {
		t.Errorf("dialog shows %q, want event %s's snapshot", src, id)
	}
	b.shot("event-dialog")
	b.click("#event-dialog-close")
	b.waitJS(5*time.Second, "the dialog closed", `!document.getElementById("event-dialog").open`)
}

func TestBrowserCharts(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front", Mode: camsim.ModeStatic}, camsim.Camera{Name: "back", Mode: camsim.ModeStatic})
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.Subnets[0].Interval = config.D(time.Second)
		cfg.Record.SampleInterval = config.D(200 * time.Millisecond)
	})
	testkit.Eventually(t, 20*time.Second, "samples and cycles in the record", func() bool {
		return st.dbInt(`SELECT COUNT(DISTINCT camera) FROM process_samples`) == 2 && st.dbInt(`SELECT COUNT(*) FROM cycles`) >= 2
	})
	var samples struct{ Samples []map[string]any }
	if code := st.get("/api/samples?since=1h", &samples); code != 200 || len(samples.Samples) == 0 {
		t.Fatalf("GET /api/samples: %d with %d samples", code, len(samples.Samples))
	}

	b := newBrowser(t, st)
	b.signIn("/#charts")
	for _, c := range []string{"front", "back"} {
		b.waitJS(15*time.Second, c+"'s process line and budget", fmt.Sprintf(`(() => {
			const svg = document.querySelector('#chart-processes svg[data-chart=processes]');
			return svg && svg.querySelector('path[data-line=processes][data-camera=%q]') && svg.querySelector('path[data-line=budget][data-camera=%q]'); })()`, c, c))
	}
	if n := eval[int](b, `+document.querySelector("#chart-processes svg").dataset.points`); n < len(samples.Samples) {
		t.Errorf("chart draws %d samples, /api/samples had %d", n, len(samples.Samples))
	}
	if legend := b.text("#legend-processes"); !strings.Contains(legend, "budget 2") || strings.Contains(legend, "now") {
		t.Errorf("legend reads %q: want each camera's budget, and no per-camera \"now\" to contradict the header", legend)
	}
	// The time axis fits the data: a young run's first sample is near the
	// left edge, not squeezed against the right of a fixed hour.
	leftmost := eval[float64](b, `(() => {
		const svg = document.querySelector("#chart-processes svg");
		const d = svg.querySelector('path[data-line=processes][data-camera="front"]').getAttribute("d");
		return (+d.slice(1).split(",")[0]) / svg.viewBox.baseVal.width; })()`)
	if leftmost > 0.3 {
		t.Errorf("front's first sample is drawn %.0f%% across the chart: the axis does not fit the data", leftmost*100)
	}
	// Equal budgets (2 and 2) are two lines a reader can tell apart: own
	// colour, drawn apart; the process lines have their own dashes.
	type line struct {
		Stroke, Dash string
		Y            float64
	}
	lines := eval[map[string]line](b, `(() => {
		const out = {};
		for (const p of document.querySelectorAll("#chart-processes svg path[data-camera]")) {
			out[p.dataset.line + ":" + p.dataset.camera] = {stroke: p.getAttribute("stroke"), dash: p.getAttribute("stroke-dasharray") || "",
				y: p.getBBox().y};
		}
		return out; })()`)
	fb, bb := lines["budget:front"], lines["budget:back"]
	if fb.Stroke == bb.Stroke || math.Abs(fb.Y-bb.Y) < 2 {
		t.Errorf("the two budgets of 2 are drawn alike: front %+v, back %+v", fb, bb)
	}
	if fp, bp := lines["processes:front"], lines["processes:back"]; fp.Stroke == bp.Stroke || fp.Dash == bp.Dash || math.Abs(fp.Y-bp.Y) < 2 {
		t.Errorf("the two process lines are drawn alike: front %+v, back %+v", fp, bp)
	}
	// The legend's total is the header's count, at the same instant.
	b.waitJS(10*time.Second, "the legend's total equal to the header", `(() => {
		const h = document.getElementById("hdr-ffmpeg").dataset, l = document.getElementById("legend-total").dataset;
		return l.processes === h.processes && l.budget === h.budget; })()`)
	b.waitJS(15*time.Second, "the cycle line of subnet lab",
		`document.querySelector('#chart-cycles svg[data-chart=cycles] path[data-line=duration][data-subnet="lab"]')`)
	b.shot("charts")

	// The patrol captures every second: each capture the WebSocket reports
	// brings the card's frame anew.
	img := `document.querySelector('[data-camera="front"] [data-role=snapshot]')`
	b.waitJS(10*time.Second, "front's frame", img+`.naturalWidth > 0`)
	first := eval[string](b, img+`.src`)
	b.waitJS(10*time.Second, "front's frame refreshed by a reported capture", img+`.src !== `+jsString(first)+` && `+img+`.naturalWidth > 0`)
}

func TestBrowserFailingCameraAlert(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "down", Refuse: true}, camsim.Camera{Name: "fine", Mode: camsim.ModeStatic})
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.Subnets[0].Interval = config.D(time.Second)
		cfg.Alerts.CameraFailingAfter = 2
		cfg.Record.SampleInterval = config.D(200 * time.Millisecond) // the report's leak graph has points
	})
	b := newBrowser(t, st)
	b.signIn("/")
	b.waitJS(20*time.Second, "the camera_failing alert in the header and the banner", `(() => {
		const n = +document.getElementById("hdr-alerts").dataset.count;
		const li = document.querySelector('#alert-list li[data-rule=camera_failing][data-subject=down]');
		return n >= 1 && li && !document.getElementById("alerts").hidden; })()`)
	b.waitJS(5*time.Second, "the card marked failing, with the error",
		`document.querySelector('#camera-list [data-camera="down"]').dataset.failing === "true" && document.querySelector('[data-camera="down"] [data-role=error]').textContent !== ""`)
	if n := st.dbInt(`SELECT COUNT(*) FROM alerts WHERE rule = 'camera_failing' AND subject = 'down' AND state = 'firing'`); n != 1 {
		t.Errorf("%d firing camera_failing alerts for down in the record", n)
	}
	if eval[string](b, `document.querySelector('#camera-list [data-camera="fine"]').dataset.failing`) != "false" {
		t.Error("the good camera is marked failing")
	}
	b.noSecret()
	b.shot("alert")

	// The camera comes back: the alert resolves and the banner goes.
	accept := false
	if err := cams.Update("down", camsim.CameraPatch{Refuse: &accept}); err != nil {
		t.Fatal(err)
	}
	b.waitJS(20*time.Second, "the alert resolved on the page", `document.getElementById("alerts").hidden &&
		document.getElementById("hdr-alerts").dataset.count === "0" && document.querySelector('#camera-list [data-camera="down"]').dataset.failing === "false"`)

	// The live record as pictures (GET /api/report.html), with the page's
	// session: the alert's span, down's failures, every chart drawn.
	resp, body := st.do("GET", "/api/report.html?since=bogus", nil, true)
	var answer struct{ Error string }
	if json.Unmarshal(body, &answer); resp.StatusCode != 400 || !strings.HasPrefix(answer.Error, "since: ") {
		t.Errorf("report with a bad since: %d %s", resp.StatusCode, body)
	}
	resp, body = st.do("GET", "/api/report.html?camera=nosuch", nil, true)
	if json.Unmarshal(body, &answer); resp.StatusCode != 400 || !strings.HasPrefix(answer.Error, `camera: no camera "nosuch"`) {
		t.Errorf("report of an unknown camera: %d %s", resp.StatusCode, body)
	}
	b.open("/api/report.html?since=1h")
	b.waitJS(10*time.Second, "the report drawn", `document.querySelectorAll("svg[data-chart]").length === 5`)
	for chart, mark := range map[string]string{"leak": "processes", "timeline": "process", "heatmap": "captures", "cycles": "cycle", "alerts": "alert"} {
		if n := eval[int](b, fmt.Sprintf(`document.querySelectorAll('svg[data-chart=%q] [data-mark=%q]').length`, chart, mark)); n == 0 {
			t.Errorf("the live report's %s chart has no %s marks", chart, mark)
		}
	}
	if n := eval[int](b, `document.querySelectorAll('svg[data-chart=alerts] [data-mark=alert][data-key=camera_failing][data-camera=down]').length`); n != 1 {
		t.Errorf("the live report shows %d camera_failing spans for down", n)
	}
	if n := eval[int](b, `document.querySelectorAll('svg[data-chart=heatmap] [data-mark=captures][data-camera=down]:not([data-key=ok])').length`); n == 0 {
		t.Error("the live report's heat map shows none of down's failed captures")
	}
	b.noSecret()
	b.shot("live-report")
}

// waitFFmpeg waits for a live ffmpeg of camera in /proc and returns its pid.
func waitFFmpeg(t *testing.T, st *stack, camera string) int {
	t.Helper()
	pid := 0
	testkit.Eventually(t, 15*time.Second, "an ffmpeg of "+camera+" in /proc", func() bool {
		for _, p := range testkit.FFmpeg(st.env.RunID) {
			if p.Camera() == camera && !p.Zombie() {
				pid = p.PID
				return true
			}
		}
		return false
	})
	return pid
}

// strayFFmpeg starts an ffmpeg that camvisor did not start and returns its
// pid; it is killed and reaped when the test ends.
func strayFFmpeg(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-nostdin", "-loglevel", "quiet", "-re", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=1",
		"-t", "300", "-f", "null", "-")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

// failingFirst reports whether the cards (camera:state, in page order)
// list every failing camera before any other, camera among them.
func failingFirst(order []string, camera string) bool {
	seenOther, found := false, false
	for _, c := range order {
		name, state, _ := strings.Cut(c, ":")
		if state != "failing" {
			seenOther = true
			continue
		}
		if seenOther {
			return false
		}
		found = found || name == camera
	}
	return found
}

// int64s is ids as a JavaScript array literal.
func int64s(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return "[" + strings.Join(s, ",") + "]"
}

// TestBrowserCardsAgreeWithThemselves: a camera card never says two things
// at once. A hung camera's first timeout is not shown beside a green "ok";
// a camera that never had a frame gets no snapshot request; "via" stays
// with each capture; a result goes by itself; a restarted camera keeps its
// frame; signing out is not an error; the uptime is the server's.
func TestBrowserCardsAgreeWithThemselves(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "hung", Hang: true}, camsim.Camera{Name: "good", Mode: camsim.ModeStatic})
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.FFmpeg.CaptureTimeout = config.D(2 * time.Second)
	})
	b := newBrowser(t, st)
	b.signIn("/")

	// The uptime is the server's, to the second: never a tick or a
	// rounding behind it.
	for i := range 6 {
		if i > 0 {
			time.Sleep(230 * time.Millisecond) // sampling pace across a second, not a wait for a condition
		}
		before := time.Since(st.srv.opts.StartedAt).Seconds()
		shown := seconds(t, b.text("#hdr-uptime"))
		after := time.Since(st.srv.opts.StartedAt).Seconds()
		// Whole seconds, so up to one behind; never more, never ahead.
		if shown > after+0.2 || shown < before-1.2 {
			t.Errorf("uptime reads %v s while the server has been up %.2f–%.2f s", shown, before, after)
		}
	}

	hung := `document.querySelector('#camera-list [data-camera="hung"]')`
	b.waitJS(20*time.Second, "hung's first timeout on its card", hung+`.querySelector("[data-role=last-capture]").dataset.outcome === "timeout"`)
	if state := eval[string](b, hung+`.querySelector("[data-role=status]").dataset.state`); state == "ok" {
		t.Errorf("a card whose last capture timed out has the badge state %q (%q)", state, b.text(cam("hung", "[data-role=status]")))
	}
	if badge := b.text(cam("hung", "[data-role=status]")); badge == "ok" || !strings.Contains(badge, "timeout") {
		t.Errorf("hung's badge reads %q beside a timeout", badge)
	}
	b.waitJS(5*time.Second, "hung's one capture on its outcomes strip, a timeout",
		hung+`.querySelectorAll("[data-role=outcomes] .tick").length === 1 && `+hung+`.querySelector("[data-role=outcomes] .tick").dataset.kind === "timeout"`)
	if got := b.text(cam("hung", "[data-role=nosnap]")); !strings.Contains(got, "No frame yet: last capture timeout") {
		t.Errorf("hung's picture reads %q", got)
	}
	// A camera that never had a frame: nothing asked, nothing refused.
	if r := b.responses("/api/cameras/hung/snapshot.jpg"); len(r) != 0 {
		t.Errorf("the page asked for the snapshot of a camera that never had one: %v", r)
	}

	// Capture now: the card's last capture keeps saying how it came, and
	// the result goes by itself.
	good := `document.querySelector('#camera-list [data-camera="good"]')`
	b.waitJS(15*time.Second, "good's frame", good+`.querySelector("[data-role=snapshot]").naturalWidth > 0`)
	before := b.text(cam("good", "[data-role=last-capture-at]"))
	b.click(cam("good", "[data-action=capture]"))
	b.waitJS(20*time.Second, "the capture's result", good+`.querySelector("[data-role=result]").dataset.outcome === "ok"`)
	b.waitJS(10*time.Second, "the operator's capture on the card (pushed)", fmt.Sprintf(
		good+`.querySelector("[data-role=outcomes]").dataset.count === "2" && `+good+`.querySelector("[data-role=last-capture-at]").textContent !== %s`, jsString(before)))
	if last := b.text(cam("good", "[data-role=last-capture]")); !strings.Contains(last, "via ffmpeg") {
		t.Errorf("good's last capture reads %q: the way it came is gone", last)
	}
	b.shot("cards")
	b.waitJS(20*time.Second, "the capture's result gone by itself", good+`.querySelector("[data-role=result]").hidden`)

	// Restart, then reload: the camera still shows its last frame.
	b.click(cam("good", "[data-action=restart]"))
	b.click(cam("good", "[data-action=restart-confirm]"))
	b.waitJS(30*time.Second, "the restart's result", good+`.querySelector("[data-role=result]").dataset.outcome === "ok"`)
	b.run("reload", chromedp.Reload())
	b.waitReady()
	b.waitJS(10*time.Second, "good's frame after the restart", good+`.querySelector("[data-role=snapshot]").naturalWidth > 0 && `+good+`.querySelector("[data-role=nosnap]").hidden`)
	for _, r := range b.responses("/snapshot.jpg") {
		if !strings.HasPrefix(r, "200 ") {
			t.Errorf("after the restart the page got %s", r)
		}
	}
	var cameras struct {
		Cameras []struct {
			ID          string
			FrameAt     *string                   `json:"frame_at"`
			LastCapture *struct{ Outcome string } `json:"last_capture"`
		} `json:"cameras"`
	}
	st.get("/api/cameras", &cameras)
	for _, c := range cameras.Cameras {
		if c.ID == "good" && (c.FrameAt == nil || c.LastCapture == nil) {
			t.Errorf("after its restart the API says good has frame %v, last capture %v", c.FrameAt, c.LastCapture)
		}
	}

	// Signing out is not an error.
	b.click("#logout")
	b.waitVisible("#login-token", 10*time.Second)
	if note := b.text("#login-note"); note != "Signed out." {
		t.Errorf("after signing out the note reads %q", note)
	}
	if eval[bool](b, `!document.getElementById("login-error").hidden`) {
		t.Errorf("signing out shows an error: %q", b.text("#login-error"))
	}
	b.shot("signed-out")
}

// TestBrowserBusyNight: two cameras in motion play live, one camera fails,
// events grow. At 1440×1000 the live views leave the cameras in sight,
// the failing camera first; an event's row counts its detections as they
// come; "extended" says what it means.
func TestBrowserBusyNight(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "yard", Mode: camsim.ModeMotion}, camsim.Camera{Name: "gate", Mode: camsim.ModeMotion},
		camsim.Camera{Name: "front", Mode: camsim.ModeStatic}, camsim.Camera{Name: "shed", Refuse: true}, camsim.Camera{Name: "porch", Mode: camsim.ModeStatic})
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.Subnets[0].Interval = config.D(time.Second)
		cfg.Detector.MinScore = 0.01
		cfg.Detector.EventGap = config.D(time.Hour) // later detections join their event: its count grows
		cfg.Playback.MinScore = 0.01
		cfg.Playback.MaxLive = 2
		cfg.Alerts.CameraFailingAfter = 2
	})
	b := newBrowser(t, st)
	b.run("a 1440×1000 screen", chromedp.EmulateViewport(1440, 1000))
	b.signIn("/")

	b.waitJS(30*time.Second, "two cameras playing and shed failing", `document.querySelectorAll("#live-list .live-item").length === 2 &&
		document.querySelector('#camera-list [data-camera="shed"]').dataset.failing === "true"`)
	// Sorted by state: failing cards first (shed, and any other camera the
	// busy machine made fail), then the others.
	if order := eval[[]string](b, `[...document.querySelectorAll("#camera-list .card")].map(c => c.dataset.camera + ":" + c.dataset.state)`); !failingFirst(order, "shed") {
		t.Errorf("sorted by state the cards read %v: want shed among the failing ones, all before the rest", order)
	}
	// The header shows the machine-wide admission as /api/status does (the
	// limit adapts, so they agree at some instant, not at every one).
	testkit.Eventually(t, 10*time.Second, "the header's admission limit equal to /api/status's", func() bool {
		var s struct {
			Admission struct{ Limit int } `json:"admission"`
		}
		st.get("/api/status", &s)
		shown := eval[string](b, `document.getElementById("hdr-admission").dataset.limit || ""`)
		return s.Admission.Limit > 0 && shown == strconv.Itoa(s.Admission.Limit)
	})
	// The failing camera's card, its outcomes strip and its buttons are in
	// sight below the live views.
	b.waitJS(5*time.Second, "shed's card in sight", `(() => {
		const c = document.querySelector('#camera-list [data-camera="shed"]');
		const strip = c.querySelector("[data-role=outcomes]").getBoundingClientRect();
		return c.getBoundingClientRect().top >= 0 && strip.bottom <= window.innerHeight; })()`)
	// The strip comes with the camera's next pushed message (they are
	// coalesced): its failures are there soon after the badge says failing.
	b.waitJS(5*time.Second, "shed's failures on its strip",
		`document.querySelectorAll('[data-camera="shed"] [data-role=outcomes] .tick[data-kind=failed]').length >= 2`)
	// Sorting as configured puts front first (camsim lists its cameras by name).
	b.choose("#camera-sort", "config")
	b.waitJS(5*time.Second, "the configured order", `document.querySelector("#camera-list .card").dataset.camera === "front"`)
	b.choose("#camera-sort", "state")
	b.waitJS(5*time.Second, "failing first again", `document.querySelector("#camera-list .card").dataset.state === "failing"`)

	b.waitJS(30*time.Second, "a playback extended by a new detection", `document.querySelector('#live-list .live-item[data-extended="true"]')`)
	if title := eval[string](b, `document.querySelector('#live-list .live-item[data-extended="true"] [data-role=extended]').title`); !strings.Contains(title, "detection") {
		t.Errorf("the extended badge explains nothing: title %q", title)
	}
	if eval[bool](b, `document.getElementById("live-extended-note").hidden`) {
		t.Error("no note says what extended means")
	}
	b.shot("busy-night")
	b.readmeShot()

	// An event's row counts its detections as they join, without a reload.
	b.view("events")
	b.waitJS(15*time.Second, "an event listed", `document.querySelector("#event-list tr[data-event-id]")`)
	row := `document.querySelector("#event-list tr[data-event-id]")`
	id := eval[string](b, row+`.dataset.eventId`)
	n0 := eval[int](b, `+`+row+`.querySelector("[data-field=detections]").textContent`)
	sel := fmt.Sprintf(`document.querySelector('#event-list tr[data-event-id="%s"] [data-field=detections]')`, id)
	b.waitJS(20*time.Second, "the row's count growing", fmt.Sprintf(`+%s.textContent >= %d`, sel, n0+2))
	shown := eval[int](b, `+`+sel+`.textContent`)
	testkit.Eventually(t, 10*time.Second, "the record's count as high as the row's", func() bool {
		return st.dbInt(`SELECT detections FROM events WHERE id = ?`, id) >= shown
	})
	// A row drawn from history after a reload counts on too.
	b.run("reload", chromedp.Reload())
	b.waitReady()
	b.waitJS(10*time.Second, "the event listed from history", sel)
	n1 := eval[int](b, `+`+sel+`.textContent`)
	b.waitJS(20*time.Second, "the history row's count growing", fmt.Sprintf(`+%s.textContent > %d`, sel, n1))
}

// TestBrowserHTMLReport opens the incident report made from a copy of a
// record, as a file, in the browser: every chart has marks, nothing is
// fetched.
func TestBrowserHTMLReport(t *testing.T) {
	dir := t.TempDir()
	if _, err := dbtest.Incident(filepath.Join(dir, "live.db"), time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(dir, "incident.db")
	if err := db.Backup(context.Background(), filepath.Join(dir, "live.db"), cp); err != nil {
		t.Fatal(err)
	}
	s, err := db.OpenReadOnly(cp)
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	err = s.HTMLReport(&page, db.ReportOptions{})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, nil)
	b.run("open the report", chromedp.Navigate("file://"+file))
	b.waitJS(10*time.Second, "the report drawn", `document.querySelectorAll("svg[data-chart]").length === 5`)
	for chart, mark := range map[string]string{"leak": "processes", "timeline": "process", "heatmap": "captures", "cycles": "cycle", "alerts": "alert"} {
		n := eval[int](b, fmt.Sprintf(`document.querySelectorAll('svg[data-chart=%q] [data-mark=%q]').length`, chart, mark))
		if n == 0 {
			t.Errorf("chart %s shows no %s marks", chart, mark)
		}
		// Marks are drawn, not only present: they have an area on screen.
		if eval[bool](b, fmt.Sprintf(`[...document.querySelectorAll('svg[data-chart=%q] [data-mark=%q]')].every(e => { const r = e.getBoundingClientRect(); return r.width === 0 && r.height === 0; })`, chart, mark)) {
			t.Errorf("chart %s: no %s mark takes room on the page", chart, mark)
		}
	}
	rows := eval[int](b, `new Set([...document.querySelectorAll('svg[data-chart=timeline] rect[data-mark=process][data-camera=attic][data-key=reaped]')].map(r => r.getAttribute("y"))).size`)
	if rows != dbtest.Leaked {
		t.Errorf("the timeline shows attic's leak as %d overlapping bars, want %d", rows, dbtest.Leaked)
	}
	if r := eval[[]string](b, `performance.getEntriesByType("resource").map(e => e.name)`); len(r) != 0 {
		t.Errorf("the report fetched %v", r)
	}
	b.run("a 1360×1000 screen", chromedp.EmulateViewport(1360, 1000))
	b.shot("report")
	if os.Getenv("CAMVISOR_README_SHOT") == "1" {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("report.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote web/report.png (%d bytes)", len(png))
	}
}
