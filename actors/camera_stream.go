package actors

import (
	"camvisor/actors/redact"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// The camera's side of stream mode (a stream child owns everything about
// its process, stream.go; the camera counts its slot, starts and stops
// it, and takes frames from it). A camera in stream mode keeps one stream
// child while a slot is free for it; its captures, the patrol's and the
// operator's, take the child's newest frame. The child gives its slot up
// to a live view that finds none free (the live view then serves the
// frames), and when go2rtc's connections not ours leave the camera over
// its budget; it comes back when a slot is free again. While the camera's
// breaker is open (it failed too often) there is no stream: the breaker's
// probes are one-shot snapshots, and the stream comes back when one
// succeeds.

// streamChild is the camera's view of its stream child.
type streamChild struct {
	pid      *actor.PID // nil when there is none
	cause    *stopCause // the child's: why the camera stops it
	yielding bool       // stopped for its slot: it serves no more frames
}

// viaStream is the frame path of captures served by the stream child
// (captures.via).
const viaStream = "stream"

// streams reports whether this camera runs in stream mode.
func (a *cameraActor) streams() bool {
	return a.env.Current().Streams(a.cam.Subnet, a.cam.Camera) // its subnet as last reloaded
}

// serves reports whether job's frame can come from the stream child: it
// reads the patrol's stream, so an operator's capture of a camera with a
// detect_url takes its own frame from the main one.
func (a *cameraActor) streamServes(job *captureJob) bool {
	s := &a.stream
	return s.pid != nil && !s.yielding && (job.req.Cycle != 0 || a.cam.DetectURL == "")
}

// streamSlots is the stream child's slot: held from its spawn until it
// terminated, restarts included (its process is gone only meanwhile).
func (a *cameraActor) streamSlots() int {
	if a.stream.pid != nil {
		return 1
	}
	return 0
}

// input is the camera's own input options, for every ffmpeg reading it.
func (a *cameraActor) input() cameraInput {
	return cameraInput{InputArgs: a.cam.InputArgs, HWAccel: a.cam.HWAccel}
}

// isStream reports whether pid is the stream child.
func (a *cameraActor) isStream(pid *actor.PID) bool {
	return a.stream.pid != nil && pid != nil && pid.Id == a.stream.pid.Id
}

// reconcileStream starts the stream child when the camera streams, its
// breaker is closed and a slot is free, and stops it when it must give
// its slot up. It runs whenever slots or the camera's health may have
// changed.
func (a *cameraActor) reconcileStream(ctx actor.Context) {
	s := &a.stream
	switch {
	case a.stopping || s.yielding:
	case s.pid == nil:
		if a.streams() && a.paused == nil && !a.health.open && len(a.leaseWait) == 0 && a.slotsHeld() < a.cam.MaxConnections {
			a.spawnStream(ctx)
		}
	case a.paused != nil:
		a.yieldStream(ctx, messages.StopPaused, "the camera is paused")
	case a.health.open:
		a.yieldStream(ctx, messages.StopBackoff, "the camera's breaker is open: it is left alone until its next probe")
	case len(a.leaseWait) > 0 && a.slotsHeld() >= a.cam.MaxConnections:
		a.yieldStream(ctx, messages.StopPreempted, "a live view needs its slot")
	case a.slotsHeld() > a.cam.MaxConnections:
		a.yieldStream(ctx, messages.StopPreempted, "go2rtc's connections not camvisor's leave no slot for it")
	}
}

// spawnStream takes a slot for the stream child.
func (a *cameraActor) spawnStream(ctx actor.Context) {
	cause := newStopCause(a.cause)
	// Stream mode is the patrol's: it reads the detection sub-stream when
	// there is one (an operator's capture then reads the main stream).
	url := a.cam.PatrolURL()
	spec := streamSpec{Camera: a.cam.ID, Subnet: a.cam.Subnet, URL: url, Redactor: redact.ForURL(url), DeepProbe: a.carry.deepProbe, cameraInput: a.input()}
	pid, err := ctx.SpawnNamed(streamProps(a.env, spec, cause), streamName)
	if err != nil {
		a.env.Log.Error("spawn stream", "camera", a.cam.ID, "reason", err.Error())
		return
	}
	a.stream = streamChild{pid: pid, cause: cause}
	a.env.Log.Info("camera streams: one ffmpeg stays connected", "camera", a.cam.ID, "subnet", a.cam.Subnet)
	a.publishSlots(ctx)
}

// yieldStream stops the stream child; its slot is free once its process
// is reaped (onStreamTerminated).
func (a *cameraActor) yieldStream(ctx actor.Context, reason messages.StopReason, why string) {
	a.stream.yielding = true
	a.stream.cause.set(reason)
	a.env.Log.Info("stream gives its slot up", "camera", a.cam.ID, "reason", why)
	ctx.Stop(a.stream.pid)
}

// fromStream asks the stream child for job's frame.
func (a *cameraActor) fromStream(ctx actor.Context, job *captureJob) {
	a.fetch(ctx, job, viaStream, a.stream.pid, "", false)
}

// onStreamTerminated frees the stream child's slot and takes the frames
// asked of it another way.
func (a *cameraActor) onStreamTerminated(ctx actor.Context) {
	a.stream = streamChild{}
	a.rerouteFetches(ctx, viaStream)
}

// superviseStream is the camera's strategy for its stream child: restart
// it, with back-off, for as long as the camera streams.
func (a *cameraActor) superviseStream() actor.SupervisorStrategy {
	return a.env.Policy.Supervision.streams()
}
