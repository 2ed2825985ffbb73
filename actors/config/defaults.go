package config

import "time"

// Defaults returns the configuration used for every key the file leaves
// out. It is the one place where default policy lives; the example file and
// the README quote it.
func Defaults() *Config {
	retries := 1
	return &Config{
		Listen: "127.0.0.1:8080",
		DB:     "camvisor.db",
		FFmpeg: FFmpeg{
			Path:           "ffmpeg",
			CaptureTimeout: D(10 * time.Second),
			KillGrace:      D(2 * time.Second),
			RTSPTimeout:    D(5 * time.Second),
			Retries:        &retries,
		},
		Go2RTC: Go2RTC{
			Lease:          D(60 * time.Second),
			RequestTimeout: D(5 * time.Second),
		},
		Detector: Detector{
			Kind:     "motion",
			MinScore: 0.5,
			Timeout:  D(5 * time.Second),
			Queue:    16,
			EventGap: D(60 * time.Second),
		},
		Playback: Playback{
			MinScore: 0.6,
			Cooldown: D(2 * time.Minute),
			MaxLive:  2,
		},
		Reaper: Reaper{Interval: D(30 * time.Second)},
		Patrol: Patrol{MaxBackoff: D(10 * time.Minute)},
		MQTT:   MQTT{TopicPrefix: "camvisor"},
		Alerts: Alerts{
			CameraFailingAfter: 3,
			CameraBusyAfter:    3,
			Webhook:            Webhook{Timeout: D(5 * time.Second), MaxAttempts: 8, Format: FormatCamvisor},
		},
		Cluster: Cluster{TTL: D(6 * time.Second)},
		Record: Record{
			Retention:      D(14 * 24 * time.Hour),
			SampleInterval: D(5 * time.Second),
			QueueRows:      10000,
		},
	}
}

// Per-subnet and per-camera defaults, applied where the file leaves a zero.
const (
	DefaultInterval    = 30 * time.Second
	DefaultConcurrency = 4
	DefaultQueue       = 8
)

// The default stall timeout of a stream-mode child (ffmpeg.stall_timeout
// 0): three keyframe intervals, so that one late keyframe is no stall, and
// at least 10 s, so that a camera's slow start is none either.
const (
	DefaultStallGOPs = 3
	DefaultStallMin  = 10 * time.Second
	// MinStallTimeout is the least stall_timeout accepted: less would
	// kill streams of cameras whose keyframes come every second.
	MinStallTimeout = time.Second
)

// applyDefaults fills the zero values of list items, which Defaults cannot
// pre-populate. Explicit zeros of fields that must be positive are left for
// Validate only where a zero cannot be told from absent; so max_connections
// has no default: every camera must state its limit.
func (c *Config) applyDefaults() {
	for i := range c.Subnets {
		s := &c.Subnets[i]
		if s.Interval.Duration == 0 && s.Interval.raw == "" {
			s.Interval = D(DefaultInterval)
		}
		if s.Concurrency == 0 {
			s.Concurrency = DefaultConcurrency
		}
		for j := range s.Cameras {
			if s.Cameras[j].Queue == 0 {
				s.Cameras[j].Queue = DefaultQueue
			}
		}
	}
}
