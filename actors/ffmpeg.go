package actors

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/actors/redact"
	"camvisor/actors/rtsprelay"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// ffmpegActor owns exactly one OS process at a time: it is the home of
// invariant 1 (no orphan). Whatever ends the actor — its deadline, a stop,
// a restart, a panic, its parent's stop, shutdown — signals the process's
// whole group and waits until it is reaped before the actor is gone.
type ffmpegActor struct {
	life
	env      *Env
	job      snapshotJob
	cause    *stopCause // the camera's: why we are being stopped
	proc     *osproc.Process
	args     []string            // the process's arguments: no secret in them
	input    *rtsprelay.Path     // the camera through the relay, held for the process's life
	reason   messages.StopReason // set when we decided to kill
	deadline *time.Timer
	escalate *time.Timer
	idle     *time.Timer  // watches whether the process works or waits
	seen     osproc.Sched // what the scheduler said of it at the last look
}

// snapshotJob is what a camera gives its ffmpeg child.
type snapshotJob struct {
	Camera   string
	Subnet   string
	URL      string // with credentials: only ever passed to the process
	Redactor redact.Redactor
	Deadline time.Time
	// DeepProbe lets ffmpeg read the stream longer before it decides on
	// its codec (see probeArgs).
	DeepProbe bool
	cameraInput
}

// Internal messages the actor sends itself.
type (
	processEnded     struct{ proc *osproc.Process }
	idleCheck        struct{ proc *osproc.Process }
	deadlinePassed   struct{}
	killGraceExpired struct{ proc *osproc.Process }
)

func ffmpegProps(env *Env, job snapshotJob, cause *stopCause) *actor.Props {
	return actor.PropsFromProducer(lived(func() *ffmpegActor {
		return &ffmpegActor{env: env, job: job, cause: cause}
	}))
}

// Receive handles one message.
func (a *ffmpegActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *deadlinePassed:
		a.onDeadlinePassed(ctx)
	case *killGraceExpired:
		a.onKillGraceExpired(msg)
	case *idleCheck:
		a.onIdleCheck(ctx, msg)
	case *processEnded:
		a.onProcessEnded(ctx, msg)
	case *messages.Describe:
		answerDescribe(ctx, a.describe(ctx))
	case *messages.ListOwnedProcesses:
		ownedProcess(ctx, a.proc, a.job.Camera)
	case *actor.Stopping:
		a.onStopping(ctx, a.cause.get())
	case *actor.Restarting:
		a.onStopping(ctx, messages.StopRestart)
	}
}

func (a *ffmpegActor) onStarted(ctx actor.Context) {
	now := time.Now()
	if !now.Before(a.job.Deadline) {
		a.report(ctx, messages.SnapshotTaken{Outcome: messages.OutcomeTimeout,
			Error: messages.ErrTimeout.Error(), StartedAt: now, EndedAt: now, Deadline: a.job.Deadline})
		ctx.Stop(ctx.Self())
		return
	}
	cfg := a.env.Config.FFmpeg
	input, err := a.openInput()
	if err != nil {
		a.report(ctx, messages.SnapshotTaken{Outcome: messages.OutcomeSpawnError,
			Error: "start ffmpeg: " + a.job.Redactor.Redact(err.Error()), StartedAt: now, EndedAt: time.Now(), Deadline: a.job.Deadline})
		ctx.Stop(ctx.Self())
		return
	}
	args := snapshotArgs(cfg, a.job, input, a.deepProbe())
	a.args = args
	proc, err := osproc.Start(osproc.Spec{
		Path:      cfg.Path,
		Args:      args,
		Env:       []string{osproc.EnvRun + "=" + a.env.RunID, osproc.EnvOwner + "=" + ctx.Self().Id, osproc.EnvHome + "=" + a.env.Home},
		MaxStdout: maxSnapshotBytes,
		TailLines: 8,
	})
	if err != nil {
		a.releaseInput()
		msg := a.job.Redactor.Redact(err.Error())
		a.env.Log.Error("ffmpeg spawn failed", "camera", a.job.Camera, "subnet", a.job.Subnet, "reason", msg)
		a.report(ctx, messages.SnapshotTaken{Outcome: messages.OutcomeSpawnError,
			Error: "start ffmpeg: " + msg, StartedAt: now, EndedAt: time.Now(), Deadline: a.job.Deadline})
		ctx.Stop(ctx.Self())
		return
	}
	a.proc = proc
	ctx.ActorSystem().EventStream.Publish(&messages.ProcessStarted{
		OSPID: proc.PID, Camera: a.job.Camera, Subnet: a.job.Subnet, Owner: ctx.Self().Id,
		Purpose: "snapshot", Argv: redactArgv(a.job.Redactor, cfg.Path, args), StartedAt: proc.Started, Deadline: a.job.Deadline,
	})
	self, system := ctx.Self(), ctx.ActorSystem()
	go func() {
		<-proc.Done()
		system.Root.Send(self, &processEnded{proc: proc})
	}()
	a.deadline = after(system, self, time.Until(a.job.Deadline), &deadlinePassed{})
	// It runs on a machine-wide admission grant, handed back once the
	// process only waits on its camera.
	if p := a.env.Policy.Admission; p.Park > 0 {
		a.idle = after(system, self, p.Park, &idleCheck{proc: proc})
	}
}

// onIdleCheck asks the scheduler what the process did since the last
// look. One that neither ran nor waited for a CPU (it sleeps on its
// camera's socket) tells the camera, which gives its admission grant back:
// the grant is for CPU, and a hung camera's process would hold it to its
// deadline for nothing. One that ran, or was starved of a CPU by a busy
// machine, is watched on.
func (a *ffmpegActor) onIdleCheck(ctx actor.Context, msg *idleCheck) {
	if msg.proc != a.proc || a.reason != "" {
		return
	}
	now, ok := osproc.ReadSched(msg.proc.PID)
	if !ok {
		return // ended: processEnded follows
	}
	ran, queued := now.Ran-a.seen.Ran, now.Queued-a.seen.Queued
	a.seen = now
	p := a.env.Policy.Admission
	if quiet := p.ParkCPU * p.Park.Seconds(); ran.Seconds() < quiet && queued.Seconds() < quiet {
		a.env.Log.Debug("ffmpeg waits on its camera: admission grant given back", "camera", a.job.Camera, "os_pid", msg.proc.PID, "ran", ran.String())
		ctx.Request(ctx.Parent(), &messages.SnapshotWaiting{OSPID: msg.proc.PID, CPU: ran})
		return
	}
	a.idle = after(ctx.ActorSystem(), ctx.Self(), p.Park, msg)
}

// onDeadlinePassed starts the kill: SIGTERM to the group now, SIGKILL
// after kill_grace. The process's end arrives as processEnded.
func (a *ffmpegActor) onDeadlinePassed(ctx actor.Context) {
	if a.proc == nil || a.reason != "" {
		return
	}
	a.reason = messages.StopTimeout
	if a.env.KillDisabled {
		// The incident: the waiting code gives up, nobody kills the child.
		a.env.Log.Warn("kill disabled by test hook: abandoning ffmpeg", "camera", a.job.Camera, "os_pid", a.proc.PID)
		a.report(ctx, a.result(a.proc, messages.OutcomeTimeout, messages.ErrTimeout.Error(), nil))
		a.proc, a.input = nil, nil // its relay path too: nobody cleans up
		ctx.Stop(ctx.Self())
		return
	}
	a.proc.Signal(syscall.SIGTERM)
	a.escalate = after(ctx.ActorSystem(), ctx.Self(), a.env.Config.FFmpeg.KillGrace.Duration, &killGraceExpired{proc: a.proc})
}

func (a *ffmpegActor) onKillGraceExpired(msg *killGraceExpired) {
	if msg.proc == a.proc {
		msg.proc.Signal(syscall.SIGKILL)
	}
}

// onProcessEnded turns the exit into a report. A failure that may pass on
// a second try (exit, empty, signal) is a panic, so the camera's
// supervision strategy decides whether this child restarts.
func (a *ffmpegActor) onProcessEnded(ctx actor.Context, msg *processEnded) {
	if msg.proc != a.proc {
		return // a previous incarnation's process, already accounted for
	}
	a.stopTimers()
	a.releaseInput() // the camera connection closes before the camera hears
	exit := msg.proc.Exit()
	reason := a.reason
	if reason == "" {
		reason = messages.StopDone
	}
	a.publishExit(ctx, msg.proc, exit, reason)
	res := a.classify(msg.proc, exit, reason)
	a.proc = nil
	a.report(ctx, res)
	if res.Outcome == messages.OutcomeOK || res.Outcome == messages.OutcomeTimeout {
		ctx.Stop(ctx.Self())
		return
	}
	panic(&res)
}

// onStopping kills and reaps the process before the actor may finish. It
// blocks the mailbox on purpose: the stop is not over while the process
// lives. A panic here would turn the stop into a restart, so it is
// recovered and logged.
func (a *ffmpegActor) onStopping(ctx actor.Context, reason messages.StopReason) {
	defer func() {
		if r := recover(); r != nil {
			a.env.Log.Error("panic while stopping ffmpeg", "camera", a.job.Camera, "reason", fmt.Sprint(r))
		}
	}()
	a.stopTimers()
	if a.proc == nil {
		a.releaseInput()
		return
	}
	proc := a.proc
	a.proc = nil
	if a.reason == "" {
		a.reason = reason
	}
	exit := proc.Stop(a.env.Config.FFmpeg.KillGrace.Duration)
	a.releaseInput()
	a.publishExit(ctx, proc, exit, a.reason)
	a.report(ctx, a.result(proc, messages.OutcomeStopped, "stopped: "+string(a.reason), nil))
}

// describe is the process's node of the actor tree.
func (a *ffmpegActor) describe(ctx actor.Context) *messages.Node {
	f := map[string]any{"camera": a.job.Camera, "deadline": a.job.Deadline, "os_pid": nil}
	state := "exited"
	if p := a.proc; p != nil {
		f["os_pid"], f["process_started_at"] = p.PID, p.Started
		f["argv"] = redactArgv(a.job.Redactor, a.env.Config.FFmpeg.Path, a.args)
		state = "running"
		if a.reason != "" {
			state = "killing: " + string(a.reason)
		}
	}
	return a.node(ctx, "ffmpeg", state, f)
}

// openInput is the URL ffmpeg reads: the camera's own when it holds no
// secret, else a relay path for this process (invariant 6: no secret on a
// command line), held until the process is reaped.
func (a *ffmpegActor) openInput() (string, error) {
	input, p, err := openInput(a.env, a.job.URL)
	a.input = p
	return input, err
}

// openInput is the URL an ffmpeg of camvisor's (a snapshot, a stream) is
// given for camera URL rawURL, and the relay path that URL names (nil when
// the camera's URL holds no secret and is given as it is). The caller
// closes the path once its process is reaped.
func openInput(env *Env, rawURL string) (string, *rtsprelay.Path, error) {
	if env.Relay == nil || !rtsprelay.HasSecret(rawURL) {
		return rawURL, nil, nil
	}
	p, err := env.Relay.Open(rawURL, env.Config.FFmpeg.RTSPTimeout.Duration)
	if err != nil {
		return "", nil, err
	}
	return p.URL(), p, nil
}

// releaseInput closes the relay path: its camera connection is closed
// when it returns, so the slot the camera frees next is really free.
func (a *ffmpegActor) releaseInput() {
	if a.input != nil {
		a.input.Close()
		a.input = nil
	}
}

func (a *ffmpegActor) stopTimers() {
	for _, t := range []*time.Timer{a.deadline, a.escalate, a.idle} {
		if t != nil {
			t.Stop()
		}
	}
}

// classify maps a process exit to a capture outcome.
func (a *ffmpegActor) classify(p *osproc.Process, exit osproc.Exit, reason messages.StopReason) messages.SnapshotTaken {
	tail := strings.Join(exit.StderrTail, " | ")
	switch {
	case reason == messages.StopTimeout:
		return a.result(p, messages.OutcomeTimeout, fmt.Sprintf("%v: ffmpeg killed after running %s", messages.ErrTimeout, a.job.Deadline.Sub(p.Started).Round(time.Millisecond)), nil)
	case exit.Signal != "":
		return a.result(p, messages.OutcomeSignal, "ffmpeg killed by "+exit.Signal+withTail(tail), nil)
	case exit.Code != 0 && isBusy(tail):
		return a.result(p, messages.OutcomeBusy, fmt.Sprintf("the camera's connections are taken by other clients: ffmpeg exited %d%s", exit.Code, withTail(tail)), nil)
	case exit.Code != 0:
		return a.result(p, messages.OutcomeExit, fmt.Sprintf("ffmpeg exited %d%s", exit.Code, withTail(tail)), nil)
	case exit.StdoutOver:
		return a.result(p, messages.OutcomeEmpty, fmt.Sprintf("snapshot larger than %d bytes", maxSnapshotBytes), nil)
	case !isJPEG(exit.Stdout):
		return a.result(p, messages.OutcomeEmpty, fmt.Sprintf("ffmpeg exited 0 with %d bytes that are not a JPEG%s", len(exit.Stdout), withTail(tail)), nil)
	}
	return a.result(p, messages.OutcomeOK, "", exit.Stdout)
}

// result is a report about process p (nil when none ran).
func (a *ffmpegActor) result(p *osproc.Process, o messages.Outcome, errText string, jpeg []byte) messages.SnapshotTaken {
	res := messages.SnapshotTaken{Outcome: o, Error: a.job.Redactor.Redact(errText), JPEG: jpeg,
		StartedAt: time.Now(), EndedAt: time.Now(), Deadline: a.job.Deadline}
	if p != nil {
		res.OSPID, res.StartedAt = p.PID, p.Started
	}
	return res
}

// report tells the camera; Request, so the camera sees which child spoke.
func (a *ffmpegActor) report(ctx actor.Context, res messages.SnapshotTaken) {
	ctx.Request(ctx.Parent(), &res)
}

func (a *ffmpegActor) publishExit(ctx actor.Context, p *osproc.Process, exit osproc.Exit, reason messages.StopReason) {
	tail := make([]string, len(exit.StderrTail))
	for i, l := range exit.StderrTail {
		tail[i] = a.job.Redactor.Redact(l)
	}
	ctx.ActorSystem().EventStream.Publish(&messages.ProcessExited{
		OSPID: p.PID, Camera: a.job.Camera, Subnet: a.job.Subnet, Owner: ctx.Self().Id,
		ExitCode: exit.Code, Signal: exit.Signal, StopReason: reason,
		StartedAt: p.Started, EndedAt: exit.At, CPU: exit.CPU, StderrTail: tail,
	})
	log := a.env.Log.Debug
	if reason != messages.StopDone || !exit.Success() {
		log = a.env.Log.Info
	}
	log("ffmpeg ended", "camera", a.job.Camera, "os_pid", p.PID, "reason", string(reason),
		"exit_code", exit.Code, "signal", exit.Signal, "ran", exit.At.Sub(p.Started).Round(time.Millisecond).String())
}

// redactArgv is a process's command line as it may be shown: path, then
// args with the camera's secrets hidden by r.
func redactArgv(r redact.Redactor, path string, args []string) []string {
	out := make([]string, 0, len(args)+1)
	out = append(out, path)
	for _, s := range args {
		out = append(out, r.Redact(s))
	}
	return out
}

// ownedProcess answers ListOwnedProcesses for an actor owning p (none
// while it has no process).
func ownedProcess(ctx actor.Context, p *osproc.Process, camera string) {
	var own []messages.OwnedProcess
	if p != nil {
		own = []messages.OwnedProcess{{OSPID: p.PID, Owner: ctx.Self().Id, Camera: camera, StartedAt: p.Started}}
	}
	answerOwned(ctx, own, nil)
}

// maxSnapshotBytes bounds what one snapshot may write to stdout.
const maxSnapshotBytes = 32 << 20

// deepProbe: a retry probes deeply, in case the first attempt failed for
// want of codec parameters.
func (a *ffmpegActor) deepProbe() bool { return a.job.DeepProbe || a.incarnation > 1 }

// snapshotArgs is the ffmpeg argument list for one JPEG on stdout, the
// first whole picture of the stream, read from input (job.URL itself, or
// its relay path when job.URL holds a secret).
func snapshotArgs(cfg config.FFmpeg, job snapshotJob, input string, deep bool) []string {
	args := append(inputArgs(cfg, input, job.cameraInput, deep), "-an", "-frames:v", "1", "-f", "image2pipe")
	args = append(args, jpegEncoder...)
	return append(args, "pipe:1")
}

// jpegEncoder encodes the pictures ffmpeg hands camvisor, on one thread:
// with one per core, each picture would leave the encoder only when the
// next one enters (in a stream of keyframes, a whole keyframe interval
// late), and every thread costs memory.
var jpegEncoder = []string{"-c:v", "mjpeg", "-q:v", "4", "-threads", "1"}

// cameraInput is a camera's own input options (input_args, hwaccel):
// every ffmpeg that reads the camera gets them, after camvisor's.
type cameraInput struct {
	InputArgs []string
	HWAccel   string
}

// inputArgs open a camera's stream for decoding: every ffmpeg camvisor
// starts (a snapshot, a stream-mode child) reads its camera through them.
// The input follows -i, so it is never read as an option (and config
// refuses a leading '-').
//
// Only keyframes are decoded (-skip_frame nokey): a client joins an H.264
// stream mid-GOP, and the P-frames before the next keyframe refer to
// pictures it never received; decoded, they are grey or smeared. Debian's
// ffmpeg 5.1 already withholds such frames (unless output_corrupt or
// showall is set), but skipping them guarantees the first picture out is
// a whole one whatever the decoder's flags, and spares decoding frames
// that are thrown away. An MJPEG frame is always a keyframe. One decoder
// thread: frame threads would delay the first picture by a frame each and
// cost memory, for one picture.
//
// ffmpeg may open only the protocols the capture needs (-protocol_whitelist,
// see protocols): a camera's answer cannot make it open a file, an HTTP
// URL or anything else, whatever it names.
func inputArgs(cfg config.FFmpeg, input string, own cameraInput, deep bool) []string {
	// The RTSP demuxer opens its connection (and, for UDP transport, its
	// RTP sockets) as nested protocols, which the whitelist governs; the
	// rtsp:// input itself is no protocol of ffmpeg's, and the JPEG's
	// pipe:1 is an output, which it does not govern.
	protocols := []string{"tcp"}
	if strings.HasPrefix(input, "rtsps://") {
		protocols = append(protocols, "tls")
	}
	for i, a := range own.InputArgs {
		if a != "-rtsp_transport" || i+1 >= len(own.InputArgs) {
			continue
		}
		// A camera read directly (its URL holds no secret) may ask for
		// another transport (config refuses it for one read through the
		// relay, which speaks TCP only).
		if t := own.InputArgs[i+1]; strings.Contains(t, "udp") {
			protocols = append(protocols, "udp", "rtp")
		} else if strings.Contains(t, "http") {
			protocols = append(protocols, "http")
		}
	}
	args := []string{
		"-hide_banner", "-nostdin", "-loglevel", "error",
		"-protocol_whitelist", strings.Join(protocols, ","),
		"-rtsp_transport", "tcp",
		"-timeout", strconv.FormatInt(cfg.RTSPTimeout.Microseconds(), 10),
		"-skip_frame", "nokey", "-threads", "1",
	}
	args = append(args, probeArgs(deep)...)
	if own.HWAccel != "" {
		args = append(args, "-hwaccel", own.HWAccel)
	}
	// The camera's own options come last among the input options: ffmpeg
	// takes the last of a repeated one, so they override ours.
	args = append(args, own.InputArgs...)
	return append(args, "-i", input)
}

// probeArgs sets how much of the stream ffmpeg reads before it decides on
// the codec. A shallow probe stops at the second packet and suffices when
// the SDP carries the codec's parameters, as most cameras' does (an H.264
// camera's sprop-parameter-sets; MJPEG frames describe themselves); a
// camera whose SDP does not needs the deep one, which reads up to its
// first keyframe. The shallow -analyzeduration is 1 µs, not 0: 0 means
// ffmpeg's default of 5 s, which a stream of small frames (a low-resolution
// H.264 stream's P-frames are a few hundred bytes) takes in full, since it
// never fills -probesize.
func probeArgs(deep bool) []string {
	if deep {
		return []string{"-analyzeduration", "3000000", "-probesize", "5000000"}
	}
	return []string{"-analyzeduration", "1", "-probesize", "32768"}
}

func isJPEG(b []byte) bool {
	return len(b) > 4 && bytes.HasPrefix(b, []byte{0xFF, 0xD8}) && bytes.Contains(b[len(b)-4:], []byte{0xFF, 0xD9})
}

func withTail(tail string) string {
	if tail == "" {
		return ""
	}
	return ": " + tail
}

// isBusy reads ffmpeg's stderr for a camera that turned the connection
// away because others hold its connections: RTSP 453 Not Enough Bandwidth
// (Tapo-class cameras), or a refused TCP connection.
func isBusy(stderr string) bool {
	return strings.Contains(stderr, "453 Not Enough Bandwidth") || strings.Contains(stderr, "failed: 453") ||
		strings.Contains(stderr, "Connection refused")
}
