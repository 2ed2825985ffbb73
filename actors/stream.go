package actors

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/actors/redact"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// streamActor is a camera's stream-mode child: one ffmpeg that stays
// connected to the camera, decodes its keyframes only and writes a JPEG
// per keyframe (at most one per Policy.Stream.MinFrameGap) to a pipe. The
// camera's captures take its newest frame (captures.via = stream) instead
// of starting a process each; it holds one of the camera's slots for as
// long as it lives.
//
// Its process starts under the machine-wide admission, like a capture's
// (invariant 7): the grant covers its start (ffmpeg's initialisation, the
// handshake) until the first frame or Policy.Stream.StartGrant, not the
// stream's life, which costs a few milliseconds of CPU a second.
//
// It is the restartable child of the design: its process ending is a
// crash, and the camera's supervision starts it again with back-off
// (Policy.Supervision.Stream). A watchdog kills the process when no frame came for
// ffmpeg.stall_timeout (a camera that stopped sending without closing the
// connection), which ends it the same way. Whatever ends the actor — a
// stall, a stop, a restart, its camera's stop, shutdown — signals the
// process's whole group and reaps it first (process: invariant 1).
//
// A camera whose URL holds a secret is read through the loopback RTSP
// relay, as a snapshot's is (invariant 6): each process gets its own relay
// path, opened before it starts and closed once it is reaped, whatever
// ended it, so the camera connection the relay held for it is closed
// before a restart opens the next one.
type streamActor struct {
	life
	process
	spec  streamSpec
	carry *streamCarry // what outlives an incarnation

	gen     int64  // this incarnation's process, as its pipe's frames name it
	frame   []byte // the newest JPEG
	frameAt time.Time
	frames  int64 // JPEGs received from this process
	waiting []waitingFetch

	asked    bool // admission asked for this incarnation's process, not granted yet
	granted  bool // the grant is held: released at the first frame
	grantDue *time.Timer
}

// streamSpec is what a camera gives its stream child.
type streamSpec struct {
	Camera    string
	Subnet    string
	URL       string // with credentials: only ever passed to the process
	Redactor  redact.Redactor
	DeepProbe bool
	cameraInput
}

// streamCarry is what one incarnation hands the next: a process number
// unique to the child, and the intervals between frames seen so far (the
// camera's GOP does not change with a restart). Incarnations run one after
// another on the same mailbox, so it needs no lock.
type streamCarry struct {
	gen  int64
	gaps []time.Duration
}

// waitingFetch is a frame asked for before a fresh one was there.
type waitingFetch struct {
	ref      int64
	deadline time.Time
}

// Internal messages.
type (
	streamFrame struct { // a JPEG out of the pipe
		gen  int64
		jpeg []byte
	}
	stallCheck   struct{ gen int64 }
	admissionDue struct{ gen int64 } // the grant was held Policy.Stream.StartGrant
)

// timerStall is the stream's watchdog.
const timerStall timerName = "stall"

var streamRole = processRole{purpose: "stream", name: "stream ffmpeg", longLived: true}

// streamEnded is the panic value of a stream child whose process ended:
// the camera's supervision restarts it.
type streamEnded struct {
	reason messages.StopReason
	detail string // redacted
}

func (e *streamEnded) String() string {
	return fmt.Sprintf("stream ended (%s): %s", e.reason, e.detail)
}

func streamProps(env *Env, spec streamSpec, cause *stopCause) *actor.Props {
	carry := &streamCarry{}
	return actor.PropsFromProducer(lived(func() *streamActor {
		a := &streamActor{spec: spec, carry: carry, process: process{env: env, role: streamRole, cause: cause,
			camera: spec.Camera, subnet: spec.Subnet, url: spec.URL, redactor: spec.Redactor}}
		a.exitAttrs = func() []any { return []any{"frames", a.frames} }
		return a
	}))
}

// Receive handles the stream's messages: admission, frames, the
// watchdog; those of its process's lifecycle go to the process
// (process.receive).
func (a *streamActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *messages.AdmissionGranted:
		a.onAdmissionGranted(ctx, msg)
	case *admissionDue:
		if msg.gen == a.gen {
			a.releaseAdmission(ctx)
		}
	case *streamFrame:
		a.onFrame(ctx, msg)
	case *messages.FetchFrame:
		a.onFetchFrame(ctx, msg)
	case *stallCheck:
		a.onStallCheck(ctx, msg)
	case *messages.Describe:
		answerDescribe(ctx, a.describe(ctx))
	case *processEnded, *killGraceExpired, *messages.ListOwnedProcesses, *actor.Stopping, *actor.Restarting:
		a.receive(ctx, a)
	}
}

// onStarted asks the machine-wide admission for the right to start the
// process.
func (a *streamActor) onStarted(ctx actor.Context) {
	a.carry.gen++
	a.gen, a.asked = a.carry.gen, true
	ctx.Request(a.env.peers.admission, &messages.RequestAdmission{Ref: a.gen, Camera: a.spec.Camera, Due: time.Now()})
}

// onAdmissionGranted starts the process.
func (a *streamActor) onAdmissionGranted(ctx actor.Context, msg *messages.AdmissionGranted) {
	if msg.Ref != a.gen || !a.asked {
		ctx.Request(a.env.peers.admission, &messages.WithdrawAdmission{Ref: msg.Ref})
		return
	}
	a.asked, a.granted = false, true
	a.grantDue = after(ctx.ActorSystem(), ctx.Self(), a.env.Policy.Stream.StartGrant, &admissionDue{gen: a.gen})
	a.startProcess(ctx)
}

// releaseAdmission gives the grant back: the process is up (or gone).
func (a *streamActor) releaseAdmission(ctx actor.Context) {
	switch {
	case a.asked:
		a.asked = false
		ctx.Request(a.env.peers.admission, &messages.WithdrawAdmission{Ref: a.gen})
	case a.granted:
		a.granted = false
		stopTimer(a.grantDue)
		ctx.Request(a.env.peers.admission, &messages.ReleaseAdmission{Ref: a.gen})
	}
}

// startProcess starts the process, its stall watchdog set.
func (a *streamActor) startProcess(ctx actor.Context) {
	cfg, gen := a.env.Config.FFmpeg, a.gen
	self, system := ctx.Self(), ctx.ActorSystem()
	err := a.spawn(ctx, func(input string) []string {
		return streamArgs(cfg, input, a.spec.cameraInput, a.spec.DeepProbe, a.env.Policy.Stream.MinFrameGap)
	}, osproc.Spec{Stdout: &jpegSplitter{max: maxSnapshotBytes, emit: func(jpeg []byte) {
		system.Root.Send(self, &streamFrame{gen: gen, jpeg: jpeg})
	}}}, time.Time{})
	if err != nil {
		a.fail(ctx, &streamEnded{reason: messages.StopDone, detail: err.Error()})
		return
	}
	a.schedule(ctx, timerStall, a.stallTimeout(), &stallCheck{gen: gen})
}

// onFrame keeps the newest frame and answers whoever waits for one.
func (a *streamActor) onFrame(ctx actor.Context, msg *streamFrame) {
	if msg.gen != a.gen || a.proc == nil {
		return // an earlier process's, or one being killed
	}
	now := time.Now()
	if !a.frameAt.IsZero() {
		a.carry.gaps = append(a.carry.gaps, now.Sub(a.frameAt))
		if n := a.env.Policy.Stream.GOPSamples; len(a.carry.gaps) > n {
			a.carry.gaps = a.carry.gaps[len(a.carry.gaps)-n:]
		}
	}
	a.frame, a.frameAt = msg.jpeg, now
	a.frames++
	if a.frames == 1 {
		a.releaseAdmission(ctx)
		a.env.Log.Debug("stream's first frame", "camera", a.spec.Camera, "os_pid", a.proc.PID,
			"after", now.Sub(a.proc.Started).Round(time.Millisecond).String())
	}
	for _, w := range a.waiting {
		if now.Before(w.deadline) {
			a.answer(ctx, w.ref)
		}
	}
	a.waiting = nil
}

// onFetchFrame answers with the newest frame when it is fresh — younger
// than the stall timeout: an older one means the stream is stalling — or
// keeps the request until the next frame comes. The camera answers the
// capture itself if none comes by its deadline.
func (a *streamActor) onFetchFrame(ctx actor.Context, msg *messages.FetchFrame) {
	if a.proc != nil && a.frame != nil && time.Since(a.frameAt) < a.stallTimeout() {
		a.answer(ctx, msg.Ref)
		return
	}
	a.waiting = append(a.waiting, waitingFetch{ref: msg.Ref, deadline: msg.Deadline})
}

func (a *streamActor) answer(ctx actor.Context, ref int64) {
	ctx.Send(ctx.Parent(), &messages.FrameFetched{Ref: ref, JPEG: a.frame, OSPID: a.proc.PID})
}

// onStallCheck is the watchdog: a process that sent no frame for the stall
// timeout (since it started, or since its last frame) is killed, SIGTERM to
// its group and SIGKILL after kill_grace; its end restarts the child.
func (a *streamActor) onStallCheck(ctx actor.Context, msg *stallCheck) {
	if msg.gen != a.gen || a.proc == nil || a.killing() {
		return
	}
	last := a.proc.Started
	if a.frameAt.After(last) {
		last = a.frameAt
	}
	limit := a.stallTimeout()
	if left := limit - time.Since(last); left > 0 {
		a.schedule(ctx, timerStall, left, &stallCheck{gen: a.gen})
		return
	}
	a.env.Log.Warn("stream stalled: killing its ffmpeg", "camera", a.spec.Camera, "subnet", a.spec.Subnet,
		"os_pid", a.proc.PID, "reason", fmt.Sprintf("no frame for %s", limit))
	a.kill(ctx, messages.StopStalled)
}

// processEnded fails, so that the camera's supervision starts the child
// again after its back-off; the camera connection is already closed.
// Frames asked for meanwhile go to the next incarnation: the messages wait
// in the mailbox while the child is restarted.
func (a *streamActor) processEnded(ctx actor.Context, proc *osproc.Process, exit osproc.Exit, reason messages.StopReason) {
	detail := fmt.Sprintf("ffmpeg exited %d after %s", exit.Code, exit.At.Sub(proc.Started).Round(time.Millisecond))
	switch {
	case reason == messages.StopStalled:
		detail = fmt.Sprintf("no frame for %s: ffmpeg killed", a.stallTimeout())
	case exit.Signal != "":
		detail = "ffmpeg killed by " + exit.Signal
	}
	if len(exit.StderrTail) > 0 {
		detail += ": " + a.spec.Redactor.Redact(exit.StderrTail[len(exit.StderrTail)-1])
	}
	a.fail(ctx, &streamEnded{reason: reason, detail: detail})
}

// fail hands the frames still asked for to the next incarnation and
// crashes.
func (a *streamActor) fail(ctx actor.Context, why *streamEnded) {
	a.releaseAdmission(ctx)
	for _, w := range a.waiting {
		if time.Now().Before(w.deadline) {
			ctx.Send(ctx.Self(), &messages.FetchFrame{Ref: w.ref, Deadline: w.deadline})
		}
	}
	a.waiting = nil
	panic(why)
}

// processStopped gives the admission grant back, if held, once the
// process is reaped.
func (a *streamActor) processStopped(ctx actor.Context, _ *osproc.Process) {
	a.releaseAdmission(ctx)
}

// stallTimeout is ffmpeg.stall_timeout, or by default three times the
// keyframe interval seen (the median of the recent intervals between
// frames) and at least 10 s.
func (a *streamActor) stallTimeout() time.Duration {
	var gop time.Duration
	if g := a.carry.gaps; len(g) > 0 {
		s := slices.Clone(g)
		slices.Sort(s)
		gop = s[len(s)/2]
	}
	return a.env.Config.FFmpeg.StallTimeoutFor(gop)
}

func (a *streamActor) describe(ctx actor.Context) *messages.Node {
	f := map[string]any{"camera": a.spec.Camera, "frames": a.frames,
		"stall_timeout_ms": a.stallTimeout().Milliseconds(), "last_frame_at": nil}
	if !a.frameAt.IsZero() {
		f["last_frame_at"] = a.frameAt
	}
	state := a.show(f)
	switch {
	case state != "":
	case a.asked:
		state = "waiting for admission"
	default:
		state = "restarting"
	}
	return a.node(ctx, "stream", state, f)
}

// streamArgs is the ffmpeg argument list of a stream-mode child: the
// camera read as a snapshot reads it (inputArgs: keyframes only), and a
// JPEG per keyframe, at most one per minGap of stream time, each written
// to the pipe as soon as it is encoded.
func streamArgs(cfg config.FFmpeg, input string, own cameraInput, deep bool, minGap time.Duration) []string {
	sel := "select='isnan(prev_selected_t)+gte(t-prev_selected_t," + strconv.FormatFloat(minGap.Seconds(), 'f', -1, 64) + ")'"
	args := append(inputArgs(cfg, input, own, deep), "-an", "-vf", sel, "-fps_mode", "passthrough", "-f", "image2pipe")
	args = append(args, jpegEncoder...)
	return append(args, "-flush_packets", "1", "pipe:1")
}

// jpegSplitter cuts a stream of concatenated JPEGs (ffmpeg's image2pipe)
// into whole pictures: it follows the marker segments up to the scan, then
// the entropy-coded data, in which a 0xFF is always followed by a stuffed
// 0x00 or a restart marker, up to EOI. A picture larger than max is
// dropped. It keeps its place between writes, so every byte is looked at
// once.
type jpegSplitter struct {
	max  int
	emit func(jpeg []byte)

	buf    []byte
	pos    int  // next byte to look at
	inScan bool // past SOS: in entropy-coded data
}

// Write takes what the process wrote; it never fails, so the process is
// never blocked by a picture it could not parse.
func (s *jpegSplitter) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	for s.next() {
	}
	if len(s.buf) > s.max {
		s.buf, s.pos, s.inScan = s.buf[:0], 0, false // not a picture: start over
	}
	return len(p), nil
}

// next advances through the buffer; it reports whether it may go on.
func (s *jpegSplitter) next() bool {
	b := s.buf
	if s.pos == 0 {
		// Look for SOI.
		i := 0
		for i+1 < len(b) && !(b[i] == 0xFF && b[i+1] == 0xD8) {
			i++
		}
		if i+1 >= len(b) {
			s.buf = append(s.buf[:0], b[i:]...) // keep a trailing 0xFF
			return false
		}
		s.buf = append(s.buf[:0], b[i:]...)
		b = s.buf
		s.pos, s.inScan = 2, false
	}
	for {
		if !s.inScan {
			// A marker segment: FF xx LL LL ...
			if s.pos+4 > len(b) {
				return false
			}
			if b[s.pos] != 0xFF {
				s.pos = 0 // lost: look for the next SOI
				s.buf = s.buf[1:]
				return true
			}
			m := b[s.pos+1]
			if m == 0xFF { // fill byte
				s.pos++
				continue
			}
			n := int(b[s.pos+2])<<8 | int(b[s.pos+3])
			if s.pos+2+n > len(b) {
				return false
			}
			s.pos += 2 + n
			if m == 0xDA { // SOS: the scan follows
				s.inScan = true
			}
			continue
		}
		// Entropy-coded data: find a marker that is not stuffing or RSTn.
		for s.pos+1 < len(b) {
			if b[s.pos] != 0xFF {
				s.pos++
				continue
			}
			m := b[s.pos+1]
			switch {
			case m == 0x00 || m >= 0xD0 && m <= 0xD7:
				s.pos += 2
				continue
			case m == 0xFF:
				s.pos++
				continue
			case m == 0xD9: // EOI: a whole picture
				end := s.pos + 2
				if end <= s.max {
					s.emit(append([]byte(nil), b[:end]...))
				}
				s.buf = append(s.buf[:0], b[end:]...)
				s.pos, s.inScan = 0, false
				return true
			}
			// Another segment (a progressive JPEG's next scan).
			s.inScan = false
			break
		}
		if s.inScan {
			return false
		}
	}
}
