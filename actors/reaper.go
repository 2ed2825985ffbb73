package actors

import (
	"slices"
	"time"

	"camvisor/actors/osproc"
	"camvisor/actors/redact"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// reaperActor watches the processes from outside the tree, reading /proc
// and never camvisor's own bookkeeping; it is the safety net under
// invariant 1.
//
// Every record.sample_interval it counts each camera's live captures —
// process groups of tagged processes, whatever their names (a wrapper
// given as ffmpeg.path and the ffmpeg it runs are one capture) — next to
// the slots the camera actor holds and publishes the census (the leak
// graph; process_budget_exceeded is judged on it).
//
// Before the first cycle, and every reaper.interval, it sweeps. Processes
// are recognised by their tags, never by their names: a wrapper's
// grandchildren carry the tags too, and outlive a SIGKILLed camvisor (the
// parent-death signal reaches only its direct children). A tagged process
// of another run of this installation (same CAMVISOR_HOME) is killed (its
// whole group when it leads one) and recorded as reaped; a tagged process
// of this run that no live actor owns — neither it nor its group's leader,
// asked by message, twice a second apart, so a process being started or
// stopped is never mistaken — is killed, recorded, and reported loudly.
// Untagged ffmpeg processes are someone else's: counted, never touched.
// All /proc reading and killing runs on goroutines; the mailbox never
// waits.
type reaperActor struct {
	life
	env      *Env
	slots    map[string]*messages.SlotsChanged // latest per camera
	scanning bool
	census   *time.Timer

	sweeping bool
	sweepers []*actor.PID // asked for a sweep, waiting for SweepDone
	sweep    *time.Timer
	last     *messages.SweepDone
}

// Internal messages.
type (
	censusDue   struct{}
	censusTaken struct {
		at    time.Time
		procs []osproc.Info
	}
	sweepDue     struct{}
	sweepScanned struct {
		procs   []osproc.Info
		confirm bool // the second look at suspects
		suspect []osproc.Info
		done    *messages.SweepDone // the sweep's report so far (second look)
	}
	sweepKilled struct {
		done   *messages.SweepDone
		reaped []*messages.ProcessReaped
		final  bool
	}
)

// reaperWants are the facts the root subscribes the reaper to.
func reaperWants(evt any) bool {
	_, ok := evt.(*messages.SlotsChanged)
	return ok
}

func reaperProps(env *Env) *actor.Props {
	return actor.PropsFromProducer(lived(func() *reaperActor {
		return &reaperActor{env: env, slots: map[string]*messages.SlotsChanged{}}
	}))
}

// Receive answers sweeps and runs the periodic /proc census.
func (a *reaperActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *messages.SlotsChanged:
		a.slots[msg.Camera] = msg
	case *censusDue:
		a.onCensusDue(ctx)
	case *censusTaken:
		a.onCensusTaken(ctx, msg)
	case *messages.Sweep:
		a.sweepers = append(a.sweepers, ctx.Sender())
		a.startSweep(ctx)
	case *sweepDue:
		a.sweep = after(ctx.ActorSystem(), ctx.Self(), a.env.Config.Reaper.Interval.Duration, &sweepDue{})
		a.startSweep(ctx)
	case *sweepScanned:
		a.onSweepScanned(ctx, msg)
	case *sweepKilled:
		a.onSweepKilled(ctx, msg)
	case *messages.Describe:
		f := map[string]any{"sample_interval_ms": a.env.Config.Record.SampleInterval.Milliseconds(),
			"interval_ms": a.env.Config.Reaper.Interval.Milliseconds()}
		if a.last != nil {
			f["last_sweep"] = a.last
		}
		answerDescribe(ctx, a.node(ctx, "reaper", "running", f))
	case *actor.Stopping, *actor.Restarting:
		a.onStopping()
	}
}

func (a *reaperActor) onStarted(ctx actor.Context) {
	a.census = after(ctx.ActorSystem(), ctx.Self(), a.env.Config.Record.SampleInterval.Duration, &censusDue{})
	a.sweep = after(ctx.ActorSystem(), ctx.Self(), a.env.Config.Reaper.Interval.Duration, &sweepDue{})
}

func (a *reaperActor) onCensusDue(ctx actor.Context) {
	a.census = after(ctx.ActorSystem(), ctx.Self(), a.env.Config.Record.SampleInterval.Duration, &censusDue{})
	if a.scanning {
		return
	}
	a.scanning = true
	system, self := ctx.ActorSystem(), ctx.Self()
	go func() {
		system.Root.Send(self, &censusTaken{at: time.Now(), procs: osproc.ScanTagged("ffmpeg")})
	}()
}

// onCensusTaken counts live processes per camera and publishes the census.
func (a *reaperActor) onCensusTaken(ctx actor.Context, msg *censusTaken) {
	a.scanning = false
	census := &messages.ProcessCensus{At: msg.at}
	groups := map[string]map[int]bool{} // this run's process groups per camera
	for _, p := range msg.procs {
		if p.Zombie() {
			continue
		}
		switch osproc.Classify(p, a.env.RunID, a.env.Home) {
		case osproc.NotOurs:
			if counted(p) {
				census.Untagged++
			}
		case osproc.OtherRun:
			census.Foreign++
		case osproc.ThisRun:
			if groups[p.Camera()] == nil {
				groups[p.Camera()] = map[int]bool{}
			}
			groups[p.Camera()][p.PGID] = true
		}
	}
	perCamera := map[string]int{}
	for cam, g := range groups {
		perCamera[cam] = len(g)
	}
	for _, cam := range a.env.Current().Cameras() {
		line := messages.CameraCensus{Camera: cam.ID, Subnet: cam.Subnet, Processes: perCamera[cam.ID], MaxConnections: cam.MaxConnections}
		if s := a.slots[cam.ID]; s != nil {
			line.SlotsHeld, line.SlotsExternal = s.FFmpeg+s.Go2RTC+s.Leases+s.External, s.External
		}
		census.Cameras = append(census.Cameras, line)
	}
	ctx.ActorSystem().EventStream.Publish(census)
}

func (a *reaperActor) startSweep(ctx actor.Context) {
	if a.sweeping {
		return // the sweep under way answers every asker
	}
	a.sweeping = true
	system, self := ctx.ActorSystem(), ctx.Self()
	go func() { system.Root.Send(self, &sweepScanned{procs: osproc.ScanTagged("ffmpeg")}) }()
}

// onSweepScanned sorts what /proc shows: other runs' processes go at once;
// this run's are checked against what the actors say they own, and killed
// only if a second look a moment later agrees. The sweep reports once, at
// its end.
func (a *reaperActor) onSweepScanned(ctx actor.Context, msg *sweepScanned) {
	done := msg.done
	if done == nil {
		done = &messages.SweepDone{}
	}
	var foreign, mine []osproc.Info
	untagged := 0
	for _, p := range msg.procs {
		class := osproc.Classify(p, a.env.RunID, a.env.Home)
		switch {
		case p.Zombie():
		case class == osproc.NotOurs:
			if counted(p) {
				untagged++ // never touched
			}
		case class == osproc.OtherRun:
			foreign = append(foreign, p)
		case msg.confirm && !slices.ContainsFunc(msg.suspect, func(s osproc.Info) bool { return s.PID == p.PID && s.StartAt == p.StartAt }):
			// Not a suspect of the first look: judged at the next sweep.
		default:
			mine = append(mine, p)
		}
	}
	done.Untagged = untagged
	if msg.confirm {
		foreign = nil // killed at the first look
	}
	if len(mine) == 0 {
		a.kill(ctx, done, foreign, nil, true)
		return
	}
	// Ask the patrol, under which every process runs, who owns what, now
	// that /proc was read.
	wait := a.env.Policy.DescribeTimeout
	f := ctx.RequestFuture(a.env.peers.patrol, &messages.ListOwnedProcesses{Deadline: time.Now().Add(wait)}, wait+a.env.Policy.Reaper.AnswerGrace)
	ctx.ReenterAfter(f, func(res any, err error) {
		owned, ok := res.(*messages.OwnedProcesses)
		if err != nil || !ok {
			a.env.Log.Warn("reaper could not ask the patrol who owns what; this run's processes wait for the next sweep", "reason", errText(err))
			a.kill(ctx, done, foreign, nil, true)
			return
		}
		var suspects []osproc.Info
		for _, p := range mine {
			if owns(owned, p) || underSilent(p.Owner, owned.Silent) {
				continue
			}
			suspects = append(suspects, p)
		}
		switch {
		case len(suspects) == 0:
			a.kill(ctx, done, foreign, nil, true)
		case !msg.confirm:
			// Kill the foreign ones now; look at the suspects again in a moment.
			a.kill(ctx, done, foreign, nil, false)
			system, self := ctx.ActorSystem(), ctx.Self()
			time.AfterFunc(a.env.Policy.Reaper.ConfirmAfter, func() {
				system.Root.Send(self, &sweepScanned{procs: osproc.ScanTagged("ffmpeg"), confirm: true, suspect: suspects, done: done})
			})
		default:
			a.kill(ctx, done, nil, suspects, true)
		}
	})
}

// kill signals each process's group on a goroutine, waits until they are
// gone from /proc (or zombies) and reports; final ends the sweep.
func (a *reaperActor) kill(ctx actor.Context, done *messages.SweepDone, foreign, unowned []osproc.Info, final bool) {
	system, self := ctx.ActorSystem(), ctx.Self()
	go func() {
		var reaped []*messages.ProcessReaped
		for _, group := range []struct {
			procs   []osproc.Info
			thisRun bool
		}{{foreign, false}, {unowned, true}} {
			for _, p := range group.procs {
				if err := osproc.KillGroup(p); err != nil {
					continue // it ended by itself: nothing was killed
				}
				argv := make([]string, len(p.Argv))
				for i, s := range p.Argv {
					argv[i] = redact.Text(s)
				}
				reaped = append(reaped, &messages.ProcessReaped{OSPID: p.PID, Run: p.Run, Owner: p.Owner, Camera: p.Camera(),
					ThisRun: group.thisRun, Argv: argv, At: time.Now()})
			}
		}
		deadline, poll := time.Now().Add(a.env.Policy.Reaper.KillWait), a.env.Policy.Reaper.KillPoll
		for _, r := range reaped {
			for time.Now().Before(deadline) {
				if info, ok := osproc.Read(r.OSPID); !ok || info.Zombie() {
					break
				}
				time.Sleep(poll)
			}
		}
		system.Root.Send(self, &sweepKilled{done: done, reaped: reaped, final: final})
	}()
}

func (a *reaperActor) onSweepKilled(ctx actor.Context, msg *sweepKilled) {
	for _, r := range msg.reaped {
		if r.ThisRun {
			msg.done.Unowned++
			a.env.Log.Error("killed a process of this run that no actor owned: invariant 1 broke", "os_pid", r.OSPID,
				"camera", r.Camera, "reason", "owner "+r.Owner+" is gone")
		} else {
			msg.done.Foreign++
			a.env.Log.Warn("killed a process left by an earlier run", "os_pid", r.OSPID, "camera", r.Camera, "reason", "run "+r.Run)
		}
		ctx.ActorSystem().EventStream.Publish(r)
	}
	if !msg.final {
		return
	}
	a.sweeping = false
	msg.done.At = time.Now()
	a.last = msg.done
	ctx.ActorSystem().EventStream.Publish(msg.done)
	for _, p := range a.sweepers {
		if p != nil {
			ctx.Send(p, msg.done)
		}
	}
	a.sweepers = nil
}

func (a *reaperActor) onStopping() {
	for _, t := range []*time.Timer{a.census, a.sweep} {
		if t != nil {
			t.Stop()
		}
	}
}

// owns reports whether a live actor claims p, or the group p belongs to
// (every process an actor starts leads its own group; what it runs in
// turn, such as a wrapper's ffmpeg, stays in that group).
func owns(o *messages.OwnedProcesses, p osproc.Info) bool {
	for _, op := range o.Processes {
		if op.OSPID == p.PID || op.OSPID == p.PGID {
			return true
		}
	}
	return false
}

// counted says which processes that are not ours the census and the
// sweep count: ffmpeg processes (someone else's), and any process another
// camvisor tagged. Every other process of the machine is no concern.
func counted(p osproc.Info) bool { return p.Name == "ffmpeg" || p.Run != "" }

// underSilent reports whether owner is at or below an actor that did not
// answer.
func underSilent(owner string, silent []string) bool {
	for _, s := range silent {
		if owner == s || (len(owner) > len(s) && owner[:len(s)] == s && owner[len(s)] == '/') {
			return true
		}
	}
	return false
}

func errText(err error) string {
	if err == nil {
		return "no answer"
	}
	return err.Error()
}
