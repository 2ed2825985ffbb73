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
// disk. While a batch is written the next one gathers; an idle writer gets
// a batch once its first row has waited RecorderPolicy.Linger (or the
// batch is full): a transaction per fact cost more than the fact's row. The queue is
// bounded by record.queue_rows; rows beyond it are dropped and counted, and
// the count is itself recorded — never an alert's row: to make room for one
// the newest other row goes. A failed write is kept and retried with
// back-off; the patrol goes on. The record counts as failing (the
// record_write_failing alert) from the first failed write until every row
// queued before writes succeeded again is committed: a write that squeezes
// into a full disk's last free pages ends nothing.
type recorderActor struct {
	life
	env *Env

	pending []any
	retry   *time.Timer
	backoff time.Duration
	linger  *time.Timer // the gathering batch's wait, while armed
	due     bool        // the gathering batch waited long enough: write it when the writer is free

	dropped    int64
	lastErr    string
	pruneTimer *time.Timer

	// Rows queued and retired (committed or dropped) so far; drainTo is
	// what retired must reach before a failing record counts as recovered
	// (every row queued when writes first succeeded again), 0 while
	// writes fail.
	queued, retired, drainTo int64

	writer *worker[recordJob, recordResult] // owns the store
}

// recordJob is one unit of work for the writer goroutine.
type recordJob struct {
	facts []any
	rows  int       // how many of facts came from the queue (the rest: the dropped count)
	prune time.Time // when not zero: delete rows older than this instead
	final bool      // the last batch: nobody reads its report, log failures here
}

// recordResult is what the writer reports of a job.
type recordResult struct {
	err  error
	more bool // a prune job that has more to delete
}

// Internal messages.
type (
	retryWrite struct{}
	lingerOver struct{} // the gathering batch waited Linger
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
		*messages.ProcessReaped, *messages.AlertChanged, *messages.ActorRestarted, *messages.CameraStateChanged,
		*messages.ConfigReloaded, *messages.OwnershipChanged, *messages.CameraPaused, *messages.CameraResumed:
		return true
	}
	return false
}

// Receive turns facts into rows, batched for the writer goroutine.
func (a *recorderActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *workDone[recordJob, recordResult]:
		a.onWritten(ctx, msg)
	case *retryWrite:
		a.onRetry(ctx)
	case *lingerOver:
		a.linger, a.due = nil, true
		a.flush(ctx)
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
	case *actor.Stopping, *actor.Restarting:
		a.onStopping()
	default:
		if recorded(msg) {
			a.onFact(ctx, msg)
		}
	}
}

func (a *recorderActor) onStarted(ctx actor.Context) {
	a.backoff = a.env.Policy.Recorder.FirstWriteBackoff
	a.writer = startWorker(ctx.ActorSystem(), ctx.Self(), a.write)
	a.pruneTimer = after(ctx.ActorSystem(), ctx.Self(), a.env.Policy.Recorder.PruneFirst, &pruneDue{})
}

// onFact queues a row, or drops and counts it when the queue is full; an
// alert's row takes the place of the newest other row instead.
func (a *recorderActor) onFact(ctx actor.Context, fact any) {
	if len(a.pending) >= a.env.Config.Record.QueueRows && !a.evictFor(fact) {
		a.dropped++
		if a.dropped == 1 || a.dropped%1000 == 0 {
			a.env.Log.Error("record queue full: dropping rows", "dropped", a.dropped, "queued", len(a.pending), "reason", a.lastErr)
			a.publishHealth(ctx, a.lastErr == "", a.lastErr)
		}
		return
	}
	a.pending = append(a.pending, fact)
	a.queued++
	if !routine(fact) {
		a.due = true // written at once, with the routine rows gathered before it
	}
	a.gather(ctx)
}

// routine facts come with every capture and every census, tens a second
// (an event's update comes with every frame that still shows it): their
// rows gather for Linger. Every other fact (an alert, a new event, a
// cycle's end, a camera's state) is one an operator may act on, and rare:
// its batch is written at once.
func routine(fact any) bool {
	switch fact.(type) {
	case *messages.ProcessStarted, *messages.ProcessExited, *messages.CaptureDone, *messages.ProcessCensus,
		*messages.EventUpdated, *messages.DetectionFailed:
		return true
	}
	return false
}

// gather writes a full batch, or one that is due, now, and arms the wait
// of a batch that begins: its rows are written once the first waited
// Linger.
func (a *recorderActor) gather(ctx actor.Context) {
	p := a.env.Policy.Recorder
	switch {
	case a.due || p.Linger <= 0 || len(a.pending) >= p.MaxBatch:
		a.flush(ctx)
	case a.linger == nil && len(a.pending) > 0:
		a.linger = after(ctx.ActorSystem(), ctx.Self(), p.Linger, &lingerOver{})
	}
}

// evictFor drops the newest queued row that is not an alert's to make
// room for fact, when fact is an alert's; false when nothing was dropped.
func (a *recorderActor) evictFor(fact any) bool {
	if !isAlert(fact) {
		return false
	}
	for i := len(a.pending) - 1; i >= 0; i-- {
		if !isAlert(a.pending[i]) {
			a.pending = append(a.pending[:i], a.pending[i+1:]...)
			a.dropped++
			a.retired++
			return true
		}
	}
	return true // all alerts: the queue may exceed its bound by alerts, which are few
}

func isAlert(fact any) bool {
	_, ok := fact.(*messages.AlertChanged)
	return ok
}

// trim bounds the queue after a failed batch went back to its head,
// dropping the newest rows that are not alerts'.
func (a *recorderActor) trim() {
	over := len(a.pending) - a.env.Config.Record.QueueRows
	for i := len(a.pending) - 1; i >= 0 && over > 0; i-- {
		if !isAlert(a.pending[i]) {
			a.pending = append(a.pending[:i], a.pending[i+1:]...)
			a.dropped++
			a.retired++
			over--
		}
	}
}

// flush hands the writer the next batch when it is idle.
func (a *recorderActor) flush(ctx actor.Context) {
	if !a.writer.idle() || len(a.pending) == 0 || a.retry != nil {
		return
	}
	a.due = false
	n := min(len(a.pending), a.env.Policy.Recorder.MaxBatch)
	batch := make([]any, n, n+1)
	copy(batch, a.pending[:n])
	a.pending = append(a.pending[:0:0], a.pending[n:]...)
	if a.dropped > 0 {
		batch = append(batch, &db.Dropped{Rows: a.dropped})
	}
	a.writer.give(recordJob{facts: batch, rows: n})
}

func (a *recorderActor) onWritten(ctx actor.Context, d *workDone[recordJob, recordResult]) {
	if !a.writer.done(d) {
		return // a previous incarnation's writer
	}
	if err := d.res.err; err != nil {
		errText := err.Error()
		if a.lastErr == "" {
			a.env.Log.Error("record write failing; patrol continues, rows queue", "reason", errText, "queued", len(a.pending)+d.job.rows)
			a.publishHealth(ctx, false, errText)
		}
		a.lastErr, a.drainTo = errText, 0
		// Keep the failed batch first in line, within the bound.
		a.pending = append(d.job.facts[:d.job.rows:d.job.rows], a.pending...)
		a.trim()
		a.retry = after(ctx.ActorSystem(), ctx.Self(), a.backoff, &retryWrite{})
		a.backoff = min(2*a.backoff, a.env.Policy.Recorder.MaxWriteBackoff)
		return
	}
	a.backoff = a.env.Policy.Recorder.FirstWriteBackoff
	if d.job.prune.IsZero() {
		a.retired += int64(d.job.rows)
		a.noteCommitted(ctx)
	}
	if d.res.more {
		ctx.Send(ctx.Self(), &pruneMore{})
	}
	a.gather(ctx)
}

// noteCommitted ends a failing spell once every row queued when writes
// first succeeded again is committed (or dropped).
func (a *recorderActor) noteCommitted(ctx actor.Context) {
	if a.lastErr == "" {
		return
	}
	if a.drainTo == 0 {
		a.drainTo = a.queued
	}
	if a.retired < a.drainTo {
		return
	}
	a.env.Log.Info("record write recovered: every queued row is committed", "dropped", a.dropped)
	a.lastErr, a.drainTo = "", 0
	a.publishHealth(ctx, true, "")
}

// onPruneDue hands the writer a retention job, or tries again shortly when
// it is busy; the hourly timer is re-armed only by pruneDue itself.
func (a *recorderActor) onPruneDue(ctx actor.Context) {
	if !a.writer.idle() {
		after(ctx.ActorSystem(), ctx.Self(), a.env.Policy.Recorder.PruneRetry, &pruneMore{})
		return
	}
	a.writer.give(recordJob{prune: time.Now().Add(-a.env.Config.Record.Retention.Duration)})
}

func (a *recorderActor) onRetry(ctx actor.Context) {
	a.retry = nil
	a.flush(ctx)
}

// onStopping writes what is queued before the actor goes. It blocks on
// purpose, bounded: the stop is not over while facts are unwritten. The
// root stops the recorder last and with a poison pill, so every fact
// published before is already in the mailbox and handled.
func (a *recorderActor) onStopping() {
	defer func() {
		if r := recover(); r != nil {
			a.env.Log.Error("panic while stopping recorder", "reason", fmt.Sprint(r))
		}
	}()
	if a.writer == nil {
		return
	}
	for _, t := range []*time.Timer{a.retry, a.pruneTimer, a.linger} {
		if t != nil {
			t.Stop()
		}
	}
	final := recordJob{facts: append(a.pending, &db.Dropped{Rows: a.dropped}), final: true}
	if !a.writer.stop(a.env.Policy.Recorder.StopWait, final) {
		a.env.Log.Error("record writer did not finish in time; rows may be lost", "queued", len(a.pending), "waited", a.env.Policy.Recorder.StopWait.String())
	}
	a.writer = nil
}

// write runs one job on the writer's goroutine, which owns the store.
func (a *recorderActor) write(job recordJob) recordResult {
	if !job.prune.IsZero() {
		more, err := a.prune(job.prune)
		return recordResult{err: err, more: more}
	}
	err := a.env.Store.WriteBatch(a.env.RunRow, job.facts)
	if err != nil && job.final {
		a.env.Log.Error("final record write failed", "rows", len(job.facts), "reason", err.Error())
	}
	return recordResult{err: err}
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
			// The pass is over: give the freed pages back, so the file
			// shrinks (and, daily, refresh the planner's statistics).
			freed, err := a.env.Store.Compact(a.env.Policy.Recorder.OptimizeEvery)
			if total > 0 {
				a.env.Log.Info("retention pruned old rows", "rows", total, "before", before.Format(time.RFC3339), "freed_bytes", freed)
			}
			return false, err
		}
	}
	return true, nil
}

func (a *recorderActor) publishHealth(ctx actor.Context, healthy bool, errText string) {
	ctx.ActorSystem().EventStream.Publish(&messages.RecorderHealth{
		Healthy: healthy, Error: errText, Dropped: a.dropped, Queued: len(a.pending), At: time.Now(),
	})
}
