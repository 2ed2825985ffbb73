package db

import (
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// The HTML report's five charts, each read from the record with its own
// query and drawn as SVG shapes (report_page.go renders them): bounded in
// size whatever the record holds — points per step, bars merged per
// pixel, lanes capped — so a report of weeks stays a file a browser opens.

// ---------------------------------------------------------------- leak graph

// leakChart: per camera, the most live processes seen per step against
// the camera's budget; steps above the budget shaded red.
func (s *Store) leakChart(p period, since, camera string) (*chart, error) {
	c := &chart{ID: "leak", Title: "Leak graph: live ffmpeg processes per camera against its budget",
		Caption: "Per camera, the most ffmpeg processes /proc showed in each step (line) against the camera's max_connections (dashed). Red: above the budget — a leak."}
	step := max(int64(p.to.Sub(p.from).Seconds()/500), 1)
	rows, err := s.DB.Queryx(`SELECT camera, CAST(strftime('%s', at) AS INTEGER) / ? AS b, MAX(processes), MAX(max_connections)
		FROM process_samples WHERE at >= ? AND (? = '' OR camera = ?) GROUP BY camera, b ORDER BY camera, b`,
		step, since, camera, camera)
	if err != nil {
		return nil, fmt.Errorf("leak graph: %w", err)
	}
	type point struct {
		b         int64
		n, budget int
	}
	series := map[string][]point{}
	var names []string
	for rows.Next() {
		var cam string
		var pt point
		if err := rows.Scan(&cam, &pt.b, &pt.n, &pt.budget); err != nil {
			rows.Close()
			return nil, fmt.Errorf("leak graph: %w", err)
		}
		if _, ok := series[cam]; !ok {
			names = append(names, cam)
		}
		series[cam] = append(series[cam], pt)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("leak graph: %w", err)
	}
	if len(names) == 0 {
		c.Empty = "No process samples in this period."
		return c, nil
	}
	peakOf := func(cam string) (peak, budget int, over bool) {
		for _, pt := range series[cam] {
			peak = max(peak, pt.n)
			budget = max(budget, pt.budget)
			over = over || pt.n > pt.budget
		}
		return
	}
	// The worst first: by how far above its budget a camera went.
	sort.SliceStable(names, func(i, j int) bool {
		pi, bi, _ := peakOf(names[i])
		pj, bj, _ := peakOf(names[j])
		ri, rj := float64(pi)/float64(max(bi, 1)), float64(pj)/float64(max(bj, 1))
		if ri != rj {
			return ri > rj
		}
		return names[i] < names[j]
	})
	if len(names) > maxLanes {
		c.Notes = append(c.Notes, fmt.Sprintf("Showing the %d cameras that went furthest above their budget, of %d.", maxLanes, len(names)))
		names = names[:maxLanes]
	}
	const laneH, gap = 56.0, 10.0
	y := 10.0
	for _, cam := range names {
		pts := series[cam]
		peak, budget, over := peakOf(cam)
		top := float64(max(peak, budget) + 1)
		yOf := func(v int) float64 { return y + laneH - float64(v)/top*laneH }
		tOf := func(b int64) time.Time { return time.Unix(b*step, 0) }
		var proc, bud strings.Builder
		var prev int64 = -10
		for i, pt := range pts {
			x := p.x(tOf(pt.b))
			xEnd := p.x(tOf(pt.b + 1))
			if i+1 < len(pts) && pts[i+1].b-pt.b <= 3 {
				xEnd = p.x(tOf(pts[i+1].b)) // a step holds until the next sample
			}
			if i == 0 || pt.b-prev > 3 { // a gap: the server was down
				fmt.Fprintf(&proc, "M%.1f,%.1f", x, yOf(pt.n))
				fmt.Fprintf(&bud, "M%.1f,%.1f", x, yOf(pt.budget))
			} else {
				fmt.Fprintf(&proc, "H%.1fV%.1f", x, yOf(pt.n))
				fmt.Fprintf(&bud, "H%.1fV%.1f", x, yOf(pt.budget))
			}
			fmt.Fprintf(&proc, "H%.1f", xEnd)
			fmt.Fprintf(&bud, "H%.1f", xEnd)
			if pt.n > pt.budget {
				c.Shapes = append(c.Shapes, shape{K: "rect", X: x, Y: yOf(pt.n), W: math.Max(xEnd-x, 1), H: yOf(pt.budget) - yOf(pt.n),
					Fill: "#c2261b", Class: "over", Mark: "over", Camera: cam, Count: pt.n,
					Title: fmt.Sprintf("%s: %d processes at %s, budget %d", cam, pt.n, clockText(tOf(pt.b)), pt.budget)})
			}
			prev = pt.b
		}
		c.Shapes = append(c.Shapes,
			shape{K: "line", X: plotLeft, Y: y + laneH, X2: plotLeft + plotWidth, Y2: y + laneH, Stroke: "#d5d9df", SW: 1},
			shape{K: "path", D: bud.String(), Stroke: "#5a6370", Dash: "5 4", SW: 1.5, Mark: "budget", Camera: cam},
			shape{K: "path", D: proc.String(), Stroke: "#0b5cad", SW: 2, Mark: "processes", Camera: cam,
				Title: fmt.Sprintf("%s: at most %d processes at once, budget %d", cam, peak, budget)},
			shape{K: "text", X: plotLeft - 8, Y: y + laneH/2 + 4, Text: p.label(cam), Anchor: "end", Class: "name"},
			shape{K: "text", X: plotLeft + plotWidth + 8, Y: y + laneH/2 + 4, Text: fmt.Sprintf("peak %d · budget %d", peak, budget),
				Class: map[bool]string{true: "bad", false: "muted"}[over]})
		y += laneH + gap
	}
	c.Shapes = append(c.Shapes, axis(p, y, 10)...)
	c.Height = y + axisH
	c.Legend = []legendItem{{Colour: "#0b5cad", Label: "live processes (most per step)", Line: true},
		{Colour: "#5a6370", Label: "budget (max_connections)", Dash: "5 4", Line: true}, {Colour: "#c2261b", Label: "above the budget"}}
	return c.count(), nil
}

// ---------------------------------------------------------------- timeline

// timelineChart: every process as a bar from its start to its end, per
// camera, coloured by why it stopped. Processes alive at once stack in
// rows (32 leaked processes are 32 rows); bars that touch on screen with
// the same reason are drawn as one, with their count.
func (s *Store) timelineChart(p period, since, camera string) (*chart, error) {
	c := &chart{ID: "timeline", Title: "Every process, from start to end, coloured by why it stopped",
		Caption: "One bar per ffmpeg process of each camera; processes alive at the same time stack in rows, so a leak shows as a widening band. Bars that touch on screen and stopped for the same reason are drawn as one (its tooltip counts them)."}
	rows, err := s.DB.Queryx(`SELECT camera, os_pid, started_at, ended_at, COALESCE(stop_reason, ''), COALESCE(signal, '')
		FROM processes WHERE started_at >= ? AND (? = '' OR camera = ?) ORDER BY camera, started_at`, since, camera, camera)
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	type bar struct {
		row    int
		x1, x2 float64
		reason string
		count  int
		first  time.Time
		last   time.Time
		pid    int
		sig    string
	}
	type lane struct {
		cam     string
		ends    []time.Time // per row: when its last process ended
		bars    []*bar
		open    []*bar // per row: the bar still growing
		total   int
		dropped int
	}
	var lanes []*lane
	var cur *lane
	for rows.Next() {
		var cam, started, reason, sig string
		var pid int
		var ended sql.NullString
		if err := rows.Scan(&cam, &pid, &started, &ended, &reason, &sig); err != nil {
			rows.Close()
			return nil, fmt.Errorf("timeline: %w", err)
		}
		if cur == nil || cur.cam != cam {
			cur = &lane{cam: cam}
			lanes = append(lanes, cur)
		}
		st, ok := parseT(started)
		if !ok {
			continue
		}
		en := p.to
		if ended.Valid {
			if t, ok := parseT(ended.String); ok {
				en = t
			}
		} else {
			reason = ""
		}
		cur.total++
		row := -1
		for i, e := range cur.ends {
			if !e.After(st) {
				row = i
				break
			}
		}
		if row < 0 {
			if len(cur.ends) >= maxRows {
				cur.dropped++
				continue
			}
			row = len(cur.ends)
			cur.ends = append(cur.ends, en)
			cur.open = append(cur.open, nil)
		}
		cur.ends[row] = en
		x1, x2 := p.x(st), p.x(en)
		if b := cur.open[row]; b != nil && b.reason == reason && x1 <= b.x2+0.5 {
			b.x2 = math.Max(b.x2, x2)
			b.count++
			b.last = en
			continue
		}
		b := &bar{row: row, x1: x1, x2: x2, reason: reason, count: 1, first: st, last: en, pid: pid, sig: sig}
		cur.open[row] = b
		cur.bars = append(cur.bars, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	if len(lanes) == 0 {
		c.Empty = "No process in this period."
		return c, nil
	}
	// The widest bands first: they are what the review is about.
	sort.SliceStable(lanes, func(i, j int) bool { return len(lanes[i].ends) > len(lanes[j].ends) })
	if len(lanes) > maxLanes {
		c.Notes = append(c.Notes, fmt.Sprintf("Showing the %d cameras with the most processes alive at once, of %d.", maxLanes, len(lanes)))
		lanes = lanes[:maxLanes]
	}
	const rowH, laneGap = 6.0, 12.0
	y := 10.0
	for _, l := range lanes {
		h := math.Max(float64(len(l.ends))*rowH, 14)
		c.Shapes = append(c.Shapes,
			shape{K: "rect", X: plotLeft, Y: y, W: plotWidth, H: h, Fill: "#f4f5f7"},
			shape{K: "text", X: plotLeft - 8, Y: y + math.Min(h, 20)/2 + 4, Text: p.label(l.cam), Anchor: "end", Class: "name"},
			shape{K: "text", X: plotLeft + plotWidth + 8, Y: y + math.Min(h, 20)/2 + 4,
				Text: fmt.Sprintf("%d processes · %d at once", l.total, len(l.ends)), Class: map[bool]string{true: "bad", false: "muted"}[len(l.ends) > 2]})
		for _, b := range l.bars {
			what := b.reason
			if what == "" {
				what = "end never recorded"
			}
			title := fmt.Sprintf("%s pid %d: %s – %s (%s), %s", l.cam, b.pid, clockText(b.first), clockText(b.last),
				b.last.Sub(b.first).Round(time.Millisecond), what)
			if b.sig != "" && b.count == 1 {
				title += ", " + b.sig
			}
			if b.count > 1 {
				title = fmt.Sprintf("%s: %d processes, %s – %s, %s", l.cam, b.count, clockText(b.first), clockText(b.last), what)
			}
			c.Shapes = append(c.Shapes, shape{K: "rect", X: b.x1, Y: y + float64(b.row)*rowH, W: math.Max(b.x2-b.x1, 1), H: rowH - 1,
				Fill: stopColour(b.reason), Mark: "process", Camera: l.cam, Key: b.reason, Count: b.count, Title: title})
		}
		if l.dropped > 0 {
			c.Notes = append(c.Notes, fmt.Sprintf("%s: %d more processes overlapped beyond %d rows and are not drawn.", l.cam, l.dropped, maxRows))
		}
		y += h + laneGap
	}
	c.Shapes = append(c.Shapes, axis(p, y, 10)...)
	c.Height = y + axisH
	for _, sc := range stopColours {
		c.Legend = append(c.Legend, legendItem{Colour: sc.Colour, Label: sc.Words})
	}
	return c.count(), nil
}

// ---------------------------------------------------------------- heat map

// heatChart: captures per camera and hour (finer for a short period), each
// cell split by outcome kind in proportion.
func (s *Store) heatChart(p period, since, camera string) (*chart, error) {
	span := p.to.Sub(p.from)
	bucket, name := time.Hour, "hour"
	for _, b := range []struct {
		d    time.Duration
		name string
	}{{10 * time.Second, "10 seconds"}, {time.Minute, "minute"}, {5 * time.Minute, "5 minutes"}, {15 * time.Minute, "15 minutes"}, {time.Hour, "hour"}} {
		if span < 6*time.Hour && span/b.d <= 60 {
			bucket, name = b.d, b.name
			break
		}
	}
	c := &chart{ID: "heatmap", Title: "Captures by outcome, per camera, per " + name,
		Caption: "Each cell is one camera's captures in one " + name + ", split by outcome in proportion; hover a cell for the counts. A column turning orange or red is when things started to go wrong."}
	sec := int64(bucket / time.Second)
	rows, err := s.DB.Queryx(`SELECT camera, CAST(strftime('%s', started_at) AS INTEGER) / ? AS b, outcome, COUNT(*)
		FROM captures WHERE started_at >= ? AND (? = '' OR camera = ?) GROUP BY camera, b, outcome ORDER BY camera, b`,
		sec, since, camera, camera)
	if err != nil {
		return nil, fmt.Errorf("heat map: %w", err)
	}
	type cell struct {
		b        int64
		outcomes map[string]int
		total    int
	}
	cells := map[string][]*cell{}
	var names []string
	for rows.Next() {
		var cam, outcome string
		var b int64
		var n int
		if err := rows.Scan(&cam, &b, &outcome, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("heat map: %w", err)
		}
		cs := cells[cam]
		if cs == nil {
			names = append(names, cam)
		}
		if len(cs) == 0 || cs[len(cs)-1].b != b {
			cs = append(cs, &cell{b: b, outcomes: map[string]int{}})
		}
		cs[len(cs)-1].outcomes[outcome] += n
		cs[len(cs)-1].total += n
		cells[cam] = cs
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("heat map: %w", err)
	}
	if len(names) == 0 {
		c.Empty = "No capture in this period."
		return c, nil
	}
	if len(names) > 4*maxLanes {
		c.Notes = append(c.Notes, fmt.Sprintf("Showing %d cameras of %d.", 4*maxLanes, len(names)))
		names = names[:4*maxLanes]
	}
	const rowH, gap = 18.0, 4.0
	y := 10.0
	for _, cam := range names {
		c.Shapes = append(c.Shapes, shape{K: "text", X: plotLeft - 8, Y: y + rowH/2 + 4, Text: p.label(cam), Anchor: "end", Class: "name"})
		failed := 0
		total := 0
		for _, cl := range cells[cam] {
			t0 := time.Unix(cl.b*sec, 0)
			x1, x2 := p.x(t0), p.x(t0.Add(bucket))
			w := math.Max(x2-x1-1, 1)
			var words []string
			kinds := map[string]int{}
			outs := make([]string, 0, len(cl.outcomes))
			for o := range cl.outcomes {
				outs = append(outs, o)
			}
			sort.Strings(outs)
			for _, o := range outs {
				kinds[outcomeKind(o)] += cl.outcomes[o]
				words = append(words, fmt.Sprintf("%d %s", cl.outcomes[o], o))
			}
			total += cl.total
			failed += cl.total - kinds["ok"]
			layout := "15:04"
			if bucket < time.Minute {
				layout = "15:04:05"
			}
			title := fmt.Sprintf("%s, %s – %s: %d captures: %s", cam, t0.UTC().Format(layout), t0.Add(bucket).UTC().Format(layout),
				cl.total, strings.Join(words, ", "))
			// Stacked from the bottom: ok first, the worst on top.
			yy := y + rowH
			for _, k := range outcomeKinds {
				n := kinds[k.Kind]
				if n == 0 {
					continue
				}
				h := float64(n) / float64(cl.total) * rowH
				yy -= h
				c.Shapes = append(c.Shapes, shape{K: "rect", X: x1, Y: yy, W: w, H: h, Fill: k.Colour, Mark: "captures", Camera: cam,
					Key: k.Kind, Count: n, Title: title})
			}
		}
		c.Shapes = append(c.Shapes, shape{K: "text", X: plotLeft + plotWidth + 8, Y: y + rowH/2 + 4,
			Text: fmt.Sprintf("%d · %d not ok", total, failed), Class: map[bool]string{true: "bad", false: "muted"}[failed > 0]})
		y += rowH + gap
	}
	c.Shapes = append(c.Shapes, axis(p, y, 10)...)
	c.Height = y + axisH
	for _, k := range outcomeKinds {
		c.Legend = append(c.Legend, legendItem{Colour: k.Colour, Label: k.Words})
	}
	return c.count(), nil
}

// ---------------------------------------------------------------- cycles

// cycleChart: per subnet, each cycle's duration against its interval;
// overruns in red. Cycles closer than a pixel are drawn as one bar, the
// longest of them.
func (s *Store) cycleChart(p period, since, camera string) (*chart, error) {
	c := &chart{ID: "cycles", Title: "Cycles and their overruns",
		Caption: "Per subnet, how long each patrol cycle took (bars) against its interval (dashed). Red: the cycle did not get every camera answered within its interval."}
	secPerPx := p.to.Sub(p.from).Seconds() / plotWidth
	rows, err := s.DB.Queryx(`SELECT subnet, CAST((julianday(started_at) - julianday(?)) * 86400.0 / ? AS INTEGER) AS px,
			MAX(duration_ms), MAX(interval_ms), SUM(overran), COUNT(*), MIN(number), MAX(number)
		FROM cycles WHERE started_at >= ?
			AND (? = '' OR subnet IN (SELECT subnet FROM cameras WHERE id = ?))
		GROUP BY subnet, px ORDER BY subnet, px`, T(p.from), secPerPx, since, camera, camera)
	if err != nil {
		return nil, fmt.Errorf("cycles: %w", err)
	}
	type col struct {
		px                      int64
		dur, interval           int64
		overran, n, first, last int64
	}
	cols := map[string][]col{}
	var names []string
	for rows.Next() {
		var sub string
		var cl col
		if err := rows.Scan(&sub, &cl.px, &cl.dur, &cl.interval, &cl.overran, &cl.n, &cl.first, &cl.last); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cycles: %w", err)
		}
		if _, ok := cols[sub]; !ok {
			names = append(names, sub)
		}
		cols[sub] = append(cols[sub], cl)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cycles: %w", err)
	}
	if len(names) == 0 {
		c.Empty = "No cycle in this period."
		return c, nil
	}
	const laneH, gap = 70.0, 12.0
	y := 10.0
	for _, sub := range names {
		var top int64 = 1
		overs, total := int64(0), int64(0)
		for _, cl := range cols[sub] {
			top = max(top, cl.dur, cl.interval)
			overs += cl.overran
			total += cl.n
		}
		scale := laneH / (float64(top) * 1.1)
		var iv strings.Builder
		for i, cl := range cols[sub] {
			x := plotLeft + float64(cl.px)
			h := math.Max(float64(cl.dur)*scale, 1)
			fill, key := "#6b8fb8", "ok"
			if cl.overran > 0 {
				fill, key = "#c2261b", "overran"
			}
			what := fmt.Sprintf("cycle %d", cl.first)
			if cl.n > 1 {
				what = fmt.Sprintf("cycles %d–%d", cl.first, cl.last)
			}
			c.Shapes = append(c.Shapes, shape{K: "rect", X: x, Y: y + laneH - h, W: 1, H: h, Fill: fill, Mark: "cycle", Camera: sub, Key: key,
				Count: int(cl.n), Title: fmt.Sprintf("%s %s: longest %s of %s%s", sub, what, time.Duration(cl.dur)*time.Millisecond,
					time.Duration(cl.interval)*time.Millisecond, map[bool]string{true: fmt.Sprintf(", %d overran", cl.overran), false: ""}[cl.overran > 0])})
			yi := y + laneH - float64(cl.interval)*scale
			if i == 0 {
				fmt.Fprintf(&iv, "M%.1f,%.1f", x, yi)
			} else {
				fmt.Fprintf(&iv, "H%.1fV%.1f", x, yi)
			}
		}
		fmt.Fprintf(&iv, "H%.1f", plotLeft+float64(cols[sub][len(cols[sub])-1].px)+1)
		c.Shapes = append(c.Shapes,
			shape{K: "line", X: plotLeft, Y: y + laneH, X2: plotLeft + plotWidth, Y2: y + laneH, Stroke: "#d5d9df", SW: 1},
			shape{K: "path", D: iv.String(), Stroke: "#5a6370", Dash: "5 4", SW: 1.5, Mark: "interval", Camera: sub},
			shape{K: "text", X: plotLeft - 8, Y: y + laneH/2 + 4, Text: sub, Anchor: "end", Class: "name"},
			shape{K: "text", X: plotLeft + plotWidth + 8, Y: y + laneH/2 + 4, Text: fmt.Sprintf("%d cycles · %d overran", total, overs),
				Class: map[bool]string{true: "bad", false: "muted"}[overs > 0]},
			shape{K: "text", X: plotLeft + 4, Y: y + 10, Text: "longest " + (time.Duration(top) * time.Millisecond).String(), Class: "muted small"})
		y += laneH + gap
	}
	c.Shapes = append(c.Shapes, axis(p, y, 10)...)
	c.Height = y + axisH
	c.Legend = []legendItem{{Colour: "#6b8fb8", Label: "cycle duration"}, {Colour: "#c2261b", Label: "overran its interval"},
		{Colour: "#5a6370", Label: "interval", Dash: "5 4", Line: true}}
	return c.count(), nil
}

// ---------------------------------------------------------------- alerts

// alertChart: every alert as a span from when it fired to when it
// resolved (to the period's end while still firing), one row per rule
// and subject.
func (s *Store) alertChart(p period, since, camera string) (*chart, error) {
	c := &chart{ID: "alerts", Title: "Alerts, from firing to resolved",
		Caption: "One row per rule and subject; each bar is one firing spell. A bar that reaches the right edge was still firing at the end of the record."}
	type alert struct {
		Rule, Subject, State, First, Last, Detail string
		Resolved                                  sql.NullString
	}
	var all []alert
	err := s.DB.Select(&all, `SELECT rule AS "rule", subject AS "subject", state AS "state", first_seen AS "first", last_seen AS "last",
			detail AS "detail", resolved_at AS "resolved"
		FROM alerts WHERE COALESCE(resolved_at, last_seen) >= ?
			AND (? = '' OR subject = ? OR subject IN (SELECT subnet FROM cameras WHERE id = ?) OR subject NOT IN (SELECT id FROM cameras))
		ORDER BY rule, subject, first_seen`, since, camera, camera, camera)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	if len(all) == 0 {
		c.Empty = "No alert in this period."
		return c, nil
	}
	const rowH, gap = 16.0, 6.0
	y := 10.0
	var key string
	rowsDrawn := 0
	for _, a := range all {
		if k := a.Rule + "\x00" + a.Subject; k != key {
			if key != "" {
				y += rowH + gap
			}
			key = k
			rowsDrawn++
			if rowsDrawn > maxAlerts {
				c.Notes = append(c.Notes, fmt.Sprintf("Only the first %d rules and subjects are drawn.", maxAlerts))
				break
			}
			c.Shapes = append(c.Shapes, shape{K: "text", X: plotLeft - 8, Y: y + rowH/2 + 4, Text: a.Subject, Anchor: "end", Class: "name"},
				shape{K: "text", X: plotLeft + plotWidth + 8, Y: y + rowH/2 + 4, Text: a.Rule, Class: "muted small"})
		}
		st, ok := parseT(a.First)
		if !ok {
			continue
		}
		en := p.to
		if a.Resolved.Valid {
			if t, ok := parseT(a.Resolved.String); ok {
				en = t
			}
		}
		colour := alertColours[a.Rule]
		if colour == "" {
			colour = "#8a8f98"
		}
		end := "resolved " + clockText(en)
		if !a.Resolved.Valid {
			end = "still firing at the end of the record"
		}
		x1, x2 := p.x(st), p.x(en)
		c.Shapes = append(c.Shapes, shape{K: "rect", X: x1, Y: y, W: math.Max(x2-x1, 2), H: rowH, Fill: colour, Mark: "alert", Camera: a.Subject,
			Key: a.Rule, Count: 1, Title: fmt.Sprintf("%s on %s: fired %s, %s — %s", a.Rule, a.Subject, clockText(st), end, a.Detail)})
	}
	y += rowH + gap
	c.Shapes = append(c.Shapes, axis(p, y, 10)...)
	c.Height = y + axisH
	for _, rule := range []string{"process_budget_exceeded", "unowned_process", "camera_failing", "cycle_overrun", "go2rtc_unreachable", "detector_unreachable", "record_write_failing"} {
		c.Legend = append(c.Legend, legendItem{Colour: alertColours[rule], Label: rule})
	}
	return c.count(), nil
}
