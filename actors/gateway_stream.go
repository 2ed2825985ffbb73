package actors

import (
	"slices"

	"github.com/asynkron/protoactor-go/actor"
)

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
//	removing  listing shows it gone                       — (adding if someone waits)
//	removing  still listed, or the listing failed         retired (adding if someone waits)
//	removing  go2rtc unreachable: the listing dropped     retired
//	any but removing  ReleaseCameras of its camera        retired, then removing at once
//
// Waiting: an AddStream while adding or removing waits for the
// registration (never a second PATCH of one stream); a StreamExpired then
// takes the ended lease off the waiters. A PrepareCycle skips a stream
// being registered for someone else (not this cycle's source); one being
// removed, nobody waiting, waits for its removal and registration.
// ReleaseCameras answers whoever waits with the refusal.
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
func (g *gwStream) once() streamState {
	switch {
	case len(g.leases) > 0 && g.cycle != nil:
		return streamShared
	case len(g.leases) > 0:
		return streamLeased
	case g.cycle != nil:
		return streamSource
	}
	return streamExpired // whoever asked gave up: removed at its subnet's next cycle end
}

// waited reports whether someone waits for the stream to be registered.
func (g *gwStream) waited() bool { return len(g.leases) > 0 || g.cycle != nil }

// purpose is why the stream is being registered (go2rtc_streams.purpose).
func (g *gwStream) purpose() string {
	if len(g.leases) > 0 {
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
