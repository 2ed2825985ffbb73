package actors

import (
	"context"
	"errors"
	"time"

	"camvisor/actors/go2rtc"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// gwOp is one request to go2rtc. The gateway queues it, its worker runs do
// on its own goroutine one at a time (go2rtc crashes on overlapping
// requests), and the op comes back in a gwDone holding go2rtc's answer.
// Each kind carries only what its request and its answer need.
type gwOp interface {
	do(c *go2rtc.Client) error
}

// addOp registers a stream (PATCH: go2rtc's memory, not its config file).
// Who waits for it is the stream's business (gwStream), not the op's.
type addOp struct {
	stream, source string
	purpose        string // go2rtc_streams.purpose: patrol or lease
}

// restoreOp registers again a stream a restarted go2rtc lost; the
// stream's state does not change.
type restoreOp struct{ stream, source string }

// removeOp removes a stream (DELETE ?src=; ?name= does nothing).
type removeOp struct{ stream string }

// listing is a GET /api/streams, and what it answered.
type listing struct {
	list map[string]go2rtc.Stream
	at   time.Time // when it was asked for: what it shows is at most this old
}

// lookOp lists go2rtc right before a frame or a live view's check whose
// turn came while the last listing was older than ListingMaxAge.
type lookOp struct{ listing }

// checkOp is a live view's look at its camera: answered from a listing no
// older than ListingMaxAge, taken in its turn when there is none.
type checkOp struct {
	camera  string
	replyTo *actor.PID
}

// probeOp lists go2rtc at start-up and while it is unreachable: a good
// answer is its recovery.
type probeOp struct{ listing }

// prepareOp lists go2rtc for a starting cycle.
type prepareOp struct {
	listing
	cycle *preparing
}

// confirmOp lists go2rtc after removals, to confirm each stream is gone.
type confirmOp struct {
	listing
	streams []string
}

// frameOp takes a JPEG through frame.jpeg, for a capture with a deadline.
type frameOp struct {
	stream   string
	replyTo  *actor.PID
	ref      int64
	deadline time.Time
	timeout  time.Duration // go2rtc waits for a keyframe and sets no limit of its own
	check    *frameCheck   // look at the camera's connections first, when set
	seen     *messages.ExternalUse
	jpeg     []byte
}

// frameCheck is what a frame's camera counted (FetchFrame.Camera).
type frameCheck struct {
	camera  string
	counted int
	lease   string
}

// viewersOp counts a stream's consumers, for a lease that drains.
type viewersOp struct {
	stream    string
	replyTo   *actor.PID
	consumers int
}

func (op *addOp) do(c *go2rtc.Client) error {
	return c.Add(context.Background(), op.stream, op.source)
}

func (op *restoreOp) do(c *go2rtc.Client) error {
	return c.Add(context.Background(), op.stream, op.source)
}

func (op *removeOp) do(c *go2rtc.Client) error {
	return c.Remove(context.Background(), op.stream)
}

func (l *listing) do(c *go2rtc.Client) (err error) {
	l.at = time.Now()
	l.list, err = c.List(context.Background())
	return err
}

// gwListing is an op that lists go2rtc: a good answer shows it reachable.
type gwListing interface {
	listed() (map[string]go2rtc.Stream, time.Time)
}

// listed is go2rtc's answer to a listing, and when it was asked for.
func (l *listing) listed() (map[string]go2rtc.Stream, time.Time) { return l.list, l.at }

// do is never called: a checkOp is answered by the gateway, from a
// listing (next), never sent to go2rtc itself.
func (op *checkOp) do(*go2rtc.Client) error { return errors.New("bug: a check sent to go2rtc") }

func (op *frameOp) do(c *go2rtc.Client) (err error) {
	ctx := context.Background()
	if !op.deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, op.deadline)
		defer cancel()
	}
	ctx, cancel := context.WithTimeout(ctx, op.timeout)
	defer cancel()
	op.jpeg, err = c.Frame(ctx, op.stream)
	return err
}

// late reports whether the capture's deadline passed while the op waited
// its turn.
func (op *frameOp) late() bool { return !op.deadline.IsZero() && time.Now().After(op.deadline) }

func (op *viewersOp) do(c *go2rtc.Client) error {
	s, err := c.Get(context.Background(), op.stream)
	if errors.Is(err, go2rtc.ErrNotFound) {
		return nil // gone: nobody watches
	}
	op.consumers = len(s.Consumers)
	return err
}
