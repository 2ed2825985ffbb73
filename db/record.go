package db

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"camvisor/messages"

	"github.com/jmoiron/sqlx"
)

// TimeFormat is how every time is stored: UTC, millisecond text, which
// sorts and compares as text and reads as it is in the sqlite3 tool.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// T formats t for the record; the zero time is NULL.
func T(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(TimeFormat)
}

// Run describes one server start.
type Run struct {
	Key     string // the run id every process carries (CAMVISOR_RUN)
	Node    string // cluster.node; "" on a single node
	Started time.Time
	PID     int
	Version string
	Config  string // redacted
	Cameras []RunCamera
}

// RunCamera is one configured camera of a run.
type RunCamera struct {
	ID, Subnet, URL string // URL redacted
	Name            string // cameras[].name; empty when none
	MaxConnections  int
}

// BeginRun records a server start and its cameras, and marks every run
// still open as not stopped cleanly (its server died). It returns the new
// run's id.
func (s *Store) BeginRun(r Run) (int64, error) {
	tx, err := s.DB.Beginx()
	if err != nil {
		return 0, fmt.Errorf("begin run: %w", err)
	}
	defer tx.Rollback()
	// The processes of a dead run died with it (the parent-death signal):
	// they ended, as far as the record can tell, when their run did.
	if _, err := tx.Exec(`UPDATE processes SET stop_reason = 'unclean', ended_at = COALESCE(
			(SELECT MAX(COALESCE(p2.ended_at, p2.started_at)) FROM processes p2 WHERE p2.run_id = processes.run_id), started_at)
		WHERE ended_at IS NULL AND run_id IN (SELECT id FROM runs WHERE stopped_at IS NULL)`); err != nil {
		return 0, fmt.Errorf("close processes of unclean runs: %w", err)
	}
	// The end of a dead run is its last trace in the record.
	if _, err := tx.Exec(`UPDATE runs SET
		stop_reason = 'unclean: camvisor was killed or crashed (found at next start)',
		stopped_at = COALESCE(
			(SELECT MAX(t) FROM (
				SELECT MAX(COALESCE(ended_at, started_at)) AS t FROM processes WHERE run_id = runs.id
				UNION ALL SELECT MAX(ended_at) FROM captures WHERE run_id = runs.id
				UNION ALL SELECT MAX(ended_at) FROM cycles WHERE run_id = runs.id
				UNION ALL SELECT MAX(at) FROM process_samples WHERE run_id = runs.id)),
			started_at)
		WHERE stopped_at IS NULL`); err != nil {
		return 0, fmt.Errorf("mark unclean runs: %w", err)
	}
	// The cameras a dead run held: its lease expired with it.
	if _, err := tx.Exec(`UPDATE ownership SET release = 'unclean', released_at = (SELECT stopped_at FROM runs WHERE runs.id = ownership.run_id)
		WHERE released_at IS NULL AND run_id IN (SELECT id FROM runs WHERE stop_reason LIKE 'unclean%')`); err != nil {
		return 0, fmt.Errorf("close ownership of unclean runs: %w", err)
	}
	// Pauses whose end came while no camvisor ran ended then.
	if _, err := tx.Exec(`UPDATE camera_pauses SET ended_at = until, ended_how = 'expired'
		WHERE ended_at IS NULL AND until <= ?`, T(r.Started)); err != nil {
		return 0, fmt.Errorf("end pauses that expired meanwhile: %w", err)
	}
	// Alerts of earlier runs stopped being watched when their run ended.
	if _, err := tx.Exec(`UPDATE alerts SET state = 'resolved', resolved_at = ?, detail = detail || ' (its run ended)'
		WHERE state = 'firing'`, T(r.Started)); err != nil {
		return 0, fmt.Errorf("close alerts of earlier runs: %w", err)
	}
	host, _ := os.Hostname()
	res, err := tx.Exec(`INSERT INTO runs (run_key, started_at, pid, version, hostname, config, node) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.Key, T(r.Started), r.PID, r.Version, host, r.Config, nullString(r.Node))
	if err != nil {
		return 0, fmt.Errorf("insert run: %w", err)
	}
	id, _ := res.LastInsertId()
	for _, c := range r.Cameras {
		if _, err := tx.Exec(`INSERT INTO cameras (run_id, id, subnet, url, max_connections, name) VALUES (?, ?, ?, ?, ?, ?)`,
			id, c.ID, c.Subnet, c.URL, c.MaxConnections, c.Name); err != nil {
			return 0, fmt.Errorf("insert camera %s: %w", c.ID, err)
		}
	}
	return id, tx.Commit()
}

// EndRun records a clean stop.
func (s *Store) EndRun(run int64, at time.Time, reason string) error {
	_, err := s.DB.Exec(`UPDATE runs SET stopped_at = ?, stop_reason = ? WHERE id = ?`, T(at), reason, run)
	if err != nil {
		return fmt.Errorf("end run: %w", err)
	}
	return nil
}

// Dropped records how many rows the recorder dropped so far.
type Dropped struct{ Rows int64 }

// WriteBatch writes facts (messages.* values) of run in one transaction.
// Facts of other types are ignored.
func (s *Store) WriteBatch(run int64, facts []any) error {
	tx, err := s.DB.Beginx()
	if err != nil {
		return fmt.Errorf("begin batch: %w", err)
	}
	defer tx.Rollback()
	for _, f := range facts {
		if err := writeFact(tx, run, f); err != nil {
			return fmt.Errorf("write %T: %w", f, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	return nil
}

func writeFact(tx *sqlx.Tx, run int64, f any) error {
	var err error
	switch m := f.(type) {
	case *messages.ProcessStarted:
		argv, _ := json.Marshal(m.Argv)
		_, err = tx.Exec(`INSERT INTO processes (run_id, os_pid, camera, subnet, owner, purpose, argv, started_at, deadline, node, epoch)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, `+nodeEpoch+`)
			ON CONFLICT (run_id, os_pid, started_at) DO NOTHING`,
			run, m.OSPID, m.Camera, m.Subnet, m.Owner, m.Purpose, string(argv), T(m.StartedAt), T(m.Deadline), run, run, m.Camera)
	case *messages.ProcessExited:
		// An exit may arrive without its start (the start's row was dropped):
		// insert what is known rather than lose the exit.
		_, err = tx.Exec(`INSERT INTO processes (run_id, os_pid, camera, subnet, owner, purpose, argv, started_at,
				ended_at, duration_ms, exit_code, signal, stop_reason, cpu_ms, stderr_tail, node, epoch)
			VALUES (?, ?, ?, ?, ?, '', '[]', ?, ?, ?, ?, ?, ?, ?, ?, `+nodeEpoch+`)
			ON CONFLICT (run_id, os_pid, started_at) DO UPDATE SET
				ended_at = excluded.ended_at, duration_ms = excluded.duration_ms, exit_code = excluded.exit_code,
				signal = excluded.signal, stop_reason = excluded.stop_reason, cpu_ms = excluded.cpu_ms,
				stderr_tail = excluded.stderr_tail`,
			run, m.OSPID, m.Camera, m.Subnet, m.Owner, T(m.StartedAt),
			T(m.EndedAt), m.EndedAt.Sub(m.StartedAt).Milliseconds(), m.ExitCode, nullString(m.Signal),
			string(m.StopReason), m.CPU.Milliseconds(), strings.Join(m.StderrTail, "\n"), run, run, m.Camera)
	case *messages.CaptureDone:
		var cycle any
		if m.Cycle != 0 {
			cycle = m.Cycle
		}
		reason := "patrol"
		if m.Cycle == 0 {
			reason = "operator"
		}
		_, err = tx.Exec(`INSERT INTO captures (run_id, camera, subnet, cycle, reason, started_at, ended_at, duration_ms,
				outcome, via, bytes, attempts, os_pid, error, capture_key, waited_ms, node, epoch)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, `+nodeEpoch+`)`,
			run, m.Camera, m.Subnet, cycle, reason, T(m.StartedAt), T(m.EndedAt), m.EndedAt.Sub(m.StartedAt).Milliseconds(),
			string(m.Outcome), m.Via, m.Bytes, m.Attempts, nullInt(m.OSPID), m.Error, nullString(m.Key), m.Waited.Milliseconds(), run, run, m.Camera)
	case *messages.EventOpened:
		_, err = tx.Exec(`INSERT INTO events (id, run_id, camera, subnet, at, last_seen, label, score, x_min, y_min, x_max, y_max,
				detector, capture_key, snapshot, snapshot_width, snapshot_height, node, epoch)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, `+nodeEpoch+`) ON CONFLICT (id) DO NOTHING`,
			m.ID, run, m.Camera, m.Subnet, T(m.At), T(m.At), m.Label, m.Score, m.Box[0], m.Box[1], m.Box[2], m.Box[3],
			m.Detector, m.CaptureKey, m.JPEG, m.Width, m.Height, run, run, m.Camera)
		if err == nil {
			_, err = tx.Exec(`UPDATE captures SET detection = ? WHERE run_id = ? AND capture_key = ?`,
				fmt.Sprintf("event %d: %s %.2f", m.ID, m.Label, m.Score), run, m.CaptureKey)
		}
	case *messages.EventUpdated:
		_, err = tx.Exec(`UPDATE events SET last_seen = ?, score = ?, detections = ? WHERE id = ?`,
			T(m.LastSeen), m.Score, m.Detections, m.ID)
	case *messages.DetectionFailed:
		_, err = tx.Exec(`UPDATE captures SET detection = ? WHERE run_id = ? AND capture_key = ?`,
			"error: "+m.Error, run, m.CaptureKey)
	case *messages.CycleEnded:
		_, err = tx.Exec(`INSERT INTO cycles (run_id, subnet, number, started_at, ended_at, duration_ms, interval_ms,
				cameras_ok, cameras_failed, cameras_timed_out, cameras_skipped, overran, cameras_backoff, overrun_reason, cameras_paused)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id, subnet, number) DO NOTHING`,
			run, m.Subnet, m.Number, T(m.StartedAt), T(m.EndedAt), m.EndedAt.Sub(m.StartedAt).Milliseconds(),
			m.Interval.Milliseconds(), m.OK, m.Failed, m.TimedOut, m.Skipped, m.Overran, m.Backoff, nullString(m.Why), m.Paused)
	case *messages.CameraStateChanged:
		breaker := "closed"
		if m.Failing {
			breaker = "open"
		}
		_, err = tx.Exec(`UPDATE cameras SET breaker = ?, next_probe_at = ?, busy = ?, state_at = ? WHERE run_id = ? AND id = ?`,
			breaker, T(m.NextProbe), m.Busy, T(m.At), run, m.Camera)
	case *messages.ProcessCensus:
		for _, c := range m.Cameras {
			if _, err = tx.Exec(`INSERT INTO process_samples (run_id, at, camera, processes, slots_held, max_connections, slots_external)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, run, T(m.At), c.Camera, c.Processes, c.SlotsHeld, c.MaxConnections, c.SlotsExternal); err != nil {
				return err
			}
		}
	case *messages.LeaseGranted:
		if m.Extended {
			_, err = tx.Exec(`UPDATE leases SET until = ?, extensions = extensions + 1 WHERE run_id = ? AND camera = ? AND lease_id = ?`,
				T(m.Until), run, m.Camera, m.ID)
			break
		}
		_, err = tx.Exec(`INSERT INTO leases (run_id, lease_id, camera, subnet, stream, granted_at, until, granted_for, node, epoch)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, `+nodeEpoch+`) ON CONFLICT (run_id, camera, lease_id) DO NOTHING`,
			run, m.ID, m.Camera, m.Subnet, m.Stream, T(m.GrantedAt), T(m.Until), m.Reason, run, run, m.Camera)
	case *messages.LeaseEnded:
		_, err = tx.Exec(`UPDATE leases SET released_at = ?, reason = ?, until = ? WHERE run_id = ? AND camera = ? AND lease_id = ?`,
			T(m.ReleasedAt), m.Reason, T(m.Until), run, m.Camera, m.ID)
	case *messages.StreamRegistered:
		_, err = tx.Exec(`INSERT INTO go2rtc_streams (run_id, stream, camera, subnet, registered_at, purpose) VALUES (?, ?, ?, ?, ?, ?)`,
			run, m.Stream, m.Camera, m.Subnet, T(m.At), nullString(m.Purpose))
	case *messages.StreamRemoved:
		err = writeStreamRemoved(tx, run, m)
	case *messages.ServiceHealth:
		_, err = tx.Exec(`INSERT INTO service_health (run_id, at, service, healthy, error) VALUES (?, ?, ?, ?, ?)`,
			run, T(m.At), m.Service, m.Healthy, m.Error)
	case *messages.ProcessReaped:
		err = writeReaped(tx, run, m)
	case *messages.AlertChanged:
		err = writeAlert(tx, run, m)
	case *messages.ActorRestarted:
		_, err = tx.Exec(`INSERT INTO restarts (run_id, at, actor, kind, reason) VALUES (?, ?, ?, ?, ?)`,
			run, T(m.At), m.Actor, m.Kind, m.Reason)
	case *messages.ConfigReloaded:
		err = writeReload(tx, run, m)
	case *messages.OwnershipChanged:
		err = writeOwnership(tx, run, m)
	case *messages.CameraPaused:
		p := m.Pause
		_, err = tx.Exec(`INSERT INTO camera_pauses (id, run_id, camera, who, why, started_at, until) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET who = excluded.who, why = excluded.why, until = excluded.until`,
			p.ID, run, p.Camera, p.By, p.Reason, T(p.From), T(p.Until))
	case *messages.CameraResumed:
		_, err = tx.Exec(`UPDATE camera_pauses SET ended_at = ?, ended_how = ?, ended_by = ? WHERE id = ? AND ended_at IS NULL`,
			T(m.EndedAt), m.How, nullString(m.By), m.Pause.ID)
	case *Dropped:
		_, err = tx.Exec(`UPDATE runs SET rows_dropped = ? WHERE id = ?`, m.Rows, run)
	}
	return err
}

// writeReload records a reload and the cameras it started and stopped: a
// removed camera's row gets its removed_at; a changed or re-added one's
// takes its new settings and added_at (the old ones are in the change's
// detail).
func writeReload(tx *sqlx.Tx, run int64, m *messages.ConfigReloaded) error {
	var config any
	if m.Config != "" {
		config = m.Config
	}
	if _, err := tx.Exec(`INSERT INTO config_changes (run_id, at, who, outcome, error, added, removed, changed, restart_needed, detail, config)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		run, T(m.At), m.Who, m.Outcome, m.Error, strings.Join(m.Added, ","), strings.Join(m.Removed, ","),
		strings.Join(m.Changed, ","), strings.Join(m.Restart, ","), strings.Join(m.Lines, "\n"), config); err != nil {
		return err
	}
	gone := append(append([]string{}, m.Removed...), m.Changed...)
	for _, id := range gone {
		if _, err := tx.Exec(`UPDATE cameras SET removed_at = ? WHERE run_id = ? AND id = ? AND removed_at IS NULL`, T(m.At), run, id); err != nil {
			return err
		}
	}
	for _, c := range m.Cameras {
		if !slices.Contains(m.Added, c.ID) && !slices.Contains(m.Changed, c.ID) {
			continue
		}
		// (run_id, id) is the key: the row of a camera a reload brings back
		// is reopened with its new settings.
		if _, err := tx.Exec(`INSERT INTO cameras (run_id, id, subnet, url, max_connections, added_at, name) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id, id) DO UPDATE SET subnet = excluded.subnet, url = excluded.url,
				max_connections = excluded.max_connections, added_at = excluded.added_at, removed_at = NULL, name = excluded.name`,
			run, c.ID, c.Subnet, c.URL, c.MaxConnections, T(m.At), c.Name); err != nil {
			return err
		}
	}
	return nil
}

// nodeEpoch fills a row's node and epoch (bind: the run twice, then the
// camera): the run's node, and the epoch of the camera's ownership this
// node holds now; NULL on a single node.
const nodeEpoch = `(SELECT node FROM runs WHERE id = ?),
	(SELECT epoch FROM ownership WHERE run_id = ? AND camera = ? AND released_at IS NULL ORDER BY id DESC LIMIT 1)`

// writeOwnership opens a camera's ownership row when this node wins it,
// and closes it when the node gives it up.
func writeOwnership(tx *sqlx.Tx, run int64, m *messages.OwnershipChanged) error {
	if m.Change == messages.OwnershipAcquired {
		_, err := tx.Exec(`INSERT INTO ownership (run_id, camera, node, epoch, acquired_at, takeover_wait_ms) VALUES (?, ?, ?, ?, ?, ?)`,
			run, m.Camera, m.Node, m.Epoch, T(m.At), m.Wait.Milliseconds())
		return err
	}
	_, err := tx.Exec(`UPDATE ownership SET released_at = ?, release = ?, reason = ? WHERE run_id = ? AND camera = ? AND epoch = ? AND released_at IS NULL`,
		T(m.At), m.Change, m.Reason, run, m.Camera, m.Epoch)
	return err
}

// writeReaped closes the process's row in the run it came from (by its
// CAMVISOR_RUN), or adds one to that run, or to this one when the record
// does not know that run.
func writeReaped(tx *sqlx.Tx, run int64, m *messages.ProcessReaped) error {
	origin := run
	if !m.ThisRun {
		if err := tx.Get(&origin, `SELECT id FROM runs WHERE run_key = ?`, m.Run); errors.Is(err, sql.ErrNoRows) {
			origin = run
		} else if err != nil {
			return err
		}
	}
	res, err := tx.Exec(`UPDATE processes SET ended_at = ?, stop_reason = 'reaped', signal = 'SIGKILL', exit_code = -1
		WHERE run_id = ? AND os_pid = ? AND (ended_at IS NULL OR stop_reason = 'unclean')`, T(m.At), origin, m.OSPID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	argv, _ := json.Marshal(m.Argv)
	note := "reaped: left by run " + m.Run
	if m.ThisRun {
		note = "reaped: no actor of this run owned it"
	}
	_, err = tx.Exec(`INSERT INTO processes (run_id, os_pid, camera, subnet, owner, purpose, argv, started_at, ended_at,
			exit_code, signal, stop_reason, stderr_tail)
		VALUES (?, ?, ?, '', ?, 'snapshot', ?, ?, ?, -1, 'SIGKILL', 'reaped', ?)`,
		origin, m.OSPID, m.Camera, m.Owner, string(argv), T(m.At), T(m.At), note)
	return err
}

// writeAlert opens, refreshes or resolves an alert's row.
func writeAlert(tx *sqlx.Tx, run int64, m *messages.AlertChanged) error {
	res, err := tx.Exec(`UPDATE alerts SET state = ?, last_seen = ?, resolved_at = ?, detail = CASE WHEN ? = '' THEN detail ELSE ? END
		WHERE run_id = ? AND rule = ? AND subject = ? AND state = 'firing'`,
		m.State, T(m.LastSeen), T(m.ResolvedAt), m.Detail, m.Detail, run, m.Rule, m.Subject)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 || m.State != messages.AlertFiring {
		return nil
	}
	_, err = tx.Exec(`INSERT INTO alerts (run_id, rule, subject, state, first_seen, last_seen, detail) VALUES (?, ?, ?, 'firing', ?, ?, ?)`,
		run, m.Rule, m.Subject, T(m.FirstSeen), T(m.LastSeen), m.Detail)
	return err
}

// writeStreamRemoved updates the stream's open registration row, or adds
// one for a stream an earlier run left.
func writeStreamRemoved(tx *sqlx.Tx, run int64, m *messages.StreamRemoved) error {
	var id int64
	err := tx.Get(&id, `SELECT id FROM go2rtc_streams WHERE run_id = ? AND stream = ? AND removed_at IS NULL ORDER BY id DESC LIMIT 1`, run, m.Stream)
	if errors.Is(err, sql.ErrNoRows) {
		res, err := tx.Exec(`INSERT INTO go2rtc_streams (run_id, stream, camera, subnet) VALUES (?, ?, ?, ?)`, run, m.Stream, m.Camera, m.Subnet)
		if err != nil {
			return err
		}
		id, _ = res.LastInsertId()
	} else if err != nil {
		return err
	}
	if m.Error != "" {
		_, err = tx.Exec(`UPDATE go2rtc_streams SET removal_attempts = removal_attempts + 1, last_error = ?, removal_reason = ? WHERE id = ?`,
			m.Error, m.Reason, id)
		return err
	}
	_, err = tx.Exec(`UPDATE go2rtc_streams SET removal_attempts = removal_attempts + 1, removed_at = ?, removal_reason = ? WHERE id = ?`,
		T(m.At), m.Reason, id)
	return err
}

// Prune deletes at most batch rows older than before from each table that
// grows, and reports how many went. Callers repeat it until it returns 0,
// so no single transaction holds the file for long.
func (s *Store) Prune(before time.Time, batch int) (int64, error) {
	cut := T(before)
	var total int64
	for _, q := range []string{
		`DELETE FROM process_samples WHERE id IN (SELECT id FROM process_samples WHERE at < ? LIMIT ?)`,
		`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ? LIMIT ?)`,
		`DELETE FROM leases WHERE id IN (SELECT id FROM leases WHERE granted_at < ? AND released_at IS NOT NULL LIMIT ?)`,
		`DELETE FROM go2rtc_streams WHERE id IN (SELECT id FROM go2rtc_streams WHERE registered_at < ? AND removed_at IS NOT NULL LIMIT ?)`,
		`DELETE FROM service_health WHERE id IN (SELECT id FROM service_health WHERE at < ? LIMIT ?)`,
		`DELETE FROM restarts WHERE id IN (SELECT id FROM restarts WHERE at < ? LIMIT ?)`,
		`DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE last_seen < ? AND state = 'resolved' LIMIT ?)`,
		`DELETE FROM captures WHERE id IN (SELECT id FROM captures WHERE started_at < ? LIMIT ?)`,
		`DELETE FROM processes WHERE id IN (SELECT id FROM processes WHERE started_at < ? AND ended_at IS NOT NULL LIMIT ?)`,
		`DELETE FROM cycles WHERE id IN (SELECT id FROM cycles WHERE started_at < ? LIMIT ?)`,
		`DELETE FROM config_changes WHERE id IN (SELECT id FROM config_changes WHERE at < ? LIMIT ?)`,
		`DELETE FROM ownership WHERE id IN (SELECT id FROM ownership WHERE acquired_at < ? AND released_at IS NOT NULL LIMIT ?)`,
		`DELETE FROM camera_pauses WHERE id IN (SELECT id FROM camera_pauses WHERE ended_at < ? LIMIT ?)`,
		// A run goes once its rows are gone: deleting it first would cascade
		// to all of them in one statement.
		`DELETE FROM runs WHERE id IN (SELECT id FROM runs r WHERE stopped_at < ?
			AND NOT EXISTS (SELECT 1 FROM captures WHERE run_id = r.id) AND NOT EXISTS (SELECT 1 FROM processes WHERE run_id = r.id)
			AND NOT EXISTS (SELECT 1 FROM process_samples WHERE run_id = r.id) AND NOT EXISTS (SELECT 1 FROM cycles WHERE run_id = r.id)
			AND NOT EXISTS (SELECT 1 FROM events WHERE run_id = r.id)
			AND NOT EXISTS (SELECT 1 FROM camera_pauses WHERE run_id = r.id) LIMIT ?)`,
	} {
		res, err := s.DB.Exec(q, cut, batch)
		if err != nil {
			return total, fmt.Errorf("prune: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(n int) any {
	if n == 0 {
		return nil
	}
	return n
}
