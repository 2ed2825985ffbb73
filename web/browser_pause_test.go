package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/messages"

	"github.com/chromedp/chromedp"
)

// TestBrowserPauseAndResume: an operator pauses a camera from its card
// (its stream-mode ffmpeg running) with the dialog: an hour, a reason.
// The backend kills and reaps its process, records the pause with the
// session that asked and the reason, and the card says paused, by whom
// and why; a capture asked of it is refused. Resume from the card: the
// record says who resumed it, and the camera streams again.
func TestBrowserPauseAndResume(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front", Mode: camsim.ModeStatic}, camsim.Camera{Name: "back", Mode: camsim.ModeStatic})
	st := startStack(t, cams, func(cfg *config.Config) {
		for i, c := range cfg.Subnets[0].Cameras {
			if c.ID == "front" {
				cfg.Subnets[0].Cameras[i].Mode = config.ModeStream // one ffmpeg that stays: the pause must stop it
			}
		}
	})
	b := newBrowser(t, st)
	b.signIn("/")
	stream := waitFFmpeg(t, st, "front")

	b.click(cam("front", "[data-action=pause]"))
	b.waitVisible("#pause-dialog", 5*time.Second)
	b.choose("#pause-for", "1h")
	b.run("type the reason", chromedp.SendKeys(chromedp.CSS("#pause-reason"), "lens cleaning"))
	b.click("#pause-submit")
	b.waitJS(20*time.Second, "the card paused and the result shown",
		`document.querySelector('[data-camera="front"]').dataset.paused === "true" && document.querySelector('[data-camera="front"] [data-role=result]')?.dataset.outcome === "ok"`)
	if eval[bool](b, `document.getElementById("pause-dialog").open`) {
		t.Error("the pause dialog stays open after the pause")
	}

	// The backend: the process reaped, the pause recorded with who and why.
	if procAlive(stream) {
		t.Errorf("front's stream ffmpeg %d is alive after the pause", stream)
	}
	if killed := eval[string](b, `document.querySelector('[data-camera="front"] [data-role=result]').dataset.killed`); killed != strconv.Itoa(stream) {
		t.Errorf("the card says the pause stopped pids %q, want %d", killed, stream)
	}
	var who, why string
	testkit.Eventually(t, 10*time.Second, "the pause in the record", func() bool {
		return st.store.DB.QueryRow(`SELECT who, why FROM camera_pauses WHERE camera = 'front' AND ended_at IS NULL`).Scan(&who, &why) == nil
	})
	if !strings.HasPrefix(who, "session ") || why != "lens cleaning" {
		t.Errorf("camera_pauses: who %q, why %q; want the dashboard's session and the reason typed", who, why)
	}
	var until string
	if err := st.store.DB.Get(&until, `SELECT until FROM camera_pauses WHERE camera = 'front' AND ended_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	if u, err := time.Parse("2006-01-02T15:04:05.000Z", until); err != nil || math.Abs(time.Until(u).Minutes()-60) > 2 {
		t.Errorf("the pause ends at %s, want in an hour", until)
	}
	if by := b.text(cam("front", "[data-role=pause-by]")); by != who {
		t.Errorf("the card says paused by %q, the record %q", by, who)
	}
	if r := b.text(cam("front", "[data-role=pause-reason]")); r != "lens cleaning" {
		t.Errorf("the card's reason reads %q", r)
	}
	if badge := b.text(cam("front", "[data-role=status]")); badge != "paused" {
		t.Errorf("the paused card's badge reads %q", badge)
	}
	if n := testkit.Count(st.facts, testkit.Start, func(e *messages.ProcessExited) bool {
		return e.OSPID == stream && e.StopReason == messages.StopPaused
	}); n != 1 {
		t.Errorf("the stream's exit recorded %d times with stop reason paused", n)
	}
	b.shot("paused")

	// No process of a paused camera: a capture is refused.
	b.click(cam("front", "[data-action=capture]"))
	b.waitJS(10*time.Second, "the capture refused", `document.querySelector('[data-camera="front"] [data-role=result][data-action=capture]')?.dataset.outcome === "error"`)
	if msg := b.text(cam("front", "[data-role=result]")); !strings.Contains(msg, "paused") {
		t.Errorf("the refused capture reads %q", msg)
	}
	if procs := testkit.FFmpeg(st.env.RunID); len(procs) > 0 {
		for _, p := range procs {
			if p.Camera() == "front" && !p.Zombie() {
				t.Errorf("front runs ffmpeg %d while paused", p.PID)
			}
		}
	}

	// Resume: the record says who; the stream comes back.
	b.click(cam("front", "[data-action=resume]"))
	b.waitJS(15*time.Second, "the card running again", `document.querySelector('[data-camera="front"]').dataset.paused === "false"`)
	var how, resumedBy string
	testkit.Eventually(t, 10*time.Second, "the pause ended in the record", func() bool {
		return st.store.DB.QueryRow(`SELECT ended_how, ended_by FROM camera_pauses WHERE camera = 'front'`).Scan(&how, &resumedBy) == nil
	})
	if how != "resumed" || resumedBy != who {
		t.Errorf("the pause ended %q by %q, want resumed by %q", how, resumedBy, who)
	}
	if again := waitFFmpeg(t, st, "front"); again == stream {
		t.Errorf("the stream after the pause is the old process %d", stream)
	}
}

// TestBrowserMaskOverlay: a camera's motion masks are drawn over its
// picture on the card, where they cover the picture as shown, and the
// card says how many there are; a camera without masks draws none.
func TestBrowserMaskOverlay(t *testing.T) {
	masks := [][]float64{{0, 0, 0.5, 0, 0.5, 0.2, 0, 0.2}, {0.6, 0.6, 0.9, 0.6, 0.75, 0.95}}
	// A wide picture in the card's 4:3 frame: letterboxed, so an overlay
	// laid over the frame instead of the picture shows.
	cams := testkit.CamsimWith(t, camsim.Options{Width: 640, Height: 352},
		camsim.Camera{Name: "front", Mode: camsim.ModeStatic}, camsim.Camera{Name: "back", Mode: camsim.ModeStatic})
	st := startStack(t, cams, func(cfg *config.Config) {
		for i, c := range cfg.Subnets[0].Cameras {
			if c.ID == "front" {
				cfg.Subnets[0].Cameras[i].Motion.Masks = masks
			}
		}
	})
	// The backend serves them as configured.
	var answer struct {
		Cameras []struct {
			ID     string
			Motion struct{ Masks [][]float64 }
		}
	}
	st.get("/api/cameras", &answer)
	for _, c := range answer.Cameras {
		if want := map[string]int{"front": 2, "back": 0}[c.ID]; len(c.Motion.Masks) != want {
			t.Errorf("/api/cameras: %s has %d masks, want %d", c.ID, len(c.Motion.Masks), want)
		}
	}

	b := newBrowser(t, st)
	b.signIn("/")
	b.waitJS(20*time.Second, "front's picture and its masks drawn", `(() => {
		const img = document.querySelector('[data-camera="front"] [data-role=snapshot]');
		const o = document.querySelector('[data-camera="front"] [data-role=masks]');
		return img.naturalWidth > 0 && !img.hidden && o.style.display !== "none" && o.querySelectorAll("polygon").length === 2; })()`)
	points := eval[[]string](b, `[...document.querySelectorAll('[data-camera="front"] [data-role=masks] polygon')].map(p => p.getAttribute("points"))`)
	if len(points) != 2 || points[0] != "0,0 0.5,0 0.5,0.2 0,0.2" || points[1] != "0.6,0.6 0.9,0.6 0.75,0.95" {
		t.Errorf("the overlay's polygons are %q", points)
	}
	// The overlay covers the picture as shown (letterboxed in its frame):
	// the first mask's box is the picture's top-left half, a fifth high.
	type rect struct{ X, Y, W, H float64 }
	geom := eval[map[string]rect](b, `(() => {
		const r = (e) => { const b = e.getBoundingClientRect(); return {x: b.x, y: b.y, w: b.width, h: b.height}; };
		const card = document.querySelector('[data-camera="front"]');
		const img = card.querySelector('[data-role=snapshot]');
		const box = r(img), s = Math.min(box.w / img.naturalWidth, box.h / img.naturalHeight);
		const shown = {x: box.x + (box.w - img.naturalWidth * s) / 2, y: box.y + (box.h - img.naturalHeight * s) / 2,
			w: img.naturalWidth * s, h: img.naturalHeight * s};
		return {picture: shown, overlay: r(card.querySelector('[data-role=masks]')), mask: r(card.querySelector('[data-role=masks] polygon'))};
	})()`)
	pic, ov, m := geom["picture"], geom["overlay"], geom["mask"]
	near := func(a, b float64) bool { return math.Abs(a-b) <= 2 }
	if !near(ov.X, pic.X) || !near(ov.Y, pic.Y) || !near(ov.W, pic.W) || !near(ov.H, pic.H) {
		t.Errorf("the overlay %+v does not cover the picture as shown %+v", ov, pic)
	}
	if !near(m.X, pic.X) || !near(m.Y, pic.Y) || !near(m.W, pic.W/2) || !near(m.H, pic.H/5) {
		t.Errorf("the first mask is drawn at %+v, want the top-left half, a fifth high, of %+v", m, pic)
	}
	if note := b.text(cam("front", "[data-role=mask-note]")); !strings.Contains(note, "2 masked areas") {
		t.Errorf("the card's mask note reads %q", note)
	}
	if n := eval[int](b, `document.querySelectorAll('[data-camera="back"] [data-role=masks] polygon').length`); n != 0 {
		t.Errorf("a camera without masks has %d drawn", n)
	}
	if shown := eval[bool](b, `!document.querySelector('[data-camera="back"] [data-role=mask-note]').hidden`); shown {
		t.Error("a camera without masks has a mask note")
	}
	b.shot(fmt.Sprintf("masks-%d", len(masks)))
}
