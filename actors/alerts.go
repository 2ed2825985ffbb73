package actors

import (
	"fmt"
	"slices"
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// alertsActor evaluates the alert rules on the facts of the tree. Each
// alert is a rule about a subject, firing or resolved; each transition is
// logged once, recorded, pushed to the dashboards and, when configured,
// posted to a webhook (webhook.go): each alert on its own, so that one
// alert's retries never hold back another's.
//
//	process_budget_exceeded  a camera has more live processes (/proc) than max_connections
//	unowned_process          the reaper killed a process of this run that no actor owned
//	camera_failing           alerts.camera_failing_after captures failed in a row (its breaker is open)
//	camera_busy              a camera answered busy (453) for alerts.camera_busy_after cycles in a row
//	interval_too_short       a subnet's cameras cannot fit its interval at its concurrency
//	cycle_overrun            a subnet's cycle took longer than its interval
//	go2rtc_unreachable, detector_unreachable, record_write_failing
//	cluster_lease_lost       cluster mode: this node holds no etcd lease (fenced, or cannot join): it runs no camera
//	camera_unowned           cluster mode: a configured camera no node has owned for more than 2×cluster.ttl
//	mqtt_unreachable         the MQTT broker refused or lost camvisor's connection (messages wait in a bounded queue)
//
// What fires now, and what resolved lately, is answered from memory
// (Tree.Alerts): the record may be the very thing that fails.
type alertsActor struct {
	life
	env      *Env
	firing   map[string]*messages.AlertChanged // by rule + "\x00" + subject
	resolved []messages.AlertChanged           // the latest, oldest first, at most keepResolved
	hook     *webhook                          // nil without alerts.webhook.url
}

// AlertRules are the rules the alerts actor evaluates, by name: the
// Prometheus rules file in the repository mirrors each (label rule).
var AlertRules = []string{"process_budget_exceeded", "unowned_process", "camera_failing", "camera_busy",
	"interval_too_short", "cycle_overrun", "go2rtc_unreachable", "detector_unreachable", "record_write_failing",
	"cluster_lease_lost", "camera_unowned", "mqtt_unreachable"}

// keepResolved is how many resolved alerts are kept in memory: those whose
// row may not be written yet, and then some.
const keepResolved = 100

// AlertsNow is the alerts actor's answer: what fires now, and the alerts
// that resolved lately, newest first.
type AlertsNow struct {
	Firing   []messages.AlertChanged
	Resolved []messages.AlertChanged
}

// getAlerts asks the alerts actor for AlertsNow (Tree.Alerts).
type getAlerts struct{}

func alertsProps(env *Env) *actor.Props {
	return actor.PropsFromProducer(lived(func() *alertsActor {
		return &alertsActor{env: env, firing: map[string]*messages.AlertChanged{}}
	}))
}

// alertsWant are the facts the root subscribes the alerts actor to.
func alertsWant(evt any) bool {
	switch evt.(type) {
	case *messages.ProcessCensus, *messages.ProcessReaped, *messages.SweepDone, *messages.CameraStateChanged,
		*messages.CycleEnded, *messages.ServiceHealth, *messages.RecorderHealth, *messages.IntervalChecked,
		*messages.ConfigReloaded, *messages.MembershipChanged, *messages.CameraUnowned, *messages.OwnershipChanged:
		return true
	}
	return false
}

// Receive evaluates the rules against each fact and the periodic tick.
func (a *alertsActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		if a.env.Config.Alerts.Webhook.URL != "" {
			a.hook = newWebhook(a.env)
		}
	case *hookDone:
		a.hook.onDone(ctx, msg)
	case *hookRetry:
		a.hook.onRetry(ctx, msg)
	case *messages.ConfigReloaded:
		a.onConfigReloaded(ctx, msg)
	case *messages.ProcessCensus:
		for _, c := range msg.Cameras {
			a.set(ctx, "process_budget_exceeded", c.Camera, c.Processes > c.MaxConnections,
				fmt.Sprintf("%d live ffmpeg processes for camera %s, budget %d (actor holds %d slots)", c.Processes, c.Camera, c.MaxConnections, c.SlotsHeld))
		}
	case *messages.ProcessReaped:
		if msg.ThisRun {
			a.set(ctx, "unowned_process", subjectOf(msg), true,
				fmt.Sprintf("killed pid %d of this run that no actor owned (tagged %s)", msg.OSPID, msg.Owner))
		}
	case *messages.SweepDone:
		if msg.Unowned == 0 {
			a.resolveRule(ctx, "unowned_process")
		}
	case *messages.CameraStateChanged:
		// A paused camera is watched by no one: what it did before the
		// pause resolves, and nothing fires while it lasts.
		paused := msg.Pause != nil
		detail := fmt.Sprintf("%d captures of camera %s failed in a row", msg.ConsecutiveFailures, msg.Camera)
		if msg.Failing {
			detail += fmt.Sprintf("; the patrol skips it and probes it every %s (next at %s)", msg.Backoff.Round(time.Second), msg.NextProbe.UTC().Format(time.TimeOnly))
		}
		a.set(ctx, "camera_failing", msg.Camera, msg.Failing && !paused, detail)
		a.set(ctx, "camera_busy", msg.Camera, msg.Busy && !paused,
			fmt.Sprintf("camera %s answered busy (its connections taken by other clients) %d cycles in a row", msg.Camera, msg.BusyCycles))
	case *messages.IntervalChecked:
		a.set(ctx, "interval_too_short", msg.Subnet, msg.TooShort,
			fmt.Sprintf("subnet %s needs %s per cycle (%d cameras at their median capture time, %d at once), its interval is %s",
				msg.Subnet, msg.Needed.Round(100*time.Millisecond), msg.Cameras, msg.Concurrency, msg.Interval))
	case *messages.CycleEnded:
		a.set(ctx, "cycle_overrun", msg.Subnet, msg.Overran,
			fmt.Sprintf("cycle %d of subnet %s took %s (interval %s): %d timed out, %d skipped; %s",
				msg.Number, msg.Subnet, msg.EndedAt.Sub(msg.StartedAt).Round(time.Millisecond), msg.Interval, msg.TimedOut-msg.Skipped, msg.Skipped, msg.Why))
	case *messages.ServiceHealth:
		a.set(ctx, msg.Service+"_unreachable", msg.Service, !msg.Healthy, msg.Error)
	case *messages.MembershipChanged:
		lost := msg.Error != "" && (msg.State == messages.MembershipFenced || msg.State == messages.MembershipJoining)
		a.set(ctx, "cluster_lease_lost", msg.Node, lost,
			fmt.Sprintf("node %s holds no etcd lease (%s): %s; it runs no camera until it joins again", msg.Node, msg.State, msg.Error))
	case *messages.OwnershipChanged:
		if msg.Change != messages.OwnershipAcquired {
			a.resolveCamera(ctx, msg.Camera) // another node watches it now
		}
	case *messages.CameraUnowned:
		a.set(ctx, "camera_unowned", msg.Camera, msg.Unowned,
			fmt.Sprintf("camera %s has been owned by no node since %s: no live member has it in its configuration, or none can win it", msg.Camera, msg.Since.UTC().Format(time.TimeOnly)))
	case *messages.RecorderHealth:
		a.set(ctx, "record_write_failing", "record", !msg.Healthy,
			fmt.Sprintf("%s (%d rows queued, %d dropped)", msg.Error, msg.Queued, msg.Dropped))
	case *getAlerts:
		ctx.Respond(a.now())
	case *messages.Describe:
		names := []string{}
		for _, f := range a.firing {
			names = append(names, f.Rule+" "+f.Subject)
		}
		answerDescribe(ctx, a.node(ctx, "alerts", "running", map[string]any{"firing": names}))
	case *actor.Stopping, *actor.Restarting:
		a.hook.stop()
	}
}

// onConfigReloaded resolves the alerts about cameras and subnets a reload
// stopped: nothing watches them any more.
func (a *alertsActor) onConfigReloaded(ctx actor.Context, msg *messages.ConfigReloaded) {
	running := map[string]bool{}
	for _, c := range msg.Cameras {
		running[c.ID], running[c.Subnet] = true, true
	}
	gone := append(append([]string{}, msg.Removed...), msg.RemovedSubnets...)
	for _, f := range a.firing {
		if slices.Contains(gone, f.Subject) && !running[f.Subject] {
			a.set(ctx, f.Rule, f.Subject, false, "")
		}
	}
}

// set fires rule for subject when cond holds, and resolves it when not.
func (a *alertsActor) set(ctx actor.Context, rule, subject string, cond bool, detail string) {
	key := rule + "\x00" + subject
	now := time.Now()
	f := a.firing[key]
	switch {
	case cond && f == nil:
		f = &messages.AlertChanged{Rule: rule, Subject: subject, State: messages.AlertFiring, FirstSeen: now, LastSeen: now, Detail: detail}
		a.firing[key] = f
		a.env.Log.Warn("alert firing", "alert", rule, "subject", subject, "reason", detail)
		a.publish(ctx, f)
	case cond:
		refresh := now.Sub(f.LastSeen) >= a.env.Policy.AlertRefresh
		f.LastSeen, f.Detail = now, detail
		if refresh {
			a.publish(ctx, f)
		}
	case f != nil:
		delete(a.firing, key)
		f.State, f.LastSeen, f.ResolvedAt = messages.AlertResolved, now, now
		a.env.Log.Info("alert resolved", "alert", rule, "subject", subject)
		a.publish(ctx, f)
		a.resolved = append(a.resolved, *f)
		if n := len(a.resolved); n > keepResolved {
			a.resolved = append(a.resolved[:0:0], a.resolved[n-keepResolved:]...)
		}
	}
}

// now is what fires, latest change first, and what resolved lately.
func (a *alertsActor) now() *AlertsNow {
	out := &AlertsNow{Firing: make([]messages.AlertChanged, 0, len(a.firing)), Resolved: make([]messages.AlertChanged, 0, len(a.resolved))}
	for _, f := range a.firing {
		out.Firing = append(out.Firing, *f)
	}
	slices.SortFunc(out.Firing, func(x, y messages.AlertChanged) int { return y.LastSeen.Compare(x.LastSeen) })
	for i := len(a.resolved) - 1; i >= 0; i-- {
		out.Resolved = append(out.Resolved, a.resolved[i])
	}
	return out
}

// resolveCamera resolves the alerts about a camera this node no longer
// runs, camera_unowned aside (every node watches that one).
func (a *alertsActor) resolveCamera(ctx actor.Context, camera string) {
	for _, f := range a.firing {
		if f.Subject == camera && f.Rule != "camera_unowned" {
			a.set(ctx, f.Rule, f.Subject, false, "")
		}
	}
}

func (a *alertsActor) resolveRule(ctx actor.Context, rule string) {
	for _, f := range a.firing {
		if f.Rule == rule {
			a.set(ctx, rule, f.Subject, false, "")
		}
	}
}

// publish sends a copy: the recorder and hub read it after we change ours.
func (a *alertsActor) publish(ctx actor.Context, f *messages.AlertChanged) {
	c := *f
	ctx.ActorSystem().EventStream.Publish(&c)
	a.hook.send(ctx, &c)
}

// subjectOf names what an unowned process was about: its camera, else its
// owner's path.
func subjectOf(r *messages.ProcessReaped) string {
	if r.Camera != "" {
		return r.Camera
	}
	return r.Owner
}
