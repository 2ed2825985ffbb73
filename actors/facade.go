package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// The facade: what the rest of the program (the HTTP API, the command)
// may ask of a running tree, as typed methods. Callers never touch the
// actor runtime or spell an actor's path; every answer comes by message.

// ErrNotRunning is the answer of an actor that is not running (stopped,
// or not started yet).
var ErrNotRunning = errors.New("not running")

// ErrNoTime is the error of a question whose asker's deadline passed (or
// whose context ended) before it could be asked or answered.
var ErrNoTime = errors.New("no time left to wait")

// ask sends msg to pid and waits for the answer until ctx ends (or, when
// ctx has no deadline, the default question timeout). It never waits
// past ctx: a question whose deadline has passed is not sent, and one
// whose context ends while it waits is given up at once (its late answer
// is dropped). The error names what did not answer, and within how long.
func (t *Tree) ask(ctx context.Context, pid *actor.PID, what string, msg any) (any, error) {
	wait := t.env.Policy.DescribeTimeout
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	if err := ctx.Err(); err != nil || wait <= 0 {
		return nil, fmt.Errorf("%s not asked: %w", what, ErrNoTime)
	}
	box := newReplyBox(t.system)
	defer box.close()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	t.system.Root.RequestWithCustomSender(pid, msg, box.pid)
	select {
	case res := <-box.answer:
		if _, dead := res.(*actor.DeadLetterResponse); dead {
			return nil, fmt.Errorf("%s: %w", what, ErrNotRunning)
		}
		return res, nil
	case <-timer.C:
		return nil, fmt.Errorf("%s did not answer within %s", what, wait.Round(time.Millisecond))
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: gave up waiting (%v): %w", what, context.Cause(ctx), ErrNoTime)
	}
}

// replyBox is where one question's answer lands: a process of the actor
// system, like protoactor's Future, but one its asker can give up on
// (close) when its context ends. The Future cannot be cancelled, and arms
// no timer at all for a negative wait; its fields are written without
// its lock (protoactor-go #1145).
type replyBox struct {
	system *actor.ActorSystem
	pid    *actor.PID
	answer chan any // the first answer; later ones are dropped
}

func newReplyBox(system *actor.ActorSystem) *replyBox {
	b := &replyBox{system: system, answer: make(chan any, 1)}
	b.pid, _ = system.ProcessRegistry.Add(b, "ask"+system.ProcessRegistry.NextId())
	return b
}

// close takes the box out of the registry: an answer sent later is a
// dead letter, and an actor that checks whether its asker still waits
// (asking) sees that it does not.
func (b *replyBox) close() { b.system.ProcessRegistry.Remove(b.pid) }

// SendUserMessage keeps the first answer.
func (b *replyBox) SendUserMessage(_ *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	select {
	case b.answer <- msg:
	default:
	}
}

// SendSystemMessage: a box takes no system message.
func (b *replyBox) SendSystemMessage(*actor.PID, any) {}

// Stop closes the box.
func (b *replyBox) Stop(*actor.PID) { b.close() }

// asking reports whether the sender of ctx's message still waits for the
// answer: false once a facade question gave up (its box closed) or a
// future timed out. A message without a sender is asked by no one in
// particular: true.
func asking(ctx actor.Context) bool {
	if ctx.Sender() == nil {
		return true
	}
	_, ok := ctx.ActorSystem().ProcessRegistry.Get(ctx.Sender())
	return ok
}

// askFor is ask for an answer of type T.
func askFor[T any](ctx context.Context, t *Tree, pid *actor.PID, what string, msg any) (*T, error) {
	res, err := t.ask(ctx, pid, what, msg)
	if err != nil {
		return nil, err
	}
	v, ok := res.(*T)
	if !ok {
		return nil, fmt.Errorf("%s answered %T", what, res)
	}
	return v, nil
}

func cameraWhat(c config.SubnetCamera) string { return "camera " + c.ID }

// Ready waits until the tree patrols: its services run, the start-up
// sweep is done and the patrol is spawned. ErrNotRunning when the tree
// stopped first.
func (t *Tree) Ready(ctx context.Context) error {
	select {
	case <-t.env.patrolling:
		return nil
	case <-t.done:
		return fmt.Errorf("the tree: %w", ErrNotRunning)
	case <-ctx.Done():
		return fmt.Errorf("the tree is not patrolling yet: %w", ctx.Err())
	}
}

// Capture takes a frame of camera c now, as an operator's request, and
// waits for its outcome.
func (t *Tree) Capture(ctx context.Context, c config.SubnetCamera) (*messages.CaptureDone, error) {
	return askFor[messages.CaptureDone](ctx, t, t.env.peers.camera(c.Subnet, c.ID), cameraWhat(c),
		&messages.Capture{Camera: c.ID, Reason: "operator"})
}

// CameraStatus is camera c's state as its actor knows it.
func (t *Tree) CameraStatus(ctx context.Context, c config.SubnetCamera) (*messages.CameraStatus, error) {
	return askFor[messages.CameraStatus](ctx, t, t.env.peers.camera(c.Subnet, c.ID), cameraWhat(c), &messages.GetCameraStatus{})
}

// Frame is camera c's latest frame (JPEG nil before the first).
func (t *Tree) Frame(ctx context.Context, c config.SubnetCamera) (*messages.Frame, error) {
	return askFor[messages.Frame](ctx, t, t.env.peers.camera(c.Subnet, c.ID), cameraWhat(c), &messages.GetFrame{})
}

// RestartCamera restarts camera c's actor from a clean state and answers
// once the new instance runs, with the pids of the old instance's
// processes, each checked gone from /proc. A restart asked while another
// is pending joins it; one still queued when ctx ends is withdrawn.
func (t *Tree) RestartCamera(ctx context.Context, c config.SubnetCamera, reason string) ([]int, error) {
	pid := t.env.peers.camera(c.Subnet, c.ID)
	owned, err := askFor[messages.OwnedProcesses](ctx, t, pid, cameraWhat(c), &messages.ListOwnedProcesses{})
	if err != nil {
		return nil, err
	}
	if _, err := askFor[messages.CameraRestarted](ctx, t, pid, cameraWhat(c), &messages.RestartCamera{Reason: reason, Asked: time.Now()}); err != nil {
		return nil, err
	}
	killed := []int{}
	var alive []int
	for _, p := range owned.Processes {
		killed = append(killed, p.OSPID)
		if info, ok := osproc.Read(p.OSPID); ok && !info.Zombie() {
			alive = append(alive, p.OSPID)
		}
	}
	if len(alive) > 0 {
		return killed, fmt.Errorf("camera %s restarted but processes %v of the old instance are still alive", c.ID, alive)
	}
	return killed, nil
}

// StartLive asks the playback policy for a live view of camera on an
// operator's behalf: the same budget and limits as a detection's.
func (t *Tree) StartLive(ctx context.Context, camera, reason string) (*messages.PlaybackAnswer, error) {
	return askFor[messages.PlaybackAnswer](ctx, t, t.env.peers.playback, "the playback policy", &messages.StartPlayback{Camera: camera, Reason: reason})
}

// StopLive ends camera's live view.
func (t *Tree) StopLive(camera, reason string) {
	t.system.Root.Send(t.env.peers.playback, &messages.StopPlayback{Camera: camera, Reason: reason})
}

// Playbacks is what plays now.
func (t *Tree) Playbacks(ctx context.Context) ([]messages.PlaybackStarted, error) {
	p, err := askFor[messages.Playbacks](ctx, t, t.env.peers.playback, "the playback policy", &messages.GetPlaybacks{})
	if err != nil {
		return nil, err
	}
	return p.Live, nil
}

// Go2RTCHealth is the gateway's view of go2rtc; an error when go2rtc is
// not configured or the gateway does not answer.
func (t *Tree) Go2RTCHealth(ctx context.Context) (*messages.ServiceHealth, error) {
	return askFor[messages.ServiceHealth](ctx, t, t.env.peers.gateway, "the gateway", &messages.GetHealth{})
}

// UnmatchedSources are the sources of go2rtc's streams that may read one
// of the cameras but that the gateway cannot attribute (as of its last
// listing): their connections are counted against no budget. An error
// when go2rtc is not configured or the gateway does not answer.
func (t *Tree) UnmatchedSources(ctx context.Context) (*messages.UnmatchedSources, error) {
	return askFor[messages.UnmatchedSources](ctx, t, t.env.peers.gateway, "the gateway", &messages.GetUnmatchedSources{})
}

// Admission is the machine-wide admission's state.
func (t *Tree) Admission(ctx context.Context) (*messages.AdmissionStatus, error) {
	return askFor[messages.AdmissionStatus](ctx, t, t.env.peers.admission, "the admission", &messages.GetAdmission{})
}

// Describe is the live supervision tree, for display: every actor asked
// to describe itself by the deadline of ctx.
func (t *Tree) Describe(ctx context.Context) (*messages.Node, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(t.env.Policy.DescribeTimeout)
	}
	return askFor[messages.Node](ctx, t, t.root, "the root", &messages.Describe{Deadline: deadline})
}

// Process is an ffmpeg process on the machine as /proc shows it, with
// what camvisor knows of it.
type Process struct {
	osproc.Info
	Class osproc.Class
	Owner string // the live actor that owns it; else what its tag claims
	Owned bool   // a live actor of this tree owns it
}

// Processes lists every ffmpeg process on the machine, each marked owned
// by a live actor of this tree or not, by pid.
func (t *Tree) Processes(ctx context.Context) []Process {
	procs := osproc.Scan("ffmpeg")
	owners := map[int]string{}
	if o, err := askFor[messages.OwnedProcesses](ctx, t, t.env.peers.patrol, "the patrol", &messages.ListOwnedProcesses{}); err == nil {
		for _, p := range o.Processes {
			owners[p.OSPID] = p.Owner
		}
	}
	out := make([]Process, 0, len(procs))
	for _, p := range procs {
		owner, owned := owners[p.PID]
		if !owned {
			owner = p.Owner
		}
		out = append(out, Process{Info: p, Class: osproc.Classify(p, t.env.RunID, t.env.Home), Owner: owner, Owned: owned})
	}
	slices.SortFunc(out, func(a, b Process) int { return a.PID - b.PID })
	return out
}

// LiveProcesses counts this run's live ffmpeg processes in /proc.
func (t *Tree) LiveProcesses() int {
	n := 0
	for _, p := range osproc.Scan("ffmpeg") {
		if osproc.Classify(p, t.env.RunID, t.env.Home) == osproc.ThisRun && !p.Zombie() {
			n++
		}
	}
	return n
}

// Alerts is what fires now and what resolved lately, from the alerts
// actor's memory: it answers while the record cannot be written.
func (t *Tree) Alerts(ctx context.Context) (*AlertsNow, error) {
	return askFor[AlertsNow](ctx, t, t.system.NewLocalPID(RootName+"/"+AlertsName), "the alerts", &getAlerts{})
}

// Policy is the tree's running policy (a copy): its restart specs and
// internal timings.
func (t *Tree) Policy() Policy { return *t.env.Policy }

// ReloadBudget is the longest a Reload takes (Policy.ReloadBudget with
// the running kill_grace): what waits for its answer waits this long.
func (t *Tree) ReloadBudget() time.Duration { return t.env.Policy.ReloadBudget(t.env.Config.FFmpeg) }

// Join hands a dashboard's WebSocket to the hub, which owns it from then
// on (and closes it when the dashboard goes).
func (t *Tree) Join(ctx context.Context, sock Socket, remote string) error {
	_, err := askFor[hubJoined](ctx, t, t.env.peers.hub, "the hub", &joinHub{socket: sock, remote: remote})
	return err
}

// Pause refusals, as errors: the API answers each with its own status.
var (
	ErrUnknownCamera  = errors.New("no such camera")
	ErrCameraDisabled = errors.New("camera disabled in the configuration")
	ErrNotPaused      = errors.New("camera not paused")
)

// Paused is the answer of PauseCamera: the pause in force and the OS
// processes of the camera it stopped, each checked gone from /proc.
type Paused struct {
	Pause  messages.Pause
	Killed []int
}

// PauseCamera pauses camera for d (its pause under way takes the new end
// and reason): its processes are killed and reaped, its slots given up,
// the patrol leaves it alone, and captures and live views asked of it are
// refused, until the end comes or ResumeCamera. by names who asks, as the
// caller identifies it ("session 3f9a0c1e", "token", "mqtt"). The pause
// is recorded (camera_pauses) and outlives a restart of camvisor. A
// camera disabled in the config is refused (ErrCameraDisabled), an
// unknown one too (ErrUnknownCamera).
func (t *Tree) PauseCamera(ctx context.Context, camera string, d time.Duration, reason, by string) (*Paused, error) {
	if d <= 0 {
		return nil, fmt.Errorf("pause %s: the duration must be positive, got %s", camera, d)
	}
	var owned []messages.OwnedProcess
	if c, ok := t.env.Current().Camera(camera); ok {
		// What the camera runs now: the processes the pause is to stop.
		if o, err := askFor[messages.OwnedProcesses](ctx, t, t.env.peers.camera(c.Subnet, c.ID), cameraWhat(c), &messages.ListOwnedProcesses{}); err == nil {
			owned = o.Processes
		}
	}
	a, err := askFor[messages.PauseAnswer](ctx, t, t.env.peers.patrol, "the patrol",
		&messages.PauseCamera{Camera: camera, Until: time.Now().Add(d), Reason: reason, By: by})
	if err != nil {
		return nil, err
	}
	if err := pauseRefusal(a); err != nil {
		return nil, err
	}
	out := &Paused{Pause: *a.Pause, Killed: []int{}}
	var alive []int
	for _, p := range owned {
		out.Killed = append(out.Killed, p.OSPID)
		if info, ok := osproc.Read(p.OSPID); ok && !info.Zombie() {
			alive = append(alive, p.OSPID)
		}
	}
	if len(alive) > 0 {
		return out, fmt.Errorf("camera %s paused but its processes %v are still alive", camera, alive)
	}
	return out, nil
}

// ResumeCamera ends camera's pause now; by names who asks. It answers the
// pause that ended. A camera not paused is refused (ErrNotPaused), one
// disabled in the config too (ErrCameraDisabled): only the config
// changes it.
func (t *Tree) ResumeCamera(ctx context.Context, camera, by string) (*messages.Pause, error) {
	before, _ := t.env.pausesNow()[camera]
	a, err := askFor[messages.PauseAnswer](ctx, t, t.env.peers.patrol, "the patrol", &messages.ResumeCamera{Camera: camera, By: by})
	if err != nil {
		return nil, err
	}
	if err := pauseRefusal(a); err != nil {
		return nil, err
	}
	return &before, nil
}

// pauseRefusal is the error of a refused pause or resume, nil when done.
func pauseRefusal(a *messages.PauseAnswer) error {
	switch a.Refused {
	case "":
		return nil
	case messages.RefusedUnknownCamera:
		return fmt.Errorf("%w: %s", ErrUnknownCamera, a.Reason)
	case messages.RefusedDisabled:
		return fmt.Errorf("%w: %s", ErrCameraDisabled, a.Reason)
	case messages.RefusedNotPaused:
		return fmt.Errorf("%w: %s", ErrNotPaused, a.Reason)
	}
	return fmt.Errorf("refused (%s): %s", a.Refused, a.Reason)
}
