package actors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// withMQTT points cfg at broker.
func withMQTT(cfg *config.Config, broker *testkit.Broker, discovery, commands bool) {
	cfg.MQTT = config.MQTT{URL: broker.URL(), TopicPrefix: "camvisor", Discovery: discovery, Commands: commands}
}

// camsimControl changes a camsim camera through its control API, as an
// operator of the simulator would (POST /cameras/{name}).
func camsimControl(t *testing.T, cams *camsim.Server, name, patch string) {
	t.Helper()
	resp, err := http.Post("http://"+cams.HTTPAddr()+"/cameras/"+name, "application/json", strings.NewReader(patch))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("camsim %s %s: %s", name, patch, resp.Status)
	}
}

// mqttEvent is a message of <prefix>/events, read as a subscriber reads it.
type mqttEvent struct {
	Type   string         `json:"type"`
	Before map[string]any `json:"before"`
	After  map[string]any `json:"after"`
}

func readEvent(t *testing.T, m testkit.Message) mqttEvent {
	t.Helper()
	var e mqttEvent
	if err := json.Unmarshal(m.Payload, &e); err != nil {
		t.Fatalf("%s: %v: %s", m.Topic, err, m.Payload)
	}
	return e
}

// isEvent matches an event message of camera (and, when set, of id and type).
func isEvent(t *testing.T, camera, kind, id string) func(testkit.Message) bool {
	return func(m testkit.Message) bool {
		if m.Topic != "camvisor/events" {
			return false
		}
		e := readEvent(t, m)
		return e.After["camera"] == camera && (kind == "" || e.Type == kind) && (id == "" || e.After["id"] == id)
	}
}

// isPayload matches topic with payload.
func isPayload(topic, payload string) func(testkit.Message) bool {
	return func(m testkit.Message) bool { return m.Topic == topic && string(m.Payload) == payload }
}

// TestMQTTEventsAndState: what a subscriber of the broker sees of a
// camera switched to motion (through camsim's control API) and back:
// the event's snapshot, then `new`, `update`s and, event_gap after the
// last detection, `end`, in Frigate's shape; and of a camera that hangs
// and heals: its retained state going ok → failing → backoff → ok.
func TestMQTTEventsAndState(t *testing.T) {
	broker := testkit.Mosquitto(t)
	list := []camsim.Camera{{Name: "door", Mode: camsim.ModeStatic}, {Name: "attic", Mode: camsim.ModeStatic}}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	// Room for a capture on a busy machine; a hung one fails at the cycle's end.
	cfg.Subnets[0].Interval = testDuration(3 * time.Second)
	cfg.FFmpeg.CaptureTimeout = testDuration(2500 * time.Millisecond)
	cfg.Alerts.CameraFailingAfter = 2
	cfg.Detector.EventGap = testDuration(5 * time.Second)
	withMQTT(cfg, broker, false, false)
	sub := broker.Subscribe(t, "camvisor/#")
	h := startTree(t, cams, cfg)

	sub.WaitFor(t, 0, 10*time.Second, "camvisor online", isPayload("camvisor/available", "online"))
	sub.WaitFor(t, 0, 10*time.Second, "attic's state ok", isPayload("camvisor/attic/state", "ok"))
	waitFor(h, 20*time.Second, "a first frame of the door", func(d *messages.CaptureDone) bool {
		return d.Camera == "door" && d.Outcome == messages.OutcomeOK
	})

	// Motion: the snapshot, then new, then updates of the same event.
	mark := sub.Mark()
	camsimControl(t, cams, "door", `{"mode": "motion"}`)
	newMsg, newAt := sub.WaitFor(t, mark, 30*time.Second, "a new event of the door", isEvent(t, "door", "new", ""))
	opened := readEvent(t, newMsg)
	id, _ := opened.After["id"].(string)
	if id == "" || opened.Before["id"] != id || opened.After["label"] != "motion" || opened.After["end_time"] != nil ||
		opened.After["has_snapshot"] != true || opened.After["start_time"].(float64) <= 0 {
		t.Errorf("new event: %s", newMsg.Payload)
	}
	for _, key := range []string{"id", "camera", "frame_time", "snapshot", "label", "sub_label", "top_score", "false_positive",
		"start_time", "end_time", "score", "box", "area", "ratio", "region", "current_zones", "entered_zones", "has_snapshot", "has_clip"} {
		if _, ok := opened.After[key]; !ok {
			t.Errorf("the event lacks Frigate's %q: %s", key, newMsg.Payload)
		}
	}
	snap, snapAt := sub.WaitFor(t, mark, time.Second, "the door's snapshot", func(m testkit.Message) bool { return m.Topic == "camvisor/door/snapshot" })
	if !bytes.HasPrefix(snap.Payload, []byte{0xFF, 0xD8}) || snapAt > newAt {
		t.Errorf("snapshot: %d bytes, JPEG %v, at message %d, the new event at %d", len(snap.Payload), bytes.HasPrefix(snap.Payload, []byte{0xFF, 0xD8}), snapAt, newAt)
	}
	upd, _ := sub.WaitFor(t, mark, 30*time.Second, "an update of the event", isEvent(t, "door", "update", id))
	updated := readEvent(t, upd)
	if n := updated.After["detections"].(float64); n < 2 || updated.Before["detections"].(float64) != n-1 ||
		updated.After["top_score"].(float64) < updated.After["score"].(float64) || updated.After["end_time"] != nil {
		t.Errorf("update: %s", upd.Payload)
	}

	// Still again: event_gap after the last detection, the event ends.
	camsimControl(t, cams, "door", `{"mode": "static"}`)
	endMsg, _ := sub.WaitFor(t, mark, 40*time.Second, "the end of the event", isEvent(t, "door", "end", id))
	ended := readEvent(t, endMsg)
	end, _ := ended.After["end_time"].(float64)
	if end < ended.After["start_time"].(float64) || ended.Before["end_time"] != nil {
		t.Errorf("end: %s", endMsg.Payload)
	}
	if fact := waitFor(h, time.Second, "the event's end", func(e *messages.EventEnded) bool { return fmt.Sprint(e.ID) == id }); fact.Reason != "gap" {
		t.Errorf("ended for %q", fact.Reason)
	}

	// A hung camera: failing, then backoff once its breaker opens; healed,
	// ok again at its next probe.
	mark = sub.Mark()
	camsimControl(t, cams, "attic", `{"hang": true}`)
	_, failing := sub.WaitFor(t, mark, 30*time.Second, "attic failing", isPayload("camvisor/attic/state", "failing"))
	_, backoff := sub.WaitFor(t, mark, 30*time.Second, "attic in backoff", isPayload("camvisor/attic/state", "backoff"))
	if backoff < failing {
		t.Errorf("backoff (message %d) before failing (message %d)", backoff, failing)
	}
	camsimControl(t, cams, "attic", `{"hang": false}`)
	sub.WaitFor(t, backoff, 30*time.Second, "attic ok again", isPayload("camvisor/attic/state", "ok"))
	// A late subscriber finds the state retained.
	late := broker.Subscribe(t, "camvisor/+/state")
	if m, _ := late.WaitFor(t, 0, 5*time.Second, "attic's retained state", func(m testkit.Message) bool { return m.Topic == "camvisor/attic/state" }); !m.Retained || string(m.Payload) != "ok" {
		t.Errorf("retained state %q (retained %v)", m.Payload, m.Retained)
	}
}

// TestMQTTDiscovery: with discovery, Home Assistant finds for each camera
// one device with a camera entity on its snapshot topic, a motion binary
// sensor and a state sensor, all bound to the availability topic, as
// retained configs; a reload that removes a camera removes its configs
// (and its retained state), and a config of a camera that no longer runs
// (left by an earlier run) is removed at connect.
func TestMQTTDiscovery(t *testing.T) {
	broker := testkit.Mosquitto(t)
	// An earlier run's camera, removed from the file while camvisor was down.
	ghost := "homeassistant/camera/camvisor/ghost/config"
	broker.Subscribe(t, "unused/#").Publish(t, ghost, []byte(`{"topic":"camvisor/ghost/snapshot"}`), true)

	list := []camsim.Camera{{Name: "front"}, {Name: "back.yard"}}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	withMQTT(cfg, broker, true, false)
	next := testConfig(cams, map[string][]camsim.Camera{"lab": list[:1]}, nil)
	withMQTT(next, broker, true, false)
	sub := broker.Subscribe(t, "homeassistant/#", "camvisor/#")
	h := startTreeWith(t, cams, cfg, func(env *Env) { env.Load = func() (*config.Config, error) { return next, nil } })

	objects := map[string]string{"front": "front", "back.yard": "back_yard"}
	devices := map[string]string{}
	uniques := map[string]bool{}
	for cam, obj := range objects {
		for _, component := range []string{"camera", "binary_sensor", "sensor"} {
			topic := "homeassistant/" + component + "/camvisor/" + obj + "/config"
			m, _ := sub.WaitFor(t, 0, 10*time.Second, topic, func(m testkit.Message) bool { return m.Topic == topic && len(m.Payload) > 0 })
			var c struct {
				UniqueID     string `json:"unique_id"`
				Availability string `json:"availability_topic"`
				Topic        string `json:"topic"`
				StateTopic   string `json:"state_topic"`
				DeviceClass  string `json:"device_class"`
				Template     string `json:"value_template"`
				Device       struct {
					Identifiers []string `json:"identifiers"`
					Name        string   `json:"name"`
				} `json:"device"`
			}
			if err := json.Unmarshal(m.Payload, &c); err != nil {
				t.Fatalf("%s: %v", topic, err)
			}
			if c.Availability != "camvisor/available" || len(c.Device.Identifiers) != 1 || c.Device.Name != cam || c.UniqueID == "" || uniques[c.UniqueID] {
				t.Errorf("%s: %s", topic, m.Payload)
			}
			uniques[c.UniqueID] = true
			if prev, seen := devices[cam]; seen && prev != c.Device.Identifiers[0] {
				t.Errorf("%s: camera %s is on two devices: %s and %s", topic, cam, prev, c.Device.Identifiers[0])
			}
			devices[cam] = c.Device.Identifiers[0]
			switch component {
			case "camera":
				if c.Topic != "camvisor/"+cam+"/snapshot" {
					t.Errorf("camera entity on %q", c.Topic)
				}
			case "binary_sensor":
				if c.StateTopic != "camvisor/events" || c.DeviceClass != "motion" || !strings.Contains(c.Template, "'"+cam+"'") {
					t.Errorf("motion sensor: %s", m.Payload)
				}
			case "sensor":
				if c.StateTopic != "camvisor/"+cam+"/state" {
					t.Errorf("state sensor on %q", c.StateTopic)
				}
			}
		}
	}
	if devices["front"] == devices["back.yard"] {
		t.Errorf("two cameras on one device %s", devices["front"])
	}
	sub.WaitFor(t, 0, 10*time.Second, "the ghost's config removed", func(m testkit.Message) bool { return m.Topic == ghost && len(m.Payload) == 0 })

	// A reload drops back.yard: its entities go.
	mark := sub.Mark()
	if _, err := h.tree.Reload(t.Context(), "test"); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"homeassistant/camera/camvisor/back_yard/config", "homeassistant/binary_sensor/camvisor/back_yard/config",
		"homeassistant/sensor/camvisor/back_yard/config", "camvisor/back.yard/state"} {
		sub.WaitFor(t, mark, 10*time.Second, topic+" removed", func(m testkit.Message) bool { return m.Topic == topic && len(m.Payload) == 0 })
	}

	// What Home Assistant finds when it starts now: front's entities only.
	fresh := broker.Subscribe(t, "homeassistant/#")
	fresh.Sync(t, "homeassistant/sync")
	var retained []string
	for _, m := range fresh.Messages(0) {
		if m.Retained {
			retained = append(retained, m.Topic)
		}
	}
	slices.Sort(retained)
	want := []string{"homeassistant/binary_sensor/camvisor/front/config", "homeassistant/camera/camvisor/front/config",
		"homeassistant/sensor/camvisor/front/config"}
	if !slices.Equal(retained, want) {
		t.Errorf("retained discovery configs %v, want %v", retained, want)
	}
}

// metricValue is a camvisor metric as /metrics serves it (0 when absent).
func metricValue(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			switch {
			case s.GetCounter() != nil:
				return s.GetCounter().GetValue()
			case s.GetGauge() != nil:
				return s.GetGauge().GetValue()
			}
		}
	}
	return 0
}

// TestMQTTBrokerDownPatrolGoesOn: the broker stopped for 30 s costs the
// patrol nothing: every cycle starts on time and captures its camera,
// while the messages that do not fit the queue are dropped and counted
// (camvisor_mqtt_dropped_total); mqtt_unreachable fires, is recorded in
// service_health, and resolves when the broker is back, where a
// subscriber finds camvisor online again and its events flowing.
func TestMQTTBrokerDownPatrolGoesOn(t *testing.T) {
	broker := testkit.Mosquitto(t)
	cam := camsim.Camera{Name: "yard", Mode: camsim.ModeMotion}
	cams := startCamsim(t, cam)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {cam}}, nil)
	interval := 2 * time.Second
	cfg.Subnets[0].Interval = testDuration(interval)
	cfg.Detector.EventGap = testDuration(time.Hour) // one event, updated every cycle
	withMQTT(cfg, broker, true, false)
	cfg.DB = t.TempDir() + "/camvisor.db"
	sub := broker.Subscribe(t, "camvisor/#", "homeassistant/#")
	h := startTreeWith(t, cams, cfg, func(env *Env) {
		env.Record = true
		env.Policy = DefaultPolicy()
		env.Policy.MQTT.Queue = 5
		env.Policy.MQTT.FirstBackoff = 200 * time.Millisecond
		env.Policy.MQTT.MaxBackoff = time.Second
	})
	sub.WaitFor(t, 0, 20*time.Second, "the yard's first event", isEvent(t, "yard", "new", ""))

	down := time.Now()
	mark := h.mark()
	broker.Stop()
	waitAfter(h, mark, 10*time.Second, "mqtt_unreachable firing", func(a *messages.AlertChanged) bool {
		return a.Rule == "mqtt_unreachable" && a.State == messages.AlertFiring
	})
	// 30 s without a broker: the cycles keep their pace, each captures.
	outage := 30 * time.Second
	waitAfter(h, mark, outage+10*time.Second, "a cycle 30 s after the broker went", func(e *messages.CycleEnded) bool {
		return e.StartedAt.After(down.Add(outage))
	})
	cycles := testkit.All(h.facts, mark, func(e *messages.CycleEnded) bool {
		return e.StartedAt.After(down) && !e.StartedAt.After(down.Add(outage))
	})
	if want := int(outage/interval) - 1; len(cycles) < want {
		t.Errorf("%d cycles in the %s the broker was down, want at least %d (interval %s)", len(cycles), outage, want, interval)
	}
	// Each cycle asks the camera, on time; its frame comes (but for a
	// capture the busy machine made miss its deadline: the broker has no
	// part in that, and the next cycle is on time all the same).
	missed := 0
	for i, e := range cycles {
		if e.OK+e.Failed+e.TimedOut != 1 || e.Skipped != 0 {
			t.Errorf("cycle %d did not ask the camera: %d ok, %d failed, %d timed out, %d skipped (%s)", e.Number, e.OK, e.Failed, e.TimedOut, e.Skipped, e.Why)
		}
		if e.OK != 1 {
			missed++
			t.Logf("cycle %d: %d ok, %d failed, %d timed out (%s)", e.Number, e.OK, e.Failed, e.TimedOut, e.Why)
		}
		if i > 0 {
			if gap := e.StartedAt.Sub(cycles[i-1].StartedAt); gap > interval*3/2 {
				t.Errorf("cycle %d started %s after the one before (interval %s)", e.Number, gap, interval)
			}
		}
	}
	if missed > len(cycles)/10 {
		t.Errorf("%d of %d cycles got no frame", missed, len(cycles))
	}
	dropped := metricValue(t, h.env.Metrics, "camvisor_mqtt_dropped_total")
	if dropped < 5 {
		t.Errorf("camvisor_mqtt_dropped_total %v after 30 s of updates into a queue of 5", dropped)
	}
	if up := metricValue(t, h.env.Metrics, "camvisor_mqtt_up"); up != 0 {
		t.Errorf("camvisor_mqtt_up %v while the broker is down", up)
	}

	// The broker back: the alert resolves, the subscriber (reconnected)
	// finds camvisor online, its discovery back, and new updates.
	back := sub.Mark()
	mark = h.mark()
	broker.Start()
	waitAfter(h, mark, 15*time.Second, "mqtt_unreachable resolved", func(a *messages.AlertChanged) bool {
		return a.Rule == "mqtt_unreachable" && a.State == messages.AlertResolved
	})
	sub.WaitFor(t, back, 15*time.Second, "camvisor online again", isPayload("camvisor/available", "online"))
	sub.WaitFor(t, back, 15*time.Second, "the yard's discovery config again", func(m testkit.Message) bool {
		return m.Topic == "homeassistant/camera/camvisor/yard/config" && len(m.Payload) > 0
	})
	sub.WaitFor(t, back, 15*time.Second, "the yard's events again", isEvent(t, "yard", "update", ""))
	if up := metricValue(t, h.env.Metrics, "camvisor_mqtt_up"); up != 1 {
		t.Errorf("camvisor_mqtt_up %v with the broker back", up)
	}
	// On record: down, then up again.
	testkit.Eventually(t, 10*time.Second, "service_health rows of mqtt: down, then up", func() bool {
		var rows []bool
		h.env.Store.DB.Select(&rows, "SELECT healthy FROM service_health WHERE service = 'mqtt' ORDER BY id")
		return slices.Equal(rows, []bool{false, true})
	})
}

// TestMQTTCommands: with commands on, <prefix>/<camera>/capture/set takes
// a frame now, as an operator's capture (the motion camera's event shows
// it to the subscriber); a retained command is not run (it would run at
// every reconnect); <prefix>/<camera>/pause/set pauses and resumes the
// camera, its state topic saying paused.
func TestMQTTCommands(t *testing.T) {
	broker := testkit.Mosquitto(t)
	list := []camsim.Camera{{Name: "door", Mode: camsim.ModeStatic}, {Name: "gate", Mode: camsim.ModeStatic}}
	cams := startCamsim(t, list...)
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": list}, nil)
	cfg.Detector.MinScore = 0.2 // one square appearing is motion enough
	withMQTT(cfg, broker, false, true)
	sub := broker.Subscribe(t, "camvisor/#")
	// Left on the broker before camvisor starts: not a command to run.
	sub.Publish(t, "camvisor/gate/capture/set", []byte("PRESS"), true)
	h := startTree(t, cams, cfg)
	sub.WaitFor(t, 0, 10*time.Second, "camvisor online", isPayload("camvisor/available", "online"))
	for _, c := range list {
		waitFor(h, 20*time.Second, c.Name+"'s first frame", func(d *messages.CaptureDone) bool {
			return d.Camera == c.Name && d.Cycle != 0 && d.Outcome == messages.OutcomeOK
		})
	}

	t.Run("capture", func(t *testing.T) {
		// The patrol's one frame (interval 1h) was still; the next one moves.
		camsimControl(t, cams, "door", `{"mode": "motion"}`)
		mark := sub.Mark()
		sub.Publish(t, "camvisor/door/capture/set", []byte("PRESS"), false)
		// The frame differs from the patrol's: motion, an event.
		sub.WaitFor(t, mark, 20*time.Second, "the door's event", isEvent(t, "door", "new", ""))
		done := waitFor(h, 5*time.Second, "the operator's capture", func(d *messages.CaptureDone) bool { return d.Camera == "door" && d.Cycle == 0 })
		if done.Outcome != messages.OutcomeOK {
			t.Errorf("capture: %s %s", done.Outcome, done.Error)
		}
		// The gate's retained command came at connect, long before: it did
		// not run. Commands for cameras that do not run, or that are not
		// commands, change nothing either.
		sub.Publish(t, "camvisor/nosuch/capture/set", []byte("PRESS"), false)
		sub.Publish(t, "camvisor/door/pause/set", []byte("maybe"), false)
		sub.Publish(t, "camvisor/door/capture/set", []byte("PRESS"), false)
		testkit.WaitCount(t, h.facts, testkit.Start, 2, 20*time.Second, "the door's second operator capture", func(d *messages.CaptureDone) bool {
			return d.Camera == "door" && d.Cycle == 0
		})
		if n := len(all(h, func(d *messages.CaptureDone) bool { return d.Cycle == 0 && d.Camera != "door" })); n != 0 {
			t.Errorf("%d operator captures of other cameras: the retained or unknown commands ran", n)
		}
	})

	t.Run("pause", func(t *testing.T) {
		mark := sub.Mark()
		sub.Publish(t, "camvisor/door/pause/set", []byte(`{"for": "1h", "reason": "lens cleaning"}`), false)
		sub.WaitFor(t, mark, 10*time.Second, "the door paused", isPayload("camvisor/door/state", "paused"))
		mark = sub.Mark()
		sub.Publish(t, "camvisor/door/pause/set", []byte("OFF"), false)
		sub.WaitFor(t, mark, 10*time.Second, "the door resumed", isPayload("camvisor/door/state", "ok"))
	})
}

// TestMQTTPausePayloads: what pause/set accepts, and what it refuses.
func TestMQTTPausePayloads(t *testing.T) {
	cases := []struct {
		payload string
		want    pauseCommand
		err     string
	}{
		{"ON", pauseCommand{}, ""},
		{"pause", pauseCommand{}, ""},
		{"off", pauseCommand{Resume: true}, ""},
		{" resume\n", pauseCommand{Resume: true}, ""},
		{"90m", pauseCommand{For: 90 * time.Minute}, ""},
		{`{"for": "1h", "reason": "lens cleaning"}`, pauseCommand{For: time.Hour, Reason: "lens cleaning"}, ""},
		{`{"resume": true}`, pauseCommand{Resume: true}, ""},
		{`{"for": "soon"}`, pauseCommand{}, `"soon"`},
		{`{"for": "-1h"}`, pauseCommand{}, "positive"},
		{`{"for": "1h", "resume": true}`, pauseCommand{}, "together"},
		{`{"until": "1h"}`, pauseCommand{}, "until"},
		{"maybe", pauseCommand{}, `"maybe"`},
		{"", pauseCommand{}, "ON, OFF"},
	}
	for _, c := range cases {
		got, err := parsePause([]byte(c.payload))
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.payload, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one naming %s", c.payload, err, c.err)
		case c.err == "" && got != c.want:
			t.Errorf("%q: %+v, want %+v", c.payload, got, c.want)
		}
	}
	topics := newMQTTTopics("home/cams")
	for topic, want := range map[string][2]string{
		"home/cams/door/capture/set": {"door", "capture"}, "home/cams/door/pause/set": {"door", "pause"},
		"home/cams/door/state": {}, "home/other/door/capture/set": {}, "home/cams//capture/set": {},
	} {
		cam, what, ok := topics.parseCommand(topic)
		if ok != (want[0] != "") || cam != want[0] || what != want[1] {
			t.Errorf("%s: %q %q %v", topic, cam, what, ok)
		}
	}
}

// TestMQTTPasswordStaysIn (invariant 6): the broker's password, given as
// ${MQTT_PASSWORD}, logs camvisor in, and is nowhere to be read: not in
// the log, the tree's description or the record (a sqlite3 dump) — also
// when the broker refuses it, where mqtt_unreachable says why without it.
func TestMQTTPasswordStaysIn(t *testing.T) {
	const good, bad = "mq-Pa55-w0rd-991", "mq-Wr0ng-w0rd-337"
	broker := testkit.MosquittoWithLogin(t, "camvisor", good)
	cams := startCamsim(t, camsim.Camera{Name: "door"})
	sub := broker.Subscribe(t, "camvisor/#")
	run := func(password string) (*harness, *testkit.SyncBuffer, string) {
		t.Helper()
		t.Setenv("MQTT_PASSWORD", password)
		db := filepath.Join(t.TempDir(), "camvisor.db")
		cfg, err := config.Parse([]byte(fmt.Sprintf("db: %s\nsubnets:\n  - name: lab\n    interval: 1h\n    cameras:\n"+
			"      - { id: door, url: %q, max_connections: 2 }\nmqtt: { url: %q, username: camvisor, password: \"${MQTT_PASSWORD}\" }\n",
			db, cams.URL("door"), broker.URL())))
		if err != nil {
			t.Fatal(err)
		}
		logs := &testkit.SyncBuffer{}
		h := startTreeWith(t, cams, cfg, func(env *Env) {
			env.Record = true
			env.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		return h, logs, db
	}
	shown := func(h *harness, logs *testkit.SyncBuffer, db string) string {
		t.Helper()
		node, err := h.tree.Describe(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		described, _ := json.Marshal(node)
		h.shutdown()
		dump, err := exec.Command("sqlite3", db, ".dump").CombinedOutput()
		if err != nil {
			t.Fatalf("sqlite3 .dump: %v: %s", err, dump)
		}
		if !bytes.Contains(dump, []byte("${MQTT_PASSWORD}")) {
			t.Error("the recorded config does not show the password as ${MQTT_PASSWORD}")
		}
		return logs.String() + string(described) + string(dump)
	}

	// The right password: connected, online, then offline at the stop.
	mark := sub.Mark()
	h, logs, db := run(good)
	sub.WaitFor(t, mark, 10*time.Second, "camvisor online", isPayload("camvisor/available", "online"))
	everything := shown(h, logs, db)
	sub.WaitFor(t, mark, 10*time.Second, "camvisor offline at its stop", isPayload("camvisor/available", "offline"))

	// A wrong one: refused, unreachable, and the reason says so.
	h, logs, db = run(bad)
	alert := waitFor(h, 10*time.Second, "mqtt_unreachable", func(a *messages.AlertChanged) bool { return a.Rule == "mqtt_unreachable" })
	if !strings.Contains(strings.ToLower(alert.Detail), "not authorized") {
		t.Errorf("mqtt_unreachable says %q", alert.Detail)
	}
	everything += shown(h, logs, db)
	for _, secret := range []string{good, bad} {
		if i := strings.Index(everything, secret); i >= 0 {
			t.Errorf("the password %q is shown: …%s…", secret, everything[max(0, i-200):i+len(secret)])
		}
	}
}
