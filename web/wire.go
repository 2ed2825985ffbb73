package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"camvisor/actors"
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
	Type                string `json:"type"`
	Camera              string `json:"camera"`
	Subnet              string `json:"subnet"`
	SlotsFFmpeg         int    `json:"slots_ffmpeg"`
	SlotsGo2RTC         int    `json:"slots_go2rtc"`
	SlotsLease          int    `json:"slots_lease"`
	SlotsExternal       int    `json:"slots_external"`
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
}

// tick is one capture of a camera's outcomes strip.
type tick struct {
	Outcome    string `json:"outcome"`
	At         string `json:"at"`
	DurationMS int64  `json:"duration_ms"`
	Via        string `json:"via,omitempty"`
}

func wireTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Encode is the message a dashboard receives for v.
func (wire) Encode(v any) ([]byte, bool) {
	var out any
	switch m := v.(type) {
	case *actors.CameraView:
		c := cameraMessage{Type: "camera", Camera: m.Camera, Subnet: m.Subnet, SlotsFFmpeg: m.SlotsFFmpeg, SlotsGo2RTC: m.SlotsGo2RTC,
			SlotsLease: m.SlotsLease, SlotsExternal: m.SlotsExternal,
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
		out = c
	case *messages.EventOpened:
		out = map[string]any{"type": "event", "id": m.ID, "camera": m.Camera, "subnet": m.Subnet, "at": m.At.UTC(),
			"label": m.Label, "score": m.Score, "box": m.Box, "detector": m.Detector,
			"snapshot": fmt.Sprintf("/api/events/%d/snapshot.jpg", m.ID)}
	case *messages.EventUpdated:
		out = map[string]any{"type": "event_updated", "id": m.ID, "camera": m.Camera, "last_seen": m.LastSeen.UTC(),
			"score": m.Score, "detections": m.Detections}
	case *messages.PlaybackStarted:
		out = map[string]any{"type": "play", "camera": m.Camera, "subnet": m.Subnet, "player_url": m.PlayerURL,
			"until": m.Until.UTC(), "reason": m.Reason, "event_id": m.EventID, "extended": m.Extended}
	case *messages.PlaybackStopped:
		out = map[string]any{"type": "stop", "camera": m.Camera, "reason": m.Reason}
	case *messages.CycleEnded:
		out = map[string]any{"type": "cycle", "subnet": m.Subnet, "number": m.Number, "started_at": m.StartedAt.UTC(),
			"ended_at": m.EndedAt.UTC(), "duration_ms": m.EndedAt.Sub(m.StartedAt).Milliseconds(),
			"interval_ms": m.Interval.Milliseconds(), "ok": m.OK, "failed": m.Failed, "timed_out": m.TimedOut,
			"skipped": m.Skipped, "overran": m.Overran}
	case *messages.AlertChanged:
		out = map[string]any{"type": "alert", "rule": m.Rule, "subject": m.Subject, "state": m.State,
			"first_seen": m.FirstSeen.UTC(), "last_seen": m.LastSeen.UTC(), "detail": m.Detail}
	case *messages.ConfigReloaded:
		out = map[string]any{"type": "reload", "at": m.At.UTC(), "who": m.Who, "outcome": m.Outcome, "error": m.Error,
			"added": m.Added, "removed": m.Removed, "changed": m.Changed, "restart_needed": m.Restart}
	case *messages.AdmissionChanged:
		out = map[string]any{"type": "admission", "limit": m.Limit, "running": m.Running, "waiting": m.Waiting}
	case actors.ClientPong:
		out = map[string]string{"type": "pong"}
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
	return nil, fmt.Errorf("unknown message type %q", m.Type)
}
