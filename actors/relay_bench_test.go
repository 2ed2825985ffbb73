package actors

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/rtsprelay"
	"camvisor/actors/testkit"
)

// BenchmarkRelaySnapshot measures what the loopback RTSP relay (no
// password on ffmpeg's command line) costs a capture, against the same
// camsim process: (a) the snapshot command given the camera's URL with its
// credentials, (b) the same command given a relay path; and, without
// ffmpeg's start-up in the way, the time from connecting to the first
// frame of camsim's own RTSP client, direct and through the relay. Run it
// with `make bench`; the figures are printed.
func BenchmarkRelaySnapshot(b *testing.B) {
	const (
		conc      = 4
		snapshots = 150 // pairs
		dials     = 500 // pairs
	)
	testkit.RequireFFmpeg(b)
	addr, _ := startCamsimProcess(b, conc)
	relay, err := rtsprelay.New(rtsprelay.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer relay.Close()
	cfg := config.Defaults().FFmpeg
	cfg.RTSPTimeout = config.D(time.Minute)
	url := func(i int) string { return fmt.Sprintf("rtsp://admin:%s@%s/cam%d", testkit.CamsimPassword, addr, i) }

	snapshot := func(viaRelay bool) func(worker int) (time.Duration, error) {
		return func(worker int) (time.Duration, error) {
			start := time.Now()
			input := url(worker)
			if viaRelay {
				p, err := relay.Open(input, cfg.RTSPTimeout.Duration)
				if err != nil {
					return 0, err
				}
				defer p.Close()
				input = p.URL()
			}
			out, err := exec.Command(cfg.Path, snapshotArgs(cfg, input, false)...).Output()
			if err == nil && !isJPEG(out) {
				err = fmt.Errorf("not a JPEG")
			}
			return time.Since(start), err
		}
	}
	firstFrame := func(viaRelay bool) func(worker int) (time.Duration, error) {
		return func(worker int) (time.Duration, error) {
			start := time.Now()
			input := url(worker)
			if viaRelay {
				p, err := relay.Open(input, cfg.RTSPTimeout.Duration)
				if err != nil {
					return 0, err
				}
				defer p.Close()
				input = p.URL()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := camsim.Dial(ctx, input)
			if err != nil {
				return 0, err
			}
			defer c.Close()
			if _, err := c.NextFrame(ctx); err != nil {
				return 0, err
			}
			return time.Since(start), nil
		}
	}

	// Paired: each pair runs both sides back to back, in alternating
	// order, so the machine's load (other processes) hits both alike; the
	// median of the pairs' differences is the relay's cost.
	paired := func(n int, side func(viaRelay bool) func(int) (time.Duration, error)) (direct, relayed measurement, diffs []time.Duration) {
		cpu0 := cpuTime()
		for i := range n {
			var d [2]time.Duration
			for k := range 2 {
				via := (i+k)%2 == 1
				took, err := side(via)(i % conc)
				m := &direct
				if via {
					m = &relayed
				}
				if err != nil {
					m.errors++
					continue
				}
				m.lat = append(m.lat, took)
				m.samples++
				m.wall += took
				d[b2i(via)] = took
			}
			if d[0] > 0 && d[1] > 0 {
				diffs = append(diffs, d[1]-d[0])
			}
		}
		cpu := cpuTime() - cpu0 // both sides: split by wall time
		direct.cpu = time.Duration(float64(cpu) * direct.wall.Seconds() / (direct.wall + relayed.wall).Seconds())
		relayed.cpu = cpu - direct.cpu
		return direct, relayed, diffs
	}
	direct, relayed, snapDiff := paired(snapshots, snapshot)
	dialDirect, dialRelayed, dialDiff := paired(dials, firstFrame)

	w := os.Stdout
	fmt.Fprintf(w, "\nrtsp relay, camsim in its own process, sides paired back to back\n")
	fmt.Fprintf(w, "%-34s %8s %10s %10s %10s\n", "", "samples", "p50", "p90", "p99")
	for _, r := range []struct {
		name string
		m    measurement
	}{
		{"ffmpeg snapshot, direct", direct},
		{"ffmpeg snapshot, via relay", relayed},
		{"connect to first frame, direct", dialDirect},
		{"connect to first frame, via relay", dialRelayed},
	} {
		fmt.Fprintf(w, "%-34s %8d %10s %10s %10s\n", r.name, r.m.samples,
			r.m.p(50).Round(10*time.Microsecond), r.m.p(90).Round(10*time.Microsecond), r.m.p(99).Round(10*time.Microsecond))
	}
	fmt.Fprintf(w, "snapshot, relay minus direct, per pair: median %+s, p90 %+s (CPU per capture ratio %.3f)\n",
		percentile(snapDiff, 50).Round(10*time.Microsecond), percentile(snapDiff, 90).Round(10*time.Microsecond),
		relayed.cpuPerCapture()/direct.cpuPerCapture())
	fmt.Fprintf(w, "first frame, relay minus direct, per pair: median %+s, p90 %+s\n",
		percentile(dialDiff, 50).Round(10*time.Microsecond), percentile(dialDiff, 90).Round(10*time.Microsecond))
	b.ReportMetric(float64(percentile(snapDiff, 50).Microseconds())/1000, "snapshot-extra-ms")
	b.ReportMetric(float64(percentile(dialDiff, 50).Microseconds()), "first-frame-extra-µs")
	if n := direct.errors + relayed.errors + dialDirect.errors + dialRelayed.errors; n > 0 {
		b.Errorf("%d failed captures or dials", n)
	}
	if relay.Paths() != 0 {
		b.Errorf("%d relay paths left open", relay.Paths())
	}
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}
