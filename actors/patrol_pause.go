package actors

import (
	"fmt"
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// The patrol's side of a camera's pause. The patrol owns the pauses: it
// outlives every camera actor (a reload's restart of a camera, a crash),
// so it is the one that decides when a pause begins, moves and ends, and
// the one writer of the book every camera and subnet reads
// (Env.pauseOf). It arms each pause's end, tells the camera (SetPause),
// which stops its processes and gives up its slots, and publishes the
// facts the record keeps (camera_pauses). Pauses from an earlier run
// come from the record (Start fills the book); their ends are armed again
// when the patrol starts.
//
// A camera disabled in the config (enabled: false) is paused for good
// by the config itself: no request pauses or resumes it.

// pauseDue fires at a pause's end.
type pauseDue struct {
	camera string
	id     int64
}

// onPauseCamera begins a camera's pause, or moves the end (and reason)
// of the one under way, and answers once the camera's processes are gone.
func (a *patrolActor) onPauseCamera(ctx actor.Context, msg *messages.PauseCamera) {
	cam, ok := a.env.Current().Camera(msg.Camera)
	if !ok {
		ctx.Respond(&messages.PauseAnswer{Camera: msg.Camera, Refused: messages.RefusedUnknownCamera, Reason: fmt.Sprintf("no camera %q runs", msg.Camera)})
		return
	}
	if !cam.IsEnabled() {
		ctx.Respond(&messages.PauseAnswer{Camera: cam.ID, Refused: messages.RefusedDisabled,
			Reason: fmt.Sprintf("camera %s is disabled in the configuration (enabled: false): it is not patrolled at all", cam.ID)})
		return
	}
	book := a.env.pausesNow()
	now := time.Now()
	p, changed := book[cam.ID]
	if !changed {
		p = messages.Pause{ID: a.nextPauseID(book, now), Camera: cam.ID, From: now}
	}
	p.Until, p.Reason, p.By = msg.Until, msg.Reason, msg.By
	next := make(map[string]messages.Pause, len(book)+1)
	for k, v := range book {
		next[k] = v
	}
	next[cam.ID] = p
	a.env.setPauses(next)
	a.armPause(ctx, p)
	if changed {
		a.env.Log.Info("camera pause changed", "camera", cam.ID, "until", p.Until.Format(time.RFC3339), "who", p.By, "reason", p.Reason)
	} else {
		a.env.Log.Info("camera paused", "camera", cam.ID, "until", p.Until.Format(time.RFC3339), "who", p.By, "reason", p.Reason)
	}
	ctx.ActorSystem().EventStream.Publish(&messages.CameraPaused{Pause: p, Changed: changed})
	a.tellCamera(ctx, cam.Subnet, cam.ID, &p, ctx.Sender())
}

// onResumeCamera ends a camera's pause now.
func (a *patrolActor) onResumeCamera(ctx actor.Context, msg *messages.ResumeCamera) {
	cam, ok := a.env.Current().Camera(msg.Camera)
	switch {
	case !ok:
		ctx.Respond(&messages.PauseAnswer{Camera: msg.Camera, Refused: messages.RefusedUnknownCamera, Reason: fmt.Sprintf("no camera %q runs", msg.Camera)})
		return
	case !cam.IsEnabled():
		ctx.Respond(&messages.PauseAnswer{Camera: cam.ID, Refused: messages.RefusedDisabled,
			Reason: fmt.Sprintf("camera %s is disabled in the configuration (enabled: false): set enabled: true and reload to patrol it", cam.ID)})
		return
	}
	if _, paused := a.env.pausesNow()[cam.ID]; !paused {
		ctx.Respond(&messages.PauseAnswer{Camera: cam.ID, Refused: messages.RefusedNotPaused, Reason: fmt.Sprintf("camera %s is not paused", cam.ID)})
		return
	}
	a.endPause(ctx, cam.ID, "resumed", msg.By)
	a.tellCamera(ctx, cam.Subnet, cam.ID, nil, ctx.Sender())
}

// onPauseDue ends a pause whose end came (unless it was moved or ended).
func (a *patrolActor) onPauseDue(ctx actor.Context, msg *pauseDue) {
	p, ok := a.env.pausesNow()[msg.camera]
	if !ok || p.ID != msg.id {
		return
	}
	if wait := time.Until(p.Until); wait > 0 {
		a.armPause(ctx, p) // the timer fired early: the clock moved
		return
	}
	a.endPause(ctx, p.Camera, "expired", "")
	if cam, ok := a.env.Current().Camera(p.Camera); ok {
		a.tellCamera(ctx, cam.Subnet, cam.ID, nil, nil)
	}
}

// endPause takes a camera's pause out of the book and publishes its end.
func (a *patrolActor) endPause(ctx actor.Context, camera, how, by string) {
	book := a.env.pausesNow()
	p := book[camera]
	next := make(map[string]messages.Pause, len(book))
	for k, v := range book {
		if k != camera {
			next[k] = v
		}
	}
	a.env.setPauses(next)
	stopTimer(a.pauseTimers[camera])
	delete(a.pauseTimers, camera)
	a.env.Log.Info("camera pause ended", "camera", camera, "how", how, "who", by)
	ctx.ActorSystem().EventStream.Publish(&messages.CameraResumed{Pause: p, EndedAt: time.Now(), How: how, By: by})
}

// armPause sets the timer of a pause's end, replacing the camera's last.
func (a *patrolActor) armPause(ctx actor.Context, p messages.Pause) {
	stopTimer(a.pauseTimers[p.Camera])
	a.pauseTimers[p.Camera] = after(ctx.ActorSystem(), ctx.Self(), time.Until(p.Until), &pauseDue{camera: p.Camera, id: p.ID})
}

// armPauses sets the end of every pause in the book: at start, the pauses
// an earlier run (or incarnation) left.
func (a *patrolActor) armPauses(ctx actor.Context) {
	for _, p := range a.env.pausesNow() {
		a.armPause(ctx, p)
	}
}

// nextPauseID is a new pause's id: unique across runs of one record
// (microseconds now, above every id in the book).
func (a *patrolActor) nextPauseID(book map[string]messages.Pause, now time.Time) int64 {
	id := now.UnixMicro()
	for _, p := range book {
		id = max(id, p.ID+1)
	}
	return id
}

// tellCamera gives a camera its pause (nil: none) and, when replyTo is
// set, answers it once the camera's processes are gone: the camera may be
// between two actors (a reload restarting it), then the new one reads
// the book as it starts, and the answer goes without waiting.
func (a *patrolActor) tellCamera(ctx actor.Context, subnet, camera string, p *messages.Pause, replyTo *actor.PID) {
	f := ctx.RequestFuture(a.env.peers.camera(subnet, camera), &messages.SetPause{Pause: p}, a.env.Policy.pauseWait(a.env.Config.FFmpeg))
	ctx.ReenterAfter(f, func(res any, err error) {
		if replyTo == nil {
			return
		}
		if _, ok := res.(*messages.PauseApplied); !ok && err != nil && p != nil {
			a.env.Log.Warn("camera did not confirm its pause in time", "camera", camera, "reason", err.Error())
		}
		ctx.Send(replyTo, &messages.PauseAnswer{Camera: camera, Pause: p})
	})
}

// stopPauseTimers stops the ends this incarnation armed: the next one
// arms them again from the book.
func (a *patrolActor) stopPauseTimers() {
	for _, t := range a.pauseTimers {
		stopTimer(t)
	}
	a.pauseTimers = map[string]*time.Timer{}
}
