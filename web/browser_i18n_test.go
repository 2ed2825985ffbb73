package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"

	"github.com/chromedp/chromedp"
)

// techWords are the words a Japanese page may still write in Latin
// letters: names of programs and formats, and units, as Japanese
// operators write them too.
var techWords = []string{"camvisor", "ffmpeg", "go2rtc", "proc", "max_connections", "sqlite", "sqlite3", "html", "http",
	"pid", "ppid", "pgid", "kb", "mb", "enabled", "false"}

// untranslated is a script run in the page: every text node and every
// title, aria-label, alt and placeholder outside translate="no" (the
// elements that hold data: ids, paths, what an operator typed) is checked
// for English: a text equal to one of the English catalogue's, or any
// word in Latin letters that is neither a name of the test's data nor a
// technical term. URLs are data too, and so is an attribute an element
// names in data-i18n-raw. It also lists the keys the Japanese
// catalogue lacks. A string hard-coded in the page or a script, or taken
// from the English catalogue, is found.
const untranslated = `(async (allowed, data) => {
	const { CATALOGUES } = await import("./i18n.js");
	const en = CATALOGUES.en, ja = CATALOGUES.ja;
	const missing = Object.keys(en).filter((k) => !(k in ja));
	const english = new Set(Object.values(en).flatMap((v) => typeof v === "object" ? Object.values(v) : [v])
		.map((s) => s.trim()).filter((s) => /[A-Za-z]{2}/.test(s)));
	const ok = new Set(allowed.map((w) => w.toLowerCase()));
	const bad = [];
	const where = (e) => {
		const parts = [];
		for (let x = e; x && x !== document.body && parts.length < 4; x = x.parentElement) {
			parts.unshift(x.tagName.toLowerCase() + (x.id ? "#" + x.id : "") + (x.dataset && x.dataset.role ? "[" + x.dataset.role + "]" : ""));
		}
		return parts.join(">");
	};
	const check = (text, at) => {
		let s = text.trim();
		if (!s) return;
		if (english.has(s)) { bad.push(at + ": " + JSON.stringify(s) + " is an English catalogue text"); return; }
		s = s.replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, " ");
		for (const d of data) s = s.split(d).join(" ");
		const words = (s.match(/[A-Za-z][A-Za-z0-9_'-]+/g) || []).filter((w) => !ok.has(w.toLowerCase()));
		if (words.length) bad.push(at + ": " + JSON.stringify(text.trim()) + " has English: " + words.join(" "));
	};
	const skip = (e) => !e || e.closest("[translate=no], script, style, noscript");
	const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n = walker.nextNode(); n; n = walker.nextNode()) {
		if (!skip(n.parentElement)) check(n.textContent, where(n.parentElement));
	}
	for (const e of document.body.querySelectorAll("[title], [aria-label], [alt], [placeholder]")) {
		if (skip(e)) continue;
		const raw = (e.dataset.i18nRaw || "").split(" ");
		for (const a of ["title", "aria-label", "alt", "placeholder"]) {
			if (e.hasAttribute(a) && !raw.includes(a)) check(e.getAttribute(a), where(e) + "@" + a);
		}
	}
	return { missing, bad, lang: document.documentElement.lang };
})`

// pageCheck is what untranslated found.
type pageCheck struct {
	Missing []string `json:"missing"`
	Bad     []string `json:"bad"`
	Lang    string   `json:"lang"`
}

// checkJapanese fails the test for every English string the page shows.
func (b *browser) checkJapanese(what string, data []string) {
	b.t.Helper()
	allowed := append(append([]string{}, techWords...), data...)
	expr := fmt.Sprintf("%s(%s, %s)", untranslated, jsList(allowed), jsList(data))
	got := eval[pageCheck](b, expr, chromedp.EvalAwaitPromise)
	if got.Lang != "ja" {
		b.t.Errorf("%s: the page's language is %q, want ja", what, got.Lang)
	}
	if len(got.Missing) > 0 {
		b.t.Errorf("the Japanese catalogue lacks %d keys: %s", len(got.Missing), strings.Join(got.Missing, ", "))
	}
	for _, s := range got.Bad {
		b.t.Errorf("%s: not from the Japanese catalogue: %s", what, s)
	}
}

func jsList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = jsString(x)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// TestBrowserJapaneseDashboard: a browser whose language is Japanese gets
// the whole dashboard in Japanese — the sign-in form, the header, the
// cards (a camera named 玄関 among them), the pause dialog, the events,
// the actor tree, the charts — every visible text from the Japanese
// catalogue; times in the browser's time zone (Asia/Tokyo here, the
// server's being UTC). The header's switch turns it English and the
// choice outlives a reload; switched back, it is Japanese again.
func TestBrowserJapaneseDashboard(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "genkan", Mode: camsim.ModeStatic}, camsim.Camera{Name: "garage", Mode: camsim.ModeStatic})
	st := startStack(t, cams, func(cfg *config.Config) {
		for i, c := range cfg.Subnets[0].Cameras {
			if c.ID == "genkan" {
				cfg.Subnets[0].Cameras[i].Name = "玄関"
				cfg.Subnets[0].Cameras[i].Motion.Masks = [][]float64{{0, 0, 0.5, 0, 0.5, 0.1, 0, 0.1}}
			}
		}
		cfg.Subnets[0].Interval = config.D(2 * time.Second)
	})
	b := newBrowserWith(t, st, chromedp.Flag("lang", "ja"), chromedp.Flag("accept-lang", "ja-JP,ja"))
	b.timezone("Asia/Tokyo")
	// The test's data: camera ids and subnet, the run's id and version.
	data := []string{"genkan", "garage", "lab", st.env.RunID, "test"}

	b.open("/")
	b.waitVisible("#login-token", 10*time.Second)
	if langs := eval[string](b, `navigator.languages.join(",")`); !strings.HasPrefix(langs, "ja") {
		t.Fatalf("the browser's languages are %q, want Japanese first", langs)
	}
	b.waitJS(5*time.Second, "the sign-in form in Japanese", `document.getElementById("login-submit").textContent === "サインイン"`)
	b.checkJapanese("sign-in", data)
	b.login(st.token)
	b.waitReady()
	b.waitJS(20*time.Second, "both cards with a frame", `document.querySelectorAll("#camera-list [data-role=snapshot]:not([hidden])").length === 2`)
	if title := b.text(cam("genkan", "h3")); title != "玄関" {
		t.Errorf("genkan's card is titled %q, want its name 玄関", title)
	}
	b.checkJapanese("cameras", data)

	// Times are the browser's: the uptime's start in Tokyo's time.
	started := eval[int64](b, `+document.getElementById("hdr-uptime").dataset.startedAt`)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	want := time.UnixMilli(started).In(tokyo).Format("15:04:05")
	if title := eval[string](b, `document.getElementById("hdr-uptime").title`); !strings.Contains(title, want) {
		t.Errorf("the uptime's start reads %q, want Tokyo's %s", title, want)
	}

	// The pause dialog, open.
	b.click(cam("genkan", "[data-action=pause]"))
	b.waitVisible("#pause-dialog", 5*time.Second)
	b.checkJapanese("the pause dialog", data)
	b.click("#pause-cancel")

	for _, view := range []string{"events", "actors", "charts"} {
		b.view(view)
		switch view {
		case "actors":
			b.waitJS(10*time.Second, "the actor tree", `document.querySelector("#actor-tree li[data-kind=camera]") && document.getElementById("processes-updated").textContent !== ""`)

		case "charts":
			b.waitJS(15*time.Second, "the charts drawn", `document.querySelector("#chart-processes svg, #chart-processes p") && document.querySelector("#chart-cycles svg, #chart-cycles p")`)
		}
		b.checkJapanese(view, data)
	}
	b.shot("japanese-charts")
	b.view("cameras")
	b.shot("japanese-cameras")

	// The header's switch: English, kept across a reload.
	b.choose("#lang-switch", "en")
	b.waitJS(5*time.Second, "the page in English", `document.getElementById("tab-cameras").textContent === "Cameras" && document.documentElement.lang === "en"`)
	if badge := b.text(cam("garage", "[data-role=status]")); badge == "" || strings.ContainsFunc(badge, func(r rune) bool { return r > 0x3000 }) {
		t.Errorf("after switching to English a card's badge reads %q", badge)
	}
	b.open("/")
	b.waitReady()
	b.waitJS(5*time.Second, "English after a reload", `document.getElementById("tab-events").textContent.startsWith("Events")`)
	b.choose("#lang-switch", "ja")
	b.waitJS(5*time.Second, "Japanese again", `document.getElementById("tab-cameras").textContent === "カメラ"`)
	b.checkJapanese("cameras after switching back", data)
}
