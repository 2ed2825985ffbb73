package web

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"camvisor/actors/testkit"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium, installed by `make deps`.
const chromiumPath = "/usr/bin/chromium"

// browser is one headless Chromium with one tab on a stack's dashboard.
// Tests operate the page as an operator would (clicks, typing) and read it
// with small JavaScript expressions; they wait on conditions with
// deadlines, never with fixed sleeps.
type browser struct {
	t     *testing.T
	st    *stack
	ctx   context.Context
	shots string // this test's screenshot folder

	mu      sync.Mutex
	console []string // what the page logged, for a failure report
	thrown  []string // uncaught exceptions: each one fails the test
}

// newBrowser starts Chromium for st. It fails (never skips) without
// Chromium. It is closed at the test's end, before the stack stops.
//
// st may be nil for a browser that opens files, not a dashboard.
func newBrowser(t *testing.T, st *stack) *browser {
	t.Helper()
	return newBrowserWith(t, st)
}

// newBrowserWith is newBrowser with more Chromium options (a language).
func newBrowserWith(t *testing.T, st *stack, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s: %v: install chromium (make deps)", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &browser{t: t, st: st, ctx: ctx, shots: screenshotDir(t)}
	t.Cleanup(func() {
		closeCtx, done := context.WithTimeout(ctx, 10*time.Second)
		_ = chromedp.Cancel(closeCtx)
		done()
		cancel()
		cancelAlloc() // waits for Chromium to exit
		b.mu.Lock()
		defer b.mu.Unlock()
		if t.Failed() && len(b.console) > 0 {
			t.Logf("browser console:\n  %s", strings.Join(b.console, "\n  "))
		}
	})
	if err := chromedp.Do(ctx); err != nil { // starts Chromium and opens the tab
		t.Fatalf("start chromium: %v", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m.String())
			if m.IsException() {
				b.thrown = append(b.thrown, m.String())
			}
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, e := range b.thrown {
			t.Errorf("uncaught exception in the page: %s", e)
		}
	})
	return b
}

// screenshotDir is a fresh folder for t's screenshots: under
// $CAMVISOR_SCREENSHOTS when set (kept after the test), else in t's
// temporary folder.
func screenshotDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("CAMVISOR_SCREENSHOTS")
	if root == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	dir, err := os.MkdirTemp(root, name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// run runs actions, failing the test on error.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open loads a page of the dashboard (path relative to the server's root).
func (b *browser) open(path string) {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.st.srv.URL()+strings.TrimPrefix(path, "/")))
}

// eval evaluates a JavaScript expression and decodes its value into T.
func eval[T any](b *browser, expr string, opts ...chromedp.EvaluateOption) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// waitJS polls a JavaScript expression until it is true, or fails naming
// what it waited for and what the page shows.
func (b *browser) waitJS(timeout time.Duration, what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	wrapped := fmt.Sprintf("(() => { try { return !!(%s); } catch (e) { return false; } })()", expr)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](wrapped))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("after %s still waiting for: %s (%s)\npage: %s", timeout, what, expr, b.describePage())
		}
		time.Sleep(50 * time.Millisecond) // polling pace, not a wait for a condition
	}
}

// describePage is a short account of what the page shows, for failures.
func (b *browser) describePage() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const vis = (id) => { const e = document.getElementById(id); return e ? (e.hidden ? "hidden" : "shown") : "missing"; };
		const txt = (id) => { const e = document.getElementById(id); return e ? e.textContent.trim().slice(0, 200) : ""; };
		return JSON.stringify({url: location.href, login: vis("login"), loginError: txt("login-error"), app: vis("app"),
			ws: txt("hdr-ws"), livePane: vis("live-pane"), live: txt("live-list"),
			results: [...document.querySelectorAll("[data-role=result]")].map(e => e.textContent).filter(Boolean),
			view: document.body.dataset.view});
	})()`))
	if err != nil {
		return fmt.Sprintf("(cannot read the page: %v)", err)
	}
	return s
}

// click clicks the first visible element matching a CSS selector, with the
// mouse, as an operator would.
// A list the WebSocket re-renders may replace the node between the moment
// it is found and the click, as it may under a person's pointer: the click
// is tried again on the element that now matches, as a person would.
func (b *browser) click(sel string) {
	b.t.Helper()
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
		cancel()
		if err == nil {
			return
		}
		if try == 5 || !strings.Contains(err.Error(), "Could not find node with given id") {
			b.t.Fatalf("click %s: %v", sel, err)
		}
	}
}

// waitVisible waits for an element matching a CSS selector to be visible.
func (b *browser) waitVisible(sel string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("waiting %s for %s to be visible: %v\npage: %s", timeout, sel, err, b.describePage())
	}
}

// text is the text of the first element matching a CSS selector.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf("(document.querySelector(%s) || {}).textContent || ''", jsString(sel)))
}

// choose selects value in a <select> and fires its change event, as
// picking it with the mouse or keyboard does.
func (b *browser) choose(sel, value string) {
	b.t.Helper()
	ok := eval[bool](b, fmt.Sprintf(`(() => { const s = document.querySelector(%s);
		if (!s || ![...s.options].some(o => o.value === %s)) return false;
		s.focus(); s.value = %s; s.dispatchEvent(new Event("input", {bubbles: true})); s.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`,
		jsString(sel), jsString(value), jsString(value)))
	if !ok {
		b.t.Fatalf("%s has no option %q\npage: %s", sel, value, b.describePage())
	}
}

// login signs in through the form with token.
func (b *browser) login(token string) {
	b.t.Helper()
	b.waitVisible("#login-token", 10*time.Second)
	b.run("type the token",
		chromedp.Clear(chromedp.CSS("#login-token")),
		chromedp.SendKeys(chromedp.CSS("#login-token"), token),
		chromedp.Click(chromedp.CSS("#login-submit"), chromedp.NodeVisible))
}

// signIn opens the dashboard at path and signs in with the stack's token;
// it returns once the cameras show and the WebSocket has delivered what
// the server sends on connecting.
func (b *browser) signIn(path string) {
	b.t.Helper()
	b.open(path)
	b.login(b.st.token)
	b.waitReady()
}

// waitReady waits for a loaded dashboard: cameras listed, WebSocket
// connected and its on-connect messages applied.
func (b *browser) waitReady() {
	b.t.Helper()
	b.waitJS(15*time.Second, "the cameras listed and the WebSocket synced",
		`document.querySelector("#camera-list [data-camera]") && document.body.dataset.synced === "true"`)
}

// view switches to a view with its tab. A page that reflows between
// finding the tab and the click (a banner's text changing) makes the
// click miss, as it would an operator's: then it clicks again.
func (b *browser) view(name string) {
	b.t.Helper()
	shown := fmt.Sprintf(`!document.getElementById(%s).hidden`, jsString("view-"+name))
	for range 3 {
		b.click("#tab-" + name)
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if eval[bool](b, shown) {
				return
			}
			time.Sleep(50 * time.Millisecond) // polling pace, not a wait for a condition
		}
	}
	b.t.Fatalf("the %s tab, clicked three times, did not show its view\npage: %s", name, b.describePage())
}

// shot saves a full-page screenshot as <name>.png in the test's folder.
func (b *browser) shot(name string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	// From the top: the sticky header stays where a reader expects it.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`)); err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return png
}

// readmeShot writes the README's picture of the dashboard, only when
// CAMVISOR_README_SHOT=1: normal runs leave the tracked file alone.
func (b *browser) readmeShot() {
	b.t.Helper()
	if os.Getenv("CAMVISOR_README_SHOT") != "1" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0); document.activeElement && document.activeElement.blur()`)); err != nil {
		b.t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()) // what the screen shows: the picture stays small
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile("dashboard.png", png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("wrote web/dashboard.png (%d bytes)", len(png))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// cam is a CSS selector inside a camera's card.
func cam(id, inner string) string {
	return fmt.Sprintf("#camera-list [data-camera=%q] %s", id, inner)
}

// procAlive reports whether /proc shows pid as a live (not zombie) process.
func procAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses, which may hold spaces.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// dbInt runs a COUNT-style query on the record.
func (st *stack) dbInt(query string, args ...any) int {
	st.t.Helper()
	var n int
	if err := st.store.DB.Get(&n, query, args...); err != nil {
		st.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// waitPlayerFrame waits until the go2rtc player in the iframe at sel shows
// a frame: its <img id="frame"> has pixels. The player is on another
// origin, so the page's own script cannot look inside; the DevTools
// protocol can, the iframe being of the same site.
func (b *browser) waitPlayerFrame(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(sel), chromedp.NodeVisible, chromedp.Populate(-1, true)))
	if err != nil || len(nodes) == 0 {
		b.t.Fatalf("player %s: %v", sel, err)
	}
	err = chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#frame"), chromedp.FromNode(nodes[0])))
	if err != nil {
		b.t.Fatalf("no frame in the player %s within 15s: %v", sel, err)
	}
}

// tabTo presses Tab until the element at sel has the focus, at most max
// times: it is reachable with the keyboard alone.
func (b *browser) tabTo(sel string, max int) {
	b.t.Helper()
	check := fmt.Sprintf(`document.activeElement === document.querySelector(%s)`, jsString(sel))
	for range max {
		b.run("press Tab", chromedp.KeyEvent("\t"))
		if eval[bool](b, check) {
			return
		}
	}
	b.t.Fatalf("%s not reached with %d presses of Tab; focus is on %s", sel, max,
		eval[string](b, `document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : "nothing"`))
}

// noSecret fails the test if the camera password appears anywhere in the
// page, attributes included (invariant 6).
func (b *browser) noSecret() {
	b.t.Helper()
	if html := eval[string](b, `document.documentElement.outerHTML`); strings.Contains(html, testkit.CamsimPassword) {
		b.t.Errorf("the camera password is in the page")
	}
}

// darkScheme makes the page see prefers-color-scheme: dark.
func (b *browser) darkScheme() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
	})
	if err != nil {
		b.t.Fatalf("dark scheme: %v", err)
	}
}

// timezone makes the page's clock read in zone (an IANA name).
func (b *browser) timezone(zone string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone}); err != nil {
		b.t.Fatalf("time zone %s: %v", zone, err)
	}
}

// responses lists the page's requests whose URL contains part, with the
// HTTP status each got, as the browser's resource timing records them
// (since the last page load).
func (b *browser) responses(part string) []string {
	b.t.Helper()
	return eval[[]string](b, fmt.Sprintf(`performance.getEntriesByType("resource")
		.filter(e => e.name.includes(%s)).map(e => e.responseStatus + " " + e.name)`, jsString(part)))
}

// seconds reads a duration as the dashboard writes it (42 s, 3 min 5 s,
// 2 h 10 min) in seconds.
func seconds(t *testing.T, text string) float64 {
	t.Helper()
	total := 0.0
	f := strings.Fields(text)
	for i := 0; i+1 < len(f); i += 2 {
		n, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			t.Fatalf("duration %q: %v", text, err)
		}
		switch f[i+1] {
		case "s":
			total += n
		case "min":
			total += 60 * n
		case "h":
			total += 3600 * n
		case "d":
			total += 86400 * n
		default:
			t.Fatalf("duration %q: unknown unit %q", text, f[i+1])
		}
	}
	return total
}
