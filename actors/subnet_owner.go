package actors

import (
	"slices"

	"camvisor/actors/config"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// A subnet's side of the cluster (membership.go): it runs the actors of
// the cameras this node owns, starting one on OwnCamera and stopping one
// on DisownCamera (its processes killed and reaped, stop reason fenced or
// handed_over) before it answers CameraDisowned. Its cycles visit the
// cameras whose actor runs here. On a single node it owns every camera
// and none of this happens.

// subnetOwnership is what a subnet keeps of it.
type subnetOwnership struct {
	// causes are each camera actor's stop cause, child of the subnet's:
	// a disowned camera's processes record why it stopped.
	causes map[string]*stopCause
	// disowning are the cameras stopping on DisownCamera, by actor id,
	// with who to answer.
	disowning map[string]disowning
}

type disowning struct {
	camera  string
	replyTo *actor.PID
}

// cause is camera id's stop cause, new for each of its actors.
func (o *subnetOwnership) cause(id string, parent *stopCause) *stopCause {
	if o.causes == nil {
		o.causes = map[string]*stopCause{}
	}
	c := newStopCause(parent)
	o.causes[id] = c
	return c
}

// patrolled are the cameras a cycle visits: every camera of the subnet,
// or in a cluster those whose actor runs on this node.
func (a *subnetActor) patrolled() []config.Camera {
	if !a.env.Config.Cluster.Enabled() {
		return a.sub.Cameras
	}
	return slices.DeleteFunc(slices.Clone(a.sub.Cameras), func(c config.Camera) bool { return a.cameras[c.ID] == nil })
}

// onOwnCamera starts the actor of a camera this node now owns; a cycle
// under way visits it too.
func (a *subnetActor) onOwnCamera(ctx actor.Context, msg *messages.OwnCamera) {
	i := slices.IndexFunc(a.sub.Cameras, func(c config.Camera) bool { return c.ID == msg.Camera })
	if i < 0 || a.cameras[msg.Camera] != nil || a.isRetiring(msg.Camera) || !a.env.owns(msg.Camera) || a.stopping {
		return // not ours to run (a reload moved it), running already, or the subnet is stopping
	}
	a.spawnCamera(ctx, a.sub.Cameras[i])
	if c := a.cur; c != nil && !c.waiting[msg.Camera] && !slices.Contains(c.pending, msg.Camera) {
		c.pending = append(c.pending, msg.Camera)
		a.ask(ctx)
		a.endIfDone(ctx)
	}
}

// onDisownCamera stops a camera's actor now and answers once it is gone.
func (a *subnetActor) onDisownCamera(ctx actor.Context, msg *messages.DisownCamera) {
	pid := a.cameras[msg.Camera]
	if pid == nil {
		for actorID, id := range a.retiring {
			if id == msg.Camera { // retired by a reload: answered when gone
				a.watchDisowned(actorID, msg.Camera, ctx.Sender())
				return
			}
		}
		if ctx.Sender() != nil {
			ctx.Respond(&messages.CameraDisowned{Camera: msg.Camera})
		}
		return
	}
	delete(a.cameras, msg.Camera)
	if c := a.own.causes[msg.Camera]; c != nil {
		c.set(msg.Reason)
	}
	a.env.Log.Info("camera stopping: "+msg.Why, "subnet", a.sub.Name, "camera", msg.Camera, "reason", string(msg.Reason))
	a.watchDisowned(pid.Id, msg.Camera, ctx.Sender())
	ctx.Stop(pid)
	if c := a.cur; c != nil {
		c.pending = slices.DeleteFunc(c.pending, func(p string) bool { return p == msg.Camera })
	}
	a.skipped = slices.DeleteFunc(a.skipped, func(p string) bool { return p == msg.Camera })
	delete(a.asked, msg.Camera)
	delete(a.durations, msg.Camera)
}

func (a *subnetActor) watchDisowned(actorID, camera string, replyTo *actor.PID) {
	if a.own.disowning == nil {
		a.own.disowning = map[string]disowning{}
	}
	a.own.disowning[actorID] = disowning{camera: camera, replyTo: replyTo}
}

// onDisownedGone answers a DisownCamera once its camera's actor is gone
// (its processes reaped: an actor stops only after its children), and
// asks the gateway to remove the camera's go2rtc streams. It reports
// whether msg was about such a camera.
func (a *subnetActor) onDisownedGone(ctx actor.Context, msg *actor.Terminated) bool {
	d, ok := a.own.disowning[msg.Who.Id]
	if !ok {
		return false
	}
	delete(a.own.disowning, msg.Who.Id)
	if d.replyTo != nil {
		ctx.Send(d.replyTo, &messages.CameraDisowned{Camera: d.camera})
	}
	if _, retired := a.retiring[msg.Who.Id]; retired {
		return false // the reload's bookkeeping goes on
	}
	if a.env.Config.Go2RTC.Enabled() {
		ctx.Send(a.env.peers.gateway, &messages.ReleaseCameras{Subnet: a.sub.Name, Cameras: []string{d.camera},
			Reason: "camera handed to another node"})
	}
	return true
}
