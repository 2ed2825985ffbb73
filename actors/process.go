package actors

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"

	"camvisor/actors/osproc"
	"camvisor/actors/redact"
	"camvisor/actors/rtsprelay"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// process is the one OS process an actor owns at a time — a snapshot's
// ffmpeg (ffmpegActor), a stream's (streamActor) — and the home of
// invariant 1 (no orphan). Whatever ends the actor — a deadline, a stall, a
// stop, a restart, a panic, its parent's stop, shutdown — signals the
// process's whole group and reaps it before the actor is gone, closes the
// relay path it read its camera through, and publishes ProcessExited.
//
// An actor embeds a process and hands it the messages of its lifecycle
// (receive); the actor keeps what differs: when to start, what to watch,
// when to kill, what an end means.
type process struct {
	env      *Env
	role     processRole
	cause    *stopCause // the camera's: why we are being stopped
	camera   string
	subnet   string
	url      string // with credentials: only ever passed to the process, or the relay
	redactor redact.Redactor
	// exitAttrs, when set, adds to the log line of the process's end.
	exitAttrs func() []any

	proc   *osproc.Process
	args   []string            // the process's arguments: no secret in them
	input  *rtsprelay.Path     // the camera through the relay, held for the process's life
	reason messages.StopReason // set when the actor decided to kill
	timers map[timerName]*time.Timer
}

// processRole is what a process is for: how its facts and logs name it.
type processRole struct {
	purpose string // ProcessStarted.Purpose: "snapshot", "stream"
	name    string // in log lines: "ffmpeg", "stream ffmpeg"
	// longLived: the process is meant to run until stopped, so its end is
	// logged even when it exited cleanly (a one-shot's clean end is not
	// news).
	longLived bool
}

// processOwner is an actor that embeds a process: its part of the end.
type processOwner interface {
	// processEnded: the process ended on its own or by the actor's kill;
	// it is reaped, its relay path closed and its end published.
	processEnded(ctx actor.Context, proc *osproc.Process, exit osproc.Exit, reason messages.StopReason)
	// processStopped: the actor stops or restarts; its process (nil when
	// none ran) is killed, reaped and its end published.
	processStopped(ctx actor.Context, proc *osproc.Process)
}

// timerName names a timer an actor keeps about its process (a deadline, a
// watchdog): one of each name at a time.
type timerName string

const timerKillGrace timerName = "kill grace"

// The messages of a process's lifecycle, sent by itself.
type (
	processEnded     struct{ proc *osproc.Process }
	killGraceExpired struct{ proc *osproc.Process }
)

// abandonOnDeadline replays the original incident for TestIncidentReplay,
// the only code that sets it: a snapshot past its deadline is reported as
// timed out, but its process is left running and its relay path open. It
// is a package variable, not a field of Env or config, so that nothing a
// deployment sets can disable the kill.
var abandonOnDeadline atomic.Bool

// receive handles the messages of the process's lifecycle (processEnded,
// killGraceExpired, ListOwnedProcesses, Stopping, Restarting) for owner,
// the actor that embeds p.
func (p *process) receive(ctx actor.Context, owner processOwner) {
	switch msg := ctx.Message().(type) {
	case *processEnded:
		p.onProcessEnded(ctx, owner, msg)
	case *killGraceExpired:
		if msg.proc == p.proc {
			msg.proc.Signal(syscall.SIGKILL)
		}
	case *messages.ListOwnedProcesses:
		p.onListOwnedProcesses(ctx)
	case *actor.Stopping:
		p.onStopping(ctx, owner, p.cause.get())
	case *actor.Restarting:
		p.onStopping(ctx, owner, messages.StopRestart)
	}
}

// spawn starts the process with the arguments argsFor builds for the URL
// it reads the camera through, tagged with this run, its owner and the
// installation, so the reaper can tell it apart. spec gives its output;
// deadline (zero: none) is recorded with it. Its end arrives as
// processEnded. The error's text is redacted.
func (p *process) spawn(ctx actor.Context, argsFor func(input string) []string, spec osproc.Spec, deadline time.Time) error {
	input, err := p.openInput()
	if err != nil {
		msg := p.redactor.Redact(err.Error())
		p.env.Log.Error(p.role.name+": no way to its camera", "camera", p.camera, "subnet", p.subnet, "reason", msg)
		return errors.New("start ffmpeg: " + msg)
	}
	self, system := ctx.Self(), ctx.ActorSystem()
	cfg := p.env.Config.FFmpeg
	p.args = argsFor(input)
	spec.Path, spec.Args, spec.TailLines = cfg.Path, p.args, 8
	spec.Env = []string{osproc.EnvRun + "=" + p.env.RunID, osproc.EnvOwner + "=" + self.Id, osproc.EnvHome + "=" + p.env.Home}
	proc, err := osproc.Start(spec)
	if err != nil {
		p.releaseInput()
		msg := p.redactor.Redact(err.Error())
		p.env.Log.Error(p.role.name+" spawn failed", "camera", p.camera, "subnet", p.subnet, "reason", msg)
		return errors.New("start ffmpeg: " + msg)
	}
	p.proc = proc
	system.EventStream.Publish(&messages.ProcessStarted{
		OSPID: proc.PID, Camera: p.camera, Subnet: p.subnet, Owner: self.Id,
		Purpose: p.role.purpose, Argv: p.argv(), StartedAt: proc.Started, Deadline: deadline,
	})
	p.env.Log.Debug(p.role.name+" started", "camera", p.camera, "os_pid", proc.PID)
	go func() {
		<-proc.Done()
		system.Root.Send(self, &processEnded{proc: proc})
	}()
	return nil
}

// kill begins the process's end for reason: SIGTERM to its group now,
// SIGKILL after kill_grace. Its end arrives as processEnded.
func (p *process) kill(ctx actor.Context, reason messages.StopReason) {
	p.reason = reason
	p.proc.Signal(syscall.SIGTERM)
	p.schedule(ctx, timerKillGrace, p.env.Config.FFmpeg.KillGrace.Duration, &killGraceExpired{proc: p.proc})
}

// killing reports whether the actor has decided the process's end.
func (p *process) killing() bool { return p.reason != "" }

// abandon forgets the process without killing it, its relay path left
// open: the incident, replayed when abandonOnDeadline is set.
func (p *process) abandon() {
	p.env.Log.Warn("kill disabled by test hook: abandoning "+p.role.name, "camera", p.camera, "os_pid", p.proc.PID)
	p.proc, p.input = nil, nil
}

// schedule sends msg to the actor after d, replacing the timer of that
// name. Every timer stops when the process ends or the actor stops.
func (p *process) schedule(ctx actor.Context, name timerName, d time.Duration, msg any) {
	if p.timers == nil {
		p.timers = map[timerName]*time.Timer{}
	}
	stopTimer(p.timers[name])
	p.timers[name] = after(ctx.ActorSystem(), ctx.Self(), d, msg)
}

func (p *process) stopTimers() {
	for _, t := range p.timers {
		t.Stop()
	}
}

// onProcessEnded accounts for the end of the process, then lets its owner
// say what the end means.
func (p *process) onProcessEnded(ctx actor.Context, owner processOwner, msg *processEnded) {
	if msg.proc != p.proc {
		return // a previous incarnation's process, already accounted for
	}
	p.stopTimers()
	p.releaseInput() // the camera connection closes before anyone hears of the end
	exit := msg.proc.Exit()
	reason := p.reason
	if reason == "" {
		reason = messages.StopDone
	}
	p.published(ctx, msg.proc, exit, reason)
	p.proc = nil
	owner.processEnded(ctx, msg.proc, exit, reason)
}

// onStopping kills and reaps the process before the actor may finish. It
// blocks the mailbox on purpose: the stop is not over while the process
// lives. A panic here would turn the stop into a restart, so it is
// recovered and logged.
func (p *process) onStopping(ctx actor.Context, owner processOwner, reason messages.StopReason) {
	defer func() {
		if r := recover(); r != nil {
			p.env.Log.Error("panic while stopping "+p.role.name, "camera", p.camera, "reason", fmt.Sprint(r))
		}
	}()
	p.stopTimers()
	proc := p.proc
	if proc == nil {
		p.releaseInput()
		owner.processStopped(ctx, nil)
		return
	}
	p.proc = nil
	if p.reason == "" {
		p.reason = reason
	}
	exit := proc.Stop(p.env.Config.FFmpeg.KillGrace.Duration)
	p.releaseInput() // the camera connection closes before anyone hears of the end
	p.published(ctx, proc, exit, p.reason)
	owner.processStopped(ctx, proc)
}

// published records the process's end: the ProcessExited fact, with its
// stderr redacted, and a log line.
func (p *process) published(ctx actor.Context, proc *osproc.Process, exit osproc.Exit, reason messages.StopReason) {
	tail := make([]string, len(exit.StderrTail))
	for i, l := range exit.StderrTail {
		tail[i] = p.redactor.Redact(l)
	}
	ctx.ActorSystem().EventStream.Publish(&messages.ProcessExited{
		OSPID: proc.PID, Camera: p.camera, Subnet: p.subnet, Owner: ctx.Self().Id,
		ExitCode: exit.Code, Signal: exit.Signal, StopReason: reason,
		StartedAt: proc.Started, EndedAt: exit.At, CPU: exit.CPU, StderrTail: tail,
	})
	log := p.env.Log.Debug
	if p.role.longLived || reason != messages.StopDone || !exit.Success() {
		log = p.env.Log.Info
	}
	attrs := []any{"camera", p.camera, "os_pid", proc.PID, "reason", string(reason),
		"exit_code", exit.Code, "signal", exit.Signal, "ran", exit.At.Sub(proc.Started).Round(time.Millisecond).String()}
	if p.exitAttrs != nil {
		attrs = append(attrs, p.exitAttrs()...)
	}
	log(p.role.name+" ended", attrs...)
}

// onListOwnedProcesses answers for the process (none while none runs).
func (p *process) onListOwnedProcesses(ctx actor.Context) {
	var own []messages.OwnedProcess
	if p.proc != nil {
		own = []messages.OwnedProcess{{OSPID: p.proc.PID, Owner: ctx.Self().Id, Camera: p.camera, StartedAt: p.proc.Started}}
	}
	answerOwned(ctx, own, nil)
}

// show adds the process to its actor's description (os_pid, its start,
// its command line) and says its state: "running", "killing: <reason>",
// or "" while none runs.
func (p *process) show(fields map[string]any) string {
	fields["os_pid"] = nil
	if p.proc == nil {
		return ""
	}
	fields["os_pid"], fields["process_started_at"] = p.proc.PID, p.proc.Started
	fields["argv"] = p.argv()
	if p.killing() {
		return "killing: " + string(p.reason)
	}
	return "running"
}

// argv is the process's command line as it may be shown: the camera's
// secrets hidden.
func (p *process) argv() []string {
	out := make([]string, 0, len(p.args)+1)
	out = append(out, p.env.Config.FFmpeg.Path)
	for _, s := range p.args {
		out = append(out, p.redactor.Redact(s))
	}
	return out
}

// openInput is the URL the process reads: a relay path for this process,
// held until the process is reaped. Every camera is read through the
// relay, with a secret in its URL or not: no secret is on a command line
// (invariant 6), and a camera's redirect cannot send ffmpeg anywhere but
// back to the relay (actors/rtsprelay). Only a tree without a relay (some
// tests) gives the process the camera's own URL.
func (p *process) openInput() (string, error) {
	if p.env.Relay == nil {
		return p.url, nil
	}
	path, err := p.env.Relay.Open(p.url, p.env.Config.FFmpeg.RTSPTimeout.Duration)
	if err != nil {
		return "", err
	}
	p.input = path
	return path.URL(), nil
}

// releaseInput closes the relay path: its camera connection is closed
// when it returns, so the slot the camera frees next is really free.
func (p *process) releaseInput() {
	if p.input != nil {
		p.input.Close()
		p.input = nil
	}
}
