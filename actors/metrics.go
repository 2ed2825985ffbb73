package actors

import (
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
}

// NewMetrics registers camvisor's collectors, Go's runtime and process
// collectors, and a /proc-backed gauge of live ffmpeg processes per camera
// for the run runID.
func NewMetrics(runID, home string) *Metrics {
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
	}
	r.MustRegister(m.slotsHeld, m.slotsMax, m.captures, m.captureSeconds, m.processStops, m.orphansReaped,
		m.cycleSeconds, m.cycleOverruns, m.go2rtcStreams, m.go2rtcUp, m.rowsDropped, m.restarts,
		m.admissionLimit, m.admissionRunning, m.admissionWaiting, m.admissionWait, m.breakerOpen, m.nextProbe, m.cameraBusy,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&procCollector{run: runID, home: home, desc: prometheus.NewDesc("camvisor_ffmpeg_processes",
			"Live ffmpeg processes of this run per camera, as /proc shows them at scrape time.", []string{"camera"}, nil)})
	return m
}

// procCollector reads /proc at every scrape: the process gauge never
// drifts from what the kernel says.
type procCollector struct {
	run, home string
	desc      *prometheus.Desc
}

func (c *procCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *procCollector) Collect(ch chan<- prometheus.Metric) {
	per := map[string]int{}
	for _, p := range osproc.Scan("ffmpeg") {
		if osproc.Classify(p, c.run, c.home) == osproc.ThisRun && !p.Zombie() {
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
	env     *Env
	dropped int64
	streams map[string]bool // registered and not removed: a re-registration is no second stream
}

func metricsProps(env *Env) *actor.Props {
	return actor.PropsFromProducer(lived(func() *metricsActor { return &metricsActor{env: env, streams: map[string]bool{}} }))
}

// metricsWant are the facts the root subscribes the metrics actor to.
func metricsWant(evt any) bool {
	switch evt.(type) {
	case *messages.SlotsChanged, *messages.CaptureDone, *messages.ProcessExited, *messages.ProcessReaped,
		*messages.CycleEnded, *messages.StreamRegistered, *messages.StreamRemoved, *messages.ServiceHealth,
		*messages.RecorderHealth, *messages.ActorRestarted, *messages.AdmissionChanged, *messages.CameraStateChanged:
		return true
	}
	return false
}

// Receive handles one message.
func (a *metricsActor) Receive(ctx actor.Context) {
	m := a.env.Metrics
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		for _, c := range a.env.Config.Cameras() {
			m.slotsMax.WithLabelValues(c.ID).Set(float64(c.MaxConnections))
			for _, kind := range []string{"ffmpeg", "go2rtc", "lease", "external"} {
				m.slotsHeld.WithLabelValues(c.ID, kind).Set(0)
			}
			m.breakerOpen.WithLabelValues(c.ID).Set(0)
			m.nextProbe.WithLabelValues(c.ID).Set(0)
			m.cameraBusy.WithLabelValues(c.ID).Set(0)
		}
		if a.env.Config.Go2RTC.Enabled() {
			m.go2rtcUp.Set(1)
		}
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
		for _, sub := range a.env.Config.Subnets {
			m.cycleOverruns.WithLabelValues(sub.Name)
			m.cycleSeconds.WithLabelValues(sub.Name)
		}
	case *messages.SlotsChanged:
		m.slotsHeld.WithLabelValues(msg.Camera, "ffmpeg").Set(float64(msg.FFmpeg))
		m.slotsHeld.WithLabelValues(msg.Camera, "go2rtc").Set(float64(msg.Go2RTC))
		m.slotsHeld.WithLabelValues(msg.Camera, "lease").Set(float64(msg.Leases))
		m.slotsHeld.WithLabelValues(msg.Camera, "external").Set(float64(msg.External))
	case *messages.CaptureDone:
		m.captures.WithLabelValues(msg.Camera, string(msg.Outcome)).Inc()
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
		if msg.Service == "go2rtc" {
			m.go2rtcUp.Set(map[bool]float64{true: 1, false: 0}[msg.Healthy])
		}
	case *messages.RecorderHealth:
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
