package actors

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"camvisor/actors/config"
	"camvisor/messages"
)

// What the mqtt actor publishes, topic by topic and payload by payload
// (actors/MQTT.md has the table).

// mqttMessage is one message for the broker. Every message goes with QoS 1:
// a PUBACK tells the link it arrived.
type mqttMessage struct {
	topic   string
	payload []byte
	retain  bool
}

// mqttTopics spells the topics of one prefix.
type mqttTopics struct {
	prefix string
	// node names this camvisor in Home Assistant's discovery topics: the
	// prefix in the characters discovery allows.
	node string
}

func newMQTTTopics(prefix string) mqttTopics {
	return mqttTopics{prefix: prefix, node: discoveryID(prefix)}
}

func (t mqttTopics) available() string       { return t.prefix + "/available" }
func (t mqttTopics) events() string          { return t.prefix + "/events" }
func (t mqttTopics) alerts() string          { return t.prefix + "/alerts" }
func (t mqttTopics) state(cam string) string { return t.prefix + "/" + cam + "/state" }
func (t mqttTopics) snapshot(cam string) string {
	return t.prefix + "/" + cam + "/snapshot"
}

// command is <prefix>/<camera>/<what>/set.
func (t mqttTopics) command(cam, what string) string {
	return t.prefix + "/" + cam + "/" + what + "/set"
}

// commandFilters are the subscriptions of commands: true.
func (t mqttTopics) commandFilters() []string {
	return []string{t.command("+", mqttCapture), t.command("+", mqttPause)}
}

// parseCommand reads <prefix>/<camera>/<what>/set.
func (t mqttTopics) parseCommand(topic string) (cam, what string, ok bool) {
	rest, ok := strings.CutPrefix(topic, t.prefix+"/")
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[2] != "set" || parts[0] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// The commands camvisor takes (commands: true).
const (
	mqttCapture = "capture"
	mqttPause   = "pause"
)

// Home Assistant's discovery: homeassistant/<component>/<node>/<object>/config.
const haDiscoveryPrefix = "homeassistant"

// haComponents are the entities of one camera's device.
var haComponents = []string{"camera", "binary_sensor", "sensor"}

func (t mqttTopics) discovery(component, cam string) string {
	return haDiscoveryPrefix + "/" + component + "/" + t.node + "/" + discoveryID(cam) + "/config"
}

// discoveryFilter matches every discovery config of this node: those an
// earlier run published included.
func (t mqttTopics) discoveryFilter() string { return haDiscoveryPrefix + "/+/" + t.node + "/+/config" }

// parseDiscovery reads a discovery config topic of this node: the object
// (a camera's discovery id).
func (t mqttTopics) parseDiscovery(topic string) (object string, ok bool) {
	parts := strings.Split(topic, "/")
	if len(parts) != 5 || parts[0] != haDiscoveryPrefix || parts[2] != t.node || parts[4] != "config" {
		return "", false
	}
	return parts[3], true
}

// discoveryID is s in the characters Home Assistant allows in a node or
// object id ([A-Za-z0-9_-]); a camera id's '.' becomes '_'.
func discoveryID(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// displayName is how MQTT and Home Assistant name a camera to people:
// cameras[].name, in any script, else its id.
func displayName(c config.Camera) string { return c.DisplayName() }

// mqttStates are the values of <prefix>/<camera>/state, for the state
// sensor's options.
var mqttStates = []messages.CameraHealth{messages.HealthOK, messages.HealthFailing, messages.HealthBackoff,
	messages.HealthBusy, messages.HealthPaused}

// haDiscovery is camera c's discovery configs, retained: a camera entity
// showing the snapshot topic, a motion binary sensor fed by the events
// topic, a state sensor; all on one device, all unavailable while
// <prefix>/available says offline.
func (t mqttTopics) haDiscovery(c config.Camera, version string) []mqttMessage {
	obj := discoveryID(c.ID)
	id := "camvisor_" + t.node + "_" + obj
	device := map[string]any{"identifiers": []string{id}, "name": displayName(c), "manufacturer": "camvisor",
		"model": "patrolled IP camera"}
	origin := map[string]any{"name": "camvisor"}
	if version != "" {
		device["sw_version"], origin["sw_version"] = version, version
	}
	common := func(component string) map[string]any {
		return map[string]any{"unique_id": id + "_" + component, "availability_topic": t.available(),
			"payload_available": "online", "payload_not_available": "offline", "device": device, "origin": origin}
	}
	camera := common("camera")
	camera["name"] = nil // the device's own entity: shown by the device's name
	camera["topic"] = t.snapshot(c.ID)
	motion := common("binary_sensor")
	motion["name"] = "Motion"
	motion["device_class"] = "motion"
	motion["state_topic"] = t.events()
	// An event of another camera renders empty, which Home Assistant
	// ignores; the camera id is a plain word (config's id pattern).
	motion["value_template"] = "{% if value_json.after.camera == '" + c.ID + "' %}" +
		"{{ 'OFF' if value_json.type == 'end' else 'ON' }}{% endif %}"
	motion["payload_on"], motion["payload_off"] = "ON", "OFF"
	state := common("sensor")
	state["name"] = "State"
	state["state_topic"] = t.state(c.ID)
	state["device_class"] = "enum"
	state["options"] = mqttStates
	state["icon"] = "mdi:cctv"
	var out []mqttMessage
	for _, e := range []struct {
		component string
		config    map[string]any
	}{{"camera", camera}, {"binary_sensor", motion}, {"sensor", state}} {
		body, _ := json.Marshal(e.config) // maps of strings: cannot fail
		out = append(out, mqttMessage{topic: t.discovery(e.component, c.ID), payload: body, retain: true})
	}
	return out
}

// cleared is an empty retained message: it removes topic's retained one
// (and a discovery config's entity).
func cleared(topic string) mqttMessage { return mqttMessage{topic: topic, retain: true} }

// eventObject is one event as Frigate's users know its MQTT events: the
// fields of Frigate's tracked object that apply to camvisor's events
// (zones, clips and sub labels do not: empty or null), and camvisor's own
// after them. Times are Unix seconds; box and region are frame pixels
// x_min, y_min, x_max, y_max, region the whole frame the detector saw.
type eventObject struct {
	ID            string        `json:"id"`
	Camera        string        `json:"camera"`
	FrameTime     float64       `json:"frame_time"`
	Snapshot      eventSnapshot `json:"snapshot"`
	Label         string        `json:"label"`
	SubLabel      *string       `json:"sub_label"`
	TopScore      float64       `json:"top_score"`
	FalsePositive bool          `json:"false_positive"`
	StartTime     float64       `json:"start_time"`
	EndTime       *float64      `json:"end_time"`
	Score         float64       `json:"score"`
	Box           messages.Box  `json:"box"`
	Area          int           `json:"area"`
	Ratio         float64       `json:"ratio"`
	Region        messages.Box  `json:"region"`
	CurrentZones  []string      `json:"current_zones"`
	EnteredZones  []string      `json:"entered_zones"`
	HasSnapshot   bool          `json:"has_snapshot"`
	HasClip       bool          `json:"has_clip"`

	CameraName string `json:"camera_name"`
	Subnet     string `json:"subnet"`
	Detector   string `json:"detector"`
	Detections int    `json:"detections"`
}

// eventSnapshot is the frame of <prefix>/<camera>/snapshot: the one that
// opened the event.
type eventSnapshot struct {
	FrameTime float64      `json:"frame_time"`
	Box       messages.Box `json:"box"`
	Area      int          `json:"area"`
	Region    messages.Box `json:"region"`
	Score     float64      `json:"score"`
}

// eventJSON is a message of <prefix>/events.
type eventJSON struct {
	Type   string      `json:"type"` // new, update, end
	Before eventObject `json:"before"`
	After  eventObject `json:"after"`
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

func boxArea(b messages.Box) int { return max(b[2]-b[0], 0) * max(b[3]-b[1], 0) }

func boxRatio(b messages.Box) float64 {
	if h := b[3] - b[1]; h > 0 {
		return float64(b[2]-b[0]) / float64(h)
	}
	return 0
}

// openedEvent is the event e opened, as <prefix>/events first shows it.
func openedEvent(e *messages.EventOpened, name string) *eventObject {
	region := messages.Box{0, 0, e.Width, e.Height}
	at := unixSeconds(e.At)
	return &eventObject{ID: strconv.FormatInt(e.ID, 10), Camera: e.Camera, FrameTime: at, Label: e.Label,
		Snapshot: eventSnapshot{FrameTime: at, Box: e.Box, Area: boxArea(e.Box), Region: region, Score: e.Score},
		TopScore: e.Score, StartTime: at, Score: e.Score, Box: e.Box, Area: boxArea(e.Box), Ratio: boxRatio(e.Box), Region: region,
		CurrentZones: []string{}, EnteredZones: []string{}, HasSnapshot: len(e.JPEG) > 0,
		CameraName: name, Subnet: e.Subnet, Detector: e.Detector, Detections: 1}
}

// knownEvent is an event this actor did not see open (it restarted since):
// what the fact tells of it.
func knownEvent(id int64, camera, label, name string) *eventObject {
	return &eventObject{ID: strconv.FormatInt(id, 10), Camera: camera, Label: label, CurrentZones: []string{}, EnteredZones: []string{},
		CameraName: name}
}

// updated is o after the detection of e joined it.
func (o eventObject) updated(e *messages.EventUpdated) *eventObject {
	o.FrameTime, o.Score, o.TopScore, o.Detections = unixSeconds(e.LastSeen), e.LastScore, e.Score, e.Detections
	o.Box, o.Area, o.Ratio = e.Box, boxArea(e.Box), boxRatio(e.Box)
	return &o
}

// ended is o once e ended it: its end time is its last detection's.
func (o eventObject) ended(e *messages.EventEnded) *eventObject {
	end := unixSeconds(e.LastSeen)
	o.EndTime, o.TopScore, o.Detections = &end, e.Score, e.Detections
	if o.StartTime == 0 {
		o.StartTime = unixSeconds(e.At)
	}
	return &o
}

// eventMessage is the <prefix>/events message of a change from before to after.
func (t mqttTopics) eventMessage(kind string, before, after *eventObject) mqttMessage {
	body, _ := json.Marshal(eventJSON{Type: kind, Before: *before, After: *after}) // plain values: cannot fail
	return mqttMessage{topic: t.events(), payload: body}
}

// alertMessage is an alert change on <prefix>/alerts, as the webhook
// posts it in camvisor's format.
func (t mqttTopics) alertMessage(c *messages.AlertChanged, run string) mqttMessage {
	body, _ := json.Marshal(alertJSON(c, run))
	return mqttMessage{topic: t.alerts(), payload: body}
}
