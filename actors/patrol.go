package actors

import (
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// patrolActor is the parent of every subnet: stopping it stops the whole
// capture side of the tree, every ffmpeg process included.
type patrolActor struct {
	life
	env   *Env
	cause *stopCause
}

func patrolProps(env *Env, parent *stopCause) *actor.Props {
	return actor.PropsFromProducer(lived(func() *patrolActor {
		return &patrolActor{env: env, cause: newStopCause(parent)}
	}), actor.WithSupervisor(restartWithBackoff(env.Policy)))
}

// Receive handles one message.
func (a *patrolActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *messages.Describe:
		answerDescribe(ctx, a.node(ctx, "patrol", "running", map[string]any{"subnets": len(a.env.Config.Subnets)}))
	case *messages.ListOwnedProcesses:
		answerOwned(ctx, nil, ctx.Children())
	case *actor.Restarting:
		a.cause.set(messages.StopRestart)
	}
}

func (a *patrolActor) onStarted(ctx actor.Context) {
	for _, sub := range a.env.Config.Subnets {
		if _, err := ctx.SpawnNamed(subnetProps(a.env, sub, a.cause), subnetName(sub.Name)); err != nil {
			a.env.Log.Error("spawn subnet", "subnet", sub.Name, "reason", err.Error())
		}
	}
}
