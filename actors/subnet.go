package actors

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"camvisor/actors/config"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// subnetActor runs patrol cycles over its cameras: every interval it asks
// each camera for a frame, at most concurrency at once, and ends the cycle
// when all answered or the deadline (one interval after the start) passed.
// Every cycle ends with CycleEnded, whatever the cameras did (invariant 3
// starts here). Cycles never overlap: one that overran is followed at once.
//
// With go2rtc, a cycle starts by asking the gateway what go2rtc holds for
// its cameras (PrepareCycle): the connections of streams camvisor did not
// create, which each camera counts against its budget, and, for a subnet
// patrolled through go2rtc, a camvisor_<camera> source for each camera,
// which the gateway removes again when the cycle ends.
type subnetActor struct {
	life
	env   *Env
	sub   config.Subnet
	cause *stopCause

	cameras map[string]*actor.PID
	via     string // how the patrol takes its frames: config.ViaFFmpeg, ViaGo2RTC or ViaAuto
	number  *int64 // the last cycle's number; outlives an incarnation (it keys the record's cycles)
	cur     *cycle
	timer   *time.Timer // the next cycle's start, or the current deadline
	last    time.Duration

	asked     map[string]time.Time       // when each camera was last asked: it is due an interval later
	skipped   []string                   // cameras the last cycle did not reach: asked first in the next
	durations map[string][]time.Duration // each camera's recent capture durations
	tooShort  bool                       // interval_too_short is firing
	started   time.Time                  // the last cycle's start

	// A reload's retirements (subnet_reload.go).
	retiring map[string]string // camera id by actor id, until it is gone
	retirers []*actor.PID      // asked RetireCameras: answered when none is left
	retired  bool              // RetireSubnet: stop once the cameras are gone
	released []string          // cameras retired since the gateway was last told

	// stopping: Stopping (or Restarting) came. protoactor now waits for the
	// children the subnet had; a camera started after would never be asked
	// to stop, and the subnet never ends: a camera the membership won
	// during the shutdown hung it.
	stopping bool

	own subnetOwnership // the cameras the cluster gives this node (subnet_owner.go)
}

// cycle is the state of the running cycle.
type cycle struct {
	number    int64
	started   time.Time
	deadline  time.Time
	order     []string // every camera, in the order this cycle asks them
	pending   []string // not asked yet, in that order
	waiting   map[string]bool
	outcomes  map[string]messages.CameraOutcome
	durations map[string]time.Duration // how long each answered capture took
	// preparing: the gateway has not answered PrepareCycle yet; nothing
	// is asked until it does or prepareDue.
	preparing bool
	sources   map[string]string // the go2rtc patrol source of each camera, when ready
	prepare   *time.Timer
}

// Internal timer messages.
type (
	cycleDue      struct{}
	cycleDeadline struct{ number int64 }
	prepareDue    struct{ number int64 } // the gateway took too long to prepare the cycle
)

func subnetProps(env *Env, sub config.Subnet, parent *stopCause) *actor.Props {
	// Incarnations run one after another on the same mailbox: the shared
	// counter needs no lock.
	var number int64
	return actor.PropsFromProducer(lived(func() *subnetActor {
		// A restarted subnet runs its settings as last reloaded.
		sub := sub
		if now, ok := env.Current().Subnet(sub.Name); ok {
			sub = now
		}
		return &subnetActor{env: env, sub: sub, cause: newStopCause(parent), cameras: map[string]*actor.PID{}, number: &number,
			via: env.Config.PatrolVia(sub), asked: map[string]time.Time{}, durations: map[string][]time.Duration{},
			retiring: map[string]string{}}
	}), actor.WithSupervisor(env.Policy.Supervision.cameras()))
}

// Receive runs the subnet's cycles and keeps its camera children.
func (a *subnetActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *cycleDue:
		a.onCycleDue(ctx)
	case *messages.CaptureDone:
		a.onCaptureDone(ctx, msg)
	case *cycleDeadline:
		a.onCycleDeadline(ctx, msg)
	case *messages.CyclePrepared:
		a.onCyclePrepared(ctx, msg)
	case *prepareDue:
		a.onPrepareDue(ctx, msg)
	case *messages.RetireCameras:
		a.onRetireCameras(ctx, msg)
	case *messages.RetireSubnet:
		a.onRetireSubnet(ctx, msg)
	case *messages.ApplySubnet:
		a.onApplySubnet(ctx, msg)
	case *messages.OwnCamera:
		a.onOwnCamera(ctx, msg)
	case *messages.DisownCamera:
		a.onDisownCamera(ctx, msg)
	case *actor.Terminated:
		a.onCameraGone(ctx, msg)
	case *messages.Describe:
		answerDescribe(ctx, a.describe(ctx))
	case *messages.ListOwnedProcesses:
		answerOwned(ctx, nil, ctx.Children())
	case *actor.Stopping:
		a.onStopping()
	case *actor.Restarting:
		a.cause.set(messages.StopRestart)
		a.onStopping()
	}
}

func (a *subnetActor) onStarted(ctx actor.Context) {
	for _, cam := range a.sub.Cameras {
		if a.env.owns(cam.ID) {
			a.spawnCamera(ctx, cam)
		}
	}
	ctx.Send(ctx.Self(), &cycleDue{})
}

func (a *subnetActor) spawnCamera(ctx actor.Context, cam config.Camera) {
	if a.stopping {
		return
	}
	pid, err := ctx.SpawnNamed(cameraProps(a.env, config.SubnetCamera{Subnet: a.sub.Name, Interval: a.sub.Interval.Duration, Camera: cam}, a.own.cause(cam.ID, a.cause)), cameraName(cam.ID))
	if err != nil {
		a.env.Log.Error("spawn camera", "subnet", a.sub.Name, "camera", cam.ID, "reason", err.Error())
		return
	}
	a.cameras[cam.ID] = pid
}

func (a *subnetActor) onCycleDue(ctx actor.Context) {
	if a.cur != nil {
		return // the running cycle starts the next one when it ends
	}
	*a.number++
	now := time.Now()
	a.started = now
	c := &cycle{
		number: *a.number, started: now, deadline: now.Add(a.sub.Interval.Duration),
		waiting: map[string]bool{}, outcomes: map[string]messages.CameraOutcome{},
	}
	// The cameras the last cycle did not reach go first, in the order it
	// would have reached them: none starves.
	c.pending = append(c.pending, a.skipped...)
	for _, cam := range a.patrolled() {
		if !slices.Contains(a.skipped, cam.ID) {
			c.pending = append(c.pending, cam.ID)
		}
	}
	c.order = slices.Clone(c.pending)
	a.cur = c
	ctx.ActorSystem().EventStream.Publish(&messages.CycleStarted{Subnet: a.sub.Name, Number: c.number, StartedAt: now, Deadline: c.deadline})
	a.timer = after(ctx.ActorSystem(), ctx.Self(), time.Until(c.deadline), &cycleDeadline{number: c.number})
	if a.env.Config.Go2RTC.Enabled() {
		a.prepareCycle(ctx, c)
		return
	}
	a.ask(ctx)
	a.endIfDone(ctx)
}

// prepareCycle asks the gateway what go2rtc holds for the cycle's cameras
// and, for a go2rtc patrol, for their sources; the captures wait for the
// answer, at most request_timeout (then they go by ffmpeg).
func (a *subnetActor) prepareCycle(ctx actor.Context, c *cycle) {
	req := &messages.PrepareCycle{Subnet: a.sub.Name, Construct: a.via != config.ViaFFmpeg}
	for _, cam := range a.patrolled() {
		if _, paused := a.env.pauseOf(cam); paused {
			continue // not visited: no source for it
		}
		req.Cameras = append(req.Cameras, messages.CycleCamera{ID: cam.ID, URL: cam.PatrolURL()})
	}
	c.preparing = true
	ctx.Request(a.env.peers.gateway, req)
	c.prepare = after(ctx.ActorSystem(), ctx.Self(), a.env.Config.Go2RTC.RequestTimeout.Duration, &prepareDue{number: c.number})
}

// onCyclePrepared tells each camera the connections to it that are not
// ours, and starts the captures with their sources.
func (a *subnetActor) onCyclePrepared(ctx actor.Context, msg *messages.CyclePrepared) {
	c := a.cur
	if c == nil || !c.preparing {
		return // too late: the cycle went on without it
	}
	c.preparing = false
	c.prepare.Stop()
	if msg.Error != "" {
		a.env.Log.Debug("go2rtc could not prepare the cycle: patrol by ffmpeg", "subnet", a.sub.Name, "reason", msg.Error)
	} else {
		c.sources = msg.Sources
		for id, pid := range a.cameras {
			ctx.Send(pid, &messages.ConnectionsSeen{External: msg.External[id]})
		}
	}
	a.ask(ctx)
	a.endIfDone(ctx)
}

func (a *subnetActor) onPrepareDue(ctx actor.Context, msg *prepareDue) {
	c := a.cur
	if c == nil || c.number != msg.number || !c.preparing {
		return
	}
	c.preparing = false
	a.env.Log.Warn("go2rtc did not prepare the cycle in time: patrol by ffmpeg", "subnet", a.sub.Name, "cycle", c.number)
	a.ask(ctx)
	a.endIfDone(ctx)
}

// ask keeps up to concurrency captures of the cycle in flight.
func (a *subnetActor) ask(ctx actor.Context) {
	c := a.cur
	for !c.preparing && len(c.waiting) < a.sub.Concurrency && len(c.pending) > 0 {
		left := time.Until(c.deadline)
		id := c.pending[0]
		if p, paused := a.paused(id); paused {
			// Not visited, and neither failed nor late: paused.
			c.pending = c.pending[1:]
			c.outcomes[id] = messages.CameraOutcome{Camera: id, Outcome: messages.OutcomePaused, Error: pauseWords(p)}
			continue
		}
		// A capture that could not end before the cycle does would only
		// start a process to kill it: the camera goes first next cycle.
		if left < max(a.env.Policy.captureWindow(a.sub.Interval.Duration), a.median(id)) {
			return
		}
		c.pending = c.pending[1:]
		pid := a.cameras[id]
		if pid == nil {
			if a.isRetiring(id) {
				c.outcomes[id] = messages.CameraOutcome{Camera: id, Outcome: messages.OutcomeStopped, Error: "camera removed or changed by a config reload"}
			} else {
				c.outcomes[id] = messages.CameraOutcome{Camera: id, Outcome: messages.OutcomeSpawnError, Error: "camera actor not running"}
			}
			continue
		}
		c.waiting[id] = true
		due, ok := a.asked[id]
		if ok {
			due = due.Add(a.sub.Interval.Duration)
		} else {
			due = c.started
		}
		a.asked[id] = time.Now()
		// The capture may take until the cycle's end; its process gets
		// capture_timeout from the moment the admission lets it start.
		ctx.Request(pid, &messages.Capture{
			Camera: id, Cycle: c.number, Reason: "patrol", Source: c.sources[id], Fallback: a.via != config.ViaGo2RTC,
			Deadline: c.deadline, Due: due,
		})
	}
}

func (a *subnetActor) onCaptureDone(ctx actor.Context, msg *messages.CaptureDone) {
	c := a.cur
	if c == nil || msg.Cycle != c.number || !c.waiting[msg.Camera] {
		return // a late answer from a cycle already ended
	}
	delete(c.waiting, msg.Camera)
	c.outcomes[msg.Camera] = messages.CameraOutcome{Camera: msg.Camera, Outcome: msg.Outcome, Error: msg.Error}
	if msg.Outcome == messages.OutcomeOK {
		// How long a good capture of this camera takes, admission wait aside.
		d := append(a.durations[msg.Camera], msg.EndedAt.Sub(msg.StartedAt)-msg.Waited)
		a.durations[msg.Camera] = d[max(0, len(d)-recentDurations):]
	}
	a.ask(ctx)
	a.endIfDone(ctx)
}

func (a *subnetActor) onCycleDeadline(ctx actor.Context, msg *cycleDeadline) {
	if a.cur != nil && a.cur.number == msg.number {
		a.end(ctx)
	}
}

func (a *subnetActor) endIfDone(ctx actor.Context) {
	if a.cur != nil && !a.cur.preparing && len(a.cur.waiting) == 0 && len(a.cur.pending) == 0 {
		a.end(ctx)
	}
}

// end closes the cycle: cameras still waiting count as timed out, those
// never asked as skipped. CycleEnded goes out in every case.
func (a *subnetActor) end(ctx actor.Context) {
	c := a.cur
	a.cur = nil
	if a.timer != nil {
		a.timer.Stop()
	}
	if c.prepare != nil {
		c.prepare.Stop()
	}
	now := time.Now()
	ended := &messages.CycleEnded{Subnet: a.sub.Name, Number: c.number, StartedAt: c.started, EndedAt: now, Interval: a.sub.Interval.Duration}
	counts := map[messages.Outcome]int{}
	outcome := map[string]messages.Outcome{}
	for _, cam := range a.patrolled() {
		o, ok := c.outcomes[cam.ID]
		switch {
		case ok:
		case c.waiting[cam.ID]:
			o = messages.CameraOutcome{Camera: cam.ID, Outcome: messages.OutcomeTimeout, Error: "no answer before the cycle deadline"}
		default:
			o = messages.CameraOutcome{Camera: cam.ID, Outcome: messages.OutcomeSkipped, Error: "cycle deadline came before the capture could start"}
		}
		counts[o.Outcome]++
		outcome[cam.ID] = o.Outcome
		ended.Outcomes = append(ended.Outcomes, o)
	}
	a.last = now.Sub(c.started)
	ended.OK, ended.Skipped, ended.Backoff = counts[messages.OutcomeOK], counts[messages.OutcomeSkipped], counts[messages.OutcomeBackoff]
	ended.Paused = counts[messages.OutcomePaused]
	ended.TimedOut = counts[messages.OutcomeTimeout] + ended.Skipped
	ended.Failed = len(ended.Outcomes) - ended.OK - ended.TimedOut - ended.Backoff - ended.Paused
	ended.Overran = a.last >= a.sub.Interval.Duration || ended.Skipped > 0
	if ended.Overran {
		ended.Why = overrunWhy(ended)
	}
	a.skipped = a.skipped[:0]
	for _, id := range c.order {
		if outcome[id] == messages.OutcomeSkipped {
			a.skipped = append(a.skipped, id)
		}
	}
	ctx.ActorSystem().EventStream.Publish(ended)
	a.checkInterval(ctx, ended)

	log := a.env.Log.Info
	if ended.Overran {
		log = a.env.Log.Warn
	}
	log("cycle ended", "subnet", a.sub.Name, "cycle", c.number, "took", a.last.Round(time.Millisecond).String(),
		"ok", ended.OK, "timeout", ended.TimedOut-ended.Skipped, "failed", ended.Failed,
		"skipped", ended.Skipped, "overran", ended.Overran, "reason", summary(ended))

	next := c.started.Add(a.sub.Interval.Duration)
	if !now.Before(next) {
		ctx.Send(ctx.Self(), &cycleDue{})
		return
	}
	a.timer = after(ctx.ActorSystem(), ctx.Self(), time.Until(next), &cycleDue{})
}

// overrunWhy says why a cycle did not reach every camera in its interval:
// the machine-wide admission held captures back, dead cameras took their
// whole deadline, or the cameras are too slow for the interval.
func overrunWhy(e *messages.CycleEnded) string {
	var admission, notReached, timedOut int
	for _, o := range e.Outcomes {
		switch {
		case o.Outcome == messages.OutcomeSkipped && strings.Contains(o.Error, "admission"):
			admission++
		case o.Outcome == messages.OutcomeSkipped:
			notReached++
		case o.Outcome == messages.OutcomeTimeout:
			timedOut++
		}
	}
	var why []string
	if admission > 0 {
		why = append(why, fmt.Sprintf("admission: %d waited for the machine", admission))
	}
	if timedOut > 0 {
		why = append(why, fmt.Sprintf("dead cameras: %d timed out", timedOut))
	}
	if notReached > 0 || len(why) == 0 {
		why = append(why, fmt.Sprintf("slow cameras: %d not reached in %s", notReached, e.Interval))
	}
	return strings.Join(why, "; ")
}

// median is a camera's median good capture time lately (0 before one).
func (a *subnetActor) median(camera string) time.Duration {
	d := a.durations[camera]
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// checkInterval raises interval_too_short when the subnet's cameras, at
// their recent pace and the subnet's concurrency, cannot fit its interval
// (a camera whose breaker is open, or that is paused, costs nothing and
// is not counted).
func (a *subnetActor) checkInterval(ctx actor.Context, e *messages.CycleEnded) {
	var need time.Duration
	counted := 0
	for _, o := range e.Outcomes {
		if m := a.median(o.Camera); m > 0 && o.Outcome != messages.OutcomeBackoff && o.Outcome != messages.OutcomePaused {
			need += m
			counted++
		}
	}
	need /= time.Duration(a.sub.Concurrency)
	tooShort := need > a.sub.Interval.Duration
	if tooShort == a.tooShort {
		return
	}
	a.tooShort = tooShort
	ctx.ActorSystem().EventStream.Publish(&messages.IntervalChecked{Subnet: a.sub.Name, TooShort: tooShort, Needed: need,
		Interval: a.sub.Interval.Duration, Concurrency: a.sub.Concurrency, Cameras: counted, At: time.Now()})
}

// paused is camera id's pause, when it is paused (or disabled).
func (a *subnetActor) paused(id string) (messages.Pause, bool) {
	for _, cam := range a.sub.Cameras {
		if cam.ID == id {
			return a.env.pauseOf(cam)
		}
	}
	return messages.Pause{}, false
}

// pauseWords says why a camera was not visited, for the cycle's record.
func pauseWords(p messages.Pause) string {
	if p.Disabled {
		return "disabled in the configuration"
	}
	return fmt.Sprintf("paused by %s until %s", p.By, p.Until.UTC().Format(time.RFC3339))
}

// summary names the first failure of a cycle for its log line.
func summary(e *messages.CycleEnded) string {
	for _, o := range e.Outcomes {
		if o.Outcome != messages.OutcomeOK && o.Outcome != messages.OutcomePaused {
			return fmt.Sprintf("%s: %s %s", o.Camera, o.Outcome, o.Error)
		}
	}
	return ""
}

func (a *subnetActor) describe(ctx actor.Context) *messages.Node {
	f := map[string]any{"cycle": *a.number, "interval_ms": a.sub.Interval.Milliseconds(), "concurrency": a.sub.Concurrency,
		"last_cycle_duration_ms": a.last.Milliseconds()}
	if a.cur != nil {
		f["cycle_started_at"] = a.cur.started
		f["waiting"] = len(a.cur.waiting)
	}
	f["via"] = a.via
	return a.node(ctx, "subnet", "running", f)
}

func (a *subnetActor) onStopping() {
	a.stopping = true
	if a.timer != nil {
		a.timer.Stop()
	}
}
