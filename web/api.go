package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"camvisor/actors"
	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/db"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ask sends msg to the actor at path and waits for its answer. Handlers
// learn actor state only this way: by message, never by shared memory.
func (s *Server) ask(path string, msg any, timeout time.Duration) (any, error) {
	res, err := s.opts.Tree.System.Root.RequestFuture(s.opts.Tree.PID(path), msg, timeout).Result()
	if errors.Is(err, actor.ErrDeadLetter) {
		return nil, fmt.Errorf("%s is not running", path)
	}
	if errors.Is(err, actor.ErrTimeout) {
		return nil, fmt.Errorf("%s did not answer within %s", path, timeout)
	}
	return res, err
}

// camera finds a configured camera by id.
func (s *Server) camera(w http.ResponseWriter, r *http.Request) (config.SubnetCamera, bool) {
	id := r.PathValue("id")
	for _, c := range s.opts.Config.Cameras() {
		if c.ID == id {
			return c, true
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no camera %q", id))
	return config.SubnetCamera{}, false
}

// describeCamera asks one camera actor for its node.
func (s *Server) describeCamera(c config.SubnetCamera, shallow bool) (*messages.Node, error) {
	res, err := s.ask(actors.CameraPath(c.Subnet, c.ID), &messages.Describe{Shallow: shallow}, 3*time.Second)
	if err != nil {
		return nil, err
	}
	return res.(*messages.Node), nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	cfg := s.opts.Config
	budget := 0
	for _, c := range cfg.Cameras() {
		budget += c.MaxConnections
	}
	live := 0
	for _, p := range osproc.Scan("ffmpeg") {
		if p.Run == s.opts.RunID && !p.Zombie() {
			live++
		}
	}
	g2 := map[string]any{"enabled": cfg.Go2RTC.Enabled(), "healthy": false, "player_url": cfg.Go2RTC.Player()}
	if cfg.Go2RTC.Enabled() {
		if res, err := s.ask("gateway", &messages.Describe{Shallow: true}, 2*time.Second); err == nil {
			g2["healthy"] = res.(*messages.Node).Fields["healthy"]
		}
	}
	state := "running"
	select {
	case <-s.opts.Tree.Done():
		state = "stopped"
	default:
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"state": state, "version": s.opts.Version, "run": s.opts.RunID, "started_at": s.opts.StartedAt.UTC(),
		"uptime_s": int(time.Since(s.opts.StartedAt).Seconds()), "ffmpeg_processes": live, "budget": budget,
		"alerts_firing": s.firingAlerts(), "go2rtc": g2, "detector": map[string]any{"kind": cfg.Detector.Kind},
	})
}

func (s *Server) cameras(w http.ResponseWriter, r *http.Request) {
	playing := map[string]messages.PlaybackStarted{}
	if res, err := s.ask("playback", &messages.GetPlaybacks{}, 2*time.Second); err == nil {
		for _, p := range res.(*messages.Playbacks).Live {
			playing[p.Camera] = p
		}
	}
	cams := s.opts.Config.Cameras()
	out := make([]map[string]any, len(cams))
	for i, c := range cams {
		v := map[string]any{"id": c.ID, "subnet": c.Subnet, "url": config.RedactURL(c.URL), "max_connections": c.MaxConnections,
			"slots_ffmpeg": 0, "slots_lease": 0, "queue_length": 0, "failing": false, "consecutive_failures": 0,
			"last_capture": nil, "live": nil, "state": "no answer"}
		if n, err := s.describeCamera(c, true); err == nil {
			v["state"] = n.State
			for _, k := range []string{"slots_ffmpeg", "slots_lease", "queue_length", "failing", "consecutive_failures", "last_capture"} {
				v[k] = n.Fields[k]
			}
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
	res, err := s.ask(actors.CameraPath(c.Subnet, c.ID), &messages.GetFrame{}, 3*time.Second)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	f := res.(*messages.Frame)
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
	res, err := s.ask(actors.CameraPath(c.Subnet, c.ID), &messages.Capture{Camera: c.ID, Reason: "operator"},
		ff.CaptureTimeout.Duration+ff.KillGrace.Duration+5*time.Second)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	d := res.(*messages.CaptureDone)
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
	res, err := s.ask("playback", &messages.StartPlayback{Camera: c.ID, Reason: "requested from the dashboard"}, 15*time.Second)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	a := res.(*messages.PlaybackAnswer)
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
	s.opts.Tree.System.Root.Send(s.opts.Tree.PID("playback"), &messages.StopPlayback{Camera: c.ID, Reason: "stopped by the operator"})
	writeJSON(w, http.StatusOK, map[string]any{"stopped": true})
}

// restart restarts a camera actor and answers once the new instance runs,
// naming the processes of the old one, checked gone from /proc.
func (s *Server) restart(w http.ResponseWriter, r *http.Request) {
	c, ok := s.camera(w, r)
	if !ok {
		return
	}
	before, err := s.describeCamera(c, false)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	var pids []int
	walk(before, func(n *messages.Node) {
		if pid, ok := n.Fields["os_pid"].(int); ok && n.Kind == "ffmpeg" {
			pids = append(pids, pid)
		}
	})
	s.opts.Tree.System.Root.Send(s.opts.Tree.PID(actors.CameraPath(c.Subnet, c.ID)), &messages.RestartCamera{Reason: "requested from the dashboard"})
	deadline := time.Now().Add(s.opts.Config.FFmpeg.KillGrace.Duration + 15*time.Second)
	for {
		if n, err := s.describeCamera(c, true); err == nil && n.Restarts > before.Restarts {
			break
		}
		if time.Now().After(deadline) {
			writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("camera %s did not restart in time", c.ID))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	var alive []int
	for _, pid := range pids {
		if info, ok := osproc.Read(pid); ok && !info.Zombie() {
			alive = append(alive, pid)
		}
	}
	if len(alive) > 0 {
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("camera %s restarted but processes %v of the old instance are still alive", c.ID, alive))
		return
	}
	if pids == nil {
		pids = []int{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"restarted": true, "killed": pids})
}

// actorTree is GET /api/actors.
func (s *Server) actorTree(w http.ResponseWriter, r *http.Request) {
	res, err := s.opts.Tree.System.Root.RequestFuture(s.opts.Tree.Root, &messages.Describe{}, 5*time.Second).Result()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "the root did not answer: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, nodeJSON(res.(*messages.Node)))
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

func walk(n *messages.Node, f func(*messages.Node)) {
	if n == nil {
		return
	}
	f(n)
	for _, c := range n.Children {
		walk(c, f)
	}
}

// processes is every ffmpeg on the machine as /proc sees it, each marked
// owned by a live actor of this server or not.
func (s *Server) processes(w http.ResponseWriter, r *http.Request) {
	owners := map[int]string{}
	if res, err := s.opts.Tree.System.Root.RequestFuture(s.opts.Tree.Root, &messages.Describe{}, 5*time.Second).Result(); err == nil {
		walk(res.(*messages.Node), func(n *messages.Node) {
			if pid, ok := n.Fields["os_pid"].(int); ok && n.Kind == "ffmpeg" {
				owners[pid] = n.Path
			}
		})
	}
	procs := osproc.Scan("ffmpeg")
	out := make([]map[string]any, 0, len(procs))
	for _, p := range procs {
		argv := make([]string, len(p.Argv))
		for i, a := range p.Argv {
			argv[i] = config.RedactText(a)
		}
		owner, owned := owners[p.PID]
		if !owned {
			owner = p.Owner // what its tag claims, for the operator
		}
		out = append(out, map[string]any{"os_pid": p.PID, "ppid": p.PPID, "pgid": p.PGID, "state": p.State,
			"age_s": osproc.Age(p).Seconds(), "argv": argv, "run": p.Run, "owner": owner, "owned": owned,
			"this_run": p.Run == s.opts.RunID})
	}
	slices.SortFunc(out, func(a, b map[string]any) int { return a["os_pid"].(int) - b["os_pid"].(int) })
	writeJSON(w, http.StatusOK, map[string]any{"processes": out})
}

// since reads ?since= (default 1h) as stored time text.
func since(r *http.Request) (string, error) {
	v := r.URL.Query().Get("since")
	if v == "" {
		v = "1h"
	}
	t, err := config.ParseSince(v, time.Now())
	if err != nil {
		return "", fmt.Errorf("since: %w", err)
	}
	return t.UTC().Format(db.TimeFormat), nil
}

// rows answers {key: rows} for a read-only query of the record.
func (s *Server) rows(w http.ResponseWriter, key string, rows any, query string, args ...any) {
	store, err := s.reader()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if err := store.DB.Select(rows, query, args...); err != nil {
		writeError(w, http.StatusInternalServerError, key+": "+err.Error())
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
	type sample struct {
		At             string `json:"at" db:"at"`
		Camera         string `json:"camera" db:"camera"`
		Processes      int    `json:"processes" db:"processes"`
		SlotsHeld      int    `json:"slots_held" db:"slots_held"`
		MaxConnections int    `json:"max_connections" db:"max_connections"`
	}
	s.rows(w, "samples", &[]sample{}, `SELECT substr(at, 1, 16) || ':00.000Z' AS at, camera, MAX(processes) AS processes,
		MAX(slots_held) AS slots_held, MAX(max_connections) AS max_connections
		FROM process_samples WHERE at >= ? GROUP BY substr(at, 1, 16), camera ORDER BY at, camera LIMIT 100000`, from)
}

func (s *Server) cycles(w http.ResponseWriter, r *http.Request) {
	from, err := since(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	type cycle struct {
		Subnet     string `json:"subnet" db:"subnet"`
		Number     int64  `json:"number" db:"number"`
		StartedAt  string `json:"started_at" db:"started_at"`
		DurationMS int64  `json:"duration_ms" db:"duration_ms"`
		IntervalMS int64  `json:"interval_ms" db:"interval_ms"`
		Overran    bool   `json:"overran" db:"overran"`
		OK         int    `json:"ok" db:"cameras_ok"`
		Failed     int    `json:"failed" db:"cameras_failed"`
		TimedOut   int    `json:"timed_out" db:"cameras_timed_out"`
	}
	s.rows(w, "cycles", &[]cycle{}, `SELECT subnet, number, started_at, duration_ms, interval_ms, overran, cameras_ok,
		cameras_failed, cameras_timed_out FROM cycles WHERE started_at >= ? ORDER BY started_at LIMIT 20000`, from)
}

func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	type alert struct {
		Rule       string  `json:"rule" db:"rule"`
		Subject    string  `json:"subject" db:"subject"`
		State      string  `json:"state" db:"state"`
		FirstSeen  string  `json:"first_seen" db:"first_seen"`
		LastSeen   string  `json:"last_seen" db:"last_seen"`
		ResolvedAt *string `json:"resolved_at" db:"resolved_at"`
		Detail     string  `json:"detail" db:"detail"`
	}
	s.rows(w, "alerts", &[]alert{}, `SELECT rule, subject, state, first_seen, last_seen, resolved_at, detail FROM alerts
		ORDER BY state = 'firing' DESC, last_seen DESC LIMIT 500`)
}

// firingAlerts counts the alerts firing now, from the record.
func (s *Server) firingAlerts() int {
	store, err := s.reader()
	if err != nil {
		return 0
	}
	var n int
	_ = store.DB.Get(&n, `SELECT COUNT(*) FROM alerts WHERE state = 'firing'`)
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
