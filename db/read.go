package db

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"camvisor/actors/config"
)

// The record's read side: every query the HTTP API and the command line
// answer from, on a Store opened with OpenReadOnly.

// ParseSince reads a point in time for a query: an RFC 3339 time, or an
// age before now ("2h", "3d"). An age too long to count back from now
// (past about 292 years) and a time after year 9999 (none is in the
// record) are refused; a time at or before year 1 (the zero time
// included) means from the beginning of the record.
func ParseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		if t.UTC().Year() > 9999 {
			return time.Time{}, fmt.Errorf("%q is after year 9999: the record holds no later time", v)
		}
		return t, nil
	}
	if strings.ContainsAny(v, "T:") || strings.Count(v, "-") > 1 {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time like 2026-11-26T03:00:00Z", v)
	}
	d, err := config.ParseDuration(v)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a positive age like 2h or 3d (at most %s)", v, maxAge)
	}
	return now.Add(-d), nil
}

// maxAge names the longest age ParseSince takes: a time.Duration's.
const maxAge = "106751d"

// sinceText is the text a query compares a row's time with: every time in
// the record is written as TimeFormat in UTC, its year in four digits, so
// for a bound of the same form text order is time order. A time before
// year 1 (the zero time too) is "", before every row: from the beginning.
// ParseSince lets no time after year 9999 through.
func sinceText(t time.Time) string {
	if t.UTC().Year() < 1 {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

// Sample is the leak graph's point: per camera and minute, the most
// processes and slots seen within it.
type Sample struct {
	At             string `db:"at"` // the minute
	Camera         string `db:"camera"`
	Processes      int    `db:"processes"`
	SlotsHeld      int    `db:"slots_held"`
	MaxConnections int    `db:"max_connections"`
}

// Samples is the leak graph from since on, per minute, oldest first.
func (s *Store) Samples(since time.Time) ([]Sample, error) {
	return s.SamplesEvery(since, time.Minute)
}

// SamplesEvery is the leak graph from since on, oldest first, per camera
// and step (whole seconds, at least one): each point is the most seen
// within its step, at the step's start. A short window reads finer than
// a minute, so a young run's graph is more than one dot.
func (s *Store) SamplesEvery(since time.Time, step time.Duration) ([]Sample, error) {
	sec := max(int64(step/time.Second), 1)
	out := []Sample{}
	err := s.DB.Select(&out, `SELECT strftime('%Y-%m-%dT%H:%M:%S.000Z', b * ?, 'unixepoch') AS at, camera, processes, slots_held, max_connections
		FROM (SELECT CAST(strftime('%s', at) AS INTEGER) / ? AS b, camera, MAX(processes) AS processes,
			MAX(slots_held) AS slots_held, MAX(max_connections) AS max_connections
			FROM process_samples WHERE at >= ? GROUP BY b, camera)
		ORDER BY at, camera LIMIT 100000`, sec, sec, sinceText(since))
	return out, wrap("samples", err)
}

// Cycle is one patrol cycle.
type Cycle struct {
	Subnet     string `db:"subnet"`
	Number     int64  `db:"number"`
	StartedAt  string `db:"started_at"`
	DurationMS int64  `db:"duration_ms"`
	IntervalMS int64  `db:"interval_ms"`
	Overran    bool   `db:"overran"`
	OK         int    `db:"cameras_ok"`
	Failed     int    `db:"cameras_failed"`
	TimedOut   int    `db:"cameras_timed_out"`
}

// Cycles are the cycles started since, oldest first.
func (s *Store) Cycles(since time.Time) ([]Cycle, error) {
	out := []Cycle{}
	err := s.DB.Select(&out, `SELECT subnet, number, started_at, duration_ms, interval_ms, overran, cameras_ok,
		cameras_failed, cameras_timed_out FROM cycles WHERE started_at >= ? ORDER BY started_at LIMIT 20000`, sinceText(since))
	return out, wrap("cycles", err)
}

// Alert is one firing spell of a rule on a subject.
type Alert struct {
	Rule       string  `db:"rule"`
	Subject    string  `db:"subject"`
	State      string  `db:"state"`
	FirstSeen  string  `db:"first_seen"`
	LastSeen   string  `db:"last_seen"`
	ResolvedAt *string `db:"resolved_at"`
	Detail     string  `db:"detail"`
}

// Alerts are the latest alerts, firing first.
func (s *Store) Alerts() ([]Alert, error) {
	out := []Alert{}
	err := s.DB.Select(&out, `SELECT rule, subject, state, first_seen, last_seen, resolved_at, detail FROM alerts
		ORDER BY state = 'firing' DESC, last_seen DESC LIMIT 500`)
	return out, wrap("alerts", err)
}

// FiringAlerts counts the alerts firing now.
func (s *Store) FiringAlerts() (int, error) {
	var n int
	err := s.DB.Get(&n, `SELECT COUNT(*) FROM alerts WHERE state = 'firing'`)
	return n, wrap("alerts", err)
}

// Event is one row of the event history.
type Event struct {
	ID         int64   `db:"id"`
	Camera     string  `db:"camera"`
	Subnet     string  `db:"subnet"`
	At         string  `db:"at"`
	LastSeen   string  `db:"last_seen"`
	Label      string  `db:"label"`
	Score      float64 `db:"score"`
	XMin       int     `db:"x_min"`
	YMin       int     `db:"y_min"`
	XMax       int     `db:"x_max"`
	YMax       int     `db:"y_max"`
	Detections int     `db:"detections"`
	Detector   string  `db:"detector"`
}

// EventQuery selects events; zero fields select all.
type EventQuery struct {
	Since         time.Time
	Camera, Label string
	Limit         int
}

// Events is the event history q selects, newest first.
func (s *Store) Events(q EventQuery) ([]Event, error) {
	out := []Event{}
	since := sinceText(q.Since)
	err := s.DB.Select(&out, `SELECT id, camera, subnet, at, last_seen, label, score, x_min, y_min, x_max, y_max, detections, detector
		FROM events WHERE at >= ? AND (? = '' OR camera = ?) AND (? = '' OR label = ?) ORDER BY at DESC, id DESC LIMIT ?`,
		since, q.Camera, q.Camera, q.Label, q.Label, q.Limit)
	return out, wrap("events", err)
}

// ErrNotFound is the answer for a row the record does not have (or no
// longer has: retention).
var ErrNotFound = errors.New("not in the record")

// EventSnapshot is the frame that opened event id; ErrNotFound when the
// event or its frame is not in the record.
func (s *Store) EventSnapshot(id int64) ([]byte, error) {
	var jpeg []byte
	err := s.DB.Get(&jpeg, `SELECT snapshot FROM events WHERE id = ?`, id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("no event %d (or pruned by retention): %w", id, ErrNotFound)
	case err != nil:
		return nil, wrap("event snapshot", err)
	case len(jpeg) == 0:
		return nil, fmt.Errorf("event %d has no snapshot: %w", id, ErrNotFound)
	}
	return jpeg, nil
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
