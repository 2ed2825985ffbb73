package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// worker runs an actor's blocking jobs (the record's disk, go2rtc's and
// the detector's network) one at a time on a goroutine of its own, so the
// actor's mailbox never waits on them. Each result comes back to the actor
// as a *workDone; one from a previous incarnation's worker is told apart
// by done. The channels live in the worker value, not in the actor's
// fields, which an actor drops when it stops.
type worker[J, R any] struct {
	jobs    chan J
	stopped chan struct{} // closed when the goroutine has returned
	busy    bool          // a job is in flight; read and written by the actor only
}

// workDone carries a job's result back to the worker's actor.
type workDone[J, R any] struct {
	w   *worker[J, R]
	job J
	res R
}

// startWorker starts a worker that runs do for each job and sends the
// result to self.
func startWorker[J, R any](system *actor.ActorSystem, self *actor.PID, do func(J) R) *worker[J, R] {
	w := &worker[J, R]{jobs: make(chan J), stopped: make(chan struct{})}
	go func() {
		defer close(w.stopped)
		for job := range w.jobs {
			system.Root.Send(self, &workDone[J, R]{w: w, job: job, res: do(job)})
		}
	}()
	return w
}

// idle reports whether the worker runs and can take a job now.
func (w *worker[J, R]) idle() bool { return w != nil && !w.busy }

// give hands an idle worker a job.
func (w *worker[J, R]) give(job J) {
	w.busy = true
	w.jobs <- job
}

// done accepts a result: false when it is another worker's (an earlier
// incarnation's), which the actor ignores.
func (w *worker[J, R]) done(d *workDone[J, R]) bool {
	if w == nil || d.w != w {
		return false
	}
	w.busy = false
	return true
}

// stop hands the worker last jobs (after the one in flight), lets it finish
// and waits for its goroutine, each step bounded by wait. It reports
// whether everything finished in time. Called from the actor's stop: it
// blocks the mailbox on purpose, as the stop is not over while jobs run.
func (w *worker[J, R]) stop(wait time.Duration, last ...J) bool {
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	for _, job := range last {
		select {
		case w.jobs <- job:
		case <-timeout.C:
			close(w.jobs)
			return false
		}
	}
	close(w.jobs)
	select {
	case <-w.stopped:
		return true
	case <-timeout.C:
		return false
	}
}
