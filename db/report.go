package db

import (
	"database/sql"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// ReportOptions narrow the incident report.
type ReportOptions struct {
	Camera string    // only this camera; empty for all
	Since  time.Time // only rows from this time on; zero for all
}

// Queries are the incident questions as plain SQL, the same text the
// README shows for pasting into sqlite3. Each takes two parameters in
// order: the since time (text) and the camera (” for all).
var Queries = []struct {
	Title string
	SQL   string
}{
	{"Runs (a run not stopped cleanly died: killed or crashed)", `
SELECT id, COALESCE(node, '-') AS node, started_at, COALESCE(stopped_at, '-') AS stopped_at, pid, version,
       COALESCE(stop_reason, 'running') AS stop_reason, rows_dropped
FROM runs WHERE (COALESCE(stopped_at, started_at) >= :since OR stopped_at IS NULL)
ORDER BY id`},
	{"Captures per camera by outcome", `
SELECT camera, COUNT(*) AS total,
       SUM(outcome = 'ok') AS ok, SUM(outcome = 'timeout') AS timeout,
       SUM(outcome IN ('exit', 'signal', 'empty', 'spawn_error')) AS failed,
       SUM(outcome = 'no_slot') AS no_slot, SUM(outcome IN ('stopped', 'skipped')) AS stopped,
       MAX(CASE WHEN outcome = 'ok' THEN ended_at END) AS last_ok
FROM captures WHERE started_at >= :since AND (:camera = '' OR camera = :camera)
GROUP BY camera ORDER BY camera`},
	{"Processes per camera by stop reason", `
SELECT camera, COUNT(*) AS total,
       SUM(stop_reason = 'done') AS done, SUM(stop_reason = 'timeout') AS timeout,
       SUM(stop_reason = 'parent_stopped') AS parent_stopped, SUM(stop_reason = 'restart') AS restart,
       SUM(stop_reason = 'shutdown') AS shutdown, SUM(stop_reason = 'reaped') AS reaped,
       SUM(ended_at IS NULL) AS never_ended
FROM processes WHERE started_at >= :since AND (:camera = '' OR camera = :camera)
GROUP BY camera ORDER BY camera`},
	{"Longest-lived processes", `
SELECT os_pid, camera, started_at, COALESCE(ended_at, 'never recorded') AS ended_at,
       COALESCE(duration_ms, CAST((julianday('now') - julianday(started_at)) * 86400000 AS INTEGER)) AS ms,
       COALESCE(stop_reason, '-') AS stop_reason,
       COALESCE(signal, CAST(exit_code AS TEXT), '-') AS exit
FROM processes WHERE started_at >= :since AND (:camera = '' OR camera = :camera)
ORDER BY ms DESC LIMIT 10`},
	{"Most processes alive at once per camera, and when", `
WITH ev AS (
  SELECT camera, started_at AS t, 1 AS d FROM processes WHERE started_at >= :since AND (:camera = '' OR camera = :camera)
  UNION ALL
  SELECT camera, COALESCE(ended_at, '9999-12-31T00:00:00.000Z'), -1 FROM processes WHERE started_at >= :since AND (:camera = '' OR camera = :camera)
), live AS (
  SELECT camera, t, SUM(d) OVER (PARTITION BY camera ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS n FROM ev
)
SELECT l.camera, MAX(l.n) AS max_alive, l.t AS at, c.max_connections AS budget
FROM live l LEFT JOIN (SELECT id, MAX(max_connections) AS max_connections FROM cameras GROUP BY id) c ON c.id = l.camera
GROUP BY l.camera ORDER BY max_alive DESC, l.camera`},
	{"Cycles that overran their interval", `
SELECT subnet, number, started_at, duration_ms, interval_ms, cameras_ok, cameras_failed, cameras_timed_out, cameras_skipped
FROM cycles WHERE overran AND started_at >= :since
ORDER BY started_at LIMIT 50`},
	{"First failure after a run of successes, per camera (when things started to go wrong)", `
WITH c AS (
  SELECT camera, started_at, outcome, error,
         LAG(outcome) OVER (PARTITION BY camera ORDER BY started_at, id) AS before
  FROM captures WHERE started_at >= :since AND (:camera = '' OR camera = :camera) AND outcome NOT IN ('stopped', 'skipped')
)
SELECT camera, MIN(started_at) AS first_failure, outcome, substr(error, 1, 80) AS error
FROM c WHERE outcome <> 'ok' AND before = 'ok'
GROUP BY camera ORDER BY first_failure`},
	{"Camera ownership, epoch by epoch (cluster mode: which node held each camera, from when to when)", `
SELECT camera, node, epoch, acquired_at, COALESCE(released_at, 'held') AS released_at,
       COALESCE(release, '-') AS release, takeover_wait_ms, substr(reason, 1, 60) AS reason
FROM ownership WHERE COALESCE(released_at, acquired_at) >= :since AND (:camera = '' OR camera = :camera)
ORDER BY camera, epoch LIMIT 500`},
	{"Processes of one camera alive on two nodes at once (cluster mode: must be empty)", `
SELECT a.camera, a.node, a.os_pid, a.started_at, COALESCE(a.ended_at, 'never recorded') AS ended_at,
       b.node AS other_node, b.os_pid AS other_pid, b.started_at AS other_started_at
FROM processes a JOIN processes b ON a.camera = b.camera AND a.node <> b.node
     AND b.started_at >= a.started_at AND b.started_at < COALESCE(a.ended_at, '9999-12-31T00:00:00.000Z')
WHERE a.started_at >= :since AND (:camera = '' OR a.camera = :camera)
ORDER BY b.started_at LIMIT 50`},
}

// Report prints the incident report: each query of Queries as a table,
// its columns aligned by display width (a camera's Japanese name takes
// two columns a character). A table with a camera column shows the
// camera's display name beside it.
func (s *Store) Report(w io.Writer, opts ReportOptions) error {
	if err := s.checkCamera(opts.Camera); err != nil {
		return err
	}
	names, err := s.CameraNames()
	if err != nil {
		return err
	}
	since := sinceText(opts.Since)
	fmt.Fprintf(w, "camvisor incident report: %s", s.Path)
	if opts.Camera != "" {
		fmt.Fprintf(w, ", camera %s", cameraLabel(names, opts.Camera))
	}
	if since != "" {
		fmt.Fprintf(w, ", since %s", since)
	}
	fmt.Fprintln(w)
	for _, q := range Queries {
		fmt.Fprintf(w, "\n== %s\n", q.Title)
		t, err := s.tableOf(q.Title, q.SQL, params(q.SQL, since, opts.Camera)...)
		if err != nil {
			return fmt.Errorf("report %q: %w", q.Title, err)
		}
		t = t.withNames(names)
		var b strings.Builder
		writeAligned(&b, append([][]string{t.Cols}, t.Rows...))
		if len(t.Rows) == 0 {
			b.WriteString("(none)\n")
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// cameraLabel is how a report names a camera: "玄関 (genkan)" when it has
// a display name, else its id.
func cameraLabel(names map[string]string, id string) string {
	if n := names[id]; n != "" && n != id {
		return n + " (" + id + ")"
	}
	return id
}

// withNames is t with a "name" column after its "camera" column, holding
// each camera's display name, when any camera it lists has one.
func (t table) withNames(names map[string]string) table {
	at := slices.Index(t.Cols, "camera")
	if at < 0 || !slices.ContainsFunc(t.Rows, func(r []string) bool { return names[r[at]] != "" }) {
		return t
	}
	out := table{Title: t.Title, Cols: slices.Insert(slices.Clone(t.Cols), at+1, "name")}
	for _, r := range t.Rows {
		out.Rows = append(out.Rows, slices.Insert(slices.Clone(r), at+1, names[r[at]]))
	}
	return out
}

// params binds the named parameters query uses (the driver refuses extra
// ones).
func params(query, since, camera string) []any {
	var out []any
	if strings.Contains(query, ":since") {
		out = append(out, sql.Named("since", since))
	}
	if strings.Contains(query, ":camera") {
		out = append(out, sql.Named("camera", camera))
	}
	return out
}

// cellTexts writes a row's values as a report shows them: NULL as "-".
func cellTexts(vals []any) []string {
	cells := make([]string, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			cells[i] = "-"
		case []byte:
			cells[i] = string(v)
		default:
			cells[i] = fmt.Sprint(v)
		}
	}
	return cells
}
