package db

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"
)

// The incident report as pictures: one self-contained HTML file (inline
// SVG drawn here, inline CSS, no script, nothing fetched) that opens from
// disk in any browser. It shows the period the record covers (from
// --since, or its first row, to its last): the leak graph, every process
// as a bar, captures by outcome, cycles and their overruns, alerts as
// spans, and the tables of the text report.

// HTMLReport writes the report for opts to w. An unknown camera is an
// error naming it.
func (s *Store) HTMLReport(w io.Writer, opts ReportOptions) error {
	r, err := s.buildReport(opts)
	if err != nil {
		return err
	}
	return reportPage.Execute(w, r)
}

// Plot geometry, in SVG pixels.
const (
	plotLeft  = 150.0 // names
	plotWidth = 1000.0
	plotRight = 190.0 // labels
	svgWidth  = plotLeft + plotWidth + plotRight
	axisH     = 24.0
	maxLanes  = 60  // cameras drawn per chart; the rest are named in a note
	maxRows   = 64  // process rows per camera in the timeline
	maxAlerts = 120 // alert rows
)

// outcomeKinds are the heat map's colours: the dashboard's five kinds.
var outcomeKinds = []struct{ Kind, Colour, Words string }{
	{"ok", "#1f8a4c", "ok: a frame"},
	{"timeout", "#e08a00", "timeout: killed at its deadline"},
	{"busy", "#7c4dbd", "busy: no connection free (no_slot, camera busy)"},
	{"backoff", "#a3a8b0", "not tried: backoff, skipped, stopped, preempted, paused"},
	{"failed", "#c2261b", "failed: exit, signal, empty, spawn error"},
}

// outcomeKind sorts an outcome into its kind; an outcome this code does
// not know is a failure, shown by name in its tooltip.
func outcomeKind(o string) string {
	switch {
	case o == "ok":
		return "ok"
	case o == "timeout":
		return "timeout"
	case o == "no_slot" || strings.Contains(o, "busy"):
		return "busy"
	case o == "backoff" || o == "skipped" || o == "stopped" || o == "preempted" || o == "paused":
		return "backoff"
	}
	return "failed"
}

// stopColours colour the timeline's bars by stop reason.
var stopColours = []struct{ Reason, Colour, Words string }{
	{"done", "#1f8a4c", "done: exited by itself"},
	{"timeout", "#e08a00", "timeout: killed at its deadline"},
	{"parent_stopped", "#3b73b9", "parent_stopped: its camera stopped"},
	{"restart", "#8e5bd6", "restart"},
	{"shutdown", "#8a8f98", "shutdown"},
	{"preempted", "#56b4e9", "preempted: a live view took its slot"},
	{"reaped", "#c2261b", "reaped: found unowned and killed"},
	{"unclean", "#7a1f1f", "unclean: its camvisor died"},
	{"", "#111111", "end never recorded"},
}

func stopColour(reason string) string {
	for _, c := range stopColours {
		if c.Reason == reason {
			return c.Colour
		}
	}
	return "#b0b0b0"
}

// alertColours colour alert spans by rule; other rules are grey.
var alertColours = map[string]string{
	"process_budget_exceeded": "#c2261b", "unowned_process": "#7a1f1f", "camera_failing": "#e08a00",
	"cycle_overrun": "#8e5bd6", "go2rtc_unreachable": "#3b73b9", "detector_unreachable": "#2a9d8f",
	"record_write_failing": "#111111",
}

// report is what the page shows.
type report struct {
	Source, Camera, Since string
	From, To, Span        string
	Generated             string
	Empty                 bool
	Charts                []*chart
	Tables                []table
}

// chart is one SVG figure.
type chart struct {
	ID, Title, Caption string
	Height             float64
	Width              float64
	Shapes             []shape
	Legend             []legendItem
	Notes              []string
	Marks              int
	Empty              string // said instead of a picture when nothing is to be drawn
}

// shape is one SVG element; K names it (rect, path, line, text).
type shape struct {
	K                 string
	X, Y, W, H        float64
	X2, Y2            float64
	D                 string
	Fill, Stroke      string
	Dash              string
	SW                float64
	Mark, Camera, Key string // data-mark, data-camera, data-key: what a test or a reader looks for
	Count             int
	Title, Text       string
	Anchor, Class     string
}

type legendItem struct {
	Colour, Label, Dash string
	Line                bool
}

type table struct {
	Title string
	Cols  []string
	Rows  [][]string
}

// period is the report's time span and the x scale over it, with the
// cameras' display names its charts label lanes with.
type period struct {
	from, to time.Time
	names    map[string]string // camera id → display name
}

// label is how a chart names camera id: "玄関 (genkan)", or the id.
func (p period) label(id string) string { return cameraLabel(p.names, id) }

func (p period) x(t time.Time) float64 {
	span := p.to.Sub(p.from).Seconds()
	if span <= 0 {
		return plotLeft
	}
	v := plotLeft + t.Sub(p.from).Seconds()/span*plotWidth
	return math.Max(plotLeft, math.Min(plotLeft+plotWidth, v))
}

func parseT(s string) (time.Time, bool) {
	t, err := time.Parse(TimeFormat, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	return t, err == nil
}

func clockText(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

func (s *Store) buildReport(opts ReportOptions) (*report, error) {
	since := sinceText(opts.Since)
	if err := s.checkCamera(opts.Camera); err != nil {
		return nil, err
	}
	names, err := s.CameraNames()
	if err != nil {
		return nil, err
	}
	r := &report{Source: filepath.Base(s.Path), Camera: opts.Camera, Since: since, Generated: clockText(time.Now())}
	if opts.Camera != "" {
		r.Camera = cameraLabel(names, opts.Camera)
	}
	p, ok, err := s.reportPeriod(since, opts.Camera)
	if err != nil {
		return nil, fmt.Errorf("report period: %w", err)
	}
	p.names = names
	if !ok {
		r.Empty = true
	} else {
		r.From, r.To, r.Span = clockText(p.from), clockText(p.to), p.to.Sub(p.from).Round(time.Second).String()
		for _, build := range []func(period, string, string) (*chart, error){s.leakChart, s.timelineChart, s.heatChart, s.cycleChart, s.alertChart} {
			c, err := build(p, since, opts.Camera)
			if err != nil {
				return nil, err
			}
			r.Charts = append(r.Charts, c)
		}
	}
	for _, q := range Queries {
		t, err := s.tableOf(q.Title, q.SQL, params(q.SQL, since, opts.Camera)...)
		if err != nil {
			return nil, fmt.Errorf("report %q: %w", q.Title, err)
		}
		r.Tables = append(r.Tables, t.withNames(names))
	}
	return r, nil
}

// ErrUnknownCamera is the error for a report of a camera the record never had.
var ErrUnknownCamera = errors.New("no camera")

// checkCamera refuses a camera the record never had, naming those it has.
func (s *Store) checkCamera(camera string) error {
	if camera == "" {
		return nil
	}
	var known []string
	if err := s.DB.Select(&known, `SELECT DISTINCT id FROM cameras ORDER BY id`); err != nil {
		return fmt.Errorf("cameras: %w", err)
	}
	for _, k := range known {
		if k == camera {
			return nil
		}
	}
	if len(known) > 20 {
		known = append(known[:20], "…")
	}
	return fmt.Errorf("camera: %w %q in the record (it has %s)", ErrUnknownCamera, camera, strings.Join(known, ", "))
}

// reportPeriod is the span of what the record holds from since on: its
// first and last row, over every table the charts draw.
func (s *Store) reportPeriod(since, camera string) (period, bool, error) {
	var lo, hi sql.NullString
	err := s.DB.QueryRow(`SELECT MIN(t), MAX(t) FROM (
		SELECT MIN(at) AS t FROM process_samples WHERE at >= :since AND (:camera = '' OR camera = :camera)
		UNION ALL SELECT MAX(at) FROM process_samples WHERE at >= :since AND (:camera = '' OR camera = :camera)
		UNION ALL SELECT MIN(started_at) FROM captures WHERE started_at >= :since AND (:camera = '' OR camera = :camera)
		UNION ALL SELECT MAX(started_at) FROM captures WHERE started_at >= :since AND (:camera = '' OR camera = :camera)
		UNION ALL SELECT MIN(started_at) FROM processes WHERE started_at >= :since AND (:camera = '' OR camera = :camera)
		UNION ALL SELECT MAX(COALESCE(ended_at, started_at)) FROM processes WHERE started_at >= :since AND (:camera = '' OR camera = :camera)
		UNION ALL SELECT MIN(started_at) FROM cycles WHERE started_at >= :since
		UNION ALL SELECT MAX(ended_at) FROM cycles WHERE started_at >= :since
		UNION ALL SELECT MAX(COALESCE(resolved_at, last_seen)) FROM alerts WHERE last_seen >= :since)`,
		sql.Named("since", since), sql.Named("camera", camera)).Scan(&lo, &hi)
	if err != nil || !lo.Valid || !hi.Valid {
		return period{}, false, err
	}
	from, ok1 := parseT(lo.String)
	to, ok2 := parseT(hi.String)
	if !ok1 || !ok2 {
		return period{}, false, fmt.Errorf("times %q and %q do not parse", lo.String, hi.String)
	}
	if to.Sub(from) < 10*time.Second { // a few seconds of record still spread across
		to = from.Add(10 * time.Second)
	}
	return period{from: from, to: to}, true, nil
}

// axis draws the time axis at y: ticks about every 100 px, UTC.
func axis(p period, y, top float64) []shape {
	span := p.to.Sub(p.from)
	steps := []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
		15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
		48 * time.Hour, 7 * 24 * time.Hour}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if float64(s)/float64(span)*plotWidth >= 100 {
			step = s
			break
		}
	}
	layout := "15:04"
	switch {
	case step < time.Minute:
		layout = "15:04:05"
	case span > 24*time.Hour:
		layout = "Jan 2 15:04"
	}
	out := []shape{{K: "line", X: plotLeft, Y: y, X2: plotLeft + plotWidth, Y2: y, Stroke: "#8a8f98", SW: 1}}
	for t := p.from.Truncate(step); !t.After(p.to); t = t.Add(step) {
		if t.Before(p.from) {
			continue
		}
		x := p.x(t)
		out = append(out, shape{K: "line", X: x, Y: top, X2: x, Y2: y, Stroke: "#e3e6ea", SW: 1},
			shape{K: "text", X: x, Y: y + 15, Text: t.UTC().Format(layout), Anchor: "middle", Class: "tick"})
	}
	return out
}

// count notes how many marks (shapes with data) the chart draws.
func (c *chart) count() *chart {
	c.Width = svgWidth
	for _, sh := range c.Shapes {
		if sh.Mark != "" {
			c.Marks++
		}
	}
	return c
}

// tableOf runs one report query into a table of text.
func (s *Store) tableOf(title, query string, args ...any) (table, error) {
	t := table{Title: title}
	rows, err := s.DB.Queryx(query, args...)
	if err != nil {
		return t, err
	}
	defer rows.Close()
	if t.Cols, err = rows.Columns(); err != nil {
		return t, err
	}
	for rows.Next() {
		vals, err := rows.SliceScan()
		if err != nil {
			return t, err
		}
		cells := cellTexts(vals)
		t.Rows = append(t.Rows, cells)
	}
	return t, rows.Err()
}
