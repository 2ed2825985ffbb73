package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// TestSinceEdgeCases: ?since= of the history endpoints is a point in time
// compared as a time: an age too long to count back is refused, not
// wrapped around to minutes ago; a time after year 9999 is refused, not
// read as text before every row; the zero time and times before year 1
// mean from the beginning; a time in another zone means that instant.
func TestSinceEdgeCases(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	st := startStack(t, cams, nil)
	old := time.Date(2000, 1, 1, 12, 0, 0, 0, time.UTC)
	recent := time.Now().Add(-time.Hour).Truncate(time.Second)
	var rows []any
	for i, at := range []time.Time{old, recent} {
		rows = append(rows,
			&messages.EventOpened{ID: int64(900 + i), Camera: "front", Subnet: "lab", At: at, Label: "since-test", Score: 1, Detector: "motion"},
			&messages.CycleEnded{Subnet: "since-test", Number: int64(900 + i), StartedAt: at, EndedAt: at.Add(time.Second), Interval: time.Hour},
			&messages.ProcessCensus{At: at, Cameras: []messages.CameraCensus{{Camera: "since-test", Subnet: "lab", MaxConnections: 2}}})
	}
	if err := st.store.WriteBatch(st.env.RunRow, rows); err != nil {
		t.Fatal(err)
	}
	// seen is which of old and recent each history endpoint returns.
	seen := func(since string) (code int, found map[string][]bool, body string) {
		found = map[string][]bool{}
		for _, ep := range []string{"events", "cycles", "samples"} {
			resp, data := st.do("GET", "/api/"+ep+"?since="+url.QueryEscape(since), nil, true)
			code, body = resp.StatusCode, string(data)
			if code != http.StatusOK {
				if !strings.Contains(body, `"error"`) || !strings.Contains(body, "since") {
					t.Errorf("since=%s: /api/%s answered %d %s: want the error to name since", since, ep, code, body)
				}
				continue
			}
			var ans struct {
				Events  []event  `json:"events"`
				Cycles  []cycle  `json:"cycles"`
				Samples []sample `json:"samples"`
			}
			json.Unmarshal(data, &ans)
			got := []bool{false, false}
			mark := func(at time.Time, ok bool) {
				if !ok {
					return
				}
				for i, want := range []time.Time{old, recent} {
					if at.Equal(want) || at.Truncate(time.Minute).Equal(want.Truncate(time.Minute)) {
						got[i] = true
					}
				}
			}
			for _, e := range ans.Events {
				at, err := time.Parse(time.RFC3339Nano, e.At)
				mark(at, err == nil && e.Label == "since-test")
			}
			for _, c := range ans.Cycles {
				at, err := time.Parse(time.RFC3339Nano, c.StartedAt)
				mark(at, err == nil && c.Subnet == "since-test")
			}
			for _, s := range ans.Samples {
				at, err := time.Parse(time.RFC3339Nano, s.At)
				mark(at, err == nil && s.Camera == "since-test")
			}
			found[ep] = got
		}
		return code, found, body
	}
	for _, c := range []struct {
		since     string
		code      int
		old, rcnt bool
	}{
		{"213504d", 400, false, false},                   // 584 years: once wrapped around to 25 minutes ago
		{"9999999999999h", 400, false, false},            // too long for a duration
		{"9999-12-31T23:00:00-05:00", 400, false, false}, // year 10000 in UTC: once read as text, before every row
		{"0001-01-01T00:00:00Z", 200, true, true},        // the zero time: once NULL, matching nothing
		{"0001-01-01T00:30:00+01:00", 200, true, true},   // before year 1
		{"1999-12-31T23:00:00Z", 200, true, true},
		{"2h", 200, false, true},
		{recent.Add(-30 * time.Minute).In(time.FixedZone("", -5*3600)).Format(time.RFC3339), 200, false, true},
		{recent.Add(30 * time.Minute).In(time.FixedZone("", 5*3600)).Format(time.RFC3339), 200, false, false},
		{"9999-12-31T00:00:00Z", 200, false, false},
	} {
		code, found, body := seen(c.since)
		if code != c.code {
			t.Errorf("since=%s: %d %s, want %d", c.since, code, body, c.code)
			continue
		}
		for ep, got := range found {
			if got[0] != c.old || got[1] != c.rcnt {
				t.Errorf("since=%s: /api/%s returned the old row %v and the recent one %v; want %v and %v", c.since, ep, got[0], got[1], c.old, c.rcnt)
			}
		}
	}
	for _, since := range []string{"213504d", "9999-12-31T23:00:00-05:00"} {
		resp, body := st.do("GET", "/api/report.html?since="+url.QueryEscape(since), nil, true)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "since") {
			t.Errorf("report.html?since=%s: %d %s", since, resp.StatusCode, body)
		}
	}
	resp, body := st.do("GET", "/api/report.html?since="+url.QueryEscape("0001-01-01T00:00:00Z"), nil, true)
	if resp.StatusCode != 200 || !strings.Contains(string(body), clockOf(old)) {
		t.Errorf("report.html from the zero time: %d; want it to start at the old row (%s)", resp.StatusCode, clockOf(old))
	}
}

// clockOf is a time as the HTML report prints it.
func clockOf(t time.Time) string { return fmt.Sprint(t.UTC().Format("2006-01-02 15:04:05Z")) }
