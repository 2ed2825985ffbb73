package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"camvisor/actors/go2rtc"
	"camvisor/actors/redact"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// gatewayActor is the only code that talks to go2rtc, and the home of
// invariant 3. When a subnet's cycle starts it lists go2rtc's streams: it
// tells the subnet which streams camvisor did not create read each camera
// and which of them hold a connection now (they count against the
// cameras' budgets; gateway_match.go says how a stream is known to read a
// camera), and for a subnet patrolled through go2rtc it gives every camera
// a patrol source: such a stream when there is one, else a
// camvisor_<camera> stream it registers (construct). Before it asks
// go2rtc for a frame that may open a camera connection, and when a live
// view is about to start, it looks again (a listing no older than
// ListingMaxAge), so a connection opened since is counted before go2rtc
// dials, never after. At the cycle's CycleEnded it
// removes every stream of that subnet whose lease expired and every patrol
// source no live lease holds (destruct), and confirms with a listing that
// each is gone; one still listed is recorded and retried at the next cycle
// end. Each stream it acts on has one state (gateway_stream.go). Requests
// go one at a time (go2rtc crashes on overlapping ones) on a worker
// goroutine (gateway_ops.go), so the mailbox answers at once and the
// patrol never waits: while go2rtc is unreachable the gateway refuses
// leases and frames with the reason, probes with back-off, and recovers by
// itself.
type gatewayActor struct {
	life
	env    *Env
	client *go2rtc.Client // the worker's; the stop's once the worker ended

	worker *worker[gwOp, error] // one request at a time
	queue  []gwOp

	healthy bool
	lastErr string
	backoff time.Duration
	probe   *time.Timer
	cleaned bool                 // streams of earlier runs removed
	streams map[string]*gwStream // by name: every stream the gateway acts on

	// What go2rtc's last listing says of the cameras (gateway_match.go).
	match      *matcher                 // the cameras of the configuration that runs
	list       map[string]go2rtc.Stream // the last listing, as go2rtc answered it
	listedAt   time.Time                // when it was asked for
	read       *reading                 // list read by match; rebuilt when either changes
	lookFailed time.Time                // a look before a frame failed then: frames go unchecked for ListingMaxAge
	lookErr    string
}

// preparing is a PrepareCycle being answered: its listing is taken, its
// sources are being added.
type preparing struct {
	req     *messages.PrepareCycle
	replyTo *actor.PID
	answer  *messages.CyclePrepared
	pending int // sources still being registered
}

// The gateway's private messages.
type (
	gwProbe struct{}                // list go2rtc again: it was unreachable
	gwDone  = workDone[gwOp, error] // a request to go2rtc came back, answered
)

// StreamPrefix marks the go2rtc streams camvisor creates, so it can tell
// them from the operator's own.
const StreamPrefix = "camvisor_"

// StreamName is camera's go2rtc stream.
func StreamName(camera string) string { return StreamPrefix + camera }

// Why a stream was registered (go2rtc_streams.purpose).
const (
	purposePatrol = "patrol"
	purposeLease  = "lease"
)

func gatewayProps(env *Env) *actor.Props {
	return actor.PropsFromProducer(lived(func() *gatewayActor {
		return &gatewayActor{env: env, streams: map[string]*gwStream{}}
	}))
}

// gatewayWants are the facts the root subscribes the gateway to.
func gatewayWants(evt any) bool {
	_, ok := evt.(*messages.CycleEnded)
	return ok
}

// Receive runs each message through its own method, in the order below.
func (a *gatewayActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *messages.AddStream:
		a.onAddStream(ctx, msg)
	case *messages.StreamExpired:
		a.onStreamExpired(msg)
	case *messages.ReleaseCameras:
		a.onReleaseCameras(ctx, msg)
	case *messages.FetchFrame:
		a.onFetchFrame(ctx, msg)
	case *messages.CountViewers:
		a.onCountViewers(ctx, msg)
	case *messages.CheckConnections:
		a.onCheckConnections(ctx, msg)
	case *messages.PrepareCycle:
		a.onPrepareCycle(ctx, msg)
	case *messages.CycleEnded:
		a.onCycleEnded(ctx, msg)
	case *gwDone:
		a.onDone(ctx, msg)
	case *gwProbe:
		a.onProbe(ctx)
	case *messages.GetHealth:
		a.onGetHealth(ctx)
	case *messages.GetUnmatchedSources:
		a.onGetUnmatchedSources(ctx)
	case *messages.Describe:
		a.onDescribe(ctx)
	case *actor.Stopping, *actor.Restarting:
		a.onStopping(ctx)
	}
}

func (a *gatewayActor) onStarted(ctx actor.Context) {
	cfg := a.env.Config.Go2RTC
	client := go2rtc.New(cfg.URL, cfg.RequestTimeout.Duration)
	a.client = client
	a.healthy = true // until a request says otherwise
	a.backoff = a.env.Policy.Gateway.ProbeInitial
	a.worker = startWorker(ctx.ActorSystem(), ctx.Self(), func(op gwOp) error { return op.do(client) })
	// Start-up: list, then remove what earlier runs left.
	a.enqueue(ctx, &probeOp{})
}

func (a *gatewayActor) onAddStream(ctx actor.Context, msg *messages.AddStream) {
	if !a.healthy {
		ctx.Respond(&messages.StreamAdded{Stream: msg.Stream, Error: "live view refused: " + a.lastErr})
		return
	}
	s := a.streams[msg.Stream]
	switch {
	case s == nil || s.state == streamRetired:
		s = a.entry(msg.Stream, msg.Camera, msg.Subnet, msg.Source)
		s.leases = append(s.leases, ctx.Sender())
		a.add(ctx, s)
	case s.state == streamAdding:
		s.leases = append(s.leases, ctx.Sender()) // answered once its PATCH is done
	case s.state == streamRemoving:
		a.entry(msg.Stream, msg.Camera, msg.Subnet, msg.Source)
		s.leases = append(s.leases, ctx.Sender()) // answered once it is registered anew
	default:
		// Registered (for the patrol, or an earlier view) and maybe watched:
		// never register it again (a second stream object would open a
		// second connection to the camera).
		a.move(s, s.state.withLease())
		ctx.Respond(&messages.StreamAdded{Stream: msg.Stream})
	}
}

func (a *gatewayActor) onStreamExpired(msg *messages.StreamExpired) {
	s := a.streams[msg.Stream]
	switch {
	case s == nil:
	case s.state == streamAdding || s.state == streamRemoving:
		s.leases = nil // the lease ended before its stream was registered: it waits no more
	case s.state == streamLeased || s.state == streamShared:
		a.move(s, s.state.withoutLease())
	}
}

// onReleaseCameras removes the streams of cameras a reload stopped: their
// subnet may have no cycle end left to do it.
func (a *gatewayActor) onReleaseCameras(ctx actor.Context, msg *messages.ReleaseCameras) {
	var gone []*gwStream
	for _, s := range a.streams {
		if !slices.Contains(msg.Cameras, s.camera) {
			continue
		}
		a.answerWaiters(ctx, s, errors.New(msg.Reason))
		if s.state != streamRemoving {
			a.move(s, streamRetired)
			s.reason = msg.Reason
			gone = append(gone, s)
		}
	}
	if a.healthy {
		a.remove(ctx, gone)
	}
}

func (a *gatewayActor) onFetchFrame(ctx actor.Context, msg *messages.FetchFrame) {
	if !a.healthy {
		ctx.Respond(&messages.FrameFetched{Ref: msg.Ref, Error: a.lastErr, Unreachable: true})
		return
	}
	if s := a.streams[msg.Stream]; strings.HasPrefix(msg.Stream, StreamPrefix) && (s == nil || !s.state.servesFrames()) {
		// Its lease ended: a frame.jpeg now could open a connection after
		// the lease gave its slot back. (Streams camvisor did not create
		// are the operator's: frames ride on their connection.)
		ctx.Respond(&messages.FrameFetched{Ref: msg.Ref, Error: msg.Stream + " is not registered for frames"})
		return
	}
	op := &frameOp{stream: msg.Stream, replyTo: ctx.Sender(), ref: msg.Ref, deadline: msg.Deadline,
		timeout: a.env.Config.Go2RTC.RequestTimeout.Duration}
	if msg.Camera != "" {
		op.check = &frameCheck{camera: msg.Camera, counted: msg.Counted, lease: msg.Lease}
	}
	a.enqueue(ctx, op)
}

// onCheckConnections looks at a camera's connections not ours for a live
// view about to start: at once from a listing young enough, else after a
// new one, in its turn.
func (a *gatewayActor) onCheckConnections(ctx actor.Context, msg *messages.CheckConnections) {
	if !a.healthy {
		ctx.Respond(&messages.ConnectionsChecked{Camera: msg.Camera, Error: a.lastErr})
		return
	}
	a.enqueue(ctx, &checkOp{camera: msg.Camera, replyTo: ctx.Sender()})
}

func (a *gatewayActor) onCountViewers(ctx actor.Context, msg *messages.CountViewers) {
	if !a.healthy {
		ctx.Respond(&messages.ViewersCounted{Stream: msg.Stream, Error: a.lastErr})
		return
	}
	a.enqueue(ctx, &viewersOp{stream: msg.Stream, replyTo: ctx.Sender()})
}

// onPrepareCycle lists go2rtc's streams for a starting cycle, then adds
// the patrol sources it lacks, one request at a time, and answers.
func (a *gatewayActor) onPrepareCycle(ctx actor.Context, msg *messages.PrepareCycle) {
	answer := &messages.CyclePrepared{Subnet: msg.Subnet, Sources: map[string]string{}, External: map[string]messages.ExternalUse{}}
	if !a.healthy {
		answer.Error = a.lastErr
		ctx.Respond(answer)
		return
	}
	a.enqueue(ctx, &prepareOp{cycle: &preparing{req: msg, replyTo: ctx.Sender(), answer: answer}})
}

// onCycleEnded removes the subnet's expired streams and patrol sources,
// and every retired one, then confirms.
func (a *gatewayActor) onCycleEnded(ctx actor.Context, msg *messages.CycleEnded) {
	if !a.healthy {
		return // kept: removed at a cycle end after recovery
	}
	var gone []*gwStream
	for _, s := range a.streams {
		switch {
		case s.state == streamRetired:
		case s.subnet != msg.Subnet:
			continue
		case s.state == streamExpired:
			s.reason = "lease expired"
		case s.state == streamSource:
			s.reason = "cycle ended"
		default:
			continue
		}
		gone = append(gone, s)
	}
	a.remove(ctx, gone)
}

// onDone takes go2rtc's answer to one request: what it says of go2rtc's
// health first, then what it means for whoever asked.
func (a *gatewayActor) onDone(ctx actor.Context, msg *gwDone) {
	if !a.worker.done(msg) {
		return // a previous incarnation's worker
	}
	err := msg.res
	if errors.Is(err, go2rtc.ErrUnreachable) {
		a.degrade(ctx, err)
	} else if l, ok := msg.job.(gwListing); ok && err == nil {
		list, at := l.listed()
		a.noteListing(list, at)
		a.recover(ctx, list)
	}
	switch op := msg.job.(type) {
	case *lookOp:
		if err != nil {
			// Frames go on unchecked for a while rather than wait on a
			// go2rtc that answers but cannot list.
			a.lookFailed, a.lookErr = time.Now(), err.Error()
			a.env.Log.Warn("go2rtc could not be listed before a frame: frames go unchecked", "reason", a.lookErr)
		}
	case *addOp:
		a.onAdded(ctx, op, err)
	case *restoreOp:
		a.onRestored(op, err)
	case *removeOp:
		if err != nil {
			a.env.Log.Warn("go2rtc removal failed", "stream", op.stream, "reason", err.Error())
		}
	case *probeOp: // go2rtc's health, taken above
	case *prepareOp:
		a.onPrepared(ctx, op, err)
	case *confirmOp:
		a.onConfirmed(ctx, op, err)
	case *frameOp:
		a.answerFrame(ctx, op, err)
	case *viewersOp:
		a.answerViewers(ctx, op, err)
	}
	a.next(ctx)
}

func (a *gatewayActor) onProbe(ctx actor.Context) {
	a.probe = nil
	a.enqueue(ctx, &probeOp{})
}

func (a *gatewayActor) onGetHealth(ctx actor.Context) {
	ctx.Respond(&messages.ServiceHealth{Service: "go2rtc", Healthy: a.healthy, Error: a.lastErr, At: time.Now()})
}

// onDescribe answers the gateway's node of the actor tree.
func (a *gatewayActor) onDescribe(ctx actor.Context) {
	streams := make([]map[string]any, 0, len(a.streams))
	for _, s := range a.sortedStreams() {
		streams = append(streams, map[string]any{"stream": s.name, "camera": s.camera, "state": s.state.String(), "removal_attempts": s.attempts})
	}
	state := "running"
	if !a.healthy {
		state = "degraded"
	}
	unmatched := []map[string]any{}
	var listedAt any
	if a.list != nil {
		r := a.reading()
		listedAt = r.at
		for _, u := range r.unmatched {
			unmatched = append(unmatched, map[string]any{"stream": u.Stream, "url": u.URL, "open": u.Open, "reason": u.Reason})
		}
	}
	answerDescribe(ctx, a.node(ctx, "gateway", state, map[string]any{"healthy": a.healthy, "error": a.lastErr, "streams": streams,
		"queued": len(a.queue), "url": redact.URL(a.env.Config.Go2RTC.URL), // go2rtc's credentials open every camera
		"listed_at": listedAt, "unmatched_sources": unmatched}))
}

// onStopping ends the worker, then removes the streams this run created.
// It blocks, bounded by request_timeout per request: the stop is not over
// while our streams stay in go2rtc.
func (a *gatewayActor) onStopping(ctx actor.Context) {
	defer func() {
		if r := recover(); r != nil {
			a.env.Log.Error("panic while stopping gateway", "reason", fmt.Sprint(r))
		}
	}()
	if a.probe != nil {
		a.probe.Stop()
	}
	if a.worker == nil {
		return
	}
	queued := a.queue
	a.queue = nil
	for _, op := range queued {
		a.drop(ctx, op, errors.New("the gateway stopped"))
	}
	// The request in flight finishes first: go2rtc takes one at a time.
	a.worker.stop(2 * a.env.Config.Go2RTC.RequestTimeout.Duration)
	a.worker = nil
	if !a.healthy {
		return
	}
	// Every stream left, a PATCH that was in flight included.
	for _, s := range a.sortedStreams() {
		err := a.client.Remove(context.Background(), s.name)
		fact := &messages.StreamRemoved{Stream: s.name, Camera: s.camera, Subnet: s.subnet, At: time.Now(), Reason: "shutdown", Attempts: s.attempts + 1}
		if err != nil {
			fact.Error = err.Error()
			a.env.Log.Warn("go2rtc removal at shutdown failed", "stream", s.name, "reason", fact.Error)
		}
		ctx.ActorSystem().EventStream.Publish(fact)
	}
}

// onRestored logs the answer to a stream registered again after go2rtc
// lost it; its state is what it was.
func (a *gatewayActor) onRestored(op *restoreOp, err error) {
	if err != nil {
		a.env.Log.Warn("go2rtc did not take a lost stream back", "stream", op.stream, "reason", err.Error())
		return
	}
	a.env.Log.Info("go2rtc stream registered again after go2rtc lost it", "stream", op.stream)
}

// onPrepared goes on with a cycle's preparation once go2rtc was listed.
func (a *gatewayActor) onPrepared(ctx actor.Context, op *prepareOp, err error) {
	p := op.cycle
	if err != nil {
		p.answer.Error = err.Error()
		a.answerPrepare(ctx, p)
		return
	}
	r := a.reading()
	for _, cam := range p.req.Cameras {
		p.answer.External[cam.ID] = r.use(cam.ID)
	}
	if p.req.Construct {
		for _, cam := range p.req.Cameras {
			if src := r.source(cam.ID); src != "" {
				// A stream not ours reads the camera: its frames go
				// through it (riding it while it is open), and a viewer
				// who opens it while a frame is taken shares the frame's
				// connection instead of opening a second one.
				p.answer.Sources[cam.ID] = src
				continue
			}
			a.takeSource(ctx, p, cam)
		}
	}
	if p.pending == 0 {
		a.answerPrepare(ctx, p)
	}
}

func (a *gatewayActor) answerPrepare(ctx actor.Context, p *preparing) {
	if p.replyTo != nil {
		ctx.Send(p.replyTo, p.answer)
	}
}

func (a *gatewayActor) enqueue(ctx actor.Context, op gwOp) {
	a.queue = append(a.queue, op)
	a.next(ctx)
}

// next hands the worker the next request when it is idle. A frame that
// checks its camera's connections, and a live view's check, need a
// listing no older than ListingMaxAge when their turn comes: the listing
// goes first, the frame right after it, and nothing in between (the
// window left is what README.md measures).
func (a *gatewayActor) next(ctx actor.Context) {
	for a.worker.idle() && len(a.queue) > 0 {
		switch op := a.queue[0].(type) {
		case *frameOp:
			if op.late() {
				a.queue = a.queue[1:]
				a.answerFrame(ctx, op, fmt.Errorf("%w: the capture's deadline passed while waiting for go2rtc", go2rtc.ErrNoFrameInTime))
				continue
			}
			if op.check != nil && !a.fresh() {
				a.worker.give(&lookOp{})
				return
			}
			a.queue = a.queue[1:]
			if op.check != nil && a.crowded(ctx, op) {
				continue
			}
			a.worker.give(op)
		case *checkOp:
			if !a.fresh() {
				a.worker.give(&lookOp{})
				return
			}
			a.queue = a.queue[1:]
			a.answerCheck(ctx, op)
		default:
			a.queue = a.queue[1:]
			a.worker.give(op)
		}
	}
}

// fresh reports whether the last listing is young enough to judge a frame
// or a live view by, or a look just failed (they go on unchecked rather
// than wait on a go2rtc that cannot list).
func (a *gatewayActor) fresh() bool {
	age := a.env.Policy.Gateway.ListingMaxAge
	return (a.list != nil && time.Since(a.listedAt) <= age) || time.Since(a.lookFailed) <= age
}

// reading is the last listing, read with the cameras that run now.
func (a *gatewayActor) reading() *reading {
	if cfg := a.env.Current(); a.match == nil || a.match.cfg != cfg {
		a.match = newMatcher(cfg)
		a.read = nil
	}
	if a.read == nil {
		a.read = a.match.read(a.list, a.listedAt)
	}
	return a.read
}

// noteListing keeps a good listing, asked for at at.
func (a *gatewayActor) noteListing(list map[string]go2rtc.Stream, at time.Time) {
	a.list, a.listedAt, a.read = list, at, nil
	a.lookFailed, a.lookErr = time.Time{}, ""
}

// crowded looks at a frame's camera just before the frame is asked: it
// answers the frame unasked (and reports true) when go2rtc would then hold
// more connections for streams not ours and this frame than the camera
// counted for them. A frame whose stream is open already rides it and
// adds none.
func (a *gatewayActor) crowded(ctx actor.Context, op *frameOp) bool {
	if time.Since(a.listedAt) > a.env.Policy.Gateway.ListingMaxAge {
		return false // the look failed: unchecked
	}
	use := a.reading().use(op.check.camera)
	op.seen = &use
	after, rides := 0, false
	for _, s := range use.Open {
		if s == op.check.lease {
			continue // the live view's, counted as its slot
		}
		rides = rides || s == op.stream
		after++
	}
	if !rides && op.stream != op.check.lease {
		after++
	}
	if after <= op.check.counted {
		return false
	}
	if op.replyTo != nil {
		ctx.Send(op.replyTo, &messages.FrameFetched{Ref: op.ref, Seen: op.seen, Crowded: true,
			Error: fmt.Sprintf("not asked: go2rtc holds connections for %s now", strings.Join(use.Open, ", "))})
	}
	return true
}

// answerCheck answers a live view's look at its camera.
func (a *gatewayActor) answerCheck(ctx actor.Context, op *checkOp) {
	if op.replyTo == nil {
		return
	}
	answer := &messages.ConnectionsChecked{Camera: op.camera}
	if time.Since(a.listedAt) > a.env.Policy.Gateway.ListingMaxAge {
		answer.Error = "go2rtc could not be listed: " + a.lookErr
	} else {
		answer.External = a.reading().use(op.camera)
	}
	ctx.Send(op.replyTo, answer)
}

func (a *gatewayActor) onGetUnmatchedSources(ctx actor.Context) {
	answer := &messages.UnmatchedSources{}
	if a.list != nil {
		r := a.reading()
		answer.Listed, answer.At, answer.Sources = true, r.at, r.unmatched
	}
	ctx.Respond(answer)
}

func (a *gatewayActor) answerFrame(ctx actor.Context, op *frameOp, err error) {
	if op.replyTo == nil {
		return
	}
	ctx.Send(op.replyTo, &messages.FrameFetched{Ref: op.ref, JPEG: op.jpeg, Error: errorText(err),
		Unreachable: err != nil && (errors.Is(err, go2rtc.ErrUnreachable) || !a.healthy),
		TimedOut:    errors.Is(err, go2rtc.ErrNoFrameInTime), Seen: op.seen})
}

func (a *gatewayActor) answerViewers(ctx actor.Context, op *viewersOp, err error) {
	if op.replyTo != nil {
		ctx.Send(op.replyTo, &messages.ViewersCounted{Stream: op.stream, Consumers: op.consumers, Error: errorText(err)})
	}
}

// degrade marks go2rtc unreachable: queued requests are answered with the
// reason, and a probe is scheduled with back-off.
func (a *gatewayActor) degrade(ctx actor.Context, err error) {
	a.lastErr = err.Error()
	if a.healthy {
		a.healthy = false
		a.env.Log.Error("go2rtc unreachable: live view refused, patrol continues with ffmpeg", "reason", a.lastErr)
		ctx.ActorSystem().EventStream.Publish(&messages.ServiceHealth{Service: "go2rtc", Healthy: false, Error: a.lastErr, At: time.Now()})
	}
	queued := a.queue
	a.queue = nil
	for _, op := range queued {
		a.drop(ctx, op, err)
	}
	if a.probe == nil {
		a.probe = after(ctx.ActorSystem(), ctx.Self(), a.backoff, &gwProbe{})
		a.backoff = min(2*a.backoff, a.env.Policy.Gateway.ProbeMax)
	}
}

// drop answers for a request that will not be sent, with err. A stream
// whose removal is dropped is retired: removed after the recovery.
func (a *gatewayActor) drop(ctx actor.Context, op gwOp, err error) {
	switch op := op.(type) {
	case *addOp:
		if s := a.streams[op.stream]; s != nil && s.state == streamAdding {
			a.answerWaiters(ctx, s, err)
			a.forget(s)
		}
	case *confirmOp:
		for _, name := range op.streams {
			if s := a.streams[name]; s != nil && s.state == streamRemoving {
				a.answerWaiters(ctx, s, err)
				a.move(s, streamRetired)
			}
		}
	case *prepareOp:
		op.cycle.answer.Error = err.Error()
		a.answerPrepare(ctx, op.cycle)
	case *frameOp:
		a.answerFrame(ctx, op, err)
	case *viewersOp:
		a.answerViewers(ctx, op, err)
	case *checkOp:
		if op.replyTo != nil {
			ctx.Send(op.replyTo, &messages.ConnectionsChecked{Camera: op.camera, Error: err.Error()})
		}
	}
}

// recover runs after every good listing: it ends a degraded spell, and
// does the start-up cleanup once.
func (a *gatewayActor) recover(ctx actor.Context, list map[string]go2rtc.Stream) {
	if !a.healthy {
		a.healthy = true
		a.lastErr = ""
		a.backoff = a.env.Policy.Gateway.ProbeInitial
		a.env.Log.Info("go2rtc reachable again", "streams", len(list))
		ctx.ActorSystem().EventStream.Publish(&messages.ServiceHealth{Service: "go2rtc", Healthy: true, At: time.Now()})
		var retired []*gwStream
		for _, s := range a.sortedStreams() {
			if s.state == streamRetired {
				retired = append(retired, s)
			} else if _, ok := list[s.name]; !ok && s.state.servesFrames() {
				// A restarted go2rtc lost what PATCH put in its memory:
				// register the streams in use again.
				a.enqueue(ctx, &restoreOp{stream: s.name, source: s.source})
			}
		}
		a.remove(ctx, retired)
	}
	if !a.cleaned {
		a.cleaned = true
		for _, line := range missingDeclared(a.env.Current(), list) {
			a.env.Log.Warn("declared go2rtc stream not found: nothing is counted for it, and the live view registers camvisor_<camera>",
				"reason", line)
		}
		var stale []*gwStream
		var names []string
		for name := range list {
			if strings.HasPrefix(name, StreamPrefix) && a.streams[name] == nil {
				s := &gwStream{name: name, state: streamRetired, reason: "left by an earlier run"}
				a.streams[name] = s
				stale = append(stale, s)
				names = append(names, name)
			}
		}
		if len(stale) > 0 {
			slices.Sort(names)
			a.env.Log.Info("removing go2rtc streams left by an earlier run", "streams", strings.Join(names, ","))
		}
		a.remove(ctx, stale)
	}
}

// errorText is err's text, empty for none.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
