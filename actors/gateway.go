package actors

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"camvisor/actors/go2rtc"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// gatewayActor is the only code that talks to go2rtc, and the home of
// invariant 3. When a subnet's cycle starts it lists go2rtc's streams once:
// it tells the subnet how many camera connections go2rtc holds for streams
// camvisor did not create (they count against the cameras' budgets), and
// for a subnet patrolled through go2rtc it makes sure a camvisor_<camera>
// source exists for every camera (construct). At the cycle's CycleEnded it
// removes every stream of that subnet whose lease expired and every patrol
// source no live lease holds (destruct), and confirms with a listing that
// each is gone; one still listed is recorded and retried at the next cycle
// end. Requests go one at a time (go2rtc crashes on overlapping
// ones) on a worker goroutine, so the mailbox answers at once and the
// patrol never waits: while go2rtc is unreachable the gateway refuses
// leases and frames with the reason, probes with back-off, and recovers by
// itself.
type gatewayActor struct {
	life
	env    *Env
	client *go2rtc.Client // used by the worker goroutine only

	worker *worker[gwOp, gwResult] // one request at a time
	queue  []gwOp

	healthy  bool
	lastErr  string
	backoff  time.Duration
	probe    *time.Timer
	cleaned  bool // streams of earlier runs removed
	streams  map[string]*gwStream
	removing map[string]bool // removal under way
	adding   map[string]bool // addition queued or under way
	expireOn map[string]bool // expired while its addition was under way
}

// gwStream is a stream this run registered.
type gwStream struct {
	name, camera, subnet string
	source               string
	patrol               bool // registered for a cycle: removed at its end unless leased
	leased               bool // a live view holds it
	expired              bool // its lease ended: remove at the subnet's next cycle end
	retired              bool // its camera no longer runs (a reload): removed at once, or at any cycle end
	attempts             int  // removals tried
}

// preparing is a PrepareCycle being answered: its listing is taken, its
// sources are being added.
type preparing struct {
	req     *messages.PrepareCycle
	replyTo *actor.PID
	answer  *messages.CyclePrepared
	adding  int // additions still under way
}

// gwOp is one request to go2rtc, run by the worker.
type gwOp struct {
	kind     gwKind
	stream   string
	camera   string // for additions
	subnet   string
	source   string
	replyTo  *actor.PID
	ref      int64
	deadline time.Time
	reason   string     // for removals
	confirm  []string   // for a listing that confirms removals
	purpose  string     // for additions: patrol or lease
	prepare  *preparing // the cycle a listing or an addition is for
}

type gwKind int

const (
	opAdd gwKind = iota
	opRemove
	opList // a probe, the start-up cleanup or a removal confirmation
	opFrame
	opViewers
)

// gwResult is go2rtc's answer to one request.
type gwResult struct {
	err       error
	jpeg      []byte
	list      map[string]go2rtc.Stream
	consumers int
}

type gwProbe struct{}

// StreamPrefix marks the go2rtc streams camvisor creates, so it can tell
// them from the operator's own.
const StreamPrefix = "camvisor_"

// StreamName is camera's go2rtc stream.
func StreamName(camera string) string { return StreamPrefix + camera }

func gatewayProps(env *Env) *actor.Props {
	return actor.PropsFromProducer(lived(func() *gatewayActor {
		return &gatewayActor{env: env, streams: map[string]*gwStream{}, removing: map[string]bool{},
			adding: map[string]bool{}, expireOn: map[string]bool{}}
	}))
}

// gatewayWants are the facts the root subscribes the gateway to.
func gatewayWants(evt any) bool {
	_, ok := evt.(*messages.CycleEnded)
	return ok
}

// Receive handles one message.
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
	case *messages.PrepareCycle:
		a.onPrepareCycle(ctx, msg)
	case *messages.CycleEnded:
		a.onCycleEnded(ctx, msg)
	case *workDone[gwOp, gwResult]:
		a.onDone(ctx, msg)
	case *gwProbe:
		a.onProbe(ctx)
	case *messages.GetHealth:
		ctx.Respond(&messages.ServiceHealth{Service: "go2rtc", Healthy: a.healthy, Error: a.lastErr, At: time.Now()})
	case *messages.Describe:
		answerDescribe(ctx, a.describe(ctx))
	case *actor.Stopping, *actor.Restarting:
		a.onStopping(ctx)
	}
}

func (a *gatewayActor) onStarted(ctx actor.Context) {
	cfg := a.env.Config.Go2RTC
	a.client = go2rtc.New(cfg.URL, cfg.RequestTimeout.Duration)
	a.healthy = true // until a request says otherwise
	a.backoff = a.env.Policy.Gateway.ProbeInitial
	a.worker = startWorker(ctx.ActorSystem(), ctx.Self(), a.request)
	// Start-up: list, then remove what earlier runs left.
	a.enqueue(ctx, gwOp{kind: opList})
}

func (a *gatewayActor) onAddStream(ctx actor.Context, msg *messages.AddStream) {
	if !a.healthy {
		ctx.Respond(&messages.StreamAdded{Stream: msg.Stream, Error: "live view refused: " + a.lastErr})
		return
	}
	if s := a.streams[msg.Stream]; s != nil && !a.removing[msg.Stream] {
		// Registered (for the patrol, or an earlier view) and maybe watched:
		// never register it again (a second stream object would open a
		// second connection to the camera).
		s.expired, s.leased = false, true
		ctx.Respond(&messages.StreamAdded{Stream: msg.Stream})
		return
	}
	a.adding[msg.Stream] = true
	delete(a.expireOn, msg.Stream)
	a.enqueue(ctx, gwOp{kind: opAdd, stream: msg.Stream, camera: msg.Camera, subnet: msg.Subnet, source: msg.Source,
		purpose: purposeLease, replyTo: ctx.Sender()})
}

func (a *gatewayActor) onStreamExpired(msg *messages.StreamExpired) {
	if s := a.streams[msg.Stream]; s != nil {
		s.expired, s.leased = true, false
	} else if a.adding[msg.Stream] {
		a.expireOn[msg.Stream] = true // applied when the addition completes
	}
}

// Why a stream was registered (go2rtc_streams.purpose).
const (
	purposePatrol = "patrol"
	purposeLease  = "lease"
)

// onPrepareCycle lists go2rtc's streams for a starting cycle, then adds
// the patrol sources it lacks, one request at a time, and answers.
func (a *gatewayActor) onPrepareCycle(ctx actor.Context, msg *messages.PrepareCycle) {
	answer := &messages.CyclePrepared{Subnet: msg.Subnet, Sources: map[string]string{}, External: map[string]messages.ExternalUse{}}
	if !a.healthy {
		answer.Error = a.lastErr
		ctx.Respond(answer)
		return
	}
	a.enqueue(ctx, gwOp{kind: opList, prepare: &preparing{req: msg, replyTo: ctx.Sender(), answer: answer}})
}

// onPrepared goes on with a cycle's preparation once go2rtc was listed.
func (a *gatewayActor) onPrepared(ctx actor.Context, p *preparing, list map[string]go2rtc.Stream, err error) {
	if err != nil {
		p.answer.Error = err.Error()
		a.answerPrepare(ctx, p)
		return
	}
	for _, cam := range p.req.Cameras {
		use := externalUse(list, cam.URL)
		if cam.Other != "" {
			other := externalUse(list, cam.Other)
			use.Connections += other.Connections
			if use.Stream == "" {
				use.Stream = other.Stream
			}
		}
		if use.Connections > 0 {
			p.answer.External[cam.ID] = use
		}
	}
	if p.req.Construct {
		for _, cam := range p.req.Cameras {
			if p.answer.External[cam.ID].Connections > 0 {
				continue // its frames ride on the connection open already
			}
			name := StreamName(cam.ID)
			if s := a.streams[name]; s != nil && !a.removing[name] {
				s.patrol = true
				p.answer.Sources[cam.ID] = name
				continue
			}
			if a.adding[name] {
				continue // a live view is registering it: not this cycle's source
			}
			p.adding++
			a.adding[name] = true
			a.enqueue(ctx, gwOp{kind: opAdd, stream: name, camera: cam.ID, subnet: p.req.Subnet, source: cam.URL,
				purpose: purposePatrol, prepare: p})
		}
	}
	if p.adding == 0 {
		a.answerPrepare(ctx, p)
	}
}

func (a *gatewayActor) answerPrepare(ctx actor.Context, p *preparing) {
	if p.replyTo != nil {
		ctx.Send(p.replyTo, p.answer)
	}
}

// externalUse counts the camera connections go2rtc holds open for streams
// camvisor did not create whose source is the camera at camURL, matched
// on scheme, host, port and path (go2rtc lists credentials as ***).
func externalUse(list map[string]go2rtc.Stream, camURL string) messages.ExternalUse {
	var use messages.ExternalUse
	want, ok := endpoint(camURL)
	if !ok {
		return use
	}
	for name, s := range list {
		if strings.HasPrefix(name, StreamPrefix) {
			continue
		}
		for _, p := range s.Producers {
			if got, ok := endpoint(p.URL); ok && got == want && p.RemoteAddr != "" {
				use.Connections++
				if use.Stream == "" || name < use.Stream {
					use.Stream = name
				}
			}
		}
	}
	return use
}

// endpoint is what identifies a camera in a URL: scheme, host, port and
// path, without credentials.
func endpoint(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false
	}
	port := u.Port()
	if port == "" && u.Scheme == "rtsp" {
		port = "554"
	}
	return u.Scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port + u.EscapedPath(), true
}

func (a *gatewayActor) onFetchFrame(ctx actor.Context, msg *messages.FetchFrame) {
	if !a.healthy {
		ctx.Respond(&messages.FrameFetched{Ref: msg.Ref, Error: a.lastErr, Unreachable: true})
		return
	}
	if s := a.streams[msg.Stream]; strings.HasPrefix(msg.Stream, StreamPrefix) && (s == nil || (s.expired && !s.patrol)) {
		// Its lease ended: a frame.jpeg now could open a connection after
		// the lease gave its slot back. (Streams camvisor did not create
		// are the operator's: frames ride on their connection.)
		ctx.Respond(&messages.FrameFetched{Ref: msg.Ref, Error: msg.Stream + " is not registered for frames"})
		return
	}
	a.enqueue(ctx, gwOp{kind: opFrame, stream: msg.Stream, replyTo: ctx.Sender(), ref: msg.Ref, deadline: msg.Deadline})
}

func (a *gatewayActor) onCountViewers(ctx actor.Context, msg *messages.CountViewers) {
	if !a.healthy {
		ctx.Respond(&messages.ViewersCounted{Stream: msg.Stream, Error: a.lastErr})
		return
	}
	a.enqueue(ctx, gwOp{kind: opViewers, stream: msg.Stream, replyTo: ctx.Sender()})
}

// onCycleEnded removes the subnet's expired streams, then confirms.
func (a *gatewayActor) onCycleEnded(ctx actor.Context, msg *messages.CycleEnded) {
	if !a.healthy {
		return // kept expired: retried at a cycle end after recovery
	}
	var expired, patrol []string
	for _, s := range a.streams {
		switch {
		case s.retired && !a.removing[s.name]:
			expired = append(expired, s.name)
		case s.subnet != msg.Subnet || s.leased || a.removing[s.name]:
		case s.expired:
			expired = append(expired, s.name)
		case s.patrol:
			patrol = append(patrol, s.name)
		}
	}
	a.removeAndConfirm(ctx, expired, "lease expired")
	a.removeAndConfirm(ctx, patrol, "cycle ended")
}

// onReleaseCameras removes the streams of cameras a reload stopped: their
// subnet may have no cycle end left to do it.
func (a *gatewayActor) onReleaseCameras(ctx actor.Context, msg *messages.ReleaseCameras) {
	var names []string
	for _, s := range a.streams {
		if slices.Contains(msg.Cameras, s.camera) {
			s.retired, s.expired, s.leased, s.patrol = true, true, false, false
			if !a.removing[s.name] {
				names = append(names, s.name)
			}
		}
	}
	if a.healthy {
		a.removeAndConfirm(ctx, names, msg.Reason)
	}
}

func (a *gatewayActor) removeAndConfirm(ctx actor.Context, names []string, reason string) {
	if len(names) == 0 {
		return
	}
	for _, n := range names {
		a.removing[n] = true
		a.enqueue(ctx, gwOp{kind: opRemove, stream: n, reason: reason})
	}
	a.enqueue(ctx, gwOp{kind: opList, confirm: names, reason: reason})
}

func (a *gatewayActor) enqueue(ctx actor.Context, op gwOp) {
	a.queue = append(a.queue, op)
	a.next(ctx)
}

// next hands the worker the next request when it is idle.
func (a *gatewayActor) next(ctx actor.Context) {
	if !a.worker.idle() || len(a.queue) == 0 {
		return
	}
	op := a.queue[0]
	a.queue = a.queue[1:]
	if !op.deadline.IsZero() && time.Now().After(op.deadline) {
		a.reply(ctx, op, gwResult{err: fmt.Errorf("%w: the capture's deadline passed while waiting for go2rtc", go2rtc.ErrNoFrameInTime)})
		a.next(ctx)
		return
	}
	a.worker.give(op)
}

func (a *gatewayActor) onDone(ctx actor.Context, w *workDone[gwOp, gwResult]) {
	if !a.worker.done(w) {
		return // a previous incarnation's worker
	}
	d := w.res
	if d.err != nil && errors.Is(d.err, go2rtc.ErrUnreachable) {
		a.degrade(ctx, d.err)
	} else if w.job.kind == opList && d.err == nil {
		a.recover(ctx, d.list)
	}
	switch w.job.kind {
	case opAdd:
		delete(a.adding, w.job.stream)
		op := w.job
		if d.err == nil {
			s := &gwStream{name: op.stream, camera: op.camera, subnet: op.subnet, source: op.source,
				patrol: op.purpose == purposePatrol, leased: op.purpose == purposeLease}
			if a.expireOn[op.stream] {
				s.expired, s.leased = true, false
			}
			a.streams[op.stream] = s
			delete(a.expireOn, op.stream)
			ctx.ActorSystem().EventStream.Publish(&messages.StreamRegistered{Stream: op.stream, Camera: op.camera, Subnet: op.subnet,
				Purpose: op.purpose, At: time.Now()})
		}
		if p := op.prepare; p != nil {
			if d.err == nil {
				p.answer.Sources[op.camera] = op.stream
			}
			if p.adding--; p.adding == 0 {
				a.answerPrepare(ctx, p)
			}
		}
	case opRemove:
		if d.err != nil {
			a.env.Log.Warn("go2rtc removal failed", "stream", w.job.stream, "reason", d.err.Error())
		}
	case opList:
		if len(w.job.confirm) > 0 {
			a.confirmRemovals(ctx, w.job, d)
		}
		if p := w.job.prepare; p != nil {
			a.onPrepared(ctx, p, d.list, d.err)
		}
	}
	a.reply(ctx, w.job, d)
	a.next(ctx)
}

// confirmRemovals checks a listing taken after removals: a name still
// listed is a failed removal, recorded and retried at the next cycle end.
func (a *gatewayActor) confirmRemovals(ctx actor.Context, op gwOp, d gwResult) {
	for _, name := range op.confirm {
		delete(a.removing, name)
		s := a.streams[name]
		fact := &messages.StreamRemoved{Stream: name, At: time.Now(), Reason: op.reason}
		if s != nil {
			s.attempts++
			fact.Camera, fact.Subnet, fact.Attempts = s.camera, s.subnet, s.attempts
		}
		_, still := d.list[name]
		switch {
		case d.err != nil:
			fact.Error = "could not confirm: " + d.err.Error()
		case still:
			fact.Error = "still listed by go2rtc after DELETE ?src=" + name
		}
		if fact.Error != "" {
			a.env.Log.Warn("go2rtc stream not removed; retried at the next cycle end", "stream", name, "reason", fact.Error)
		} else {
			delete(a.streams, name)
			a.env.Log.Info("go2rtc stream removed", "stream", name, "reason", op.reason)
		}
		ctx.ActorSystem().EventStream.Publish(fact)
	}
}

// reply answers whoever asked for op.
func (a *gatewayActor) reply(ctx actor.Context, op gwOp, d gwResult) {
	if op.replyTo == nil {
		return
	}
	errText := ""
	if d.err != nil {
		errText = d.err.Error()
	}
	switch op.kind {
	case opAdd:
		if errText != "" {
			errText = "live view refused: " + errText
		}
		ctx.Send(op.replyTo, &messages.StreamAdded{Stream: op.stream, Error: errText})
	case opFrame:
		ctx.Send(op.replyTo, &messages.FrameFetched{Ref: op.ref, JPEG: d.jpeg, Error: errText,
			Unreachable: d.err != nil && (errors.Is(d.err, go2rtc.ErrUnreachable) || !a.healthy),
			TimedOut:    errors.Is(d.err, go2rtc.ErrNoFrameInTime)})
	case opViewers:
		ctx.Send(op.replyTo, &messages.ViewersCounted{Stream: op.stream, Consumers: d.consumers, Error: errText})
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
		if op.kind == opRemove || len(op.confirm) > 0 {
			for _, n := range op.confirm {
				delete(a.removing, n)
			}
			delete(a.removing, op.stream)
			continue // the streams stay expired: removed after recovery
		}
		a.abandon(ctx, op, err)
	}
	if a.probe == nil {
		a.probe = after(ctx.ActorSystem(), ctx.Self(), a.backoff, &gwProbe{})
		a.backoff = min(2*a.backoff, a.env.Policy.Gateway.ProbeMax)
	}
}

// abandon answers a request that will not be sent, with err.
func (a *gatewayActor) abandon(ctx actor.Context, op gwOp, err error) {
	if op.kind == opAdd {
		delete(a.adding, op.stream)
	}
	if p := op.prepare; p != nil {
		if op.kind == opList {
			p.answer.Error = err.Error()
			a.answerPrepare(ctx, p)
		} else if p.adding--; p.adding == 0 {
			a.answerPrepare(ctx, p)
		}
		return
	}
	a.reply(ctx, op, gwResult{err: err})
}

func (a *gatewayActor) onProbe(ctx actor.Context) {
	a.probe = nil
	a.enqueue(ctx, gwOp{kind: opList})
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
		var retired []string
		for name, s := range a.streams {
			if s.retired && !a.removing[name] {
				retired = append(retired, name)
			}
		}
		a.removeAndConfirm(ctx, retired, "camera removed or changed by a reload")
		// A restarted go2rtc lost what PATCH put in its memory: register
		// the live streams again.
		for name, s := range a.streams {
			if _, ok := list[name]; !ok && !s.expired {
				delete(a.streams, name)
				a.enqueue(ctx, gwOp{kind: opAdd, stream: name, camera: s.camera, subnet: s.subnet, source: s.source})
			}
		}
	}
	if !a.cleaned {
		a.cleaned = true
		var stale []string
		for name := range list {
			if strings.HasPrefix(name, StreamPrefix) && a.streams[name] == nil {
				stale = append(stale, name)
			}
		}
		if len(stale) > 0 {
			a.env.Log.Info("removing go2rtc streams left by an earlier run", "streams", strings.Join(stale, ","))
		}
		a.removeAndConfirm(ctx, stale, "left by an earlier run")
	}
}

// describe is the gateway's node of the actor tree.
func (a *gatewayActor) describe(ctx actor.Context) *messages.Node {
	streams := make([]map[string]any, 0, len(a.streams))
	for _, s := range a.streams {
		streams = append(streams, map[string]any{"stream": s.name, "camera": s.camera, "expired": s.expired, "removal_attempts": s.attempts})
	}
	state := "running"
	if !a.healthy {
		state = "degraded"
	}
	return a.node(ctx, "gateway", state, map[string]any{"healthy": a.healthy, "error": a.lastErr, "streams": streams,
		"queued": len(a.queue), "url": a.env.Config.Go2RTC.URL})
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
	for _, op := range a.queue {
		a.abandon(ctx, op, errors.New("the gateway stopped"))
	}
	a.queue = nil
	// The request in flight finishes first: go2rtc takes one at a time.
	a.worker.stop(2 * a.env.Config.Go2RTC.RequestTimeout.Duration)
	a.worker = nil
	if !a.healthy {
		return
	}
	for name, s := range a.streams {
		err := a.client.Remove(context.Background(), name)
		fact := &messages.StreamRemoved{Stream: name, Camera: s.camera, Subnet: s.subnet, At: time.Now(), Reason: "shutdown", Attempts: s.attempts + 1}
		if err != nil {
			fact.Error = err.Error()
			a.env.Log.Warn("go2rtc removal at shutdown failed", "stream", name, "reason", fact.Error)
		}
		ctx.ActorSystem().EventStream.Publish(fact)
	}
}

// request runs one request to go2rtc on the worker's goroutine.
func (a *gatewayActor) request(op gwOp) gwResult {
	ctx := context.Background()
	if !op.deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, op.deadline)
		defer cancel()
	}
	var d gwResult
	switch op.kind {
	case opAdd:
		d.err = a.client.Add(ctx, op.stream, op.source)
	case opRemove:
		d.err = a.client.Remove(ctx, op.stream)
	case opList:
		d.list, d.err = a.client.List(ctx)
	case opFrame:
		fctx, fcancel := context.WithTimeout(ctx, a.env.Config.Go2RTC.RequestTimeout.Duration)
		d.jpeg, d.err = a.client.Frame(fctx, op.stream)
		fcancel()
	case opViewers:
		var s go2rtc.Stream
		s, d.err = a.client.Get(ctx, op.stream)
		if errors.Is(d.err, go2rtc.ErrNotFound) {
			d.err = nil // gone: nobody watches
		}
		d.consumers = len(s.Consumers)
	}
	return d
}
