package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/go2rtc/go2rtctest"
	"camvisor/actors/testkit"
	"camvisor/messages"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestBrowserUnderContentPolicy: the dashboard works whole under its
// content security policy — sign-in, the WebSocket, the cards' pictures,
// the charts with their legends, and go2rtc's player in its frame — and
// the browser reports no violation of the policy.
func TestBrowserUnderContentPolicy(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front", Mode: camsim.ModeStatic})
	var g2 *go2rtctest.Server
	st := startStack(t, cams, func(cfg *config.Config) {
		g2 = go2rtctest.New(t, go2rtctest.Options{})
		cfg.Go2RTC.URL = g2.URL()
		cfg.Go2RTC.Lease = config.D(time.Minute)
		cfg.Record.SampleInterval = config.D(200 * time.Millisecond)
		cfg.Subnets[0].Interval = config.D(time.Second)
	})
	b := newBrowser(t, st)
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.__csp = [];
		document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	b.signIn("/")
	b.click(cam("front", "[data-action=live]"))
	player := `#live-pane .live-item[data-camera="front"] iframe[data-role=player]`
	b.waitVisible(player, 15*time.Second)
	b.waitPlayerFrame(player)
	b.waitJS(15*time.Second, "a picture on front's card", `(() => { const i = document.querySelector('[data-camera="front"] [data-role=snapshot]'); return i && i.complete && i.naturalWidth > 0; })()`)
	b.view("charts")
	b.waitJS(30*time.Second, "a chart legend with its colour", `(() => { const l = document.querySelector("#view-charts .swatch line"); return l && getComputedStyle(l).stroke !== "none"; })()`)
	if v := eval[[]string](b, `window.__csp`); len(v) > 0 {
		t.Errorf("the content policy was violated: %s", strings.Join(v, "; "))
	}

	// Signing out ends the session on the server: its WebSocket closes and
	// the sign-in form shows.
	mark := st.facts.Mark()
	b.click("#logout")
	b.waitVisible("#login-token", 10*time.Second)
	testkit.WaitFor(t, st.facts, mark, 10*time.Second, "the dashboard's WebSocket closed", func(*messages.ClientLeft) bool { return true })
	if code := eval[int](b, `fetch("api/status", {credentials: "same-origin"}).then((r) => r.status)`, chromedp.EvalAwaitPromise); code != 401 {
		t.Errorf("after signing out the page's requests answer %d, want 401", code)
	}
}
