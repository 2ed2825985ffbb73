package web

import (
	"bytes"
	"html"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/db"
)

// TestDisplayNames: a camera named 玄関 (id genkan, as URLs and files
// know it) is named so by GET /api/cameras, the text report (aligned by
// display width, the name beside the id) and the HTML report; a name full
// of HTML's special characters is shown as written, never as markup.
func TestDisplayNames(t *testing.T) {
	const odd = `Tom & "Jerry" <gate>`
	cams := testkit.Camsim(t, camsim.Camera{Name: "genkan", Mode: camsim.ModeStatic}, camsim.Camera{Name: "gate", Mode: camsim.ModeStatic},
		camsim.Camera{Name: "shed", Mode: camsim.ModeStatic})
	st := startStack(t, cams, func(cfg *config.Config) {
		for i, c := range cfg.Subnets[0].Cameras {
			switch c.ID {
			case "genkan":
				cfg.Subnets[0].Cameras[i].Name = "玄関"
			case "gate":
				cfg.Subnets[0].Cameras[i].Name = odd
			}
		}
	})
	testkit.Eventually(t, 20*time.Second, "every camera captured and on record", func() bool {
		return st.dbInt(`SELECT COUNT(DISTINCT camera) FROM captures WHERE outcome = 'ok'`) == 3
	})

	var answer struct {
		Cameras []struct{ ID, Name string }
	}
	if code := st.get("/api/cameras", &answer); code != 200 {
		t.Fatalf("GET /api/cameras: %d", code)
	}
	names := map[string]string{}
	for _, c := range answer.Cameras {
		names[c.ID] = c.Name
	}
	if names["genkan"] != "玄関" || names["gate"] != odd || names["shed"] != "shed" {
		t.Errorf("/api/cameras names %v; want genkan 玄関, gate %q and shed by its id", names, odd)
	}

	// The text report, as `camvisor db report` prints it.
	store, err := db.OpenReadOnly(st.env.Config.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var text bytes.Buffer
	if err := store.Report(&text, db.ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	section := text.String()[strings.Index(text.String(), "== Captures per camera by outcome"):]
	rows := strings.Split(section, "\n")[1:5]
	if !strings.HasPrefix(rows[0], "camera  name") {
		t.Fatalf("the captures table has no name column:\n%s", strings.Join(rows, "\n"))
	}
	// Every row's total starts in the header's "total" column, as a
	// terminal shows it (玄関 takes four columns, not two).
	col := width(rows[0][:strings.Index(rows[0], "total")])
	for _, r := range rows[1:] {
		f := strings.Fields(r)
		total := f[len(f)-7] // total ok timeout failed no_slot stopped last_ok
		if at := width(r[:strings.Index(r, " "+total+" ")+1]); at != col {
			t.Errorf("row %q: its total starts at column %d, the header's at %d", r, at, col)
		}
	}
	if !strings.Contains(section, "genkan  玄関") || !strings.Contains(section, odd) {
		t.Errorf("the text report does not name the cameras:\n%s", section)
	}
	text.Reset()
	if err := store.Report(&text, db.ReportOptions{Camera: "genkan"}); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(text.String(), "\n"); !strings.Contains(first, "camera 玄関 (genkan)") {
		t.Errorf("the narrowed report's first line: %q", first)
	}

	// The HTML report, as the dashboard links it.
	resp, body := st.do("GET", "/api/report.html", nil, true)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/report.html: %d", resp.StatusCode)
	}
	page := string(body)
	if !strings.Contains(page, "玄関 (genkan)") || !strings.Contains(page, ">玄関<") {
		t.Errorf("the HTML report does not name 玄関 in its charts and tables")
	}
	if strings.Contains(page, "<gate>") || strings.Contains(page, `"Jerry"`) {
		t.Errorf("the HTML report writes the name %q unescaped", odd)
	}
	if !strings.Contains(html.UnescapeString(page), odd+" (gate)") {
		t.Errorf("the HTML report does not show the name %q as written", odd)
	}
	resp, body = st.do("GET", "/api/report.html?camera=genkan", nil, true)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "camera 玄関 (genkan)") {
		t.Errorf("the narrowed HTML report: %d, names genkan: %v", resp.StatusCode, strings.Contains(string(body), "玄関"))
	}
}

// width is how many terminal columns s takes: East Asian wide characters
// two, others one (enough for the names here).
func width(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r >= 0x1100 && (r <= 0x115F || r >= 0x2E80 && r <= 0xA4CF || r >= 0xAC00 && r <= 0xD7A3 || r >= 0xF900 && r <= 0xFAFF || r >= 0xFF00 && r <= 0xFF60):
			n += 2
		default:
			n++
		}
	}
	return n
}
