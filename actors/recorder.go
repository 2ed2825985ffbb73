package actors

import (
	"fmt"
	"time"

	"camvisor/db"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// recorderActor writes every fact of the event stream into the record
// (invariant 5). The actor only queues: a writer goroutine owns the store
// and writes one batch per transaction, so a capture never waits on the
// disk. While a batch is written the next one gathers. The queue is
// bounded by record.queue_rows; rows beyond it are dropped and counted, and
// the count is itself recorded. A failed write is kept and retried with
// back-off; the patrol goes on.
type recorderActor struct {
	life
	env *Env

	pending []any
	writing bool
	retry   *time.Timer
	backoff time.Duration

	dropped    int64
	lastErr    string
	prunedAt   time.Time
	pruneTimer *time.Timer

	jobs    chan recordJob
	stopped chan struct{} // closed when the writer goroutine has exited
}

// recordJob is one unit of work for the writer goroutine.
type recordJob struct {
	facts []any
	prune time.Time // when not zero: delete rows older than this instead
	final bool      // the last batch: nobody reads its report, log failures here
}

// Internal messages.
type (
	batchWritten struct {
		jobs  chan recordJob // the writer's channel: a previous incarnation's results are ignored
		n     int
		err   error
		took  time.Duration
		facts []any // the batch, when it failed
		more  bool  // a prune job that has more to delete
	}
	retryWrite struct{}
	pruneDue   struct{} // the hourly retention run
	pruneMore  struct{} // the retention run has more to delete
)

func recorderProps(env *Env) *actor.Props {
	return actor.PropsFromProducer(lived(func() *recorderActor {
		return &recorderActor{env: env}
	}))
}

// recorded says which facts become rows; the root subscribes the
// recorder to them.
func recorded(evt any) bool {
	switch evt.(type) {
	case *messages.ProcessStarted, *messages.ProcessExited, *messages.CaptureDone,
		*messages.CycleEnded, *messages.ProcessCensus,
		*messages.LeaseGranted, *messages.LeaseEnded, *messages.StreamRegistered,
		*messages.StreamRemoved, *messages.ServiceHealth,
		*messages.EventOpened, *messages.EventUpdated, *messages.DetectionFailed,
		*messages.ProcessReaped, *messages.AlertChanged, *messages.ActorRestarted:
		return true
	}
	return false
}

// Receive handles one message.
func (a *recorderActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *batchWritten:
		a.onBatchWritten(ctx, msg)
	case *retryWrite:
		a.onRetry(ctx)
	case *pruneDue:
		a.pruneTimer = after(ctx.ActorSystem(), ctx.Self(), a.env.Policy.Recorder.PruneEvery, &pruneDue{})
		a.onPruneDue(ctx)
	case *pruneMore:
		a.onPruneDue(ctx)
	case *messages.Describe:
		state := "running"
		if a.lastErr != "" {
			state = "failing"
		}
		answerDescribe(ctx, a.node(ctx, "recorder", state, map[string]any{"queued": len(a.pending), "dropped": a.dropped,
			"error": a.lastErr, "db": a.env.Store.Path}))
	case *actor.Stopping:
		a.onStopping(ctx)
	case *actor.Restarting:
		a.onStopping(ctx)
	default:
		if recorded(msg) {
			a.onFact(ctx, msg)
		}
	}
}

func (a *recorderActor) onStarted(ctx actor.Context) {
	a.jobs = make(chan recordJob)
	a.stopped = make(chan struct{})
	a.backoff = time.Second
	go a.writer(ctx.ActorSystem(), ctx.Self(), a.jobs, a.stopped)
	a.pruneTimer = after(ctx.ActorSystem(), ctx.Self(), a.env.Policy.Recorder.PruneFirst, &pruneDue{})
}

// onFact queues a row, or drops and counts it when the queue is full.
func (a *recorderActor) onFact(ctx actor.Context, fact any) {
	if len(a.pending) >= a.env.Config.Record.QueueRows {
		a.dropped++
		if a.dropped == 1 || a.dropped%1000 == 0 {
			a.env.Log.Error("record queue full: dropping rows", "dropped", a.dropped, "queued", len(a.pending), "reason", a.lastErr)
			a.publishHealth(ctx, a.lastErr == "", a.lastErr)
		}
		return
	}
	a.pending = append(a.pending, fact)
	a.flush(ctx)
}

// flush hands the writer the next batch when it is idle.
func (a *recorderActor) flush(ctx actor.Context) {
	if a.writing || len(a.pending) == 0 || a.retry != nil {
		return
	}
	n := min(len(a.pending), a.env.Policy.Recorder.MaxBatch)
	batch := make([]any, n, n+1)
	copy(batch, a.pending[:n])
	a.pending = append(a.pending[:0:0], a.pending[n:]...)
	if a.dropped > 0 {
		batch = append(batch, &db.Dropped{Rows: a.dropped})
	}
	a.writing = true
	a.jobs <- recordJob{facts: batch}
}

func (a *recorderActor) onBatchWritten(ctx actor.Context, msg *batchWritten) {
	if msg.jobs != a.jobs {
		return // a previous incarnation's writer
	}
	a.writing = false
	if msg.err != nil {
		errText := msg.err.Error()
		if a.lastErr == "" {
			a.env.Log.Error("record write failing; patrol continues, rows queue", "reason", errText, "queued", len(a.pending)+len(msg.facts))
			a.publishHealth(ctx, false, errText)
		}
		a.lastErr = errText
		// Keep the failed batch first in line, within the bound.
		a.pending = append(msg.facts, a.pending...)
		if over := len(a.pending) - a.env.Config.Record.QueueRows; over > 0 {
			a.pending = a.pending[:len(a.pending)-over]
			a.dropped += int64(over)
		}
		a.retry = after(ctx.ActorSystem(), ctx.Self(), a.backoff, &retryWrite{})
		a.backoff = min(2*a.backoff, a.env.Policy.Recorder.MaxWriteBackoff)
		return
	}
	if a.lastErr != "" {
		a.env.Log.Info("record write recovered", "dropped", a.dropped)
		a.lastErr = ""
		a.publishHealth(ctx, true, "")
	}
	a.backoff = time.Second
	if msg.more {
		ctx.Send(ctx.Self(), &pruneMore{})
	}
	a.flush(ctx)
}

// onPruneDue hands the writer a retention job, or tries again shortly when
// it is busy; the hourly timer is re-armed only by pruneDue itself.
func (a *recorderActor) onPruneDue(ctx actor.Context) {
	if a.writing {
		after(ctx.ActorSystem(), ctx.Self(), time.Second, &pruneMore{})
		return
	}
	a.writing = true
	a.jobs <- recordJob{prune: time.Now().Add(-a.env.Config.Record.Retention.Duration)}
}

func (a *recorderActor) onRetry(ctx actor.Context) {
	a.retry = nil
	a.flush(ctx)
}

// onStopping writes what is queued before the actor goes. It blocks on
// purpose, bounded: the stop is not over while facts are unwritten. The
// root stops the recorder last and with a poison pill, so every fact
// published before is already in the mailbox and handled.
func (a *recorderActor) onStopping(ctx actor.Context) {
	defer func() {
		if r := recover(); r != nil {
			a.env.Log.Error("panic while stopping recorder", "reason", fmt.Sprint(r))
		}
	}()
	if a.jobs == nil {
		return
	}
	for _, t := range []*time.Timer{a.retry, a.pruneTimer} {
		if t != nil {
			t.Stop()
		}
	}
	jobs := a.jobs
	a.jobs = nil
	// The send waits for a batch in flight to finish first.
	final := recordJob{facts: append(a.pending, &db.Dropped{Rows: a.dropped}), final: true}
	select {
	case jobs <- final:
	case <-time.After(a.env.Policy.Recorder.StopWait):
	}
	close(jobs)
	select {
	case <-a.stopped:
	case <-time.After(a.env.Policy.Recorder.StopWait):
		a.env.Log.Error("record writer did not finish in time; rows may be lost", "queued", len(a.pending), "waited", a.env.Policy.Recorder.StopWait.String())
	}
}

// writer owns the store: it runs jobs one at a time and reports each.
// The channels are arguments, not fields: the actor drops its fields when
// it stops.
func (a *recorderActor) writer(system *actor.ActorSystem, self *actor.PID, jobs chan recordJob, stopped chan<- struct{}) {
	defer close(stopped)
	for job := range jobs {
		start := time.Now()
		if !job.prune.IsZero() {
			more, err := a.prune(job.prune)
			system.Root.Send(self, &batchWritten{jobs: jobs, err: err, took: time.Since(start), more: more})
			continue
		}
		err := a.env.Store.WriteBatch(a.env.RunRow, job.facts)
		if err != nil && job.final {
			a.env.Log.Error("final record write failed", "rows", len(job.facts), "reason", err.Error())
		}
		res := &batchWritten{jobs: jobs, n: len(job.facts), err: err, took: time.Since(start)}
		if err != nil {
			res.facts = job.facts
		}
		system.Root.Send(self, res)
	}
}

// prune deletes old rows in small statements; more reports unfinished work.
func (a *recorderActor) prune(before time.Time) (more bool, err error) {
	var total int64
	for range a.env.Policy.Recorder.PrunePerJob {
		n, err := a.env.Store.Prune(before, a.env.Policy.Recorder.PruneBatch)
		total += n
		if err != nil {
			return false, err
		}
		if n == 0 {
			if total > 0 {
				a.env.Log.Info("retention pruned old rows", "rows", total, "before", before.Format(time.RFC3339))
			}
			return false, nil
		}
	}
	return true, nil
}

func (a *recorderActor) publishHealth(ctx actor.Context, healthy bool, errText string) {
	ctx.ActorSystem().EventStream.Publish(&messages.RecorderHealth{
		Healthy: healthy, Error: errText, Dropped: a.dropped, Queued: len(a.pending), At: time.Now(),
	})
}
