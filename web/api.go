package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"camvisor/actors"
	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/actors/redact"
	"camvisor/db"
	"camvisor/messages"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ctx bounds a question to the tree from a handler.
func askCtx(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}

// config is the configuration that runs now: the cameras as last
// reloaded.
func (s *Server) config() *config.Config {
	if s.opts.Tree != nil {
		return s.opts.Tree.Config()
	}
	return s.opts.Config
}

// reload is POST /api/config/reload: the file read again and applied.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	wait := s.opts.Tree.ReloadBudget()
	s.extend(w, wait) // a reload that drains live views outlasts the write limit
	ctx, cancel := askCtx(r, wait)
	defer cancel()
	rec, err := s.opts.Tree.Reload(ctx, "api "+r.RemoteAddr)
	body := map[string]any{"outcome": rec.Outcome, "error": rec.Error, "added": nonNil(rec.Added), "removed": nonNil(rec.Removed),
		"changed": nonNil(rec.Changed), "added_subnets": nonNil(rec.AddedSubnets), "removed_subnets": nonNil(rec.RemovedSubnets),
		"restart_needed": nonNil(rec.Restart), "changes": nonNil(rec.Lines), "at": rec.At.UTC()}
	switch {
	case errors.Is(err, actors.ErrReloadRejected):
		body["error"] = rec.Error
		writeJSON(w, http.StatusUnprocessableEntity, body)
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusOK, body)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// camera finds a configured camera by id.
func (s *Server) camera(w http.ResponseWriter, r *http.Request) (config.SubnetCamera, bool) {
	id := r.PathValue("id")
	for _, c := range s.config().Cameras() {
		if c.ID == id {
			return c, true
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no camera %q", id))
	return config.SubnetCamera{}, false
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	cfg := s.config()
	budget := 0
	for _, c := range cfg.Cameras() {
		budget += c.MaxConnections
	}
	g2 := map[string]any{"enabled": cfg.Go2RTC.Enabled(), "healthy": false, "player_url": cfg.Go2RTC.Player()}
	if cfg.Go2RTC.Enabled() {
		ctx, cancel := askCtx(r, 2*time.Second)
		if h, err := s.opts.Tree.Go2RTCHealth(ctx); err == nil {
			g2["healthy"] = h.Healthy
		}
		cancel()
	}
	state := "running"
	select {
	case <-s.opts.Tree.Done():
		state = "stopped"
	default:
	}
	admission := map[string]any{"limit": nil, "running": nil, "waiting": nil, "uncontended_ms": nil}
	ctx, cancel := askCtx(r, 2*time.Second)
	if a, err := s.opts.Tree.Admission(ctx); err == nil {
		admission = map[string]any{"limit": a.Limit, "running": a.Running, "waiting": a.Waiting, "uncontended_ms": a.Uncontended.Milliseconds()}
	}
	cancel()
	writeJSON(w, http.StatusOK, map[string]any{
		"state": state, "version": s.opts.Version, "run": s.opts.RunID, "started_at": s.opts.StartedAt.UTC(), "now": time.Now().UTC(),
		"uptime_s": int(time.Since(s.opts.StartedAt).Seconds()), "ffmpeg_processes": s.opts.Tree.LiveProcesses(), "budget": budget,
		"alerts_firing": s.firingAlerts(r), "go2rtc": g2, "detector": map[string]any{"kind": cfg.Detector.Kind}, "admission": admission,
	})
}

func (s *Server) cameras(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := askCtx(r, 3*time.Second)
	defer cancel()
	playing := map[string]messages.PlaybackStarted{}
	if live, err := s.opts.Tree.Playbacks(ctx); err == nil {
		for _, p := range live {
			playing[p.Camera] = p
		}
	}
	cams := s.config().Cameras()
	out := make([]map[string]any, len(cams))
	for i, c := range cams {
		v := map[string]any{"id": c.ID, "subnet": c.Subnet, "url": redact.URL(c.URL), "max_connections": c.MaxConnections,
			"slots_ffmpeg": 0, "slots_go2rtc": 0, "slots_lease": 0, "slots_external": 0, "queue_length": 0, "failing": false, "consecutive_failures": 0,
			"last_capture": nil, "live": nil, "state": "no answer", "busy": false, "breaker": nil, "capture_p50_ms": nil, "capture_p95_ms": nil, "frame_at": nil}
		if st, err := s.opts.Tree.CameraStatus(ctx, c); err == nil {
			v["state"], v["slots_ffmpeg"], v["slots_go2rtc"], v["slots_lease"], v["slots_external"] = st.State, st.SlotsFFmpeg, st.SlotsGo2RTC, st.SlotsLease, st.SlotsExternal
			v["queue_length"] = st.QueueLength
			v["failing"], v["consecutive_failures"], v["busy"] = st.Failing, st.ConsecutiveFailures, st.Busy
			v["capture_p50_ms"], v["capture_p95_ms"] = st.CaptureP50.Milliseconds(), st.CaptureP95.Milliseconds()
			breaker := map[string]any{"state": st.Breaker, "next_probe_at": nil, "backoff_s": nil}
			if st.Breaker == "open" {
				breaker["next_probe_at"], breaker["backoff_s"] = st.NextProbe.UTC(), st.Backoff.Seconds()
			}
			v["breaker"] = breaker
			if d := st.Last; d != nil {
				v["last_capture"] = map[string]any{"outcome": d.Outcome, "at": d.EndedAt, "duration_ms": d.EndedAt.Sub(d.StartedAt).Milliseconds(),
					"via": d.Via, "error": d.Error, "os_pid": d.OSPID}
			}
		}
		if f, err := s.opts.Tree.Frame(ctx, c); err == nil && len(f.JPEG) > 0 {
			v["frame_at"] = f.At.UTC()
		}
		if p, ok := playing[c.ID]; ok {
			v["live"] = map[string]any{"until": p.Until.UTC(), "player_url": p.PlayerURL}
		}
		out[i] = v
	}
	writeJSON(w, http.StatusOK, map[string]any{"cameras": out})
}

func (s *Server) cameraSnapshot(w http.ResponseWriter, r *http.Request) {
	c, ok := s.camera(w, r)
	if !ok {
		return
	}
	ctx, cancel := askCtx(r, 3*time.Second)
	defer cancel()
	f, err := s.opts.Tree.Frame(ctx, c)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if len(f.JPEG) == 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("camera %s has no frame yet", c.ID))
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Last-Modified", f.At.UTC().Format(http.TimeFormat))
	_, _ = w.Write(f.JPEG)
}

// capture takes a frame now and waits for its outcome.
func (s *Server) capture(w http.ResponseWriter, r *http.Request) {
	c, ok := s.camera(w, r)
	if !ok {
		return
	}
	ff := s.opts.Config.FFmpeg
	wait := ff.CaptureTimeout.Duration + ff.KillGrace.Duration + 5*time.Second
	s.extend(w, wait)
	ctx, cancel := askCtx(r, wait)
	defer cancel()
	d, err := s.opts.Tree.Capture(ctx, c)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"camera": c.ID, "outcome": d.Outcome, "duration_ms": d.EndedAt.Sub(d.StartedAt).Milliseconds(),
		"via": d.Via, "bytes": d.Bytes, "error": d.Error, "os_pid": d.OSPID, "attempts": d.Attempts})
}

// startLive asks the playback policy for a live view: the same budget and
// limits as a detection's.
func (s *Server) startLive(w http.ResponseWriter, r *http.Request) {
	c, ok := s.camera(w, r)
	if !ok {
		return
	}
	ctx, cancel := askCtx(r, 15*time.Second)
	defer cancel()
	a, err := s.opts.Tree.StartLive(ctx, c.ID, "requested from the dashboard")
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if !a.Playing {
		writeError(w, http.StatusConflict, a.Reason)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"playing": true, "player_url": a.PlayerURL, "until": a.Until.UTC()})
}

func (s *Server) stopLive(w http.ResponseWriter, r *http.Request) {
	c, ok := s.camera(w, r)
	if !ok {
		return
	}
	s.opts.Tree.StopLive(c.ID, "stopped by the operator")
	writeJSON(w, http.StatusOK, map[string]any{"stopped": true})
}

// restart restarts a camera actor and answers once the new instance runs,
// naming the processes of the old one, checked gone from /proc.
func (s *Server) restart(w http.ResponseWriter, r *http.Request) {
	c, ok := s.camera(w, r)
	if !ok {
		return
	}
	wait := s.opts.Config.FFmpeg.KillGrace.Duration + 15*time.Second
	s.extend(w, wait)
	ctx, cancel := askCtx(r, wait)
	defer cancel()
	killed, err := s.opts.Tree.RestartCamera(ctx, c, "requested from the dashboard")
	switch {
	case err != nil && killed != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	case errors.Is(err, actors.ErrNotRunning):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case err != nil:
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("camera %s did not restart in time: %v", c.ID, err))
	default:
		writeJSON(w, http.StatusOK, map[string]any{"restarted": true, "killed": killed})
	}
}

// actorTree is GET /api/actors.
func (s *Server) actorTree(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := askCtx(r, 5*time.Second)
	defer cancel()
	n, err := s.opts.Tree.Describe(ctx)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "the root did not answer: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, nodeJSON(n))
}

// nodeJSON flattens a node's kind-specific fields beside the common ones.
func nodeJSON(n *messages.Node) map[string]any {
	out := map[string]any{"path": n.Path, "kind": n.Kind, "state": n.State, "restarts": n.Restarts, "children": []any{}}
	if !n.StartedAt.IsZero() {
		out["started_at"] = n.StartedAt.UTC()
	} else {
		out["started_at"] = nil
	}
	for k, v := range n.Fields {
		if _, taken := out[k]; !taken {
			out[k] = v
		}
	}
	children := make([]any, 0, len(n.Children))
	for _, c := range n.Children {
		children = append(children, nodeJSON(c))
	}
	out["children"] = children
	return out
}

// processes is every ffmpeg on the machine as /proc sees it, each marked
// owned by a live actor of this server or not.
func (s *Server) processes(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := askCtx(r, 5*time.Second)
	defer cancel()
	procs := s.opts.Tree.Processes(ctx)
	out := make([]map[string]any, 0, len(procs))
	for _, p := range procs {
		argv := make([]string, len(p.Argv))
		for i, a := range p.Argv {
			argv[i] = redact.Text(a)
		}
		out = append(out, map[string]any{"os_pid": p.PID, "ppid": p.PPID, "pgid": p.PGID, "state": p.State,
			"age_s": osproc.Age(p.Info).Seconds(), "argv": argv, "run": p.Run, "owner": p.Owner, "owned": p.Owned,
			"this_run": p.Class == osproc.ThisRun})
	}
	writeJSON(w, http.StatusOK, map[string]any{"processes": out})
}

// since reads ?since= (default 1h).
func since(r *http.Request) (time.Time, error) {
	v := r.URL.Query().Get("since")
	if v == "" {
		v = "1h"
	}
	t, err := db.ParseSince(v, time.Now())
	if err != nil {
		return time.Time{}, fmt.Errorf("since: %w", err)
	}
	return t, nil
}

// fromRecord answers {key: rows} with what query read from the record.
func (s *Server) fromRecord(w http.ResponseWriter, key string, query func(*db.Store) (any, error)) {
	store, err := s.reader()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	rows, err := query(store)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{key: rows})
}

// samples is the leak graph: per camera and minute, the most processes and
// slots seen.
func (s *Server) samples(w http.ResponseWriter, r *http.Request) {
	from, err := since(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	step := time.Minute
	if v := r.URL.Query().Get("step"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 24*time.Hour {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("step: %q is not a duration from 1s to 24h like 10s or 1m", v))
			return
		}
		step = d
	}
	type sample struct {
		At             string `json:"at"`
		Camera         string `json:"camera"`
		Processes      int    `json:"processes"`
		SlotsHeld      int    `json:"slots_held"`
		MaxConnections int    `json:"max_connections"`
	}
	s.fromRecord(w, "samples", func(st *db.Store) (any, error) {
		rows, err := st.SamplesEvery(from, step)
		return convert(rows, func(r db.Sample) sample { return sample(r) }), err
	})
}

func (s *Server) cycles(w http.ResponseWriter, r *http.Request) {
	from, err := since(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	type cycle struct {
		Subnet     string `json:"subnet"`
		Number     int64  `json:"number"`
		StartedAt  string `json:"started_at"`
		DurationMS int64  `json:"duration_ms"`
		IntervalMS int64  `json:"interval_ms"`
		Overran    bool   `json:"overran"`
		OK         int    `json:"ok"`
		Failed     int    `json:"failed"`
		TimedOut   int    `json:"timed_out"`
	}
	s.fromRecord(w, "cycles", func(st *db.Store) (any, error) {
		rows, err := st.Cycles(from)
		return convert(rows, func(r db.Cycle) cycle { return cycle(r) }), err
	})
}

// alerts lists what fires now, from the alerts actor's memory (the record
// may be what fails), then the history from the record, newest first.
func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	type alert struct {
		Rule       string  `json:"rule"`
		Subject    string  `json:"subject"`
		State      string  `json:"state"`
		FirstSeen  string  `json:"first_seen"`
		LastSeen   string  `json:"last_seen"`
		ResolvedAt *string `json:"resolved_at"`
		Detail     string  `json:"detail"`
	}
	ctx, cancel := askCtx(r, 3*time.Second)
	now, memErr := s.opts.Tree.Alerts(ctx)
	cancel()
	var rows []db.Alert
	store, err := s.reader()
	if err == nil {
		rows, err = store.Alerts()
	}
	if memErr != nil {
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "alerts: "+memErr.Error()+"; record: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"alerts": convert(rows, func(r db.Alert) alert { return alert(r) })})
		return
	}
	fromMemory := func(a messages.AlertChanged) alert {
		out := alert{Rule: a.Rule, Subject: a.Subject, State: a.State, FirstSeen: db.T(a.FirstSeen).(string),
			LastSeen: db.T(a.LastSeen).(string), Detail: a.Detail}
		if !a.ResolvedAt.IsZero() {
			at := db.T(a.ResolvedAt).(string)
			out.ResolvedAt = &at
		}
		return out
	}
	out := convert(now.Firing, fromMemory)
	seen := map[string]bool{}
	key := func(rule, subject, first string) string { return rule + "\x00" + subject + "\x00" + first }
	var history []alert
	for _, a := range now.Resolved {
		h := fromMemory(a)
		seen[key(h.Rule, h.Subject, h.FirstSeen)] = true
		history = append(history, h)
	}
	for _, row := range rows {
		// A row still marked firing is memory's to tell: firing now (listed
		// above) or resolved with its row not written yet.
		if row.State == messages.AlertFiring || seen[key(row.Rule, row.Subject, row.FirstSeen)] {
			continue
		}
		history = append(history, alert(row))
	}
	slices.SortStableFunc(history, func(a, b alert) int { return strings.Compare(b.LastSeen, a.LastSeen) })
	out = append(out, history[:min(len(history), 500)]...)
	writeJSON(w, http.StatusOK, map[string]any{"alerts": out})
}

// convert maps record rows to their JSON shape.
func convert[R, J any](rows []R, f func(R) J) []J {
	out := make([]J, len(rows))
	for i, r := range rows {
		out[i] = f(r)
	}
	return out
}

// firingAlerts counts the alerts firing now, from the alerts actor's
// memory; from the record when the actor does not answer.
func (s *Server) firingAlerts(r *http.Request) int {
	ctx, cancel := askCtx(r, 2*time.Second)
	defer cancel()
	if now, err := s.opts.Tree.Alerts(ctx); err == nil {
		return len(now.Firing)
	}
	store, err := s.reader()
	if err != nil {
		return 0
	}
	n, _ := store.FiringAlerts()
	return n
}

// metrics serves the Prometheus exposition.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.opts.Tree == nil || s.opts.Tree.Metrics == nil {
		writeError(w, http.StatusNotFound, "no metrics")
		return
	}
	promhttp.HandlerFor(s.opts.Tree.Metrics.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}
