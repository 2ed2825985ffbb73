package actors

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// admissionActor is the home of invariant 7: no capture process starts
// without its grant, machine-wide, so that the machine is never
// oversubscribed. Two cores run about two snapshots at full speed; forty
// ffmpeg processes fighting over them each take fifty times as long, cost
// twice the CPU, and run into their deadlines with their work thrown away.
//
// Its limit adapts (AIMD): it starts at the number of CPUs; once a second
// it reads the machine's CPU use and CPU pressure (the share of the
// second in which some task waited for a CPU, /proc/pressure/cpu) and
// compares the median life of the capture processes that ended lately
// with the uncontended one (the lowest seen lately). The CPU busy and
// captures slower than 1.5× the uncontended time, and the limit is cut by
// a quarter; every grant in use while others wait, and either the CPU
// with headroom or no task kept waiting for a CPU while captures are not
// slowed, and it grows by one
// (see AdmissionPolicy.next: a long capture alone is no sign of
// contention). So it runs more captures than cores while they wait on
// their cameras (an RTSP handshake, the next frame), as long as the CPU
// is not oversubscribed: a busy CPU that nobody waits for has room for
// one more capture that mostly waits. Waiting is cheap (a message in a queue) and is not charged
// to a capture's process: the camera gives its process its whole capture
// timeout from the grant on.
// An operator's capture goes first, then the patrol's, most overdue first.
type admissionActor struct {
	life
	env *Env

	limit    float64
	granted  map[admitKey]time.Time // grant time, by asker and ref
	waiting  []*admitWait
	baseline time.Duration   // the uncontended wall time, as seen lately
	ended    []time.Duration // wall times of the good captures since the last tick
	cpu      cpuSampler
	tick     *time.Timer
	last     messages.AdmissionChanged // as last published
}

type admitKey struct {
	asker string
	ref   int64
}

// admitWait is a request waiting for a grant.
type admitWait struct {
	key   admitKey
	req   *messages.RequestAdmission
	asker *actor.PID
	since time.Time
}

type admissionTick struct{}

func admissionProps(env *Env) *actor.Props {
	return actor.PropsFromProducer(lived(func() *admissionActor {
		p := env.Policy.Admission
		return &admissionActor{env: env, limit: float64(max(p.Min, min(runtime.NumCPU(), p.maxOf()))), granted: map[admitKey]time.Time{}}
	}))
}

// Receive grants, queues, takes back and re-sizes the machine-wide limit.
func (a *admissionActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.cpu.busy() // the first readings start the measurement
		a.cpu.pressure()
		a.tick = after(ctx.ActorSystem(), ctx.Self(), a.env.Policy.Admission.Tick, &admissionTick{})
		a.publish(ctx)
	case *messages.RequestAdmission, *messages.WithdrawAdmission, *messages.ReleaseAdmission:
		if ctx.Sender() == nil {
			a.env.Log.Error("admission message without a sender: ignored", "reason", fmt.Sprintf("%T", msg))
			return
		}
		switch m := msg.(type) {
		case *messages.RequestAdmission:
			a.onRequest(ctx, m)
		case *messages.WithdrawAdmission:
			a.onWithdraw(ctx, m)
		case *messages.ReleaseAdmission:
			a.onRelease(ctx, m)
		}
	case *messages.CaptureRan:
		if msg.Ran > 0 {
			a.ended = append(a.ended, msg.Ran)
		}
	case *admissionTick:
		a.onTick(ctx)
	case *messages.GetAdmission:
		ctx.Respond(&messages.AdmissionStatus{Limit: int(a.limit), Running: len(a.granted), Waiting: len(a.waiting),
			Uncontended: a.baseline})
	case *messages.Describe:
		answerDescribe(ctx, a.node(ctx, "admission", "running", map[string]any{"limit": int(a.limit), "running": len(a.granted),
			"waiting": len(a.waiting), "uncontended_ms": a.baseline.Milliseconds()}))
	case *actor.Stopping, *actor.Restarting:
		stopTimer(a.tick)
	}
}

func (a *admissionActor) onRequest(ctx actor.Context, msg *messages.RequestAdmission) {
	w := &admitWait{key: admitKey{ctx.Sender().Id, msg.Ref}, req: msg, asker: ctx.Sender(), since: time.Now()}
	// An operator's first; then the patrol's, the most overdue first.
	i, _ := slices.BinarySearchFunc(a.waiting, w, func(x, y *admitWait) int {
		switch {
		case x.req.Operator != y.req.Operator:
			if x.req.Operator {
				return -1
			}
			return 1
		case x.req.Due.Before(y.req.Due):
			return -1
		case x.req.Due.After(y.req.Due):
			return 1
		}
		return 0
	})
	a.waiting = slices.Insert(a.waiting, i+countEqual(a.waiting[i:], w), w)
	a.grant(ctx)
}

// countEqual keeps arrival order among equals.
func countEqual(rest []*admitWait, w *admitWait) int {
	n := 0
	for _, x := range rest {
		if x.req.Operator != w.req.Operator || !x.req.Due.Equal(w.req.Due) {
			break
		}
		n++
	}
	return n
}

// grant hands out grants while the limit allows.
func (a *admissionActor) grant(ctx actor.Context) {
	changed := false
	for len(a.waiting) > 0 && len(a.granted) < int(a.limit) {
		w := a.waiting[0]
		a.waiting = a.waiting[1:]
		now := time.Now()
		a.granted[w.key] = now
		ctx.Send(w.asker, &messages.AdmissionGranted{Ref: w.req.Ref, Waited: now.Sub(w.since)})
		changed = true
	}
	if changed {
		a.publish(ctx)
	}
}

func (a *admissionActor) onWithdraw(ctx actor.Context, msg *messages.WithdrawAdmission) {
	key := admitKey{ctx.Sender().Id, msg.Ref}
	if _, ok := a.granted[key]; ok {
		delete(a.granted, key)
		a.grant(ctx)
		a.publish(ctx)
		return
	}
	if i := slices.IndexFunc(a.waiting, func(w *admitWait) bool { return w.key == key }); i >= 0 {
		a.waiting = slices.Delete(a.waiting, i, i+1)
		a.publish(ctx)
	}
}

func (a *admissionActor) onRelease(ctx actor.Context, msg *messages.ReleaseAdmission) {
	key := admitKey{ctx.Sender().Id, msg.Ref}
	if _, ok := a.granted[key]; !ok {
		return
	}
	delete(a.granted, key)
	a.grant(ctx)
	a.publish(ctx)
}

// onTick adapts the limit to what the last second showed.
func (a *admissionActor) onTick(ctx actor.Context) {
	p := a.env.Policy.Admission
	a.tick = after(ctx.ActorSystem(), ctx.Self(), p.Tick, &admissionTick{})
	busy, pressure := a.cpu.busy(), a.cpu.pressure()
	a.reclaim(ctx)
	var median time.Duration // 0: too few captures ended to tell
	if len(a.ended) >= p.MinSamples {
		slices.Sort(a.ended)
		median = a.ended[len(a.ended)/2]
		a.ended = a.ended[:0]
		a.baseline = p.baselineAfter(a.baseline, median)
	}
	a.limit = p.next(a.limit, load{busy: busy, pressure: pressure}, median, a.baseline, len(a.waiting) > 0 && len(a.granted) >= int(a.limit))
	a.grant(ctx)
	a.publish(ctx)
}

// baselineAfter is the uncontended capture time after a tick whose
// captures' median life was median: a lower median is the new low; a
// higher one forgets the old low slowly (2 % a tick), so a machine whose
// CPU other work now takes, or whose cameras got slower, comes to count
// that as its normal within a minute or two instead of holding the limit
// at its floor for good. (Kept under load, the low left the limit at 1
// for as long as another program burned the CPU, and captures were
// skipped all that while; TestAdmissionBoundsProcesses under load.)
func (p AdmissionPolicy) baselineAfter(baseline, median time.Duration) time.Duration {
	if baseline == 0 || median < baseline {
		return median
	}
	return time.Duration(float64(baseline) * p.BaselineRise)
}

// load is what a tick saw of the machine: the share of CPU time busy, and
// the share of the tick in which some task waited for a CPU (-1: the
// kernel does not tell).
type load struct{ busy, pressure float64 }

// next is the limit after a tick that saw the machine's load, the
// captures' median wall time against the uncontended one, and whether
// every grant was in use while others waited.
//
// Contention is the CPU's: a cut needs the CPU busy (Headroom or more)
// and the captures slower than Tolerance × the uncontended time. A
// capture's wall time alone is no sign of it: an H.264 snapshot waits up
// to a GOP for its keyframe (0.1–2 s, the CPU idle meanwhile) and a slow
// camera answers slowly whatever the load; cut on wall time, the limit
// would sit at its floor on real cameras while the CPU idles. It grows
// while grants are short and the CPU has headroom, or is busy without
// anyone waiting for it as long as the captures are not slowed: captures
// that wait on their cameras between their bursts of work leave the CPU
// busy but not oversubscribed, and one more fills a gap instead of
// queueing for a core. Once a busy CPU's captures run slower than that,
// more of them at once only stretches every process: an overloaded
// patrol that cut only at 97 % busy ran 5–6 captures at once on 2 cores,
// each 2–5× an isolated snapshot's time, for no more captures a second.
func (p AdmissionPolicy) next(limit float64, l load, median, baseline time.Duration, short bool) float64 {
	slowed := median > 0 && float64(median) > p.Tolerance*float64(baseline)
	switch {
	case l.busy >= p.Headroom && slowed:
		return max(float64(p.Min), limit*p.Decrease)
	case short && (l.busy < p.Headroom || l.pressure >= 0 && l.pressure < p.Pressure && !slowed):
		return min(float64(p.maxOf()), limit+1)
	}
	return limit
}

// reclaim takes back grants held far longer than any capture may last:
// their asker died without releasing them (a bug; logged).
func (a *admissionActor) reclaim(ctx actor.Context) {
	ff := a.env.Config.FFmpeg
	limit := ff.CaptureTimeout.Duration + 2*ff.KillGrace.Duration + a.env.Policy.Admission.Leak
	for key, at := range a.granted {
		if time.Since(at) > limit {
			delete(a.granted, key)
			a.env.Log.Error("admission grant never released: taken back", "owner", key.asker, "held", time.Since(at).Round(time.Second).String())
		}
	}
}

// publish tells the metrics, the hub and the API the admission's state,
// when it changed.
func (a *admissionActor) publish(ctx actor.Context) {
	now := messages.AdmissionChanged{Limit: int(a.limit), Running: len(a.granted), Waiting: len(a.waiting)}
	if now == a.last {
		return
	}
	a.last = now
	now.At = time.Now()
	ctx.ActorSystem().EventStream.Publish(&now)
	a.last.At = time.Time{}
}

// cpuSampler reads the machine's CPU use from /proc/stat and its CPU
// pressure from /proc/pressure/cpu, once a tick each: never per capture.
type cpuSampler struct {
	total, idle uint64
	stalled     uint64    // /proc/pressure/cpu "some" total, µs
	stalledAt   time.Time // when it was read
}

// pressure is the share of the time since the last call in which some
// task waited for a CPU (0 to 1), or -1 when the kernel keeps no pressure
// figures (before Linux 4.20, or psi=0) or on the first call.
func (c *cpuSampler) pressure() float64 {
	data, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return -1
	}
	line, _, _ := bytes.Cut(data, []byte{'\n'})
	_, total, ok := bytes.Cut(line, []byte("total="))
	if !bytes.HasPrefix(line, []byte("some ")) || !ok {
		return -1
	}
	v, err := strconv.ParseUint(string(bytes.TrimSpace(total)), 10, 64)
	if err != nil {
		return -1
	}
	now := time.Now()
	prev, prevAt := c.stalled, c.stalledAt
	c.stalled, c.stalledAt = v, now
	if prevAt.IsZero() || v < prev || !now.After(prevAt) {
		return -1
	}
	return min(1, float64(v-prev)/float64(now.Sub(prevAt).Microseconds()))
}

// busy is the share of CPU time spent busy since the last call (0 to 1).
func (c *cpuSampler) busy() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(data, []byte{'\n'})
	fields := bytes.Fields(line)
	if len(fields) < 5 || string(fields[0]) != "cpu" {
		return 0
	}
	var total, idle uint64
	for i, f := range fields[1:] {
		v, _ := strconv.ParseUint(string(f), 10, 64)
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	dt, di := total-c.total, idle-c.idle
	c.total, c.idle = total, idle
	if dt == 0 {
		return 0
	}
	return 1 - float64(di)/float64(dt)
}
