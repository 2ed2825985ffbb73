package actors

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"camvisor/actors/redact"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// mqttActor publishes the tree's facts to an MQTT broker (mqtt.url):
// availability, each camera's state, events in Frigate's shape, the
// latest event's snapshot, alerts, and Home Assistant's discovery
// configs; with mqtt.commands it takes capture and pause commands
// (mqtt_commands.go). actors/MQTT.md lists every topic and payload.
//
// The broker never slows the patrol: facts become messages in a bounded
// queue this actor owns (Policy.MQTT.Queue; the oldest dropped and
// counted, a retained topic queued once), and the link to the broker
// (mqtt_link.go) runs on a worker goroutine, a batch at a time, each
// message confirmed by the broker. The link is a state machine:
//
//	state       on                               next
//	down        the back-off's end               connecting: a connect job
//	connecting  connected, retained state sent   up: the queue flows
//	connecting  failed                           down: try again after the back-off, doubled up to Policy.MQTT.MaxBackoff
//	up          a publish failed, the link lost  down: what was not confirmed waits again; first back-off
//
// Health is the link's: a failed connection or a lost one publishes
// ServiceHealth{Service: "mqtt"} (recorded in service_health, alert
// mqtt_unreachable), and a new connection resolves it. Every connection
// starts by publishing the retained state again (online, discovery,
// every camera's state): a broker that restarted without persistence
// has it back, and what the queue dropped meanwhile is made good.
type mqttActor struct {
	life
	env    *Env
	topics mqttTopics

	link    *worker[linkJob, linkResult]
	state   linkState
	gen     int           // the connection's number: news of a lost link names it
	due     bool          // the back-off is over: connect when the worker is free
	backoff time.Duration // the wait after the next failure
	retry   *time.Timer
	queue   []mqttMessage
	dropped int64
	healthy bool
	lastErr string

	cams   map[string]messages.CameraHealth // the cameras that run, by id: their last state
	heard  map[string]bool                  // cameras whose state a fact told (onStarted's answers are older)
	events map[int64]*eventObject           // open events, as last published
}

// linkState is where the link to the broker is.
type linkState string

const (
	linkDown       linkState = "down"
	linkConnecting linkState = "connecting"
	linkUp         linkState = "up"
)

// linkRetry is the end of a back-off.
type linkRetry struct{ gen int }

func mqttProps(env *Env) *actor.Props {
	return actor.PropsFromProducer(lived(func() *mqttActor {
		return &mqttActor{env: env, topics: newMQTTTopics(env.Config.MQTT.TopicPrefix),
			state: linkDown, healthy: true, cams: map[string]messages.CameraHealth{}, heard: map[string]bool{}, events: map[int64]*eventObject{}}
	}))
}

// mqttWants are the facts the root subscribes the mqtt actor to.
func mqttWants(evt any) bool {
	switch evt.(type) {
	case *messages.CameraStateChanged, *messages.EventOpened, *messages.EventUpdated, *messages.EventEnded,
		*messages.AlertChanged, *messages.ConfigReloaded:
		return true
	}
	return false
}

// Receive turns facts into queued messages, drives the link, and takes
// commands.
func (a *mqttActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *messages.CameraStateChanged:
		a.onCameraState(ctx, msg)
	case *messages.EventOpened:
		a.onEventOpened(ctx, msg)
	case *messages.EventUpdated:
		a.onEventUpdated(ctx, msg)
	case *messages.EventEnded:
		a.onEventEnded(ctx, msg)
	case *messages.AlertChanged:
		a.enqueue(ctx, a.topics.alertMessage(msg, a.env.RunID))
	case *messages.ConfigReloaded:
		a.onConfigReloaded(ctx, msg)
	case *workDone[linkJob, linkResult]:
		a.onLinkDone(ctx, msg)
	case *linkLost:
		a.onLinkLost(ctx, msg)
	case *linkRetry:
		a.onRetry(ctx, msg)
	case *mqttIncoming:
		a.onIncoming(ctx, msg)
	case *commandDone:
		a.onCommandDone(msg)
	case *messages.Describe:
		answerDescribe(ctx, a.node(ctx, "mqtt", string(a.state), map[string]any{"broker": redact.URL(a.env.Config.MQTT.URL),
			"topic_prefix": a.topics.prefix, "queued": len(a.queue), "dropped": a.dropped, "healthy": a.healthy, "error": a.lastErr,
			"discovery": a.env.Config.MQTT.Discovery, "commands": a.env.Config.MQTT.Commands}))
	case *actor.Stopping, *actor.Restarting:
		a.onStopping(ctx)
	}
}

func (a *mqttActor) onStarted(ctx actor.Context) {
	link := &mqttLink{env: a.env, topics: a.topics, system: ctx.ActorSystem(), self: ctx.Self()}
	a.link = startWorker(ctx.ActorSystem(), ctx.Self(), link.do)
	// A camera's actor starts healthy; one that runs already (this actor
	// restarted) says how it is, unless a fact of its state came first
	// (the answer may be older).
	for _, c := range a.env.Current().Cameras() {
		a.cams[c.ID] = messages.HealthOK
		f := ctx.RequestFuture(a.env.peers.camera(c.Subnet, c.ID), &messages.GetCameraStatus{}, a.env.Policy.DescribeTimeout)
		ctx.ReenterAfter(f, func(res any, err error) {
			if st, ok := res.(*messages.CameraStatus); ok && err == nil && st.Health != "" && !a.heard[st.Camera] {
				a.setState(ctx, st.Camera, st.Health)
			}
		})
	}
	a.backoff = a.env.Policy.MQTT.FirstBackoff
	a.due = true
	a.pump(ctx)
}

func (a *mqttActor) onCameraState(ctx actor.Context, msg *messages.CameraStateChanged) {
	if msg.Health != "" {
		a.heard[msg.Camera] = true
		a.setState(ctx, msg.Camera, msg.Health)
	}
}

// setState publishes a running camera's new state.
func (a *mqttActor) setState(ctx actor.Context, camera string, h messages.CameraHealth) {
	old, runs := a.cams[camera]
	if !runs || old == h {
		return // a camera a reload removed, or nothing new
	}
	a.cams[camera] = h
	a.enqueue(ctx, mqttMessage{topic: a.topics.state(camera), payload: []byte(h), retain: true})
}

// name is camera's display name.
func (a *mqttActor) name(camera string) string {
	if c, ok := a.env.Current().Camera(camera); ok {
		return displayName(c.Camera)
	}
	return camera
}

// onEventOpened publishes the event's snapshot, then the event: who
// reacts to "new" finds the snapshot that goes with it.
func (a *mqttActor) onEventOpened(ctx actor.Context, msg *messages.EventOpened) {
	obj := openedEvent(msg, a.name(msg.Camera))
	a.events[msg.ID] = obj
	if len(msg.JPEG) > 0 {
		a.enqueue(ctx, mqttMessage{topic: a.topics.snapshot(msg.Camera), payload: msg.JPEG, retain: true})
	}
	a.enqueue(ctx, a.topics.eventMessage("new", obj, obj))
}

func (a *mqttActor) onEventUpdated(ctx actor.Context, msg *messages.EventUpdated) {
	before := a.events[msg.ID]
	if before == nil {
		before = knownEvent(msg.ID, msg.Camera, msg.Label, a.name(msg.Camera))
	}
	after := before.updated(msg)
	a.events[msg.ID] = after
	a.enqueue(ctx, a.topics.eventMessage("update", before, after))
}

func (a *mqttActor) onEventEnded(ctx actor.Context, msg *messages.EventEnded) {
	before := a.events[msg.ID]
	if before == nil {
		before = knownEvent(msg.ID, msg.Camera, msg.Label, a.name(msg.Camera))
	}
	delete(a.events, msg.ID)
	a.enqueue(ctx, a.topics.eventMessage("end", before, before.ended(msg)))
}

// onConfigReloaded publishes the cameras a reload started, and removes
// what was published of those it stopped: their retained state and
// snapshot, and their Home Assistant entities.
func (a *mqttActor) onConfigReloaded(ctx actor.Context, msg *messages.ConfigReloaded) {
	if msg.Outcome != messages.ReloadApplied && msg.Outcome != messages.ReloadIncomplete {
		return
	}
	runs := a.env.Current()
	for _, id := range msg.Removed {
		if _, still := runs.Camera(id); still {
			continue // moved to another subnet
		}
		delete(a.cams, id)
		a.enqueue(ctx, cleared(a.topics.state(id)))
		a.enqueue(ctx, cleared(a.topics.snapshot(id)))
		for _, component := range haComponents {
			a.enqueue(ctx, cleared(a.topics.discovery(component, id)))
		}
	}
	// A new or changed camera's actor starts afresh: ok until its
	// captures say otherwise.
	for _, id := range append(slices.Clone(msg.Added), msg.Changed...) {
		c, ok := runs.Camera(id)
		if !ok {
			continue
		}
		a.cams[id] = messages.HealthOK
		if a.env.Config.MQTT.Discovery {
			for _, m := range a.topics.haDiscovery(c.Camera, a.env.Version) {
				a.enqueue(ctx, m)
			}
		}
		a.enqueue(ctx, mqttMessage{topic: a.topics.state(id), payload: []byte(messages.HealthOK), retain: true})
	}
}

// onIncoming takes a message from the broker: a command, or a discovery
// config of this node that no running camera owns (an earlier run's, or
// all of them with discovery off), which it removes.
func (a *mqttActor) onIncoming(ctx actor.Context, in *mqttIncoming) {
	if obj, ok := a.topics.parseDiscovery(in.topic); ok {
		if len(in.payload) > 0 && !a.ownsDiscovery(obj) {
			a.env.Log.Info("mqtt: removing a Home Assistant config no camera of this run owns", "topic", in.topic)
			a.enqueue(ctx, cleared(in.topic))
		}
		return
	}
	if cam, what, ok := a.topics.parseCommand(in.topic); ok && a.env.Config.MQTT.Commands {
		a.onCommand(ctx, in, cam, what)
	}
}

// ownsDiscovery reports whether the discovery object belongs to a
// running camera, with discovery on.
func (a *mqttActor) ownsDiscovery(obj string) bool {
	if !a.env.Config.MQTT.Discovery {
		return false
	}
	for id := range a.cams {
		if discoveryID(id) == obj {
			return true
		}
	}
	return false
}

// enqueue queues m for the broker: a retained topic's older message
// still waiting is replaced; past the bound the oldest goes, counted.
func (a *mqttActor) enqueue(ctx actor.Context, m mqttMessage) {
	if m.retain {
		a.queue = slices.DeleteFunc(a.queue, func(q mqttMessage) bool { return q.retain && q.topic == m.topic })
	}
	a.queue = append(a.queue, m)
	if over := len(a.queue) - a.env.Policy.MQTT.Queue; over > 0 {
		a.drop(ctx, over)
	}
	a.pump(ctx)
}

// drop drops the n oldest messages of the queue, counted (logged at the
// first and at every hundredth).
func (a *mqttActor) drop(ctx actor.Context, n int) {
	a.queue = slices.Delete(a.queue, 0, n)
	a.dropped += int64(n)
	if a.dropped == int64(n) || a.dropped/100 != (a.dropped-int64(n))/100 {
		a.env.Log.Warn("mqtt queue full: dropping the oldest messages", "dropped", a.dropped, "queued", len(a.queue), "link", string(a.state))
	}
	ctx.ActorSystem().EventStream.Publish(&messages.MQTTDropped{Dropped: a.dropped, Queued: len(a.queue), At: time.Now()})
}

// pump gives the link its next job when it is free: a connection when
// one is due, else the next message while connected.
func (a *mqttActor) pump(ctx actor.Context) {
	if !a.link.idle() {
		return
	}
	switch {
	case a.state == linkDown && a.due:
		a.due = false
		a.state = linkConnecting
		a.gen++
		a.link.give(linkJob{connect: &linkConnect{gen: a.gen, retained: a.retainedState()}})
	case a.state == linkUp && len(a.queue) > 0:
		n := min(len(a.queue), max(1, a.env.Policy.MQTT.InFlight))
		batch := slices.Clone(a.queue[:n])
		a.queue = slices.Delete(a.queue, 0, n)
		a.link.give(linkJob{publish: batch})
	}
}

// retainedState is what a new connection publishes first: online, the
// discovery configs, every camera's state. The queued messages of these
// topics are older: they go.
func (a *mqttActor) retainedState() []mqttMessage {
	out := []mqttMessage{{topic: a.topics.available(), payload: []byte("online"), retain: true}}
	for _, c := range a.env.Current().Cameras() {
		h, runs := a.cams[c.ID]
		if !runs {
			continue
		}
		if a.env.Config.MQTT.Discovery {
			out = append(out, a.topics.haDiscovery(c.Camera, a.env.Version)...)
		}
		out = append(out, mqttMessage{topic: a.topics.state(c.ID), payload: []byte(h), retain: true})
	}
	sent := map[string]bool{}
	for _, m := range out {
		sent[m.topic] = true
	}
	a.queue = slices.DeleteFunc(a.queue, func(q mqttMessage) bool { return q.retain && sent[q.topic] })
	return out
}

func (a *mqttActor) onLinkDone(ctx actor.Context, w *workDone[linkJob, linkResult]) {
	if !a.link.done(w) {
		return
	}
	defer a.pump(ctx)
	err := w.res.err
	switch {
	case w.job.connect != nil:
		if err != nil {
			a.state = linkDown
			a.setHealth(ctx, err)
			a.scheduleRetry(ctx)
			return
		}
		a.state = linkUp
		a.backoff = a.env.Policy.MQTT.FirstBackoff
		a.env.Log.Info("mqtt connected", "broker", redact.URL(a.env.Config.MQTT.URL), "queued", len(a.queue))
		a.setHealth(ctx, nil)
	case w.job.publish != nil && err != nil:
		// What the broker did not confirm waits again, first (it may come
		// twice: QoS 1 is at least once); a retained message only when no
		// newer one of its topic came meanwhile.
		var again []mqttMessage
		for _, m := range w.job.publish[w.res.sent:] {
			if !m.retain || !slices.ContainsFunc(a.queue, func(q mqttMessage) bool { return q.retain && q.topic == m.topic }) {
				again = append(again, m)
			}
		}
		a.queue = append(again, a.queue...)
		if over := len(a.queue) - a.env.Policy.MQTT.Queue; over > 0 {
			a.drop(ctx, over)
		}
		if a.state == linkUp {
			a.lose(ctx, err)
		}
	}
}

// onLinkLost takes paho's news of a broken connection, which may come
// while no message is in flight.
func (a *mqttActor) onLinkLost(ctx actor.Context, msg *linkLost) {
	if msg.gen != a.gen || a.state != linkUp {
		return
	}
	err := errors.New("connection lost")
	if msg.err != nil {
		err = fmt.Errorf("connection lost: %w", msg.err)
	}
	a.lose(ctx, err)
	a.pump(ctx)
}

// lose takes the link down after it was up: the next attempt comes after
// the first back-off.
func (a *mqttActor) lose(ctx actor.Context, err error) {
	a.state = linkDown
	a.backoff = a.env.Policy.MQTT.FirstBackoff
	a.setHealth(ctx, err)
	a.scheduleRetry(ctx)
}

// scheduleRetry waits out the back-off, which doubles for the next time.
func (a *mqttActor) scheduleRetry(ctx actor.Context) {
	stopTimer(a.retry)
	a.retry = after(ctx.ActorSystem(), ctx.Self(), a.backoff, &linkRetry{gen: a.gen})
	a.backoff = min(2*a.backoff, a.env.Policy.MQTT.MaxBackoff)
}

func (a *mqttActor) onRetry(ctx actor.Context, msg *linkRetry) {
	if msg.gen != a.gen || a.state != linkDown {
		return
	}
	a.due = true
	a.pump(ctx)
}

// setHealth publishes the broker turning unreachable or coming back.
func (a *mqttActor) setHealth(ctx actor.Context, err error) {
	switch {
	case err != nil && a.healthy:
		a.healthy, a.lastErr = false, redact.Text(err.Error())
		a.env.Log.Error("mqtt broker unreachable: messages wait in the queue", "broker", redact.URL(a.env.Config.MQTT.URL),
			"queued", len(a.queue), "reason", a.lastErr)
		ctx.ActorSystem().EventStream.Publish(&messages.ServiceHealth{Service: "mqtt", Healthy: false, Error: a.lastErr, At: time.Now()})
	case err != nil:
		a.lastErr = redact.Text(err.Error())
	case !a.healthy:
		a.healthy, a.lastErr = true, ""
		a.env.Log.Info("mqtt broker reachable again", "dropped", a.dropped)
		ctx.ActorSystem().EventStream.Publish(&messages.ServiceHealth{Service: "mqtt", Healthy: true, At: time.Now()})
	}
}

// onStopping flushes what waits (bounded by Policy.MQTT.StopWait), says
// offline and disconnects; what the link could not send is logged.
func (a *mqttActor) onStopping(ctx actor.Context) {
	stopTimer(a.retry)
	if a.link == nil {
		return
	}
	var flush []mqttMessage
	if a.state == linkUp {
		flush, a.queue = a.queue, nil
	} else if len(a.queue) > 0 {
		a.env.Log.Warn("mqtt: messages not delivered at stop: the broker is unreachable", "messages", len(a.queue))
	}
	stop := linkJob{stop: &linkStop{flush: flush}}
	if !a.link.stop(a.env.Policy.MQTT.ConnectTimeout+a.env.Policy.MQTT.StopWait+time.Second, stop) {
		a.env.Log.Warn("mqtt link did not stop in time")
	}
	a.link = nil
}
