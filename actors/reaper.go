package actors

import (
	"time"

	"camvisor/actors/osproc"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// reaperActor watches the processes from outside the tree: it reads /proc,
// never camvisor's own bookkeeping. Every record.sample_interval it counts
// each camera's live ffmpeg processes next to the slots the camera actor
// says it holds, and publishes the census (the leak graph). The scan runs
// on a goroutine; the mailbox never waits on /proc.
type reaperActor struct {
	env      *Env
	slots    map[string]*messages.SlotsChanged // latest per camera
	scanning bool
	timer    *time.Timer
}

// Internal messages.
type (
	censusDue   struct{}
	censusTaken struct {
		at    time.Time
		procs []osproc.Info
	}
)

// reaperWants are the facts the root subscribes the reaper to.
func reaperWants(evt any) bool {
	_, ok := evt.(*messages.SlotsChanged)
	return ok
}

func reaperProps(env *Env) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &reaperActor{env: env, slots: map[string]*messages.SlotsChanged{}}
	})
}

// Receive handles one message.
func (a *reaperActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *messages.SlotsChanged:
		a.slots[msg.Camera] = msg
	case *censusDue:
		a.onCensusDue(ctx)
	case *censusTaken:
		a.onCensusTaken(ctx, msg)
	case *actor.Stopping, *actor.Restarting:
		a.onStopping(ctx)
	}
}

func (a *reaperActor) onStarted(ctx actor.Context) {
	a.timer = after(ctx.ActorSystem(), ctx.Self(), a.env.Config.Record.SampleInterval.Duration, &censusDue{})
}

func (a *reaperActor) onCensusDue(ctx actor.Context) {
	a.timer = after(ctx.ActorSystem(), ctx.Self(), a.env.Config.Record.SampleInterval.Duration, &censusDue{})
	if a.scanning {
		return
	}
	a.scanning = true
	system, self := ctx.ActorSystem(), ctx.Self()
	go func() {
		system.Root.Send(self, &censusTaken{at: time.Now(), procs: osproc.Scan("ffmpeg")})
	}()
}

// onCensusTaken counts live processes per camera and publishes the census.
func (a *reaperActor) onCensusTaken(ctx actor.Context, msg *censusTaken) {
	a.scanning = false
	census := &messages.ProcessCensus{At: msg.at}
	perCamera := map[string]int{}
	for _, p := range msg.procs {
		if p.Zombie() {
			continue
		}
		switch {
		case p.Run == "":
			census.Untagged++
		case p.Run != a.env.RunID:
			census.Foreign++
		default:
			perCamera[p.Camera()]++
		}
	}
	for _, cam := range a.env.Config.Cameras() {
		line := messages.CameraCensus{Camera: cam.ID, Subnet: cam.Subnet, Processes: perCamera[cam.ID], MaxConnections: cam.MaxConnections}
		if s := a.slots[cam.ID]; s != nil {
			line.SlotsHeld = s.FFmpeg + s.Leases
		}
		census.Cameras = append(census.Cameras, line)
	}
	ctx.ActorSystem().EventStream.Publish(census)
}

func (a *reaperActor) onStopping(ctx actor.Context) {
	if a.timer != nil {
		a.timer.Stop()
	}
}
