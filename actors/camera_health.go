package actors

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// A camera's health, as its actor judges it from its captures: a dead
// camera costs nothing, and a busy one is not a dead one.
//
// Breaker: after alerts.camera_failing_after failures in a row the
// camera's breaker opens (it is failing): the patrol skips it (outcome
// backoff: no process, no slot, no cycle time) and probes it once per
// back-off period, which starts at the subnet's interval and doubles up
// to patrol.max_backoff, with jitter. A probe that succeeds closes it; an
// operator's capture is always a probe.
//
// Busy: a camera that answers 453 Not Enough Bandwidth (or refuses the
// connection) while our own slots are free has its connections taken by
// other clients. That is outcome camera_busy, not a failure: the camera
// counts one slot less for a while (shown as external use), and
// camera_busy fires only when it persists for alerts.camera_busy_after
// cycles.
type cameraHealth struct {
	failures  int // consecutive failed captures
	open      bool
	backoff   time.Duration
	nextProbe time.Time
	probing   bool // a probe is in flight

	busyUntil  time.Time
	busyTimer  *time.Timer
	busyCycles int // patrol captures in a row that found the camera busy
	busy       bool

	recent []time.Duration // the last capture durations, for p50/p95

	published messages.CameraHealth // as last published; "" before the first
}

// state is the camera's health in one word (messages.CameraHealth).
func (h *cameraHealth) state() messages.CameraHealth {
	switch {
	case h.open:
		return messages.HealthBackoff
	case h.busy:
		return messages.HealthBusy
	case h.failures > 0:
		return messages.HealthFailing
	}
	return messages.HealthOK
}

// recentDurations is how many capture durations a camera keeps.
const recentDurations = 20

// gate answers a patrol capture of a camera whose breaker is open with
// backoff, unless it is time to probe; an operator's capture always goes
// through as a probe. It reports whether job may go on.
func (a *cameraActor) gate(ctx actor.Context, job *captureJob) bool {
	h := &a.health
	if !h.open {
		return true
	}
	if job.req.Cycle == 0 || (!h.probing && !time.Now().Before(h.nextProbe)) {
		h.probing, job.probe = true, true
		return true
	}
	a.answer(ctx, job, messages.OutcomeBackoff, fmt.Sprintf("breaker open after %d failures in a row: next probe at %s",
		h.failures, h.nextProbe.UTC().Format(time.TimeOnly)), nil)
	return false
}

// noteHealth takes a capture's outcome into the camera's health.
func (a *cameraActor) noteHealth(ctx actor.Context, job *captureJob, done *messages.CaptureDone) {
	h := &a.health
	if job.probe {
		h.probing = false
	}
	switch done.Outcome {
	case messages.OutcomeStopped, messages.OutcomeNoSlot, messages.OutcomeSkipped, messages.OutcomePreempted, messages.OutcomeBackoff,
		messages.OutcomePaused:
		return // camvisor's doing, not the camera's
	case messages.OutcomeBusy:
		a.noteBusy(ctx, job)
		return
	}
	h.recent = append(h.recent, done.EndedAt.Sub(done.StartedAt))
	if len(h.recent) > recentDurations {
		h.recent = h.recent[1:]
	}
	wasOpen := h.open
	if done.Outcome == messages.OutcomeOK {
		h.failures, h.open, h.backoff = 0, false, 0
		if job.req.Cycle != 0 {
			a.setBusy(ctx, 0)
		}
	} else {
		h.failures++
		switch {
		case !h.open && h.failures >= a.env.Config.Alerts.CameraFailingAfter:
			// alerts.camera_failing_after: the alert, the end of retries and
			// the breaker share one threshold.
			h.open, h.backoff = true, a.cam.Interval
			h.nextProbe = time.Now().Add(jitter(h.backoff, a.env.Policy.ProbeJitter))
		case h.open && job.probe:
			h.backoff = min(2*h.backoff, a.env.Config.Patrol.MaxBackoff.Duration)
			h.nextProbe = time.Now().Add(jitter(h.backoff, a.env.Policy.ProbeJitter))
			a.publishState(ctx)
		}
	}
	if h.open != wasOpen {
		if h.open {
			a.env.Log.Warn("camera failing: breaker open", "camera", a.cam.ID, "subnet", a.cam.Subnet,
				"failures", h.failures, "next_probe", h.nextProbe.Format(time.TimeOnly), "reason", done.Error)
		} else {
			a.env.Log.Info("camera recovered: breaker closed", "camera", a.cam.ID, "subnet", a.cam.Subnet)
		}
		a.publishState(ctx)
		return
	}
	// A first failure, a recovery before the breaker opened, or the
	// first outcome of this incarnation (a restarted camera's health
	// starts afresh).
	if a.healthState() != h.published {
		a.publishState(ctx)
	}
}

// noteBusy counts a busy answer: one slot less for a while, and the alert
// when it persists.
func (a *cameraActor) noteBusy(ctx actor.Context, job *captureJob) {
	hold := a.env.Policy.Admission.BusyHold
	if hold == 0 {
		hold = a.cam.Interval
	}
	h := &a.health
	h.busyUntil = time.Now().Add(hold)
	stopTimer(h.busyTimer)
	h.busyTimer = after(ctx.ActorSystem(), ctx.Self(), hold, &busyOver{})
	n := h.busyCycles
	if job.req.Cycle != 0 && !job.busyCounted {
		job.busyCounted = true // once per capture, retried or not
		n++
	}
	a.setBusy(ctx, n)
	a.publishSlots(ctx)
}

// setBusy records how many patrol captures in a row found the camera busy;
// crossing alerts.camera_busy_after is published.
func (a *cameraActor) setBusy(ctx actor.Context, cycles int) {
	h := &a.health
	h.busyCycles = cycles
	busy := cycles >= a.env.Config.Alerts.CameraBusyAfter
	if busy != h.busy {
		h.busy = busy
		if busy {
			a.env.Log.Warn("camera busy: its connections are taken by other clients", "camera", a.cam.ID, "subnet", a.cam.Subnet, "cycles", cycles)
		}
		a.publishState(ctx)
	}
}

func (a *cameraActor) onBusyOver(ctx actor.Context) {
	if time.Now().Before(a.health.busyUntil) {
		return // a newer spell
	}
	a.health.busyUntil = time.Time{}
	a.publishSlots(ctx)
	a.dispatch(ctx)
}

// busyReserve is the slot a busy camera holds back for the other clients.
func (a *cameraActor) busyReserve() int {
	if time.Now().Before(a.health.busyUntil) {
		return 1
	}
	return 0
}

// healthState is the camera's health in one word: paused while it is,
// else what its captures say.
func (a *cameraActor) healthState() messages.CameraHealth {
	if a.paused != nil {
		return messages.HealthPaused
	}
	return a.health.state()
}

// publishState tells the alerts, the hub and the record the camera's health.
func (a *cameraActor) publishState(ctx actor.Context) {
	h := a.health
	a.health.published = a.healthState()
	st := &messages.CameraStateChanged{
		Camera: a.cam.ID, Subnet: a.cam.Subnet, Health: a.health.published, Failing: h.open, ConsecutiveFailures: h.failures,
		Busy: h.busy, BusyCycles: h.busyCycles,
		SlotsHeld: a.slotsHeld(), MaxConnections: a.cam.MaxConnections, QueueLength: len(a.queue), State: a.state(), At: time.Now(),
	}
	if a.paused != nil {
		p := *a.paused
		st.Pause = &p
	}
	if h.open {
		st.NextProbe, st.Backoff = h.nextProbe, h.backoff
	}
	ctx.ActorSystem().EventStream.Publish(st)
}

// durations are the median and 95th percentile of the recent captures.
func (a *cameraActor) durations() (p50, p95 time.Duration) {
	if len(a.health.recent) == 0 {
		return 0, 0
	}
	d := slices.Clone(a.health.recent)
	slices.Sort(d)
	return d[len(d)/2], d[min(len(d)-1, len(d)*95/100)]
}

// jitter spreads d by ±share (Policy.ProbeJitter), so that cameras that
// failed together are not probed together.
func jitter(d time.Duration, share float64) time.Duration {
	return time.Duration(float64(d) * (1 - share + 2*share*rand.Float64()))
}
