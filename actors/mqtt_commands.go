package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"camvisor/actors/config"
	"camvisor/actors/redact"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// The commands the mqtt actor takes from the broker (mqtt.commands:
// true): <prefix>/<camera>/capture/set takes a frame now, as an operator's
// capture does; <prefix>/<camera>/pause/set pauses or resumes the camera.
// A retained command is ignored: it would run again at every reconnect.

// pauseCommand is a pause/set payload, read.
type pauseCommand struct {
	Resume bool
	For    time.Duration // 0: not given
	Reason string
}

// parsePause reads a pause/set payload: the API's JSON body
// {"for": "1h", "reason": "…"} (or {"resume": true}); a duration ("1h",
// "30m"); ON or pause (pause, for the default); OFF or resume (resume).
// Words are read without regard to case.
func parsePause(payload []byte) (pauseCommand, error) {
	text := strings.TrimSpace(string(payload))
	if strings.HasPrefix(text, "{") {
		var body struct {
			For    string `json:"for"`
			Reason string `json:"reason"`
			Resume bool   `json:"resume"`
		}
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			return pauseCommand{}, fmt.Errorf("pause: not {\"for\": \"1h\", \"reason\": \"...\"}: %v", err)
		}
		cmd := pauseCommand{Resume: body.Resume, Reason: strings.TrimSpace(body.Reason)}
		if body.For != "" {
			d, err := config.ParseDuration(body.For)
			if err != nil || d <= 0 {
				return pauseCommand{}, fmt.Errorf("pause: for %q is not a positive duration such as 1h or 30m", body.For)
			}
			cmd.For = d
		}
		if cmd.Resume && cmd.For > 0 {
			return pauseCommand{}, errors.New(`pause: "resume" and "for" together`)
		}
		return cmd, nil
	}
	switch strings.ToLower(text) {
	case "on", "pause", "true", "1":
		return pauseCommand{}, nil
	case "off", "resume", "false", "0":
		return pauseCommand{Resume: true}, nil
	}
	if d, err := config.ParseDuration(text); err == nil && d > 0 {
		return pauseCommand{For: d}, nil
	}
	return pauseCommand{}, fmt.Errorf("pause: %q is none of ON, OFF, a duration (1h) or {\"for\": \"1h\", \"reason\": \"...\"}", clip(text, 64))
}

// clip shortens a payload quoted in a log line.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// mqttBy names who a command acts for in the record: MQTT 3.1.1 does not
// tell who published it.
const mqttBy = "mqtt"

// commandDone is the outcome of a pause command, run off the mailbox.
type commandDone struct {
	camera, command string
	err             error
}

// onCommand runs a command published on the broker.
func (a *mqttActor) onCommand(ctx actor.Context, in *mqttIncoming, id, what string) {
	log := a.env.Log.With("camera", id, "command", what)
	if in.retained {
		log.Warn("mqtt command ignored: it is retained, and would run again at every reconnect (publish it without retain)")
		return
	}
	cam, ok := a.env.Current().Camera(id)
	if !ok {
		log.Warn("mqtt command for a camera that does not run", "topic", in.topic)
		return
	}
	switch what {
	case mqttCapture:
		wait := a.env.Config.FFmpeg.CaptureTimeout.Duration + a.env.Policy.MinRetryWindow
		f := ctx.RequestFuture(a.env.peers.camera(cam.Subnet, cam.ID), &messages.Capture{Camera: cam.ID, Reason: "operator"}, wait)
		ctx.ReenterAfter(f, func(res any, err error) {
			if d, ok := res.(*messages.CaptureDone); ok && err == nil {
				log.Info("mqtt capture", "outcome", string(d.Outcome), "reason", d.Error)
				return
			}
			log.Warn("mqtt capture not answered", "reason", fmt.Sprint(err))
		})
	case mqttPause:
		cmd, err := parsePause(in.payload)
		if err != nil {
			log.Warn("mqtt command refused", "reason", redact.Text(err.Error()))
			return
		}
		// The tree's own pause facade, asked off the mailbox: a pause
		// answers once the camera's processes are gone.
		view, wait := &Tree{system: ctx.ActorSystem(), env: a.env}, a.env.Policy.ReloadBudget(a.env.Config.FFmpeg)
		system, self := ctx.ActorSystem(), ctx.Self()
		if cmd.For == 0 {
			cmd.For = a.env.Policy.MQTT.DefaultPause
		}
		go func() {
			c, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			var err error
			if cmd.Resume {
				_, err = view.ResumeCamera(c, cam.ID, mqttBy)
			} else {
				_, err = view.PauseCamera(c, cam.ID, cmd.For, cmd.Reason, mqttBy)
			}
			system.Root.Send(self, &commandDone{camera: cam.ID, command: what, err: err})
		}()
	default:
		log.Warn("mqtt command unknown", "topic", in.topic)
	}
}

func (a *mqttActor) onCommandDone(c *commandDone) {
	if c.err != nil {
		a.env.Log.Warn("mqtt command failed", "camera", c.camera, "command", c.command, "reason", redact.Text(c.err.Error()))
		return
	}
	a.env.Log.Info("mqtt command done", "camera", c.camera, "command", c.command)
}
