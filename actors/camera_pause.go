package actors

import (
	"fmt"
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// The camera's side of a pause (the patrol owns the pause itself:
// patrol_pause.go). A paused camera holds no slot and starts no process:
// on SetPause it answers what waits (queued captures, captures waiting
// for the admission, frames asked of a source) with outcome paused,
// stops its capture children and its stream child (their processes
// killed and reaped: stop reason paused) and ends its live view; it
// answers PauseApplied once they are gone. While paused it refuses every
// capture and live view, without a process and without a record row (it
// tried nothing), and its state is paused. A camera disabled in the
// config (enabled: false) is paused so from its start, for good.

// onSetPause takes the camera's pause (nil: it runs again).
func (a *cameraActor) onSetPause(ctx actor.Context, msg *messages.SetPause) {
	was := a.paused
	a.paused = msg.Pause
	if a.paused == nil {
		if was != nil {
			a.env.Log.Info("camera runs again: its pause ended", "camera", a.cam.ID)
			a.publishState(ctx)
			a.dispatch(ctx)
		}
		ctx.Respond(&messages.PauseApplied{Camera: a.cam.ID})
		return
	}
	if ctx.Sender() != nil {
		a.pauseWaiters = append(a.pauseWaiters, ctx.Sender())
	}
	if was == nil {
		a.stopForPause(ctx)
	}
	a.publishState(ctx)
	a.pauseDone(ctx)
}

// stopForPause answers what waits and stops every child that holds a slot.
func (a *cameraActor) stopForPause(ctx actor.Context) {
	why := a.pausedText()
	for len(a.queue) > 0 {
		a.answer(ctx, a.queue[0], messages.OutcomePaused, why, nil)
	}
	for _, job := range a.jobs {
		switch job.state {
		case jobAdmitting:
			ctx.Request(a.env.peers.admission, &messages.WithdrawAdmission{Ref: job.id})
			a.answer(ctx, job, messages.OutcomePaused, why, nil)
		case jobFetching:
			a.answer(ctx, job, messages.OutcomePaused, why, nil)
		}
	}
	for _, c := range ctx.Children() {
		job := a.captureChild(c)
		if job == nil {
			continue
		}
		if job.cause != nil { // an ffmpeg child records why it stops; an HTTP one has no process
			job.cause.set(messages.StopPaused)
		}
		ctx.Stop(c)
	}
	for _, r := range a.leaseWait {
		r.expiry.Stop()
		a.refuseLease(ctx, r, why)
	}
	a.leaseWait = nil
	if a.lease != nil {
		ctx.Send(a.lease, &messages.ReleaseLease{Camera: a.cam.ID, Reason: "camera paused"})
	}
	a.reconcileStream(ctx)
	a.env.Log.Info("camera paused: its processes are stopped, its slots given up", "camera", a.cam.ID,
		"until", a.paused.Until.Format(time.RFC3339), "who", a.paused.By, "reason", a.paused.Reason)
	a.publishSlots(ctx)
}

// pauseDone answers those waiting for the pause once no child of the
// camera holds a process or a slot.
func (a *cameraActor) pauseDone(ctx actor.Context) {
	if a.paused == nil || len(a.pauseWaiters) == 0 || len(a.processChildren(ctx)) > 0 || a.lease != nil {
		return
	}
	for _, w := range a.pauseWaiters {
		ctx.Send(w, &messages.PauseApplied{Camera: a.cam.ID})
	}
	a.pauseWaiters = nil
}

// refusePaused answers a capture of a paused camera: nothing is tried, no
// row recorded; the asker (the subnet, an operator) learns why.
func (a *cameraActor) refusePaused(ctx actor.Context, job *captureJob) {
	a.move(job, jobAnswered)
	if job.replyTo == nil {
		return
	}
	now := time.Now()
	ctx.Send(job.replyTo, &messages.CaptureDone{Camera: a.cam.ID, Subnet: a.cam.Subnet, Cycle: job.req.Cycle,
		Outcome: messages.OutcomePaused, Error: a.pausedText(), StartedAt: job.asked, EndedAt: now})
}

// pausedText says why the camera does nothing, for a refusal.
func (a *cameraActor) pausedText() string {
	p := a.paused
	switch {
	case p == nil:
		return ""
	case p.Disabled:
		return fmt.Sprintf("camera %s is disabled in the configuration (enabled: false)", a.cam.ID)
	}
	text := fmt.Sprintf("camera %s is paused by %s until %s", a.cam.ID, p.By, p.Until.UTC().Format(time.RFC3339))
	if p.Reason != "" {
		text += ": " + p.Reason
	}
	return text + "; resume it first"
}
