package actors

import (
	"encoding/json"
	"fmt"
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// hubActor fans facts out to every dashboard as JSON WebSocket messages:
// event, play, stop, camera, cycle (and alert). Each dashboard is a child
// client actor with a bounded send queue; one that falls behind is dropped
// and the others, and the patrol, never wait for it. A new client first
// gets what plays right now, asked of the playback policy; history is never
// replayed as play.
type hubActor struct {
	life
	env     *Env
	clients map[string]*actor.PID
	seq     int

	cameras map[string]*cameraView // latest state, for `camera` messages
	dirty   map[string]bool        // changed since the last flush
	flush   *time.Timer
}

// cameraView is a camera's state as the dashboard shows it.
type cameraView struct {
	Type                string `json:"type"`
	Camera              string `json:"camera"`
	Subnet              string `json:"subnet"`
	SlotsFFmpeg         int    `json:"slots_ffmpeg"`
	SlotsLease          int    `json:"slots_lease"`
	MaxConnections      int    `json:"max_connections"`
	Queue               int    `json:"queue"`
	Failing             bool   `json:"failing"`
	ConsecutiveFailures int    `json:"consecutive_failures"`
	LastOutcome         string `json:"last_outcome,omitempty"`
	LastVia             string `json:"last_via,omitempty"`
	LastCaptureAt       string `json:"last_capture_at,omitempty"`
	LastCaptureMS       int64  `json:"last_capture_ms,omitempty"`
	LastError           string `json:"last_error,omitempty"`
}

type flushCameras struct{}

// cameraFlushEvery coalesces camera state changes: slots change with every
// capture, the dashboard needs them a couple of times a second at most.
const cameraFlushEvery = 500 * time.Millisecond

func hubProps(env *Env) *actor.Props {
	return actor.PropsFromProducer(lived(func() *hubActor {
		return &hubActor{env: env, clients: map[string]*actor.PID{}, cameras: map[string]*cameraView{}, dirty: map[string]bool{}}
	}))
}

// hubWants are the facts the root subscribes the hub to.
func hubWants(evt any) bool {
	switch evt.(type) {
	case *messages.EventOpened, *messages.PlaybackStarted, *messages.PlaybackStopped, *messages.CycleEnded,
		*messages.SlotsChanged, *messages.CameraStateChanged, *messages.CaptureDone, *messages.AlertChanged:
		return true
	}
	return false
}

// Receive handles one message.
func (a *hubActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *messages.JoinHub:
		a.onJoinHub(ctx, msg)
	case *actor.Terminated:
		a.onTerminated(msg)
	case *flushCameras:
		a.onFlushCameras(ctx)
	case *messages.Describe:
		answerDescribe(ctx, a.node(ctx, "hub", "running", map[string]any{"clients": len(a.clients)}))
	case *actor.Stopping, *actor.Restarting:
		if a.flush != nil {
			a.flush.Stop()
		}
	default:
		a.onFact(ctx, msg)
	}
}

// onJoinHub asks the playback policy what plays right now, then spawns a
// client actor that owns the socket and sends that state, and the cameras',
// before anything else. History is never replayed as play.
func (a *hubActor) onJoinHub(ctx actor.Context, msg *messages.JoinHub) {
	joiner := ctx.Sender()
	f := ctx.RequestFuture(ctx.ActorSystem().NewLocalPID(RootName+"/playback"), &messages.GetPlaybacks{}, 2*time.Second)
	ctx.ReenterAfter(f, func(res any, err error) {
		var initial [][]byte
		for _, c := range a.cameras {
			if data, err := json.Marshal(c); err == nil {
				initial = append(initial, data)
			}
		}
		if live, ok := res.(*messages.Playbacks); ok && err == nil {
			for i := range live.Live {
				if data, ok := wsMessage(&live.Live[i]); ok {
					initial = append(initial, data)
				}
			}
		}
		a.seq++
		pid, err := ctx.SpawnNamed(wsClientProps(a.env, msg.Socket, msg.Remote, initial), fmt.Sprintf("client/%d", a.seq))
		if err != nil {
			msg.Socket.Close()
			return
		}
		a.clients[pid.Id] = pid
		if joiner != nil {
			ctx.Send(joiner, &messages.HubJoined{Client: pid.Id})
		}
	})
}

func (a *hubActor) onTerminated(msg *actor.Terminated) {
	delete(a.clients, msg.Who.Id)
}

// onFact turns a fact into a message for every client.
func (a *hubActor) onFact(ctx actor.Context, fact any) {
	if a.noteCamera(ctx, fact) {
		return
	}
	data, ok := wsMessage(fact)
	if !ok {
		return
	}
	a.broadcast(ctx, data)
}

func (a *hubActor) broadcast(ctx actor.Context, data []byte) {
	for _, pid := range a.clients {
		ctx.Send(pid, &outbound{data: data})
	}
}

// noteCamera folds camera facts into the camera's view, flushed later.
func (a *hubActor) noteCamera(ctx actor.Context, fact any) bool {
	var camera, subnet string
	var apply func(v *cameraView)
	switch m := fact.(type) {
	case *messages.SlotsChanged:
		camera, subnet = m.Camera, m.Subnet
		apply = func(v *cameraView) {
			v.SlotsFFmpeg, v.SlotsLease, v.MaxConnections, v.Queue = m.FFmpeg, m.Leases, m.MaxConnections, m.QueueLength
		}
	case *messages.CameraStateChanged:
		camera, subnet = m.Camera, m.Subnet
		apply = func(v *cameraView) { v.Failing, v.ConsecutiveFailures = m.Failing, m.ConsecutiveFailures }
	case *messages.CaptureDone:
		camera, subnet = m.Camera, m.Subnet
		apply = func(v *cameraView) {
			v.LastOutcome, v.LastError, v.LastVia = string(m.Outcome), m.Error, m.Via
			v.LastCaptureAt = m.EndedAt.UTC().Format(time.RFC3339Nano)
			v.LastCaptureMS = m.EndedAt.Sub(m.StartedAt).Milliseconds()
		}
	default:
		return false
	}
	v := a.cameras[camera]
	if v == nil {
		v = &cameraView{Type: "camera", Camera: camera, Subnet: subnet}
		a.cameras[camera] = v
	}
	apply(v)
	a.dirty[camera] = true
	if a.flush == nil {
		a.flush = after(ctx.ActorSystem(), ctx.Self(), cameraFlushEvery, &flushCameras{})
	}
	return true
}

func (a *hubActor) onFlushCameras(ctx actor.Context) {
	a.flush = nil
	for camera := range a.dirty {
		if data, err := json.Marshal(a.cameras[camera]); err == nil {
			a.broadcast(ctx, data)
		}
	}
	a.dirty = map[string]bool{}
}

// wsMessage is the JSON a dashboard receives for a fact.
func wsMessage(fact any) ([]byte, bool) {
	var v any
	switch m := fact.(type) {
	case *messages.EventOpened:
		v = map[string]any{"type": "event", "id": m.ID, "camera": m.Camera, "subnet": m.Subnet, "at": m.At.UTC(),
			"label": m.Label, "score": m.Score, "box": m.Box, "detector": m.Detector,
			"snapshot": fmt.Sprintf("/api/events/%d/snapshot.jpg", m.ID)}
	case *messages.PlaybackStarted:
		v = map[string]any{"type": "play", "camera": m.Camera, "subnet": m.Subnet, "player_url": m.PlayerURL,
			"until": m.Until.UTC(), "reason": m.Reason, "event_id": m.EventID, "extended": m.Extended}
	case *messages.PlaybackStopped:
		v = map[string]any{"type": "stop", "camera": m.Camera, "reason": m.Reason}
	case *messages.CycleEnded:
		v = map[string]any{"type": "cycle", "subnet": m.Subnet, "number": m.Number, "started_at": m.StartedAt.UTC(),
			"ended_at": m.EndedAt.UTC(), "duration_ms": m.EndedAt.Sub(m.StartedAt).Milliseconds(),
			"interval_ms": m.Interval.Milliseconds(), "ok": m.OK, "failed": m.Failed, "timed_out": m.TimedOut,
			"skipped": m.Skipped, "overran": m.Overran}
	case *messages.AlertChanged:
		v = map[string]any{"type": "alert", "rule": m.Rule, "subject": m.Subject, "state": m.State,
			"first_seen": m.FirstSeen.UTC(), "last_seen": m.LastSeen.UTC(), "detail": m.Detail}
	default:
		return nil, false
	}
	data, err := json.Marshal(v)
	return data, err == nil
}
