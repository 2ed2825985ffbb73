package actors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"slices"
	"time"

	"camvisor/actors/detect"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// detectorActor looks at every frame the patrol captured. A worker
// goroutine owns the detector (the built-in motion comparison or an HTTP
// object-detection server) and examines one frame at a time; frames wait
// in a bounded queue, and when it is full the newest is dropped and
// counted: a slow or dead detector never slows the patrol. A detection at
// or above detector.min_score becomes an event, or joins the open event of
// the same camera and label when it comes within detector.event_gap. An
// event ends (EventEnded) when event_gap passes after its last detection
// without another, or when the detector stops: the detector owns when an
// event is open.
type detectorActor struct {
	life
	env  *Env
	kind string

	worker *worker[detectJob, detectResult]
	close  func() // releases the detector's resources once the worker is done
	queue  []detectJob

	events  map[string]*openEvent // by camera + "\x00" + label
	lastID  int64
	dropped int64
	healthy bool
	lastErr string
}

// detectJob is one frame to examine.
type detectJob struct {
	capture *messages.CaptureDone
}

// detectResult is what the detector made of a frame.
type detectResult struct {
	detections []detect.Detection
	err        error
	width      int
	height     int
	took       time.Duration // the detector's time on the frame
}

// openEvent is an event still collecting detections.
type openEvent struct {
	id         int64
	camera     string
	label      string
	at         time.Time // its first detection
	lastSeen   time.Time
	score      float64
	detections int
	gap        *time.Timer // sends eventGapOver event_gap after lastSeen
}

// eventGapOver is the end of an open event's gap: unless a detection
// joined it meanwhile, it is over.
type eventGapOver struct {
	key string
	id  int64
}

func detectorProps(env *Env) *actor.Props {
	return actor.PropsFromProducer(lived(func() *detectorActor {
		return &detectorActor{env: env, kind: env.Config.Detector.Kind, events: map[string]*openEvent{}, healthy: true}
	}))
}

// detectorWants are the facts the root subscribes the detector to: frames.
func detectorWants(evt any) bool {
	d, ok := evt.(*messages.CaptureDone)
	return ok && d.Outcome == messages.OutcomeOK && len(d.JPEG) > 0
}

// Receive hands frames to the detector's worker and publishes what it saw.
func (a *detectorActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *messages.CaptureDone:
		a.onFrame(ctx, msg)
	case *workDone[detectJob, detectResult]:
		a.onDetectDone(ctx, msg)
	case *eventGapOver:
		a.onEventGapOver(ctx, msg)
	case *messages.Describe:
		state := map[bool]string{true: "running", false: "degraded"}[a.healthy]
		answerDescribe(ctx, a.node(ctx, "detector", state, map[string]any{"detector": a.kind, "queued": len(a.queue),
			"dropped": a.dropped, "healthy": a.healthy, "error": a.lastErr}))
	case *actor.Stopping, *actor.Restarting:
		a.onStopping(ctx)
	}
}

func (a *detectorActor) onStarted(ctx actor.Context) {
	cfg := a.env.Config.Detector
	var examine func(camera string, frame []byte) ([]detect.Detection, error)
	a.close = func() {}
	switch a.kind {
	case "http":
		client, err := detect.NewHTTP(detect.HTTPOptions{URL: cfg.URL, Timeout: cfg.Timeout.Duration})
		if err != nil {
			panic(fmt.Errorf("detector: %w", err)) // config validation let a bad URL through: a bug
		}
		// The client applies detector.timeout itself.
		examine = func(_ string, frame []byte) ([]detect.Detection, error) {
			return client.Detect(context.Background(), frame)
		}
		a.close = client.Close
	default:
		motion := detect.NewMotion(detect.DefaultMotionOptions())
		env := a.env
		examine = func(camera string, frame []byte) ([]detect.Detection, error) {
			return motion.DetectWith(camera, frame, cameraMotion(env, camera))
		}
	}
	a.worker = startWorker(ctx.ActorSystem(), ctx.Self(), func(job detectJob) detectResult {
		var d detectResult
		c := job.capture
		if cfg, err := jpeg.DecodeConfig(bytes.NewReader(c.JPEG)); err == nil {
			d.width, d.height = cfg.Width, cfg.Height
		}
		start := time.Now()
		d.detections, d.err = examine(c.Camera, c.JPEG)
		d.took = time.Since(start)
		return d
	})
}

// cameraMotion is camera's own motion settings (cameras[].motion) as the
// configuration runs now: a reload's new masks apply from the next frame.
func cameraMotion(env *Env, camera string) detect.CameraMotion {
	c, ok := env.Current().Camera(camera)
	if !ok {
		return detect.CameraMotion{}
	}
	return detect.CameraMotion{PixelThreshold: uint8(c.Motion.Threshold), MinArea: c.Motion.MinArea, Masks: c.Motion.Masks}
}

// onFrame queues a frame, or drops it when the queue is full.
func (a *detectorActor) onFrame(ctx actor.Context, msg *messages.CaptureDone) {
	if len(a.queue) >= a.env.Config.Detector.Queue {
		a.dropped++
		if a.dropped == 1 || a.dropped%100 == 0 {
			a.env.Log.Warn("detector busy: dropping frames", "dropped", a.dropped, "queued", len(a.queue), "camera", msg.Camera)
		}
		ctx.ActorSystem().EventStream.Publish(&messages.DetectionFailed{Camera: msg.Camera, CaptureKey: msg.Key, At: time.Now(),
			Error: fmt.Sprintf("dropped: detector busy (%d frames queued, %d dropped so far)", len(a.queue), a.dropped), Dropped: true})
		return
	}
	a.queue = append(a.queue, detectJob{capture: msg})
	a.next()
}

func (a *detectorActor) next() {
	if !a.worker.idle() || len(a.queue) == 0 {
		return
	}
	job := a.queue[0]
	a.queue = a.queue[1:]
	a.worker.give(job)
}

func (a *detectorActor) onDetectDone(ctx actor.Context, w *workDone[detectJob, detectResult]) {
	if !a.worker.done(w) {
		return // a previous incarnation's worker
	}
	defer a.next()
	c, d := w.job.capture, w.res
	ctx.ActorSystem().EventStream.Publish(&messages.FrameExamined{Camera: c.Camera, Took: d.took, Detections: len(d.detections), Failed: d.err != nil})
	if d.err != nil {
		a.noteHealth(ctx, d.err)
		ctx.ActorSystem().EventStream.Publish(&messages.DetectionFailed{Camera: c.Camera, CaptureKey: c.Key, At: time.Now(), Error: d.err.Error()})
		return
	}
	a.noteHealth(ctx, nil)
	cfg := a.env.Config.Detector
	for _, det := range d.detections {
		if det.Score < cfg.MinScore || (len(cfg.Labels) > 0 && !slices.Contains(cfg.Labels, det.Label)) {
			continue
		}
		a.record(ctx, c, det, d.width, d.height)
	}
}

// record turns a detection into a new event or joins it to the open one.
func (a *detectorActor) record(ctx actor.Context, c *messages.CaptureDone, det detect.Detection, w, h int) {
	at := c.EndedAt
	box := messages.Box{det.Box.Min.X, det.Box.Min.Y, det.Box.Max.X, det.Box.Max.Y}
	key := c.Camera + "\x00" + det.Label
	ev := a.events[key]
	fact := &messages.Detected{Camera: c.Camera, Subnet: c.Subnet, At: at, Label: det.Label, Score: det.Score, Box: box}
	gap := a.env.Config.Detector.EventGap.Duration
	if ev != nil && at.Sub(ev.lastSeen) <= gap {
		ev.lastSeen = at
		ev.detections++
		ev.score = max(ev.score, det.Score)
		fact.EventID = ev.id
		ctx.ActorSystem().EventStream.Publish(&messages.EventUpdated{ID: ev.id, Camera: c.Camera, Label: det.Label, LastSeen: at,
			Score: ev.score, Detections: ev.detections, LastScore: det.Score, Box: box})
	} else {
		if ev != nil {
			a.endEvent(ctx, key, ev, "gap") // its gap passed before its timer's message came
		}
		// Ids are unique across runs of one record: microseconds, kept
		// increasing within the run.
		a.lastID = max(a.lastID+1, time.Now().UnixMicro())
		ev = &openEvent{id: a.lastID, camera: c.Camera, label: det.Label, at: at, lastSeen: at, score: det.Score, detections: 1}
		a.events[key] = ev
		fact.EventID, fact.New = ev.id, true
		a.env.Log.Info("event", "camera", c.Camera, "label", det.Label, "score", fmt.Sprintf("%.2f", det.Score), "event", ev.id)
		ctx.ActorSystem().EventStream.Publish(&messages.EventOpened{ID: ev.id, Camera: c.Camera, Subnet: c.Subnet, At: at,
			Label: det.Label, Score: det.Score, Box: box, Detector: a.kind, CaptureKey: c.Key, JPEG: c.JPEG, Width: w, Height: h})
	}
	stopTimer(ev.gap)
	ev.gap = after(ctx.ActorSystem(), ctx.Self(), time.Until(ev.lastSeen.Add(gap)), &eventGapOver{key: key, id: ev.id})
	ctx.ActorSystem().EventStream.Publish(fact)
}

// onEventGapOver ends the event whose gap passed without a detection.
func (a *detectorActor) onEventGapOver(ctx actor.Context, msg *eventGapOver) {
	ev := a.events[msg.key]
	if ev == nil || ev.id != msg.id {
		return // ended already
	}
	if left := time.Until(ev.lastSeen.Add(a.env.Config.Detector.EventGap.Duration)); left > 0 {
		return // a detection joined it after this timer fired: its own timer runs
	}
	a.endEvent(ctx, msg.key, ev, "gap")
}

// endEvent closes an open event and publishes its end.
func (a *detectorActor) endEvent(ctx actor.Context, key string, ev *openEvent, reason string) {
	stopTimer(ev.gap)
	delete(a.events, key)
	ctx.ActorSystem().EventStream.Publish(&messages.EventEnded{ID: ev.id, Camera: ev.camera, Label: ev.label, At: ev.at,
		LastSeen: ev.lastSeen, Score: ev.score, Detections: ev.detections, Reason: reason, EndedAt: time.Now()})
}

// noteHealth logs and publishes the detector turning unreachable or
// coming back; a bad frame or a bad answer is not a health change.
func (a *detectorActor) noteHealth(ctx actor.Context, err error) {
	down := err != nil && (errors.Is(err, detect.ErrUnreachable) || errors.Is(err, detect.ErrTimeout))
	switch {
	case down && a.healthy:
		a.healthy, a.lastErr = false, err.Error()
		a.env.Log.Error("detector unreachable: frames are recorded as not examined", "reason", a.lastErr)
		ctx.ActorSystem().EventStream.Publish(&messages.ServiceHealth{Service: "detector", Healthy: false, Error: a.lastErr, At: time.Now()})
	case err == nil && !a.healthy:
		a.healthy, a.lastErr = true, ""
		a.env.Log.Info("detector reachable again")
		ctx.ActorSystem().EventStream.Publish(&messages.ServiceHealth{Service: "detector", Healthy: true, At: time.Now()})
	}
}

// onStopping lets the frame in flight finish (bounded by the detector's
// timeout), then releases the detector; the events still open end (a
// restarted detector opens new ones).
func (a *detectorActor) onStopping(ctx actor.Context) {
	defer func() {
		for key, ev := range a.events {
			a.endEvent(ctx, key, ev, "detector stopped")
		}
	}()
	if a.worker == nil {
		return
	}
	if !a.worker.stop(a.env.Config.Detector.Timeout.Duration + a.env.Policy.DetectorStopGrace) {
		a.env.Log.Warn("detector did not finish its frame in time", "detector", a.kind)
	}
	a.worker = nil
	a.close()
}
