// Package config is camvisor's configuration: the YAML file an operator
// writes, its documented defaults (all in Defaults, nowhere else), and the
// validation that refuses a bad file before anything starts.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"camvisor/actors/redact"

	"go.yaml.in/yaml/v3"
)

// Config is the whole server configuration.
type Config struct {
	// Listen is the HTTP address of the API and dashboard.
	Listen string `yaml:"listen"`
	// DB is the path of the SQLite file that records everything.
	DB string `yaml:"db"`
	// FFmpeg is how snapshots are taken.
	FFmpeg FFmpeg `yaml:"ffmpeg"`
	// Subnets are the groups of cameras patrolled together.
	Subnets []Subnet `yaml:"subnets"`
	// Record is how long and how the incident record is kept.
	Record Record `yaml:"record"`
	// Go2RTC is the restreamer used for live view; without a URL live view
	// is disabled and everything else works.
	Go2RTC Go2RTC `yaml:"go2rtc"`
	// Detector looks at every frame.
	Detector Detector `yaml:"detector"`
	// Playback is when the backend starts a live view on its own.
	Playback Playback `yaml:"playback"`
	// Auth protects the API and dashboard.
	Auth Auth `yaml:"auth"`
	// Web is how the API and dashboard are reached, and what the HTTP
	// server offers besides them.
	Web Web `yaml:"web"`
	// Reaper is the last line of defence against leaked processes.
	Reaper Reaper `yaml:"reaper"`
	// Alerts are the rules an operator is warned by.
	Alerts Alerts `yaml:"alerts"`
	// Patrol is how the patrol treats cameras that fail or are busy, and
	// which it keeps a stream of.
	Patrol Patrol `yaml:"patrol"`
	// Cluster makes this process one node of several sharing the cameras
	// (cluster.go); absent, it is the only one.
	Cluster Cluster `yaml:"cluster"`
	// MQTT publishes events, camera states and alerts to an MQTT broker
	// (Home Assistant, Node-RED); without a URL nothing is published.
	MQTT MQTT `yaml:"mqtt"`

	// shown is the same file decoded without expanding ${NAME} in strings
	// and without the password files: what Redacted shows. Nil for a
	// Config built in code.
	shown *Config
}

// Patrol configures what the patrol does with cameras that do not answer,
// and which cameras stream.
type Patrol struct {
	// MaxBackoff caps the wait between two probes of a camera whose
	// breaker is open (after alerts.camera_failing_after failures in a
	// row): the wait starts at the subnet's interval and doubles.
	MaxBackoff Duration `yaml:"max_backoff"`
	// StreamBelow puts in stream mode every camera patrolled at least this
	// often (its subnet's interval at most this) whose mode is not set. 0
	// (the default) puts none: only cameras with mode: stream stream.
	StreamBelow Duration `yaml:"stream_below"`
}

// Reaper configures the scan for processes no actor owns.
type Reaper struct {
	// Interval is how often /proc is scanned (also once before the first cycle).
	Interval Duration `yaml:"interval"`
}

// Alerts configures the alert rules and their delivery.
type Alerts struct {
	// CameraFailingAfter is K: consecutive failed captures that fire
	// camera_failing (and stop retries of that camera's captures).
	CameraFailingAfter int `yaml:"camera_failing_after"`
	// CameraBusyAfter is how many cycles in a row a camera must answer
	// busy (its connections taken by other clients) to fire camera_busy.
	CameraBusyAfter int `yaml:"camera_busy_after"`
	// Webhook, when set, receives every alert change as a JSON POST.
	Webhook Webhook `yaml:"webhook"`
}

// Webhook is an optional alert receiver.
type Webhook struct {
	URL     string   `yaml:"url"`
	Timeout Duration `yaml:"timeout"`
	// MaxAttempts is how often one delivery is tried, with back-off.
	MaxAttempts int `yaml:"max_attempts"`
	// Format is the body posted: "camvisor" (camvisor's own JSON, one
	// alert change per POST) or "alertmanager" (Alertmanager's
	// /api/v2/alerts body: a list of alerts with labels, annotations,
	// startsAt and endsAt).
	Format string `yaml:"format"`
}

// Webhook formats (alerts.webhook.format).
const (
	FormatCamvisor     = "camvisor"
	FormatAlertmanager = "alertmanager"
)

// MQTT configures the broker camvisor publishes to (actors/MQTT.md).
type MQTT struct {
	// URL is the broker: mqtt://host[:1883] or mqtts://host[:8883] (TLS,
	// checked against the system's certificates); empty disables MQTT.
	URL string `yaml:"url"`
	// Username and Password log in to the broker; the password is a
	// secret (write ${MQTT_PASSWORD}), never shown.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// TopicPrefix starts every topic camvisor publishes:
	// <prefix>/available, <prefix>/<camera>/state, <prefix>/events ...
	TopicPrefix string `yaml:"topic_prefix"`
	// Discovery publishes Home Assistant MQTT discovery configs
	// (homeassistant/...) for every camera: a camera entity, a motion
	// binary sensor and a state sensor, one device per camera.
	Discovery bool `yaml:"discovery"`
	// Commands subscribes to <prefix>/<camera>/capture/set and
	// <prefix>/<camera>/pause/set: anyone who may publish on the broker
	// may then take captures and pause cameras. Off unless set.
	Commands bool `yaml:"commands"`
}

// Enabled reports whether a broker is configured.
func (m MQTT) Enabled() bool { return m.URL != "" }

// Auth configures the operator token.
type Auth struct {
	// Token is the operator token; empty means one is generated at first
	// start and kept next to the database (<db>.token, mode 0600).
	Token string `yaml:"token"`
}

// Web configures how the API and dashboard are reached, and what the
// HTTP server offers besides them.
type Web struct {
	// AllowedHosts are the host names, besides the listen address's own
	// (its IP, and localhost for a loopback address), that requests may
	// name in their Host header: the name a TLS proxy in front forwards,
	// for one. A request naming any other host is refused (DNS
	// rebinding). "name" takes any port, "name:port" that port only.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// PProf serves Go's profiles (GET /debug/pprof/...) behind the
	// operator token: where camvisor's own CPU goes, taken on demand.
	// Off by default: a profile costs CPU while it is taken.
	PProf bool `yaml:"pprof"`
}

// Detector configures what looks at the frames.
type Detector struct {
	// Kind is "motion" (built in), "http" (an object-detection server) or
	// "off" (no detector: frames are recorded, nothing looks at them).
	Kind string `yaml:"kind"`
	// URL is the http detector's endpoint.
	URL string `yaml:"url"`
	// MinScore is the least score a detection needs to become an event.
	MinScore float64 `yaml:"min_score"`
	// Labels keeps only these labels (http); empty keeps all.
	Labels []string `yaml:"labels"`
	// Timeout bounds one request to the http detector.
	Timeout Duration `yaml:"timeout"`
	// Queue is how many frames may wait for the detector; more are dropped
	// and counted, so a slow detector never slows the patrol.
	Queue int `yaml:"queue"`
	// EventGap merges detections of one camera and label that come closer
	// together than this into one event.
	EventGap Duration `yaml:"event_gap"`
}

// Playback configures which events start a live view.
type Playback struct {
	// Labels that start a live view; empty means every label.
	Labels []string `yaml:"labels"`
	// MinScore is the least score that starts a live view.
	MinScore float64 `yaml:"min_score"`
	// Cooldown is how long after a camera's live view ended a new event
	// may start another on it.
	Cooldown Duration `yaml:"cooldown"`
	// MaxLive is P: at most this many cameras play at once.
	MaxLive int `yaml:"max_live"`
}

// Go2RTC configures the gateway to a go2rtc server.
type Go2RTC struct {
	// URL is go2rtc's API, e.g. http://127.0.0.1:1984; empty disables live view.
	URL string `yaml:"url"`
	// PlayerURL is go2rtc as the browser reaches it; empty means URL.
	PlayerURL string `yaml:"player_url"`
	// Lease is the default playback time of a live view.
	Lease Duration `yaml:"lease"`
	// RequestTimeout bounds every request to go2rtc (it sets none itself).
	RequestTimeout Duration `yaml:"request_timeout"`
}

// Enabled reports whether a go2rtc is configured.
func (g Go2RTC) Enabled() bool { return g.URL != "" }

// Player is the base URL browsers use: never with go2rtc's credentials
// (a browser logs in to go2rtc on its own; a page is not handed the
// password that opens every camera).
func (g Go2RTC) Player() string {
	if g.PlayerURL != "" {
		return redact.WithoutUserinfo(g.PlayerURL)
	}
	if g.URL == "" {
		return ""
	}
	return redact.WithoutUserinfo(g.URL)
}

// FFmpeg configures the ffmpeg child processes.
type FFmpeg struct {
	// Path is the ffmpeg executable, looked up in PATH when not absolute.
	Path string `yaml:"path"`
	// CaptureTimeout is the wall-clock limit of one capture, retries included.
	CaptureTimeout Duration `yaml:"capture_timeout"`
	// KillGrace is how long a process has after SIGTERM before SIGKILL.
	KillGrace Duration `yaml:"kill_grace"`
	// RTSPTimeout is ffmpeg's socket I/O timeout (-timeout).
	RTSPTimeout Duration `yaml:"rtsp_timeout"`
	// Retries is how many times a failed capture is retried within its
	// deadline (a timed-out capture is never retried).
	Retries *int `yaml:"retries"`
	// StallTimeout is how long a stream-mode child may go without a frame
	// before it is killed and replaced. 0 (the default) means
	// DefaultStallGOPs times the keyframe interval it sees, and at least
	// DefaultStallMin.
	StallTimeout Duration `yaml:"stall_timeout"`
}

// StallTimeoutFor is the stall timeout of a stream whose keyframes come
// every gop (0 when not known yet).
func (f FFmpeg) StallTimeoutFor(gop time.Duration) time.Duration {
	if f.StallTimeout.Duration > 0 {
		return f.StallTimeout.Duration
	}
	return max(DefaultStallMin, DefaultStallGOPs*gop)
}

// Camera modes (Camera.Mode).
const (
	ModeSnapshot = "snapshot" // one ffmpeg per capture
	ModeStream   = "stream"   // one persistent ffmpeg per camera, keyframes only
)

// Streams reports whether camera cam of subnet runs in stream mode: its
// mode says so, or it says nothing and its subnet's interval is at most
// patrol.stream_below; never a camera with a snapshot_url.
func (c *Config) Streams(subnet string, cam Camera) bool {
	if cam.SnapshotURL != "" {
		return false // its frames come over HTTP: no RTSP connection to keep
	}
	switch cam.Mode {
	case ModeStream:
		return true
	case ModeSnapshot:
		return false
	}
	if c.Patrol.StreamBelow.Duration <= 0 {
		return false
	}
	for _, s := range c.Subnets {
		if s.Name == subnet {
			return s.Interval.Duration <= c.Patrol.StreamBelow.Duration
		}
	}
	return false
}

// Subnet is a group of cameras visited together, one cycle per interval.
type Subnet struct {
	Name string `yaml:"name"`
	// Interval is from the start of one cycle to the start of the next.
	Interval Duration `yaml:"interval"`
	// Concurrency is how many cameras of this subnet are captured at once.
	Concurrency int `yaml:"concurrency"`
	// Via is how the patrol takes its frames: "ffmpeg" (one ffmpeg per
	// capture), "go2rtc" (through a camvisor_<camera> source registered for
	// the cycle and removed at its end), or "auto": go2rtc while the
	// gateway is healthy, ffmpeg while it is not. Empty means auto when
	// go2rtc.url is set, else ffmpeg.
	Via     string   `yaml:"via"`
	Cameras []Camera `yaml:"cameras"`
}

// Patrol paths (Subnet.Via).
const (
	ViaFFmpeg = "ffmpeg"
	ViaGo2RTC = "go2rtc"
	ViaAuto   = "auto"
)

// PatrolVia is how subnet s's patrol takes its frames, its default
// resolved.
func (c *Config) PatrolVia(s Subnet) string {
	switch {
	case s.Via != "":
		return s.Via
	case c.Go2RTC.Enabled():
		return ViaAuto
	}
	return ViaFFmpeg
}

// Camera is one IP camera.
type Camera struct {
	ID string `yaml:"id"`
	// URL is the RTSP URL, credentials included. Never log it: use Redacted.
	URL string `yaml:"url"`
	// MaxConnections is N, the camera's connection limit: ffmpeg
	// children, HTTP snapshot fetches and go2rtc leases together never
	// exceed it.
	MaxConnections int `yaml:"max_connections"`
	// Queue is how many capture requests may wait for a free slot.
	Queue int `yaml:"queue"`
	// PasswordFile names a file that holds the camera's password (a
	// systemd credential, a Docker secret): it is put into url, and into
	// snapshot_url and detect_url when they name a user without one.
	// Relative to the config file's directory.
	PasswordFile string `yaml:"password_file"`
	// SnapshotURL is the camera's own HTTP(S) JPEG endpoint. When set,
	// captures fetch it (Basic or Digest auth) instead of running ffmpeg:
	// one HTTP connection, counted against max_connections like an RTSP
	// one, under the same deadline.
	SnapshotURL string `yaml:"snapshot_url"`
	// DetectURL is a sub-stream (lower resolution) the patrol's captures
	// read for detection; an operator's capture and the live view use
	// URL. Counted against the same max_connections.
	DetectURL string `yaml:"detect_url"`
	// InputArgs are extra ffmpeg input options, placed before -i (after
	// camvisor's own, so they override them).
	InputArgs []string `yaml:"input_args"`
	// HWAccel is ffmpeg's -hwaccel for this camera's decoding (vaapi,
	// cuda, qsv, auto, ...); empty decodes in software.
	HWAccel string `yaml:"hwaccel"`
	// Go2RTCStreams names the streams of the operator's go2rtc that read
	// this camera (go2rtc.yaml's, Home Assistant's): their connections
	// count against its budget whatever their source says, a frame rides
	// one that is open, the patrol's go2rtc frames go through one instead
	// of camvisor_<camera>, and a live view plays one. Declared beats
	// matched: without it camvisor matches streams on their source.
	Go2RTCStreams []string `yaml:"go2rtc_streams"`
	// Mode is how the patrol takes this camera's frames: "snapshot" (one
	// ffmpeg per capture) or "stream" (one ffmpeg that stays connected,
	// decodes keyframes only and holds one slot; captures take its newest
	// frame). Empty: stream when the subnet's interval is at most
	// patrol.stream_below, else snapshot.
	Mode string `yaml:"mode"`
	// Name is the camera's display name, in any script (玄関, Einfahrt):
	// what the dashboard, the reports and MQTT show. The id stays what
	// URLs, files and actor names use. Empty: the id is shown.
	Name string `yaml:"name,omitempty"`
	// Enabled false keeps the camera listed but never patrolled: no
	// process, no slot, no capture, as if paused for good. Unset: true.
	Enabled *bool `yaml:"enabled,omitempty"`
	// Motion tunes the built-in motion detector for this camera: its
	// threshold, its least area, and the parts of the picture it ignores.
	Motion Motion `yaml:"motion,omitempty"`
}

// DisplayName is what people see for the camera: its name, else its id.
func (c Camera) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// IsEnabled reports whether the patrol visits the camera (enabled is
// unset or true).
func (c Camera) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// Motion is a camera's own settings of the built-in motion detector
// (detector.kind motion). Zero fields take the detector's defaults.
type Motion struct {
	// Threshold is how much a part of the picture must change in
	// brightness (1-255) between two frames to count as changed.
	Threshold int `yaml:"threshold,omitempty"`
	// MinArea is the least share of the picture (above 0, at most 1) that
	// must change for motion to be reported.
	MinArea float64 `yaml:"min_area,omitempty"`
	// Masks are polygons in the picture's relative coordinates (0-1, x
	// then y, from the top left: [x1, y1, x2, y2, x3, y3, ...]) whose
	// changes are ignored: a timestamp overlay, a tree in the wind.
	Masks [][]float64 `yaml:"masks,omitempty"`
}

// IsZero reports settings that leave every default (yaml omits them).
func (m Motion) IsZero() bool { return m.Threshold == 0 && m.MinArea == 0 && len(m.Masks) == 0 }

// PatrolURL is the RTSP URL the patrol's ffmpeg captures read: the
// detection sub-stream when there is one.
func (c Camera) PatrolURL() string {
	if c.DetectURL != "" {
		return c.DetectURL
	}
	return c.URL
}

// Record configures the SQLite incident record.
type Record struct {
	// Retention is how long rows are kept.
	Retention Duration `yaml:"retention"`
	// SampleInterval is how often per-camera process counts are sampled.
	SampleInterval Duration `yaml:"sample_interval"`
	// QueueRows is how many rows may wait for the disk before rows are dropped.
	QueueRows int `yaml:"queue_rows"`
}

// Load reads, expands, defaults and validates the file at path; a
// password_file is read relative to the file's directory.
func Load(path string) (*Config, error) { return LoadWith(path, nil) }

// LoadWith is Load with override applied before the file is validated:
// the command line's values (--listen, --db, --node, ...), which take
// precedence over the file's and are validated with it.
func LoadWith(path string, override func(*Config)) (*Config, error) {
	data, err := readSmall(path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := parse(data, filepath.Dir(path), override)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes YAML, expands ${NAME} from the environment, reads the
// password files (relative to the working directory), applies Defaults
// and validates. Errors name the field path and the offending value, with
// passwords redacted.
func Parse(data []byte) (*Config, error) { return parse(data, ".", nil) }

// MaxFileSize bounds a configuration file: thousands of cameras fit in a
// fraction of it, and a file that is not a configuration (a pasted log, a
// device) must not hold a reload.
const MaxFileSize = 16 << 20

// maxNodes bounds the nodes the loader visits, aliases and merges
// followed: a file of a few kilobytes whose aliases multiply (an alias
// bomb, a "billion laughs") would otherwise hold `check` and a reload for
// hours. A real configuration visits a few nodes per key.
const maxNodes = 1_000_000

func parse(data []byte, dir string, override func(*Config)) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("the file has %d bytes, more than the %d a configuration may have", len(data), MaxFileSize)
	}
	// Two decodings of the same text: the one that runs, with ${NAME}
	// expanded and the password files read, and the one that is shown
	// (recorded, served, logged), where a string keeps its ${NAME}.
	run, values, err := decode(data, true)
	if err != nil {
		return nil, err
	}
	shown, _, err := decode(data, false)
	if err != nil {
		return nil, err
	}
	if err := run.readPasswordFiles(dir); err != nil {
		return nil, err
	}
	if override != nil {
		override(run)
	}
	if err := run.Validate(); err != nil {
		// A message quotes the value it refuses: the expanded one, maybe
		// a secret outside a URL (which redact would not recognise).
		return nil, errors.New(hideValues(err.Error(), values))
	}
	run.shown = shown
	return run, nil
}

// hideValues replaces each environment value a string took in msg by ***.
func hideValues(msg string, values []string) string {
	for _, v := range values {
		msg = strings.ReplaceAll(msg, v, "***")
	}
	return msg
}

// onCommandLine reports whether a field's value goes onto ffmpeg's
// command line, which every local user can read (/proc/<pid>/cmdline).
func onCommandLine(path string) bool {
	i := strings.LastIndex(path, ".")
	field, _, _ := strings.Cut(path[i+1:], "[")
	return strings.HasPrefix(path, "subnets[") && (field == "input_args" || field == "hwaccel")
}

// decode parses data into a defaulted Config. Every scalar's ${NAME} is
// expanded from the environment when secrets is set; otherwise only those
// of fields that are not strings (numbers and durations are no secrets,
// and must expand to decode). It also returns the values the strings
// took from the environment (secrets, maybe), longest first.
func decode(data []byte, secrets bool) (*Config, []string, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		return nil, nil, fmt.Errorf("not valid YAML: %s", redact.Text(err.Error()))
	}
	if len(root.Content) == 0 {
		return nil, nil, errors.New("empty file: at least one subnet with one camera is needed")
	}
	seen := map[*yaml.Node]bool{}
	var values []string
	w := &walker{budget: maxNodes}
	w.scalar = func(n *yaml.Node, t reflect.Type, path string) error {
		if seen[n] || (!secrets && t.Kind() == reflect.String) {
			return nil
		}
		seen[n] = true
		if onCommandLine(path) && hasEnvRef(n.Value) {
			return fmt.Errorf("%s: %q takes a value from the environment, which would be on ffmpeg's command line for every local user to read: "+
				"write the value itself (a secret belongs in the camera's url or password_file)", path, n.Value)
		}
		v, err := expandEnv(n.Value, os.LookupEnv)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if t.Kind() == reflect.String && v != n.Value {
			values = append(values, envValues(n.Value)...)
		}
		n.Value = v
		return nil
	}
	if err := w.walk(root.Content[0], reflect.TypeOf(Config{}), ""); err != nil {
		return nil, nil, err
	}
	cfg := Defaults()
	if err := root.Content[0].Decode(cfg); err != nil {
		return nil, nil, fmt.Errorf("%s", hideValues(redact.Text(err.Error()), values))
	}
	cfg.applyDefaults()
	slices.SortFunc(values, func(a, b string) int { return len(b) - len(a) })
	return cfg, values, nil
}

// walker goes through the YAML mapping against the struct's yaml tags: an
// unknown key is reported with its full path (subnets[0].cameras[1].foo),
// and scalar is called for every scalar with the type it decodes into. It
// visits at most budget nodes.
type walker struct {
	scalar func(n *yaml.Node, t reflect.Type, path string) error
	budget int
	fields map[reflect.Type]map[string]reflect.Type // each struct's keys, read once
}

// fieldsOf is struct type t's YAML keys and their types.
func (w *walker) fieldsOf(t reflect.Type) map[string]reflect.Type {
	if f, ok := w.fields[t]; ok {
		return f
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	if w.fields == nil {
		w.fields = map[reflect.Type]map[string]reflect.Type{}
	}
	w.fields[t] = fields
	return fields
}

// errTooManyNodes is the loader's answer to an alias bomb.
var errTooManyNodes = fmt.Errorf("its aliases and merge keys expand to more than %d nodes: refused (an alias bomb?)", maxNodes)

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) error {
	if w.budget--; w.budget < 0 {
		return errTooManyNodes
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode {
		return w.scalar(n, t, path)
	}
	switch {
	case t.Kind() == reflect.Struct && t != reflect.TypeOf(Duration{}):
		if n.Kind != yaml.MappingNode {
			return nil // a type error the decoder reports with its line
		}
		fields := w.fieldsOf(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if isMerge(n.Content[i]) {
				// <<: *defaults (or a list of them): the merged mappings'
				// keys belong to this struct, and are checked as its own.
				if err := w.walkMerge(n.Content[i+1], t, path); err != nil {
					return err
				}
				continue
			}
			if path == "" && strings.HasPrefix(key, extensionPrefix) {
				continue // a place for anchors; used only through aliases
			}
			ft, ok := fields[key]
			if !ok {
				return fmt.Errorf("%s: unknown key %q (line %d)", join(path, key), key, n.Content[i].Line)
			}
			if err := w.walk(n.Content[i+1], ft, join(path, key)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, item := range n.Content {
			if err := w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// extensionPrefix starts the top-level keys camvisor ignores, as Docker
// Compose does: a place to define anchors (x-tapo: &tapo {...}) that
// cameras merge (<<: *tapo).
const extensionPrefix = "x-"

// isMerge reports whether a mapping key is YAML's merge key <<.
func isMerge(key *yaml.Node) bool {
	return key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge"
}

// walkMerge walks the mappings a merge key brings in: one (an alias or a
// mapping written in place) or a list of them.
func (w *walker) walkMerge(n *yaml.Node, t reflect.Type, path string) error {
	if w.budget--; w.budget < 0 {
		return errTooManyNodes
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		return w.walk(n, t, path)
	case yaml.SequenceNode:
		for _, item := range n.Content {
			if err := w.walkMerge(item, t, path); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%s: << (line %d) must merge a mapping or a list of mappings, e.g. <<: *defaults", join(path, "<<"), n.Line)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Cameras lists every camera with the subnet it belongs to.
func (c *Config) Cameras() []SubnetCamera {
	var out []SubnetCamera
	for _, s := range c.Subnets {
		for _, cam := range s.Cameras {
			out = append(out, SubnetCamera{Subnet: s.Name, Interval: s.Interval.Duration, Camera: cam})
		}
	}
	return out
}

// SubnetCamera is a camera and the name of its subnet.
type SubnetCamera struct {
	Subnet   string
	Interval time.Duration // the subnet's
	Camera
}

// display is the configuration as it may be shown: strings keep their
// ${NAME}, cameras their password_file (not its content).
func (c *Config) display() *Config {
	if c.shown == nil {
		return c
	}
	d := *c.shown
	// Set from the command line after the file was read; no secrets.
	d.Listen, d.DB = c.Listen, c.DB
	d.Cluster.Node, d.Cluster.Advertise = c.Cluster.Node, c.Cluster.Advertise
	return &d
}

// WithSubnets is c with the subnets (and cameras) of next: what runs after
// a reload, whose other sections take effect only at the next start.
func (c *Config) WithSubnets(next *Config) *Config {
	cp := *c
	cp.Subnets = next.Subnets
	d := *c.display()
	d.Subnets = next.display().Subnets
	d.shown = nil
	cp.shown = &d
	return &cp
}

// Subnet is the configured subnet name.
func (c *Config) Subnet(name string) (Subnet, bool) {
	for _, s := range c.Subnets {
		if s.Name == name {
			return s, true
		}
	}
	return Subnet{}, false
}

// Camera is the configured camera id, with its subnet.
func (c *Config) Camera(id string) (SubnetCamera, bool) {
	for _, s := range c.Subnets {
		for _, cam := range s.Cameras {
			if cam.ID == id {
				return SubnetCamera{Subnet: s.Name, Interval: s.Interval.Duration, Camera: cam}, true
			}
		}
	}
	return SubnetCamera{}, false
}

// Redacted returns the configuration as YAML with every password replaced
// by ***, and every string that came from ${NAME} shown as ${NAME}, for
// the record and for API answers.
func (c *Config) Redacted() string {
	cp := *c.display()
	cp.Subnets = make([]Subnet, len(cp.Subnets))
	for i, s := range c.display().Subnets {
		cp.Subnets[i] = s
		cp.Subnets[i].Cameras = make([]Camera, len(s.Cameras))
		for j, cam := range s.Cameras {
			cam.URL, cam.SnapshotURL, cam.DetectURL = redact.URL(cam.URL), redact.URL(cam.SnapshotURL), redact.URL(cam.DetectURL)
			cp.Subnets[i].Cameras[j] = cam
		}
	}
	if cp.Auth.Token != "" {
		cp.Auth.Token = "***"
	}
	cp.Go2RTC.URL, cp.Go2RTC.PlayerURL = redact.URL(cp.Go2RTC.URL), redact.URL(cp.Go2RTC.PlayerURL)
	cp.Detector.URL = redact.URL(cp.Detector.URL)
	cp.Alerts.Webhook.URL = redact.Hidden(cp.Alerts.Webhook.URL) // its path may be its secret (Slack, Discord, ntfy)
	cp.Cluster.Advertise = redact.URL(cp.Cluster.Advertise)
	cp.Cluster.Etcd = make([]string, len(c.display().Cluster.Etcd))
	for i, e := range c.display().Cluster.Etcd {
		cp.Cluster.Etcd[i] = redact.URL(e)
	}
	cp.MQTT.URL, cp.MQTT.Password = redact.URL(cp.MQTT.URL), shownSecret(cp.MQTT.Password)
	out, err := yaml.Marshal(&cp)
	if err != nil {
		return fmt.Sprintf("unprintable config: %v", err)
	}
	return string(out)
}
