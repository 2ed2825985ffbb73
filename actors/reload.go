package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"camvisor/actors/config"
	"camvisor/actors/redact"
	"camvisor/messages"
)

// ErrReloadRejected is the error of a reload whose file is invalid:
// nothing changed.
var ErrReloadRejected = errors.New("reload rejected")

// Config is the configuration that runs now: the one the tree started
// with, its subnets and cameras as last reloaded.
func (t *Tree) Config() *config.Config { return t.env.Current() }

// Reload reads the configuration again (Env.Load), validates it whole
// and applies the difference: new subnets and cameras start, removed ones
// stop (processes killed and reaped, live views drained, go2rtc streams
// removed), changed ones restart with their new settings; the others are
// not touched. Sections other than subnets take effect at the next start
// and are reported as such. A file that does not load changes nothing
// and the error says why (ErrReloadRejected). A reload waits for one
// running to end as long as ctx lets it (ErrNoTime). Every reload is published
// as a ConfigReloaded fact (recorded, logged, pushed) and returned.
func (t *Tree) Reload(ctx context.Context, who string) (*messages.ConfigReloaded, error) {
	select {
	case t.reloading <- struct{}{}:
		defer func() { <-t.reloading }()
	case <-ctx.Done():
		return nil, fmt.Errorf("another reload is still running: %w", ErrNoTime)
	}
	rec := &messages.ConfigReloaded{At: time.Now(), Who: who}
	var next *config.Config
	err := errors.New("this server was not started from a configuration file")
	if t.env.Load != nil {
		next, err = t.env.Load()
	}
	if err != nil {
		rec.Outcome, rec.Error = messages.ReloadRejected, redact.Text(err.Error())
		t.publishReload(rec)
		return detached(rec), fmt.Errorf("%w: %s", ErrReloadRejected, rec.Error)
	}
	cur := t.env.Current()
	ch := config.Compare(cur, next)
	rec.Added, rec.Removed, rec.Changed = ch.Added, ch.Removed, ch.Changed
	rec.AddedSubnets, rec.RemovedSubnets, rec.Restart, rec.Lines = ch.AddedSubnets, ch.RemovedSubnets, ch.Restart, ch.Lines
	if !ch.Applies() {
		rec.Outcome = messages.ReloadUnchanged
		t.publishReload(rec)
		return detached(rec), nil
	}
	runs := cur.WithSubnets(next)
	// What runs from now on, also for a patrol or subnet restarted in
	// the middle of the change.
	t.env.current.Store(runs)
	rec.Outcome = messages.ReloadApplied
	applied, err := askFor[messages.ConfigApplied](ctx, t, t.env.peers.patrol, "the patrol",
		&messages.ApplyConfig{Next: runs, Changes: ch, Reason: who})
	switch {
	case err != nil:
		rec.Outcome, rec.Error = messages.ReloadIncomplete, err.Error()
	case applied.Error != "":
		rec.Outcome, rec.Error = messages.ReloadIncomplete, applied.Error
	}
	rec.Config = runs.Redacted()
	for _, c := range runs.Cameras() {
		rec.Cameras = append(rec.Cameras, messages.ConfiguredCamera{ID: c.ID, Subnet: c.Subnet, URL: redact.URL(c.URL), MaxConnections: c.MaxConnections, Name: c.Name})
	}
	t.publishReload(rec)
	return detached(rec), nil
}

// publishReload logs the reload and publishes its fact.
func (t *Tree) publishReload(rec *messages.ConfigReloaded) {
	log := t.env.Log.Info
	args := []any{"who", rec.Who, "outcome", rec.Outcome}
	switch rec.Outcome {
	case messages.ReloadRejected:
		log = t.env.Log.Error
		args = append(args, "reason", rec.Error)
	case messages.ReloadIncomplete:
		log = t.env.Log.Warn
		args = append(args, "reason", rec.Error)
	}
	for _, kv := range []struct {
		k string
		v []string
	}{{"added", rec.Added}, {"removed", rec.Removed}, {"changed", rec.Changed}, {"restart_needed", rec.Restart}} {
		if len(kv.v) > 0 {
			args = append(args, kv.k, slices.Clone(kv.v))
		}
	}
	log("configuration reloaded", args...)
	t.system.EventStream.Publish(rec)
}

// detached is a copy of a published reload for the caller, who may change
// it while the actors read the original.
func detached(rec *messages.ConfigReloaded) *messages.ConfigReloaded {
	c := *rec
	for _, s := range []*[]string{&c.Added, &c.Removed, &c.Changed, &c.AddedSubnets, &c.RemovedSubnets, &c.Restart, &c.Lines} {
		*s = slices.Clone(*s)
	}
	c.Cameras = slices.Clone(c.Cameras)
	return &c
}
