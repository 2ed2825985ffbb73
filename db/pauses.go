package db

import (
	"fmt"

	"camvisor/messages"
)

// OpenPauses are the pauses not ended yet, oldest first: what a camvisor
// that starts takes up again (BeginRun ended those whose end came while
// none ran).
func (s *Store) OpenPauses() ([]messages.Pause, error) {
	var rows []struct {
		ID      int64  `db:"id"`
		Camera  string `db:"camera"`
		Who     string `db:"who"`
		Why     string `db:"why"`
		Started string `db:"started_at"`
		Until   string `db:"until"`
	}
	err := s.DB.Select(&rows, `SELECT id, camera, who, why, started_at, until FROM camera_pauses
		WHERE ended_at IS NULL ORDER BY started_at, id`)
	if err != nil {
		return nil, wrap("open pauses", err)
	}
	out := make([]messages.Pause, 0, len(rows))
	for _, r := range rows {
		from, ok1 := parseT(r.Started)
		until, ok2 := parseT(r.Until)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("open pauses: pause %d has times %q and %q that do not parse", r.ID, r.Started, r.Until)
		}
		out = append(out, messages.Pause{ID: r.ID, Camera: r.Camera, By: r.Who, Reason: r.Why, From: from, Until: until})
	}
	return out, nil
}

// CameraNames are the display names the record knows, by camera id: each
// camera's name in the latest run that gave it one.
func (s *Store) CameraNames() (map[string]string, error) {
	var rows []struct {
		ID   string `db:"id"`
		Name string `db:"name"`
	}
	err := s.DB.Select(&rows, `SELECT id, name FROM cameras WHERE name <> '' ORDER BY run_id`)
	if err != nil {
		return nil, wrap("camera names", err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Name // later runs overwrite earlier ones
	}
	return out, nil
}
