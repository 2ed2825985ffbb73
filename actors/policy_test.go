package actors

import (
	"log/slog"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"camvisor/actors/config"
	"camvisor/actors/testkit"

	"github.com/asynkron/protoactor-go/actor"
)

// TestSupervisionZeroIsDefault: a spec left zero runs as its kind's
// default, field by field, so a policy that sets one value keeps the
// rest of the table.
func TestSupervisionZeroIsDefault(t *testing.T) {
	if got, want := (Supervision{}).withDefaults(), DefaultSupervision(); got != want {
		t.Errorf("the zero Supervision runs as\n%+v\nwant the default\n%+v", got, want)
	}
	got := Supervision{Stream: SupervisorSpec{Initial: time.Hour}}.withDefaults()
	want := DefaultSupervision()
	want.Stream.Initial = time.Hour
	if got != want {
		t.Errorf("a Stream spec with only Initial set runs as\n%+v\nwant\n%+v", got, want)
	}
	for _, kind := range []SupervisorSpec{want.Services, want.Patrol, want.Subnet, want.Camera, want.Stream} {
		if kind.Strategy == 0 || kind.Period == 0 || kind.Initial == 0 || kind.Growth == 0 {
			t.Errorf("a default spec has a zero field, which would mean itself: %+v", kind)
		}
	}
}

// TestSupervisionDelays: the back-offs wait what they waited before the
// table existed — protoactor's back-off for the tree's spine (n × 100 ms
// plus under 500 ns of noise), the stream's doubling from 500 ms to 30 s —
// and a negative Max or Jitter is none.
func TestSupervisionDelays(t *testing.T) {
	s := DefaultSupervision()
	for _, n := range []int{1, 2, 5, 600} {
		d := s.Camera.delay(n)
		if lo := time.Duration(n) * 100 * time.Millisecond; d < lo || d >= lo+500*time.Nanosecond {
			t.Errorf("camera restart after %d failures waits %s, want %s plus under 500 ns", n, d, lo)
		}
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if d := s.Stream.delay(i + 1); d != w {
			t.Errorf("stream restart after %d failures waits %s, want %s", i+1, d, w)
		}
	}
	for _, n := range []int{17, 1000} {
		if d := s.Stream.delay(n); d != 30*time.Second {
			t.Errorf("stream restart after %d failures waits %s, want the cap 30s", n, d)
		}
	}
	spine := SupervisorSpec{Jitter: -1}.or(s.Camera)
	if d := spine.delay(3); d != 300*time.Millisecond {
		t.Errorf("without jitter, 3 failures wait %s, want 300ms", d)
	}
	uncapped := SupervisorSpec{Max: -1}.or(s.Stream)
	if d := uncapped.delay(8); d != 64*time.Second {
		t.Errorf("uncapped, 8 failures wait %s, want 64s", d)
	}
}

// TestSnapshotRetriesFromConfig: a camera's snapshot child is restarted
// at most ffmpeg.retries times within the capture timeout, then stopped —
// the spec leaves both to config.
func TestSnapshotRetriesFromConfig(t *testing.T) {
	retries := 2
	ff := config.FFmpeg{Retries: &retries, CaptureTimeout: config.Duration{Duration: 10 * time.Second}}
	var starts atomic.Int32
	gone := make(chan struct{})
	type fail struct{}
	child := actor.PropsFromFunc(func(ctx actor.Context) {
		switch ctx.Message().(type) {
		case *actor.Started:
			starts.Add(1)
		case fail:
			panic("failed attempt")
		}
	})
	var pid atomic.Pointer[actor.PID]
	parent := actor.PropsFromFunc(func(ctx actor.Context) {
		switch ctx.Message().(type) {
		case *actor.Started:
			pid.Store(ctx.Spawn(child))
		case *actor.Terminated: // a parent hears of its child's stop
			close(gone)
		}
	}, actor.WithSupervisor(DefaultSupervision().snapshots(ff, actor.DefaultDecider)))
	system := actor.NewActorSystemWithConfig(actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) })))
	p := system.Root.Spawn(parent)
	t.Cleanup(func() { _ = system.Root.StopFuture(p).Wait() })
	testkit.Eventually(t, 2*time.Second, "the child started", func() bool { return starts.Load() == 1 })
	for i := range retries {
		system.Root.Send(pid.Load(), fail{})
		testkit.Eventually(t, 2*time.Second, "the child restarted", func() bool { return starts.Load() == int32(i+2) })
	}
	system.Root.Send(pid.Load(), fail{})
	select {
	case <-gone:
	case <-time.After(2 * time.Second):
		t.Fatalf("the child was not stopped after its %d retries (%d starts)", retries, starts.Load())
	}
	if n := starts.Load(); n != int32(retries+1) {
		t.Errorf("the child started %d times, want %d: once and ffmpeg.retries more", n, retries+1)
	}
}

// TestPolicyTimingsHaveDefaults: every timing and bound of DefaultPolicy
// is set, but those whose zero is documented as a choice: a field added
// without its default would run at zero (a busy loop, a wait of nothing).
func TestPolicyTimingsHaveDefaults(t *testing.T) {
	zeroByDesign := map[string]bool{
		"Admission.Max":      true, // four per CPU
		"Admission.BusyHold": true, // the subnet's interval
	}
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			if v.Type() == reflect.TypeFor[Supervision]() {
				return // its zero fields mean the default (TestSupervisionZeroIsDefault)
			}
			for i := range v.NumField() {
				walk(path+"."+v.Type().Field(i).Name, v.Field(i))
			}
		case reflect.Int, reflect.Int64, reflect.Float64:
			if v.IsZero() && !zeroByDesign[path[1:]] {
				t.Errorf("DefaultPolicy().%s is zero", path[1:])
			}
		}
	}
	walk("", reflect.ValueOf(*DefaultPolicy()))
}
