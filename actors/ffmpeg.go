package actors

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/actors/redact"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// ffmpegActor is a camera's snapshot child: one ffmpeg that writes one
// JPEG of the camera and ends. Its process (process: the home of invariant
// 1) is killed at the capture's deadline; while it runs, the actor watches
// whether it works or only waits on its camera, which then gets the
// machine-wide admission grant back (invariant 7).
type ffmpegActor struct {
	life
	process
	job  snapshotJob
	seen osproc.Sched // what the scheduler said of the process at the last look
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
	idleCheck      struct{ proc *osproc.Process }
	deadlinePassed struct{}
)

// The timers a snapshot keeps about its process.
const (
	timerDeadline timerName = "deadline"
	timerIdle     timerName = "idle"
)

var snapshotRole = processRole{purpose: "snapshot", name: "ffmpeg"}

func ffmpegProps(env *Env, job snapshotJob, cause *stopCause) *actor.Props {
	return actor.PropsFromProducer(lived(func() *ffmpegActor {
		return &ffmpegActor{job: job, process: process{env: env, role: snapshotRole, cause: cause,
			camera: job.Camera, subnet: job.Subnet, url: job.URL, redactor: job.Redactor}}
	}))
}

// Receive handles the snapshot's messages; those of its process's
// lifecycle go to the process (process.receive).
func (a *ffmpegActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *deadlinePassed:
		a.onDeadlinePassed(ctx)
	case *idleCheck:
		a.onIdleCheck(ctx, msg)
	case *processEnded, *killGraceExpired, *messages.ListOwnedProcesses, *actor.Stopping, *actor.Restarting:
		a.receive(ctx, a)
	case *messages.Describe:
		answerDescribe(ctx, a.describe(ctx))
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
	cfg, deep := a.env.Config.FFmpeg, a.deepProbe()
	err := a.spawn(ctx, func(input string) []string { return snapshotArgs(cfg, a.job, input, deep) },
		osproc.Spec{MaxStdout: maxSnapshotBytes}, a.job.Deadline)
	if err != nil {
		a.report(ctx, messages.SnapshotTaken{Outcome: messages.OutcomeSpawnError,
			Error: err.Error(), StartedAt: now, EndedAt: time.Now(), Deadline: a.job.Deadline})
		ctx.Stop(ctx.Self())
		return
	}
	a.schedule(ctx, timerDeadline, time.Until(a.job.Deadline), &deadlinePassed{})
	// It runs on a machine-wide admission grant, handed back once the
	// process only waits on its camera.
	if p := a.env.Policy.Admission; p.Park > 0 {
		a.schedule(ctx, timerIdle, p.Park, &idleCheck{proc: a.proc})
	}
}

// onIdleCheck asks the scheduler what the process did since the last
// look. One that neither ran nor waited for a CPU (it sleeps on its
// camera's socket) tells the camera, which gives its admission grant back:
// the grant is for CPU, and a hung camera's process would hold it to its
// deadline for nothing. One that ran, or was starved of a CPU by a busy
// machine, is watched on.
func (a *ffmpegActor) onIdleCheck(ctx actor.Context, msg *idleCheck) {
	if msg.proc != a.proc || a.killing() {
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
	a.schedule(ctx, timerIdle, p.Park, msg)
}

// onDeadlinePassed kills the process; its end arrives as processEnded.
func (a *ffmpegActor) onDeadlinePassed(ctx actor.Context) {
	if a.proc == nil || a.killing() {
		return
	}
	if abandonOnDeadline.Load() {
		// The incident: the waiting code gives up, nobody kills the child.
		a.report(ctx, a.result(a.proc, messages.OutcomeTimeout, messages.ErrTimeout.Error(), nil))
		a.abandon()
		ctx.Stop(ctx.Self())
		return
	}
	a.kill(ctx, messages.StopTimeout)
}

// processEnded turns the exit into a report. A failure that may pass on a
// second try (exit, empty, signal) is a panic, so the camera's supervision
// strategy decides whether this child restarts.
func (a *ffmpegActor) processEnded(ctx actor.Context, proc *osproc.Process, exit osproc.Exit, reason messages.StopReason) {
	res := a.classify(proc, exit, reason)
	a.report(ctx, res)
	if res.Outcome == messages.OutcomeOK && a.env.peers.admission != nil {
		ctx.Send(a.env.peers.admission, &messages.CaptureRan{Ran: res.EndedAt.Sub(res.StartedAt)})
	}
	if res.Outcome == messages.OutcomeOK || res.Outcome == messages.OutcomeTimeout {
		ctx.Stop(ctx.Self())
		return
	}
	panic(&res)
}

// processStopped tells the camera its capture was stopped.
func (a *ffmpegActor) processStopped(ctx actor.Context, proc *osproc.Process) {
	if proc != nil {
		a.report(ctx, a.result(proc, messages.OutcomeStopped, "stopped: "+string(a.reason), nil))
	}
}

// describe is the process's node of the actor tree.
func (a *ffmpegActor) describe(ctx actor.Context) *messages.Node {
	f := map[string]any{"camera": a.job.Camera, "deadline": a.job.Deadline}
	state := a.show(f)
	if state == "" {
		state = "exited"
	}
	return a.node(ctx, "ffmpeg", state, f)
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
