package web

// This file is the API's wire format, every shape API.md promises: the
// WebSocket's messages (Wire) and the REST answers below them. Handlers
// fill these types; none writes JSON of its own.

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"camvisor/actors"
	"camvisor/actors/redact"
	"camvisor/messages"
)

// Wire is the dashboards' WebSocket format (API.md, "WebSocket"): the
// JSON a dashboard receives for each fact the hub pushes, and what it may
// send. The tree's hub moves these bytes; their shape lives here, next to
// the document that promises it.
var Wire actors.Wire = wire{}

type wire struct{}

// cameraMessage is a `camera` message.
type cameraMessage struct {
	Type   string `json:"type"`
	Camera string `json:"camera"`
	Subnet string `json:"subnet"`
	slots
	MaxConnections      int    `json:"max_connections"`
	Queue               int    `json:"queue"`
	Failing             bool   `json:"failing"`
	ConsecutiveFailures int    `json:"consecutive_failures"`
	NextProbeAt         string `json:"next_probe_at,omitempty"`
	Busy                bool   `json:"busy"`
	LastOutcome         string `json:"last_outcome,omitempty"`
	LastVia             string `json:"last_via,omitempty"`
	LastCaptureAt       string `json:"last_capture_at,omitempty"`
	LastCaptureMS       int64  `json:"last_capture_ms,omitempty"`
	LastError           string `json:"last_error,omitempty"`
	FrameAt             string `json:"frame_at,omitempty"`
	Recent              []tick `json:"recent"`
	// State is the camera's (running, failing, busy, paused), absent
	// until its actor said; Pause is set while it is paused.
	State string       `json:"state,omitempty"`
	Pause *pauseAnswer `json:"pause,omitempty"`
}

// slots are the connections a camera actor counts against its
// max_connections, by what holds them: in a `camera` message and in GET
// /api/cameras alike.
type slots struct {
	SlotsFFmpeg   int `json:"slots_ffmpeg"`
	SlotsGo2RTC   int `json:"slots_go2rtc"`
	SlotsLease    int `json:"slots_lease"`
	SlotsExternal int `json:"slots_external"`
}

// tick is one capture of a camera's outcomes strip.
type tick struct {
	Outcome    string `json:"outcome"`
	At         string `json:"at"`
	DurationMS int64  `json:"duration_ms"`
	Via        string `json:"via,omitempty"`
}

// eventMessage is an `event` message: an event opened.
type eventMessage struct {
	Type     string       `json:"type"`
	ID       int64        `json:"id"`
	Camera   string       `json:"camera"`
	Subnet   string       `json:"subnet"`
	At       time.Time    `json:"at"`
	Label    string       `json:"label"`
	Score    float64      `json:"score"`
	Box      messages.Box `json:"box"`
	Detector string       `json:"detector"`
	Snapshot string       `json:"snapshot"`
}

// eventUpdatedMessage is an `event_updated` message: a later detection
// joined the event.
type eventUpdatedMessage struct {
	Type       string    `json:"type"`
	ID         int64     `json:"id"`
	Camera     string    `json:"camera"`
	LastSeen   time.Time `json:"last_seen"`
	Score      float64   `json:"score"`
	Detections int       `json:"detections"`
}

// playMessage is a `play` message: a live view started or was extended.
type playMessage struct {
	Type      string    `json:"type"`
	Camera    string    `json:"camera"`
	Subnet    string    `json:"subnet"`
	PlayerURL string    `json:"player_url"`
	Until     time.Time `json:"until"`
	Reason    string    `json:"reason"`
	EventID   int64     `json:"event_id"`
	Extended  bool      `json:"extended"`
}

// stopMessage is a `stop` message: a live view ended.
type stopMessage struct {
	Type   string `json:"type"`
	Camera string `json:"camera"`
	Reason string `json:"reason"`
}

// cycleMessage is a `cycle` message: a subnet's cycle ended.
type cycleMessage struct {
	Type       string    `json:"type"`
	Subnet     string    `json:"subnet"`
	Number     int64     `json:"number"`
	StartedAt  time.Time `json:"started_at"`
	EndedAt    time.Time `json:"ended_at"`
	DurationMS int64     `json:"duration_ms"`
	IntervalMS int64     `json:"interval_ms"`
	OK         int       `json:"ok"`
	Failed     int       `json:"failed"`
	TimedOut   int       `json:"timed_out"`
	Skipped    int       `json:"skipped"`
	Overran    bool      `json:"overran"`
}

// alertMessage is an `alert` message: an alert fired, was seen again or
// resolved.
type alertMessage struct {
	Type      string    `json:"type"`
	Rule      string    `json:"rule"`
	Subject   string    `json:"subject"`
	State     string    `json:"state"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Detail    string    `json:"detail"`
}

// reloadMessage is a `reload` message: the configuration was reloaded
// (its lists null when empty, unlike the REST answer's).
type reloadMessage struct {
	Type          string    `json:"type"`
	At            time.Time `json:"at"`
	Who           string    `json:"who"`
	Outcome       string    `json:"outcome"`
	Error         string    `json:"error"`
	Added         []string  `json:"added"`
	Removed       []string  `json:"removed"`
	Changed       []string  `json:"changed"`
	RestartNeeded []string  `json:"restart_needed"`
}

// admissionMessage is an `admission` message.
type admissionMessage struct {
	Type    string `json:"type"`
	Limit   int    `json:"limit"`
	Running int    `json:"running"`
	Waiting int    `json:"waiting"`
}

// pongMessage answers a dashboard's ping.
type pongMessage struct {
	Type string `json:"type"`
}

func wireTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Encode is the message a dashboard receives for v.
func (wire) Encode(v any) ([]byte, bool) {
	var out any
	switch m := v.(type) {
	case *actors.CameraView:
		c := cameraMessage{Type: "camera", Camera: m.Camera, Subnet: m.Subnet,
			slots:          slots{SlotsFFmpeg: m.SlotsFFmpeg, SlotsGo2RTC: m.SlotsGo2RTC, SlotsLease: m.SlotsLease, SlotsExternal: m.SlotsExternal},
			MaxConnections: m.MaxConnections, Queue: m.Queue, Failing: m.Failing, ConsecutiveFailures: m.ConsecutiveFailures,
			LastOutcome: string(m.LastOutcome), LastVia: m.LastVia, LastCaptureMS: m.LastCapture.Milliseconds(), LastError: m.LastError}
		if !m.LastCaptureAt.IsZero() {
			c.LastCaptureAt = wireTime(m.LastCaptureAt)
		}
		if !m.FrameAt.IsZero() {
			c.FrameAt = wireTime(m.FrameAt)
		}
		c.Recent = make([]tick, len(m.Recent))
		for i, r := range m.Recent {
			c.Recent[i] = tick{Outcome: string(r.Outcome), At: wireTime(r.At), DurationMS: r.Duration.Milliseconds(), Via: r.Via}
		}
		c.Busy = m.Busy
		if m.Failing && !m.NextProbe.IsZero() {
			c.NextProbeAt = m.NextProbe.UTC().Format(time.RFC3339)
		}
		c.State, c.Pause = m.State, pauseOf(m.Pause)
		out = c
	case *messages.EventOpened:
		out = eventMessage{Type: "event", ID: m.ID, Camera: m.Camera, Subnet: m.Subnet, At: m.At.UTC(), Label: m.Label, Score: m.Score,
			Box: m.Box, Detector: m.Detector, Snapshot: fmt.Sprintf("/api/events/%d/snapshot.jpg", m.ID)}
	case *messages.EventUpdated:
		out = eventUpdatedMessage{Type: "event_updated", ID: m.ID, Camera: m.Camera, LastSeen: m.LastSeen.UTC(), Score: m.Score,
			Detections: m.Detections}
	case *messages.PlaybackStarted:
		out = playMessage{Type: "play", Camera: m.Camera, Subnet: m.Subnet, PlayerURL: m.PlayerURL, Until: m.Until.UTC(),
			Reason: m.Reason, EventID: m.EventID, Extended: m.Extended}
	case *messages.PlaybackStopped:
		out = stopMessage{Type: "stop", Camera: m.Camera, Reason: m.Reason}
	case *messages.CycleEnded:
		out = cycleMessage{Type: "cycle", Subnet: m.Subnet, Number: m.Number, StartedAt: m.StartedAt.UTC(), EndedAt: m.EndedAt.UTC(),
			DurationMS: m.EndedAt.Sub(m.StartedAt).Milliseconds(), IntervalMS: m.Interval.Milliseconds(), OK: m.OK, Failed: m.Failed,
			TimedOut: m.TimedOut, Skipped: m.Skipped, Overran: m.Overran}
	case *messages.AlertChanged:
		out = alertMessage{Type: "alert", Rule: m.Rule, Subject: m.Subject, State: m.State, FirstSeen: m.FirstSeen.UTC(),
			LastSeen: m.LastSeen.UTC(), Detail: m.Detail}
	case *messages.ConfigReloaded:
		out = reloadMessage{Type: "reload", At: m.At.UTC(), Who: m.Who, Outcome: m.Outcome, Error: m.Error, Added: m.Added,
			Removed: m.Removed, Changed: m.Changed, RestartNeeded: m.Restart}
	case *messages.AdmissionChanged:
		out = admissionMessage{Type: "admission", Limit: m.Limit, Running: m.Running, Waiting: m.Waiting}
	case actors.ClientPong:
		out = pongMessage{Type: "pong"}
	default:
		return nil, false
	}
	data, err := json.Marshal(out)
	return data, err == nil
}

// clientMessage is what a dashboard may send.
type clientMessage struct {
	Type   string `json:"type"`
	Camera string `json:"camera"`
}

// Decode accepts `stop {camera}` (the Stop button) and `ping`.
func (wire) Decode(data []byte) (any, error) {
	var m clientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, errors.New("not a JSON message")
	}
	switch m.Type {
	case "stop":
		if m.Camera == "" {
			return nil, errors.New("stop without a camera")
		}
		return &messages.StopPlayback{Camera: m.Camera, Reason: "stopped from the dashboard"}, nil
	case "ping":
		return actors.ClientPing{}, nil
	}
	return nil, fmt.Errorf("unknown message type %q", redact.Clip(m.Type, 64)) // a dashboard's text is clipped wherever it goes
}

// The REST answers (API.md): one type per answer, its fields in the
// order API.md lists them. A pointer field is null when there is nothing
// to say (no answer from the tree, no capture yet); a list is [] when
// empty, never null.

// errorAnswer is every error: {"error": "…"}.
type errorAnswer struct {
	Error string `json:"error"`
}

// healthAnswer is GET /healthz.
type healthAnswer struct {
	Status string `json:"status"`
}

// statusAnswer is GET /api/status.
type statusAnswer struct {
	State           string          `json:"state"` // running or stopped
	Version         string          `json:"version"`
	Run             string          `json:"run"`
	StartedAt       time.Time       `json:"started_at"`
	Now             time.Time       `json:"now"`
	UptimeS         int             `json:"uptime_s"`
	FFmpegProcesses int             `json:"ffmpeg_processes"`
	Budget          int             `json:"budget"`
	AlertsFiring    int             `json:"alerts_firing"`
	Go2RTC          go2rtcStatus    `json:"go2rtc"`
	Detector        detectorStatus  `json:"detector"`
	Admission       admissionStatus `json:"admission"`
}

type go2rtcStatus struct {
	Enabled   bool   `json:"enabled"`
	Healthy   bool   `json:"healthy"`
	PlayerURL string `json:"player_url"`
}

type detectorStatus struct {
	Kind string `json:"kind"`
}

// admissionStatus is null in every field when the admission does not
// answer.
type admissionStatus struct {
	Limit         *int   `json:"limit"`
	Running       *int   `json:"running"`
	Waiting       *int   `json:"waiting"`
	UncontendedMS *int64 `json:"uncontended_ms"`
}

// camerasAnswer is GET /api/cameras.
type camerasAnswer struct {
	Cameras []cameraAnswer `json:"cameras"`
	// UnmatchedSources: null when go2rtc is not configured or has not
	// been listed yet.
	UnmatchedSources *[]unmatchedSource `json:"unmatched_sources"`
}

// unmatchedSource is a source of a go2rtc stream not camvisor's that may
// read one of the cameras, which camvisor cannot tell: its connections
// are counted against no camera's budget.
type unmatchedSource struct {
	Stream  string   `json:"stream"`
	URL     string   `json:"url"` // credentials as ***
	Open    bool     `json:"open"`
	Cameras []string `json:"cameras"` // the cameras it may read, [] when camvisor cannot tell
	Reason  string   `json:"reason"`
}

// cameraAnswer is one camera of GET /api/cameras; what its actor did not
// answer reads zero (and state "no answer").
type cameraAnswer struct {
	ID string `json:"id"`
	// Name is what people call it (cameras[].name, in any script; the id
	// when it has none).
	Name           string `json:"name"`
	Subnet         string `json:"subnet"`
	URL            string `json:"url"` // redacted
	MaxConnections int    `json:"max_connections"`
	slots
	QueueLength         int             `json:"queue_length"`
	Failing             bool            `json:"failing"`
	ConsecutiveFailures int             `json:"consecutive_failures"`
	Busy                bool            `json:"busy"`
	Breaker             *breakerAnswer  `json:"breaker"`
	CaptureP50MS        *int64          `json:"capture_p50_ms"`
	CaptureP95MS        *int64          `json:"capture_p95_ms"`
	LastCapture         *captureSummary `json:"last_capture"`
	FrameAt             *time.Time      `json:"frame_at"`
	Live                *liveView       `json:"live"`
	State               string          `json:"state"`
	Enabled             bool            `json:"enabled"` // false: cameras[].enabled is false (then paused for good)
	Pause               *pauseAnswer    `json:"pause"`   // while paused: by whom, why, until when
	Motion              *motionAnswer   `json:"motion"`  // the built-in motion detector's settings; null with an http detector
}

// pauseAnswer is a camera's pause: who paused it, why, since and until
// when (until null and disabled true for enabled: false in the config).
type pauseAnswer struct {
	By       string     `json:"by"`
	Reason   string     `json:"reason"`
	Since    *time.Time `json:"since"`
	Until    *time.Time `json:"until"`
	Disabled bool       `json:"disabled"`
}

// pauseOf is the answer for a pause, nil for none.
func pauseOf(p *messages.Pause) *pauseAnswer {
	if p == nil {
		return nil
	}
	out := &pauseAnswer{By: p.By, Reason: p.Reason, Disabled: p.Disabled}
	if !p.From.IsZero() {
		out.Since = ptr(p.From.UTC())
	}
	if !p.Until.IsZero() {
		out.Until = ptr(p.Until.UTC())
	}
	return out
}

// motionAnswer is a camera's motion settings in effect (its own, else the
// detector's defaults), with its masks: polygons in the picture's
// relative coordinates, x then y, from the top left.
type motionAnswer struct {
	Threshold int         `json:"threshold"`
	MinArea   float64     `json:"min_area"`
	Masks     [][]float64 `json:"masks"`
}

// pauseResult is POST /api/cameras/{id}/pause.
type pauseResult struct {
	Camera string       `json:"camera"`
	Paused bool         `json:"paused"`
	Pause  *pauseAnswer `json:"pause"`
	Killed []int        `json:"killed"` // the processes the pause stopped, gone from /proc
}

// resumeResult is POST /api/cameras/{id}/resume.
type resumeResult struct {
	Camera string       `json:"camera"`
	Paused bool         `json:"paused"`
	Ended  *pauseAnswer `json:"ended"` // the pause that ended
}

// breakerAnswer is a camera's breaker; the probe's time and back-off only
// while it is open.
type breakerAnswer struct {
	State       string     `json:"state"` // closed or open
	NextProbeAt *time.Time `json:"next_probe_at"`
	BackoffS    *float64   `json:"backoff_s"`
}

// captureOutcome is how a capture ended: in a camera's last capture and
// in a capture-now's answer alike.
type captureOutcome struct {
	Outcome    string `json:"outcome"`
	DurationMS int64  `json:"duration_ms"`
	Via        string `json:"via"`
	Error      string `json:"error"`
	OSPID      int    `json:"os_pid"` // the last process that served it, 0 if none
}

func outcomeOf(d *messages.CaptureDone) captureOutcome {
	return captureOutcome{Outcome: string(d.Outcome), DurationMS: d.EndedAt.Sub(d.StartedAt).Milliseconds(), Via: d.Via,
		Error: d.Error, OSPID: d.OSPID}
}

// captureSummary is a camera's last capture.
type captureSummary struct {
	captureOutcome
	At time.Time `json:"at"`
}

// liveView is a camera's live view now.
type liveView struct {
	Until     time.Time `json:"until"`
	PlayerURL string    `json:"player_url"`
}

// captureAnswer is POST /api/cameras/{id}/capture.
type captureAnswer struct {
	Camera string `json:"camera"`
	captureOutcome
	Bytes    int `json:"bytes"`
	Attempts int `json:"attempts"` // processes started for it
}

// liveStarted is POST /api/cameras/{id}/live.
type liveStarted struct {
	Playing   bool      `json:"playing"`
	PlayerURL string    `json:"player_url"`
	Until     time.Time `json:"until"`
}

// liveStopped is DELETE /api/cameras/{id}/live.
type liveStopped struct {
	Stopped bool `json:"stopped"`
}

// restartAnswer is POST /api/cameras/{id}/restart.
type restartAnswer struct {
	Restarted bool  `json:"restarted"`
	Killed    []int `json:"killed"` // the old instance's process ids, gone from /proc
}

// reloadAnswer is POST /api/config/reload, also when rejected (422).
type reloadAnswer struct {
	Outcome        string    `json:"outcome"`
	At             time.Time `json:"at"`
	Error          string    `json:"error"`
	Added          []string  `json:"added"`
	Removed        []string  `json:"removed"`
	Changed        []string  `json:"changed"`
	AddedSubnets   []string  `json:"added_subnets"`
	RemovedSubnets []string  `json:"removed_subnets"`
	RestartNeeded  []string  `json:"restart_needed"`
	Changes        []string  `json:"changes"`
}

// actorNode is a node of GET /api/actors: what every node has, then its
// kind's own fields (display data, in their names' order: the dashboard
// shows a kind it has no words for in that order).
type actorNode struct {
	Path      string      `json:"path"`
	Kind      string      `json:"kind"`
	State     string      `json:"state"`
	StartedAt *time.Time  `json:"started_at"`
	Restarts  int         `json:"restarts"`
	Children  []actorNode `json:"children"`
	// Fields are the kind's own; one named like a field above is dropped.
	Fields map[string]any `json:"-"`
}

// MarshalJSON writes the kind's fields flat beside the common ones.
func (n actorNode) MarshalJSON() ([]byte, error) {
	type common actorNode // without this method
	out, err := json.Marshal(common(n))
	if err != nil || len(n.Fields) == 0 {
		return out, err
	}
	taken := map[string]bool{"path": true, "kind": true, "state": true, "started_at": true, "restarts": true, "children": true}
	keys := slices.Sorted(maps.Keys(n.Fields))
	out = out[:len(out)-1] // reopen the object
	for _, k := range keys {
		if taken[k] {
			continue
		}
		name, _ := json.Marshal(k)
		value, err := json.Marshal(n.Fields[k])
		if err != nil {
			return nil, fmt.Errorf("field %s of %s: %w", k, n.Path, err)
		}
		out = append(append(append(append(out, ','), name...), ':'), value...)
	}
	return append(out, '}'), nil
}

// processesAnswer is GET /api/processes.
type processesAnswer struct {
	Processes []processAnswer `json:"processes"`
}

// processAnswer is one ffmpeg on the machine.
type processAnswer struct {
	OSPID   int      `json:"os_pid"`
	PPID    int      `json:"ppid"`
	PGID    int      `json:"pgid"`
	State   string   `json:"state"` // /proc's letter: R, S, Z …
	AgeS    float64  `json:"age_s"`
	Argv    []string `json:"argv"` // redacted
	Run     string   `json:"run"`
	Owner   string   `json:"owner"`
	Owned   bool     `json:"owned"`
	ThisRun bool     `json:"this_run"`
}

// eventsAnswer is GET /api/events.
type eventsAnswer struct {
	Events []event `json:"events"`
}

// event is one row of GET /api/events.
type event struct {
	ID         int64   `json:"id"`
	Camera     string  `json:"camera"`
	Subnet     string  `json:"subnet"`
	At         string  `json:"at"`
	LastSeen   string  `json:"last_seen"`
	Label      string  `json:"label"`
	Score      float64 `json:"score"`
	Box        [4]int  `json:"box"`
	Detections int     `json:"detections"`
	Detector   string  `json:"detector"`
	Snapshot   string  `json:"snapshot"`
}

// samplesAnswer is GET /api/samples.
type samplesAnswer struct {
	Samples []sample `json:"samples"`
}

// sample is the most processes and slots a camera had within a step.
type sample struct {
	At             string `json:"at"`
	Camera         string `json:"camera"`
	Processes      int    `json:"processes"`
	SlotsHeld      int    `json:"slots_held"`
	MaxConnections int    `json:"max_connections"`
}

// cyclesAnswer is GET /api/cycles.
type cyclesAnswer struct {
	Cycles []cycle `json:"cycles"`
}

// cycle is one patrol cycle of a subnet.
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

// alertsAnswer is GET /api/alerts.
type alertsAnswer struct {
	Alerts []alert `json:"alerts"`
}

// alert is one firing spell of a rule on a subject; resolved_at null
// while it fires.
type alert struct {
	Rule       string  `json:"rule"`
	Subject    string  `json:"subject"`
	State      string  `json:"state"`
	FirstSeen  string  `json:"first_seen"`
	LastSeen   string  `json:"last_seen"`
	ResolvedAt *string `json:"resolved_at"`
	Detail     string  `json:"detail"`
}
