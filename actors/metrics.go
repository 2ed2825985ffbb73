package actors

import (
	"regexp"
	"slices"
	"time"

	"camvisor/actors/osproc"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the Prometheus collectors served at /metrics. The metrics
// actor is their only writer, from the facts of the tree; the HTTP handler
// reads them through the registry (Prometheus collectors are made for
// that: shared, but synchronised by the library, not by us).
type Metrics struct {
	Registry *prometheus.Registry
	all      []prometheus.Collector // camvisor's own, for Names

	slotsHeld      *prometheus.GaugeVec
	slotsMax       *prometheus.GaugeVec
	captures       *prometheus.CounterVec
	captureSeconds prometheus.Histogram
	processStops   *prometheus.CounterVec
	orphansReaped  *prometheus.CounterVec
	cycleSeconds   *prometheus.HistogramVec
	cycleOverruns  *prometheus.CounterVec
	go2rtcStreams  prometheus.Gauge
	go2rtcUp       prometheus.Gauge
	rowsDropped    prometheus.Counter
	restarts       *prometheus.CounterVec

	admissionLimit   prometheus.Gauge
	admissionRunning prometheus.Gauge
	admissionWaiting prometheus.Gauge
	admissionWait    prometheus.Histogram
	breakerOpen      *prometheus.GaugeVec
	nextProbe        *prometheus.GaugeVec
	cameraBusy       *prometheus.GaugeVec
	cameraPaused     *prometheus.GaugeVec

	buildInfo        *prometheus.GaugeVec
	lastCapture      *prometheus.GaugeVec
	events           *prometheus.CounterVec
	detectorUp       prometheus.Gauge
	detectorSeconds  prometheus.Histogram
	detectorDropped  prometheus.Counter
	intervalTooShort *prometheus.GaugeVec
	recorderUp       prometheus.Gauge

	// Cluster mode only (membership.go).
	clusterMembers   prometheus.Gauge
	camerasOwned     prometheus.Gauge
	ownershipChanges *prometheus.CounterVec
	mqttUp           prometheus.Gauge
	mqttDropped      prometheus.Counter
}

// NewMetrics registers camvisor's collectors for env's tree, Go's runtime
// and process collectors, a /proc-backed gauge of live ffmpeg processes
// per camera (every camera that runs has its series, 0 included), and
// the record's size on disk. go2rtc's gauges exist only with a go2rtc
// configured.
func NewMetrics(env *Env) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		slotsHeld: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "camvisor_slots_held",
			Help: "Connections to a camera its actor counts, by kind: ffmpeg, go2rtc (patrol frames asked of go2rtc), lease (a live view), external (go2rtc's, for streams camvisor did not create)."}, []string{"camera", "kind"}),
		slotsMax: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "camvisor_slots_max",
			Help: "A camera's budget: its max_connections."}, []string{"camera"}),
		captures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "camvisor_captures_total",
			Help: "Captures by camera and outcome."}, []string{"camera", "outcome"}),
		captureSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "camvisor_capture_seconds",
			Help: "Capture latency, from request to answer.", Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30}}),
		processStops: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "camvisor_process_stops_total",
			Help: "ffmpeg processes ended, by stop reason."}, []string{"reason"}),
		orphansReaped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "camvisor_orphans_reaped_total",
			Help: "Processes the reaper killed, by origin (earlier_run, this_run)."}, []string{"origin"}),
		cycleSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "camvisor_cycle_seconds",
			Help: "Patrol cycle duration by subnet.", Buckets: []float64{.5, 1, 2, 5, 10, 20, 30, 60, 120}}, []string{"subnet"}),
		cycleOverruns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "camvisor_cycle_overruns_total",
			Help: "Cycles that did not get every camera answered within their interval."}, []string{"subnet"}),
		go2rtcStreams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "camvisor_go2rtc_streams",
			Help: "go2rtc streams this run registered and has not removed."}),
		go2rtcUp: prometheus.NewGauge(prometheus.GaugeOpts{Name: "camvisor_go2rtc_up",
			Help: "1 when go2rtc answers, 0 when unreachable or not configured."}),
		rowsDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "camvisor_recorder_rows_dropped_total",
			Help: "Record rows dropped because the write queue was full."}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "camvisor_restarts_total",
			Help: "Actors a supervisor restarted, by kind (camera, ffmpeg, subnet, a service's name)."}, []string{"kind"}),
		admissionLimit: prometheus.NewGauge(prometheus.GaugeOpts{Name: "camvisor_admission_limit",
			Help: "Capture processes the machine-wide admission lets run at once now (it adapts)."}),
		admissionRunning: prometheus.NewGauge(prometheus.GaugeOpts{Name: "camvisor_admission_running",
			Help: "Capture processes running under the admission's grants."}),
		admissionWaiting: prometheus.NewGauge(prometheus.GaugeOpts{Name: "camvisor_admission_waiting",
			Help: "Captures waiting for the admission to let their process start."}),
		admissionWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "camvisor_admission_wait_seconds",
			Help: "How long captures waited for the admission before their process started.", Buckets: []float64{.01, .05, .1, .25, .5, 1, 2, 5, 10, 30}}),
		breakerOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "camvisor_camera_breaker_open",
			Help: "1 while a camera's breaker is open: it failed too often and the patrol only probes it."}, []string{"camera"}),
		nextProbe: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "camvisor_camera_next_probe_timestamp_seconds",
			Help: "While a camera's breaker is open: when the patrol probes it next (Unix time); 0 when closed."}, []string{"camera"}),
		cameraBusy: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "camvisor_camera_busy",
			Help: "1 while a camera answers busy (its connections taken by other clients) cycle after cycle."}, []string{"camera"}),
		cameraPaused: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "camvisor_camera_paused",
			Help: "1 while a camera is paused (by an operator, or enabled: false in the config): no process, no slot, not patrolled."}, []string{"camera"}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "camvisor_build_info",
			Help: "Always 1: the running binary's version (module version or pseudo-version), VCS revision and Go version."}, []string{"version", "revision", "goversion"}),
		lastCapture: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "camvisor_last_capture_timestamp_seconds",
			Help: "When a camera's last capture with this outcome ended (Unix time); outcome=\"ok\" is its last good frame, 0 before the first."}, []string{"camera", "outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "camvisor_events_total",
			Help: "Events (detections at or above detector.min_score, merged within detector.event_gap) opened, by camera and label."}, []string{"camera", "label"}),
		detectorUp: prometheus.NewGauge(prometheus.GaugeOpts{Name: "camvisor_detector_up",
			Help: "1 when the detector answers (always 1 for the built-in motion detector), 0 while unreachable."}),
		detectorSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "camvisor_detector_seconds",
			Help: "How long the detector took to examine a frame.", Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 5}}),
		detectorDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "camvisor_detector_dropped_total",
			Help: "Frames not examined because the detector's queue was full."}),
		intervalTooShort: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "camvisor_subnet_interval_too_short",
			Help: "1 while a subnet's cameras, at their median capture time and its concurrency, need longer than its interval."}, []string{"subnet"}),
		recorderUp: prometheus.NewGauge(prometheus.GaugeOpts{Name: "camvisor_recorder_up",
			Help: "1 while writing the record succeeds, 0 while it fails (disk full, read-only)."}),
		clusterMembers: prometheus.NewGauge(prometheus.GaugeOpts{Name: "camvisor_cluster_members",
			Help: "Live members of the cluster this node sees, itself included; 0 while it holds no etcd lease (joining, or fenced: its cameras stopped)."}),
		camerasOwned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "camvisor_cameras_owned",
			Help: "Cameras whose etcd key this node holds."}),
		ownershipChanges: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "camvisor_ownership_changes_total",
			Help: "Cameras this node took or gave up, by change: acquired, released (handed over cleanly), fenced (its lease may be lost), lost (its key gone)."}, []string{"change"}),
		mqttUp: prometheus.NewGauge(prometheus.GaugeOpts{Name: "camvisor_mqtt_up",
			Help: "1 while camvisor is connected to the MQTT broker (or trying its first connection), 0 while the broker is unreachable."}),
		mqttDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "camvisor_mqtt_dropped_total",
			Help: "MQTT messages dropped because the queue for the broker was full (the oldest go first)."}),
	}
	m.all = []prometheus.Collector{m.slotsHeld, m.slotsMax, m.captures, m.captureSeconds, m.processStops, m.orphansReaped,
		m.cycleSeconds, m.cycleOverruns, m.rowsDropped, m.restarts,
		m.admissionLimit, m.admissionRunning, m.admissionWaiting, m.admissionWait, m.breakerOpen, m.nextProbe, m.cameraBusy, m.cameraPaused,
		m.buildInfo, m.lastCapture, m.events, m.detectorUp, m.detectorSeconds, m.detectorDropped, m.intervalTooShort, m.recorderUp,
		&procCollector{env: env, desc: prometheus.NewDesc("camvisor_ffmpeg_processes",
			"Live ffmpeg processes of this run per camera, as /proc shows them at scrape time.", []string{"camera"}, nil)}}
	if env.Config.Go2RTC.Enabled() {
		// Without go2rtc there is nothing to be up or down: no series,
		// rather than a 0 that reads as an outage.
		m.all = append(m.all, m.go2rtcStreams, m.go2rtcUp)
	}
	if env.Config.Cluster.Enabled() {
		m.all = append(m.all, m.clusterMembers, m.camerasOwned, m.ownershipChanges)
	}
	if env.Config.MQTT.Enabled() {
		m.all = append(m.all, m.mqttUp, m.mqttDropped)
	}
	if env.Store != nil {
		store := env.Store
		m.all = append(m.all, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "camvisor_record_bytes",
			Help: "The record's size on disk: the SQLite file and its WAL, read at scrape time."},
			func() float64 { return float64(store.Size()) }))
	}
	r.MustRegister(m.all...)
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Names are the names of camvisor's own metrics in this registry, series
// or not yet (for checking the alert rules file against).
func (m *Metrics) Names() []string {
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range m.all {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		if s := fqName.FindStringSubmatch(d.String()); s != nil {
			out = append(out, s[1])
		}
	}
	return out
}

// fqName reads a Desc's name from its String (the library exports no
// accessor).
var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// procCollector reads /proc at every scrape: the process gauge never
// drifts from what the kernel says. Every camera that runs has a series,
// 0 included: a dashboard tells an idle camera from a missing one.
type procCollector struct {
	env  *Env
	desc *prometheus.Desc
}

func (c *procCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *procCollector) Collect(ch chan<- prometheus.Metric) {
	per := map[string]int{}
	for _, cam := range c.env.Current().Cameras() {
		per[cam.ID] = 0
	}
	for _, p := range osproc.Scan("ffmpeg") {
		if osproc.Classify(p, c.env.RunID, c.env.Home) == osproc.ThisRun && !p.Zombie() {
			per[p.Camera()]++
		}
	}
	for camera, n := range per {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), camera)
	}
}

// metricsActor updates the collectors from facts.
type metricsActor struct {
	life
	env         *Env
	dropped     int64
	mqttDropped int64           // MQTT messages dropped so far, as counted
	streams     map[string]bool // registered and not removed: a re-registration is no second stream
}

func metricsProps(env *Env) *actor.Props {
	return actor.PropsFromProducer(lived(func() *metricsActor { return &metricsActor{env: env, streams: map[string]bool{}} }))
}

// metricsWant are the facts the root subscribes the metrics actor to.
func metricsWant(evt any) bool {
	switch evt.(type) {
	case *messages.SlotsChanged, *messages.CaptureDone, *messages.ProcessExited, *messages.ProcessReaped,
		*messages.CycleEnded, *messages.StreamRegistered, *messages.StreamRemoved, *messages.ServiceHealth,
		*messages.RecorderHealth, *messages.ActorRestarted, *messages.AdmissionChanged, *messages.CameraStateChanged,
		*messages.ConfigReloaded, *messages.EventOpened, *messages.FrameExamined, *messages.DetectionFailed, *messages.IntervalChecked,
		*messages.MembershipChanged, *messages.OwnershipChanged, *messages.MQTTDropped:
		return true
	}
	return false
}

// Receive folds facts into the Prometheus collectors.
func (a *metricsActor) Receive(ctx actor.Context) {
	m := a.env.Metrics
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		for _, c := range a.env.Current().Cameras() {
			a.addCamera(c.ID, c.MaxConnections)
		}
		if a.env.Config.Go2RTC.Enabled() {
			m.go2rtcUp.Set(1)
		}
		if a.env.Config.MQTT.Enabled() {
			m.mqttUp.Set(1)
		}
		b := ReadBuild()
		m.buildInfo.WithLabelValues(a.env.Version, b.Revision, b.GoVersion).Set(1)
		m.detectorUp.Set(1)
		m.recorderUp.Set(1)
		// Every series a dashboard graphs exists from the first scrape.
		for _, origin := range []string{"earlier_run", "this_run"} {
			m.orphansReaped.WithLabelValues(origin)
		}
		for _, r := range []messages.StopReason{messages.StopDone, messages.StopTimeout, messages.StopParentStopped,
			messages.StopRestart, messages.StopShutdown, messages.StopReaped} {
			m.processStops.WithLabelValues(string(r))
		}
		for _, kind := range []string{"camera", "ffmpeg", "subnet"} {
			m.restarts.WithLabelValues(kind)
		}
		for _, sub := range a.env.Current().Subnets {
			a.addSubnet(sub.Name)
		}
		for _, c := range []string{messages.OwnershipAcquired, messages.OwnershipReleased, messages.OwnershipFenced, messages.OwnershipLost} {
			m.ownershipChanges.WithLabelValues(c)
		}
	case *messages.MembershipChanged:
		m.clusterMembers.Set(float64(msg.Members))
		m.camerasOwned.Set(float64(msg.Owned))
	case *messages.OwnershipChanged:
		m.ownershipChanges.WithLabelValues(msg.Change).Inc()
	case *messages.ConfigReloaded:
		a.onConfigReloaded(msg)
	case *messages.EventOpened:
		m.events.WithLabelValues(msg.Camera, msg.Label).Inc()
	case *messages.FrameExamined:
		m.detectorSeconds.Observe(msg.Took.Seconds())
	case *messages.DetectionFailed:
		if msg.Dropped {
			m.detectorDropped.Inc()
		}
	case *messages.IntervalChecked:
		m.intervalTooShort.WithLabelValues(msg.Subnet).Set(map[bool]float64{true: 1, false: 0}[msg.TooShort])
	case *messages.SlotsChanged:
		m.slotsHeld.WithLabelValues(msg.Camera, "ffmpeg").Set(float64(msg.FFmpeg))
		m.slotsHeld.WithLabelValues(msg.Camera, "go2rtc").Set(float64(msg.Go2RTC))
		m.slotsHeld.WithLabelValues(msg.Camera, "lease").Set(float64(msg.Leases))
		m.slotsHeld.WithLabelValues(msg.Camera, "external").Set(float64(msg.External))
	case *messages.CaptureDone:
		m.captures.WithLabelValues(msg.Camera, string(msg.Outcome)).Inc()
		m.lastCapture.WithLabelValues(msg.Camera, string(msg.Outcome)).Set(float64(msg.EndedAt.UnixMilli()) / 1000)
		m.captureSeconds.Observe(msg.EndedAt.Sub(msg.StartedAt).Seconds())
		if msg.Waited > 0 {
			m.admissionWait.Observe(msg.Waited.Seconds())
		}
	case *messages.AdmissionChanged:
		m.admissionLimit.Set(float64(msg.Limit))
		m.admissionRunning.Set(float64(msg.Running))
		m.admissionWaiting.Set(float64(msg.Waiting))
	case *messages.CameraStateChanged:
		m.breakerOpen.WithLabelValues(msg.Camera).Set(map[bool]float64{true: 1, false: 0}[msg.Failing])
		probe := 0.0
		if msg.Failing {
			probe = float64(msg.NextProbe.Unix())
		}
		m.nextProbe.WithLabelValues(msg.Camera).Set(probe)
		m.cameraBusy.WithLabelValues(msg.Camera).Set(map[bool]float64{true: 1, false: 0}[msg.Busy])
		m.cameraPaused.WithLabelValues(msg.Camera).Set(map[bool]float64{true: 1, false: 0}[msg.Pause != nil])
	case *messages.ProcessExited:
		m.processStops.WithLabelValues(string(msg.StopReason)).Inc()
	case *messages.ProcessReaped:
		origin := "earlier_run"
		if msg.ThisRun {
			origin = "this_run"
		}
		m.orphansReaped.WithLabelValues(origin).Inc()
		m.processStops.WithLabelValues(string(messages.StopReaped)).Inc()
	case *messages.CycleEnded:
		m.cycleSeconds.WithLabelValues(msg.Subnet).Observe(msg.EndedAt.Sub(msg.StartedAt).Seconds())
		if msg.Overran {
			m.cycleOverruns.WithLabelValues(msg.Subnet).Inc()
		}
	case *messages.StreamRegistered:
		a.streams[msg.Stream] = true
		m.go2rtcStreams.Set(float64(len(a.streams)))
	case *messages.StreamRemoved:
		if msg.Error == "" {
			delete(a.streams, msg.Stream)
			m.go2rtcStreams.Set(float64(len(a.streams)))
		}
	case *messages.ServiceHealth:
		switch msg.Service {
		case "go2rtc":
			m.go2rtcUp.Set(map[bool]float64{true: 1, false: 0}[msg.Healthy])
		case "detector":
			m.detectorUp.Set(map[bool]float64{true: 1, false: 0}[msg.Healthy])
		case "mqtt":
			m.mqttUp.Set(map[bool]float64{true: 1, false: 0}[msg.Healthy])
		}
	case *messages.MQTTDropped:
		if msg.Dropped > a.mqttDropped {
			m.mqttDropped.Add(float64(msg.Dropped - a.mqttDropped))
			a.mqttDropped = msg.Dropped
		}
	case *messages.RecorderHealth:
		m.recorderUp.Set(map[bool]float64{true: 1, false: 0}[msg.Healthy])
		if msg.Dropped > a.dropped {
			m.rowsDropped.Add(float64(msg.Dropped - a.dropped))
			a.dropped = msg.Dropped
		}
	case *messages.ActorRestarted:
		m.restarts.WithLabelValues(msg.Kind).Inc()
	case *messages.Describe:
		answerDescribe(ctx, a.node(ctx, "metrics", "running", map[string]any{"since": a.startedAt.Format(time.RFC3339)}))
	}
}

// addCamera makes every per-camera series exist, at 0: a dashboard graphs
// an idle camera as 0, not as missing.
func (a *metricsActor) addCamera(id string, maxConnections int) {
	m := a.env.Metrics
	m.slotsMax.WithLabelValues(id).Set(float64(maxConnections))
	for _, kind := range []string{"ffmpeg", "go2rtc", "lease", "external"} {
		m.slotsHeld.WithLabelValues(id, kind).Set(0)
	}
	m.breakerOpen.WithLabelValues(id).Set(0)
	m.nextProbe.WithLabelValues(id).Set(0)
	m.cameraBusy.WithLabelValues(id).Set(0)
	m.cameraPaused.WithLabelValues(id).Set(0)
	m.captures.WithLabelValues(id, string(messages.OutcomeOK))
	m.lastCapture.WithLabelValues(id, string(messages.OutcomeOK))
	// The labels the detector may give: motion's one, or those an http
	// detector is limited to.
	labels := a.env.Config.Detector.Labels
	if a.env.Config.Detector.Kind == "motion" {
		labels = []string{"motion"}
	}
	for _, l := range labels {
		m.events.WithLabelValues(id, l)
	}
}

func (a *metricsActor) addSubnet(name string) {
	m := a.env.Metrics
	m.cycleOverruns.WithLabelValues(name)
	m.cycleSeconds.WithLabelValues(name)
	m.intervalTooShort.WithLabelValues(name).Set(0)
}

// onConfigReloaded gives the cameras and subnets a reload started their
// series and removes those of the ones it stopped.
func (a *metricsActor) onConfigReloaded(msg *messages.ConfigReloaded) {
	if msg.Outcome != messages.ReloadApplied && msg.Outcome != messages.ReloadIncomplete {
		return
	}
	m := a.env.Metrics
	running := map[string]bool{}
	for _, c := range msg.Cameras {
		running[c.ID] = true
	}
	for _, id := range msg.Removed {
		if running[id] {
			continue // moved to another subnet: it keeps its series
		}
		by := prometheus.Labels{"camera": id}
		for _, v := range []interface {
			DeletePartialMatch(prometheus.Labels) int
		}{m.slotsHeld, m.slotsMax, m.captures, m.breakerOpen, m.nextProbe, m.cameraBusy, m.cameraPaused, m.lastCapture, m.events} {
			v.DeletePartialMatch(by)
		}
	}
	for _, c := range msg.Cameras {
		m.slotsMax.WithLabelValues(c.ID).Set(float64(c.MaxConnections))
		if slices.Contains(msg.Added, c.ID) {
			a.addCamera(c.ID, c.MaxConnections)
		}
	}
	for _, s := range msg.RemovedSubnets {
		by := prometheus.Labels{"subnet": s}
		m.cycleOverruns.DeletePartialMatch(by)
		m.cycleSeconds.DeletePartialMatch(by)
		m.intervalTooShort.DeletePartialMatch(by)
	}
	for _, s := range msg.AddedSubnets {
		a.addSubnet(s)
	}
}
