package actors

import (
	"slices"
	"strings"
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// A go2rtc stream's life in the gateway: its one state, the table of
// moves between states, and the gateway's methods that move it.

// gwStream is one go2rtc stream the gateway acts on: one this run
// registers or registered, or one an earlier run left. Its state alone
// says where it is; the gateway keeps no other record of it.
type gwStream struct {
	name, camera, subnet string
	source               string // the camera URL it is registered with
	state                streamState
	attempts             int    // removals tried since it was registered
	reason               string // retired or removing: why it goes (StreamRemoved.Reason)

	// Who waits for it to be registered: while adding, and while removing
	// when it is wanted again (then it is registered anew once the removal
	// is confirmed or has failed).
	leases []*actor.PID // live views, answered StreamAdded
	cycle  *preparing   // a starting cycle that takes it as a source
}

// streamState is where a stream is in its life. The gateway moves a
// stream only along this table (move logs any other move as a bug); "—"
// is a stream the gateway has no entry for.
//
//	from      on                                          to
//	—         AddStream; PrepareCycle lacking the source  adding
//	—         start-up listing: an earlier run's stream   retired
//	adding    PATCH done; a live view waits               leased (shared if a cycle waits too)
//	adding    PATCH done; only a cycle waits              source
//	adding    PATCH done; whoever asked gave up           expired
//	adding    PATCH failed, or dropped unsent             —
//	leased    PrepareCycle                                shared
//	leased    StreamExpired                               expired
//	shared    StreamExpired                               source
//	source    AddStream                                   shared
//	source    CycleEnded of its subnet                    removing
//	expired   AddStream                                   leased
//	expired   PrepareCycle                                source
//	expired   CycleEnded of its subnet                    removing
//	retired   AddStream; PrepareCycle                     adding
//	retired   CycleEnded of any subnet; recovery          removing
//	removing  listing shows it gone                       — (adding if someone waits¹)
//	removing  still listed, or the listing failed         retired (adding if someone waits¹)
//	removing  go2rtc unreachable: the listing dropped     retired
//	any but removing  ReleaseCameras of its camera        retired, then removing at once
//
// ¹ and go2rtc is reachable; else the waiters are refused.
//
// Waiting: an AddStream while adding or removing waits for the
// registration (never a second PATCH of one stream); a StreamExpired then
// takes the ended lease off the waiters. A PrepareCycle skips a stream
// being registered for someone else (not this cycle's source); one being
// removed, nobody waiting, waits for its removal and registration.
// ReleaseCameras refuses whoever waits; a PATCH that comes back for a
// stream retired meanwhile changes nothing (the removal queued behind it
// takes it).
type streamState int

const (
	streamAdding   streamState = iota // PATCH queued or under way
	streamLeased                      // registered; a live view holds it: kept at every cycle end
	streamShared                      // registered; a live view holds it and its subnet's patrol takes frames from it
	streamSource                      // registered; a patrol source, no live view: removed when its subnet's cycle ends
	streamExpired                     // registered; its lease ended: removed at its subnet's next cycle end, serves no frames
	streamRetired                     // may be registered, nobody may use it (its camera went, or a removal failed): removed at the next chance
	streamRemoving                    // DELETE and the confirming listing queued or under way
)

func (s streamState) String() string {
	return [...]string{"adding", "leased", "shared", "source", "expired", "retired", "removing"}[s]
}

// streamMoves is the table above as data: the states each state may move
// to (besides staying). Only adding and removing streams are forgotten.
var streamMoves = [...][]streamState{
	streamAdding:   {streamLeased, streamShared, streamSource, streamExpired, streamRetired},
	streamLeased:   {streamShared, streamExpired, streamRetired},
	streamShared:   {streamSource, streamRetired},
	streamSource:   {streamShared, streamRemoving, streamRetired},
	streamExpired:  {streamLeased, streamSource, streamRemoving, streamRetired},
	streamRetired:  {streamAdding, streamRemoving},
	streamRemoving: {streamAdding, streamRetired},
}

// registered reports whether go2rtc has the stream as far as the gateway
// knows, for someone's use.
func (s streamState) registered() bool {
	return s == streamLeased || s == streamShared || s == streamSource || s == streamExpired
}

// servesFrames reports whether a frame.jpeg of the stream may be asked:
// only while a live view or the patrol holds it (a frame after its lease
// ended could open a camera connection whose slot was given back).
func (s streamState) servesFrames() bool {
	return s == streamLeased || s == streamShared || s == streamSource
}

// withLease is the state a registered stream takes when a live view holds it.
func (s streamState) withLease() streamState {
	if s == streamSource || s == streamShared {
		return streamShared
	}
	return streamLeased
}

// withSource is the state a registered stream takes when a cycle uses it as
// a source.
func (s streamState) withSource() streamState {
	if s == streamLeased || s == streamShared {
		return streamShared
	}
	return streamSource
}

// withoutLease is the state a registered stream takes when its lease ends.
func (s streamState) withoutLease() streamState {
	if s == streamShared {
		return streamSource
	}
	return streamExpired
}

// once is the state a stream being added takes when its PATCH is done,
// from who still waits for it.
func (s *gwStream) once() streamState {
	switch {
	case len(s.leases) > 0 && s.cycle != nil:
		return streamShared
	case len(s.leases) > 0:
		return streamLeased
	case s.cycle != nil:
		return streamSource
	}
	return streamExpired // whoever asked gave up: removed at its subnet's next cycle end
}

// waited reports whether someone waits for the stream to be registered.
func (s *gwStream) waited() bool { return len(s.leases) > 0 || s.cycle != nil }

// purpose is why the stream is being registered (go2rtc_streams.purpose).
func (s *gwStream) purpose() string {
	if len(s.leases) > 0 {
		return purposeLease
	}
	return purposePatrol
}

// move takes s to state to, along the table only.
func (a *gatewayActor) move(s *gwStream, to streamState) {
	if s.state != to && !slices.Contains(streamMoves[s.state], to) {
		a.env.Log.Error("bug: go2rtc stream moved against its table; kept", "stream", s.name, "from", s.state.String(), "to", to.String())
		return
	}
	s.state = to
}

// forget drops a stream the gateway no longer has to act on: one whose
// addition failed or whose removal is confirmed.
func (a *gatewayActor) forget(s *gwStream) {
	if s.state != streamAdding && s.state != streamRemoving {
		a.env.Log.Error("bug: go2rtc stream forgotten while go2rtc may have it; kept", "stream", s.name, "state", s.state.String())
		return
	}
	delete(a.streams, s.name)
}

// entry is the stream called name, created (adding) when the gateway has
// none, now for camera's source in subnet.
func (a *gatewayActor) entry(name, camera, subnet, source string) *gwStream {
	s := a.streams[name]
	if s == nil {
		s = &gwStream{name: name, state: streamAdding}
		a.streams[name] = s
	}
	s.camera, s.subnet, s.source = camera, subnet, source
	return s
}

// add registers s in go2rtc for whoever waits for it.
func (a *gatewayActor) add(ctx actor.Context, s *gwStream) {
	a.move(s, streamAdding)
	s.attempts = 0
	a.enqueue(ctx, &addOp{stream: s.name, source: s.source, purpose: s.purpose()})
}

// onAdded settles a stream whose PATCH came back: registered for whoever
// still waits for it, or forgotten.
func (a *gatewayActor) onAdded(ctx actor.Context, op *addOp, err error) {
	s := a.streams[op.stream]
	if s == nil || s.state != streamAdding {
		if s == nil || s.state.registered() {
			a.env.Log.Error("bug: a PATCH came back for a stream not being added", "stream", op.stream)
			return
		}
		// Its camera was retired while the PATCH was under way: a removal
		// follows it.
		if err == nil {
			a.publishRegistered(ctx, s, op.purpose)
		}
		return
	}
	if err != nil {
		a.answerWaiters(ctx, s, err)
		a.forget(s)
		return
	}
	a.move(s, s.once())
	a.publishRegistered(ctx, s, op.purpose)
	a.answerWaiters(ctx, s, nil)
}

func (a *gatewayActor) publishRegistered(ctx actor.Context, s *gwStream, purpose string) {
	ctx.ActorSystem().EventStream.Publish(&messages.StreamRegistered{Stream: s.name, Camera: s.camera, Subnet: s.subnet,
		Purpose: purpose, At: time.Now()})
}

// answerWaiters tells whoever waits for s whether it is registered (err
// nil) or not, and lets them go.
func (a *gatewayActor) answerWaiters(ctx actor.Context, s *gwStream, err error) {
	for _, l := range s.leases {
		if l == nil {
			continue
		}
		answer := &messages.StreamAdded{Stream: s.name}
		if err != nil {
			answer.Error = "live view refused: " + err.Error()
		}
		ctx.Send(l, answer)
	}
	if p := s.cycle; p != nil {
		if err == nil {
			p.answer.Sources[s.camera] = s.name
		}
		if p.pending--; p.pending == 0 {
			a.answerPrepare(ctx, p)
		}
	}
	s.leases, s.cycle = nil, nil
}

// takeSource makes cam's stream a source of cycle p: at once when it is
// registered, else once it is.
func (a *gatewayActor) takeSource(ctx actor.Context, p *preparing, cam messages.CycleCamera) {
	name := StreamName(cam.ID)
	s := a.streams[name]
	switch {
	case s == nil || s.state == streamRetired:
		s = a.entry(name, cam.ID, p.req.Subnet, cam.URL)
		s.cycle = p
		p.pending++
		a.add(ctx, s)
	case s.state == streamAdding || (s.state == streamRemoving && s.waited()):
		// Being registered for a live view: not this cycle's source.
	case s.state == streamRemoving:
		a.entry(name, cam.ID, p.req.Subnet, cam.URL)
		s.cycle = p // registered anew once its removal is done
		p.pending++
	default:
		a.move(s, s.state.withSource())
		p.answer.Sources[cam.ID] = name
	}
}

// remove takes streams out of go2rtc, a DELETE each and then one listing
// to confirm them gone; each is recorded with its reason.
func (a *gatewayActor) remove(ctx actor.Context, streams []*gwStream) {
	if len(streams) == 0 {
		return
	}
	slices.SortFunc(streams, func(x, y *gwStream) int { return strings.Compare(x.name, y.name) })
	names := make([]string, 0, len(streams))
	for _, s := range streams {
		a.move(s, streamRemoving)
		names = append(names, s.name)
		a.enqueue(ctx, &removeOp{stream: s.name})
	}
	a.enqueue(ctx, &confirmOp{streams: names})
}

// onConfirmed reads a listing taken after removals: a stream gone is
// forgotten; one still listed is a failed removal, recorded and retired
// (retried at the next cycle end). One wanted again meanwhile is
// registered anew either way.
func (a *gatewayActor) onConfirmed(ctx actor.Context, op *confirmOp, err error) {
	for _, name := range op.streams {
		s := a.streams[name]
		if s == nil || s.state != streamRemoving {
			a.env.Log.Error("bug: a removal confirmed for a stream not being removed", "stream", name)
			continue
		}
		s.attempts++
		fact := &messages.StreamRemoved{Stream: name, Camera: s.camera, Subnet: s.subnet, At: time.Now(), Reason: s.reason, Attempts: s.attempts}
		_, still := op.list[name]
		switch {
		case err != nil:
			fact.Error = "could not confirm: " + err.Error()
		case still:
			fact.Error = "still listed by go2rtc after DELETE ?src=" + name
		}
		if fact.Error != "" {
			a.env.Log.Warn("go2rtc stream not removed; retried at the next cycle end", "stream", name, "reason", fact.Error)
		} else {
			a.env.Log.Info("go2rtc stream removed", "stream", name, "reason", s.reason)
		}
		ctx.ActorSystem().EventStream.Publish(fact)
		switch {
		case s.waited() && a.healthy:
			a.add(ctx, s)
		case fact.Error == "":
			a.forget(s)
		default:
			a.answerWaiters(ctx, s, err) // go2rtc went away meanwhile
			a.move(s, streamRetired)
		}
	}
}

// sortedStreams is every stream the gateway acts on, by name.
func (a *gatewayActor) sortedStreams() []*gwStream {
	out := make([]*gwStream, 0, len(a.streams))
	for _, s := range a.streams {
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y *gwStream) int { return strings.Compare(x.name, y.name) })
	return out
}
