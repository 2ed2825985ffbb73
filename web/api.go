package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"camvisor/actors"
	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/actors/redact"
	"camvisor/db"
	"camvisor/messages"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// askCtx bounds a request's questions to the tree by its budget d (a
// field of Limits, listed in API.md): they end when it passes or when the
// client goes, whichever comes first, and none outlives the request.
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
	switch {
	case errors.Is(err, actors.ErrReloadRejected):
		writeJSON(w, http.StatusUnprocessableEntity, reloadOf(rec))
	case errors.Is(err, actors.ErrNoTime):
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("no reload within %s: %v", wait, err))
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusOK, reloadOf(rec))
	}
}

// reloadOf is the answer for a reload.
func reloadOf(rec *messages.ConfigReloaded) reloadAnswer {
	return reloadAnswer{Outcome: rec.Outcome, At: rec.At.UTC(), Error: rec.Error, Added: nonNil(rec.Added), Removed: nonNil(rec.Removed),
		Changed: nonNil(rec.Changed), AddedSubnets: nonNil(rec.AddedSubnets), RemovedSubnets: nonNil(rec.RemovedSubnets),
		RestartNeeded: nonNil(rec.Restart), Changes: nonNil(rec.Lines)}
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
	out := statusAnswer{State: "running", Version: s.opts.Version, Run: s.opts.RunID, StartedAt: s.opts.StartedAt.UTC(), Now: time.Now().UTC(),
		UptimeS: int(time.Since(s.opts.StartedAt).Seconds()), FFmpegProcesses: s.opts.Tree.LiveProcesses(), Budget: budget,
		Go2RTC:   go2rtcStatus{Enabled: cfg.Go2RTC.Enabled(), PlayerURL: cfg.Go2RTC.Player()},
		Detector: detectorStatus{Kind: cfg.Detector.Kind}}
	// The questions go at once, each with the whole budget.
	ctx, cancel := askCtx(r, s.lim.Question)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { out.AlertsFiring = s.firingAlerts(ctx) })
	if cfg.Go2RTC.Enabled() {
		wg.Go(func() {
			if h, err := s.opts.Tree.Go2RTCHealth(ctx); err == nil {
				out.Go2RTC.Healthy = h.Healthy
			}
		})
	}
	wg.Go(func() {
		if a, err := s.opts.Tree.Admission(ctx); err == nil {
			out.Admission = admissionStatus{Limit: &a.Limit, Running: &a.Running, Waiting: &a.Waiting, UncontendedMS: ptr(a.Uncontended.Milliseconds())}
		}
	})
	wg.Wait()
	select {
	case <-s.opts.Tree.Done():
		out.State = "stopped"
	default:
	}
	writeJSON(w, http.StatusOK, out)
}

// ptr is a pointer to v, for a field that is null when unknown.
func ptr[T any](v T) *T { return &v }

// cameras is GET /api/cameras: each camera asked at once (at most
// cameraQuestions at a time), so that one camera that does not answer
// (restarting, stuck) costs the others nothing; it shows as "no answer".
func (s *Server) cameras(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := askCtx(r, s.lim.Question)
	defer cancel()
	cams := s.config().Cameras()
	out := camerasAnswer{Cameras: make([]cameraAnswer, len(cams))}
	playing := map[string]messages.PlaybackStarted{}
	var wg sync.WaitGroup
	wg.Go(func() {
		if live, err := s.opts.Tree.Playbacks(ctx); err == nil {
			for _, p := range live {
				playing[p.Camera] = p
			}
		}
	})
	asking := make(chan struct{}, cameraQuestions)
	for i, c := range cams {
		wg.Go(func() {
			asking <- struct{}{}
			defer func() { <-asking }()
			out.Cameras[i] = s.cameraOf(ctx, c)
		})
	}
	wg.Wait()
	for i, c := range out.Cameras {
		if p, ok := playing[c.ID]; ok {
			out.Cameras[i].Live = &liveView{Until: p.Until.UTC(), PlayerURL: p.PlayerURL}
		}
	}
	if !s.config().Go2RTC.Enabled() {
		writeJSON(w, http.StatusOK, out)
		return
	}
	if u, err := s.opts.Tree.UnmatchedSources(ctx); err == nil && u.Listed {
		list := make([]unmatchedSource, 0, len(u.Sources))
		for _, src := range u.Sources {
			list = append(list, unmatchedSource{Stream: src.Stream, URL: redact.Text(src.URL), Open: src.Open,
				Cameras: append([]string{}, src.Cameras...), Reason: src.Reason})
		}
		out.UnmatchedSources = &list
	}
	writeJSON(w, http.StatusOK, out)
}

// cameraQuestions bounds the cameras GET /api/cameras asks at once.
const cameraQuestions = 16

// cameraOf is camera c as its actor answers within ctx.
func (s *Server) cameraOf(ctx context.Context, c config.SubnetCamera) cameraAnswer {
	v := cameraAnswer{ID: c.ID, Name: c.DisplayName(), Subnet: c.Subnet, URL: redact.URL(c.URL), MaxConnections: c.MaxConnections,
		State: "no answer", Enabled: c.IsEnabled(), Motion: s.motionOf(c)}
	if st, err := s.opts.Tree.CameraStatus(ctx, c); err == nil {
		v.State, v.QueueLength, v.Pause = st.State, st.QueueLength, pauseOf(st.Pause)
		v.slots = slots{SlotsFFmpeg: st.SlotsFFmpeg, SlotsGo2RTC: st.SlotsGo2RTC, SlotsLease: st.SlotsLease, SlotsExternal: st.SlotsExternal}
		v.Failing, v.ConsecutiveFailures, v.Busy = st.Failing, st.ConsecutiveFailures, st.Busy
		v.CaptureP50MS, v.CaptureP95MS = ptr(st.CaptureP50.Milliseconds()), ptr(st.CaptureP95.Milliseconds())
		v.Breaker = &breakerAnswer{State: st.Breaker}
		if st.Breaker == "open" {
			v.Breaker.NextProbeAt, v.Breaker.BackoffS = ptr(st.NextProbe.UTC()), ptr(st.Backoff.Seconds())
		}
		if d := st.Last; d != nil {
			v.LastCapture = &captureSummary{captureOutcome: outcomeOf(d), At: d.EndedAt.UTC()}
		}
	}
	if f, err := s.opts.Tree.Frame(ctx, c); err == nil && len(f.JPEG) > 0 {
		v.FrameAt = ptr(f.At.UTC())
	}
	return v
}

func (s *Server) cameraSnapshot(w http.ResponseWriter, r *http.Request) {
	c, ok := s.camera(w, r)
	if !ok {
		return
	}
	ctx, cancel := askCtx(r, s.lim.Question)
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
	wait := ff.CaptureTimeout.Duration + ff.KillGrace.Duration + s.lim.CaptureMargin
	s.extend(w, wait)
	ctx, cancel := askCtx(r, wait)
	defer cancel()
	d, err := s.opts.Tree.Capture(ctx, c)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if d.Outcome == messages.OutcomePaused {
		writeError(w, http.StatusConflict, d.Error) // nothing was tried: the camera is paused
		return
	}
	writeJSON(w, http.StatusOK, captureAnswer{Camera: c.ID, captureOutcome: outcomeOf(d), Bytes: d.Bytes, Attempts: d.Attempts})
}

// startLive asks the playback policy for a live view: the same budget and
// limits as a detection's.
func (s *Server) startLive(w http.ResponseWriter, r *http.Request) {
	c, ok := s.camera(w, r)
	if !ok {
		return
	}
	s.extend(w, s.lim.Live)
	ctx, cancel := askCtx(r, s.lim.Live)
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
	writeJSON(w, http.StatusOK, liveStarted{Playing: true, PlayerURL: a.PlayerURL, Until: a.Until.UTC()})
}

func (s *Server) stopLive(w http.ResponseWriter, r *http.Request) {
	c, ok := s.camera(w, r)
	if !ok {
		return
	}
	s.opts.Tree.StopLive(c.ID, "stopped by the operator")
	writeJSON(w, http.StatusOK, liveStopped{Stopped: true})
}

// restart restarts a camera actor and answers once the new instance runs,
// naming the processes of the old one, checked gone from /proc. Restarts
// asked while one is pending join it; one that runs out of its budget is
// withdrawn unless the camera already began it.
func (s *Server) restart(w http.ResponseWriter, r *http.Request) {
	c, ok := s.camera(w, r)
	if !ok {
		return
	}
	wait := s.opts.Config.FFmpeg.KillGrace.Duration + s.lim.Restart
	s.extend(w, wait)
	ctx, cancel := askCtx(r, wait)
	defer cancel()
	killed, err := s.opts.Tree.RestartCamera(ctx, c, "requested from the dashboard")
	switch {
	case err != nil && killed != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("camera %s did not restart within %s: %v", c.ID, wait, err))
	default:
		writeJSON(w, http.StatusOK, restartAnswer{Restarted: true, Killed: killed})
	}
}

// actorTree is GET /api/actors.
func (s *Server) actorTree(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := askCtx(r, s.lim.Question)
	defer cancel()
	n, err := s.opts.Tree.Describe(ctx)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "the root did not answer: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, nodeOf(n))
}

// nodeOf is the answer for a node and the nodes below it.
func nodeOf(n *messages.Node) actorNode {
	out := actorNode{Path: n.Path, Kind: n.Kind, State: n.State, Restarts: n.Restarts, Fields: n.Fields,
		Children: make([]actorNode, 0, len(n.Children))}
	if !n.StartedAt.IsZero() {
		out.StartedAt = ptr(n.StartedAt.UTC())
	}
	for _, c := range n.Children {
		out.Children = append(out.Children, nodeOf(c))
	}
	return out
}

// processes is every ffmpeg on the machine as /proc sees it, each marked
// owned by a live actor of this server or not.
func (s *Server) processes(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := askCtx(r, s.lim.Question)
	defer cancel()
	procs := s.opts.Tree.Processes(ctx)
	out := processesAnswer{Processes: make([]processAnswer, 0, len(procs))}
	for _, p := range procs {
		argv := make([]string, len(p.Argv))
		for i, a := range p.Argv {
			argv[i] = redact.Text(a)
		}
		out.Processes = append(out.Processes, processAnswer{OSPID: p.PID, PPID: p.PPID, PGID: p.PGID, State: p.State,
			AgeS: osproc.Age(p.Info).Seconds(), Argv: argv, Run: p.Run, Owner: p.Owner, Owned: p.Owned, ThisRun: p.Class == osproc.ThisRun})
	}
	writeJSON(w, http.StatusOK, out)
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

// fromRecord answers what query read from the record.
func fromRecord[A any](s *Server, w http.ResponseWriter, query func(*db.Store) (A, error)) {
	store, err := s.reader()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	answer, err := query(store)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, answer)
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
	fromRecord(s, w, func(st *db.Store) (samplesAnswer, error) {
		rows, err := st.SamplesEvery(from, step)
		return samplesAnswer{Samples: convert(rows, func(r db.Sample) sample { return sample(r) })}, err
	})
}

func (s *Server) cycles(w http.ResponseWriter, r *http.Request) {
	from, err := since(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	fromRecord(s, w, func(st *db.Store) (cyclesAnswer, error) {
		rows, err := st.Cycles(from)
		return cyclesAnswer{Cycles: convert(rows, func(r db.Cycle) cycle { return cycle(r) })}, err
	})
}

// alerts lists what fires now, from the alerts actor's memory (the record
// may be what fails), then the history from the record, newest first.
func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := askCtx(r, s.lim.Question)
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
		writeJSON(w, http.StatusOK, alertsAnswer{Alerts: convert(rows, func(r db.Alert) alert { return alert(r) })})
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
	writeJSON(w, http.StatusOK, alertsAnswer{Alerts: out})
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
func (s *Server) firingAlerts(ctx context.Context) int {
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
