package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"camvisor/actors/redact"
)

// Changes is what a reload changes: the difference between the
// configuration that runs and the file as read again. Subnets and cameras
// apply at once; every other section only at the next start (Restart).
type Changes struct {
	AddedSubnets   []string // subnets to start
	RemovedSubnets []string // subnets to stop, cameras and all
	ChangedSubnets []string // subnets whose own settings changed (interval, concurrency, via)
	Added          []string // cameras to start (moved ones included)
	Removed        []string // cameras to stop (moved ones included)
	Changed        []string // cameras to restart with new settings
	// Retire is, per running subnet, the cameras to stop before anything
	// starts: removed, moved to another subnet, or changed. No two actors
	// of one camera ever run at once.
	Retire map[string][]string
	// Restart are the top-level keys that changed but take effect only at
	// the next start (listen, db, ffmpeg, ...).
	Restart []string
	// Lines say what changed, one change a line, passwords as *** and
	// secrets from the environment as ${NAME}.
	Lines []string
}

// None reports a reload that changes nothing.
func (c *Changes) None() bool {
	return len(c.AddedSubnets)+len(c.RemovedSubnets)+len(c.ChangedSubnets)+len(c.Added)+len(c.Removed)+len(c.Changed)+len(c.Restart) == 0
}

// Applies reports a reload that changes what runs now.
func (c *Changes) Applies() bool {
	return len(c.AddedSubnets)+len(c.RemovedSubnets)+len(c.ChangedSubnets)+len(c.Added)+len(c.Removed)+len(c.Changed) > 0
}

// Compare is what changes from old to next.
func Compare(old, next *Config) *Changes {
	ch := &Changes{Retire: map[string][]string{}}
	oldShown, nextShown := old.display(), next.display()

	// Every section but subnets: noted, applied at the next start.
	ot, nt := reflect.ValueOf(*old), reflect.ValueOf(*next)
	for i := 0; i < ot.NumField(); i++ {
		f := ot.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || name == "subnets" {
			continue
		}
		if !reflect.DeepEqual(ot.Field(i).Interface(), nt.Field(i).Interface()) {
			ch.Restart = append(ch.Restart, name)
			ch.Lines = append(ch.Lines, name+": changed; takes effect at the next start")
		}
	}

	runs := old.WithSubnets(next) // what runs after it: the patrol section applies at the next start
	oldSubnets, nextSubnets := subnetsByName(old), subnetsByName(next)
	oldCams, nextCams := camerasByID(old), camerasByID(next)
	oldShownCams, nextShownCams := camerasByID(oldShown), camerasByID(nextShown)
	for _, s := range old.Subnets {
		if _, kept := nextSubnets[s.Name]; !kept {
			ch.RemovedSubnets = append(ch.RemovedSubnets, s.Name)
			ch.Lines = append(ch.Lines, fmt.Sprintf("subnet %s: removed (%d cameras)", s.Name, len(s.Cameras)))
		}
	}
	for _, s := range next.Subnets {
		o, kept := oldSubnets[s.Name]
		switch {
		case !kept:
			ch.AddedSubnets = append(ch.AddedSubnets, s.Name)
			ch.Lines = append(ch.Lines, fmt.Sprintf("subnet %s: added (%d cameras)", s.Name, len(s.Cameras)))
		default:
			if what := subnetSettings(o, s); what != "" {
				ch.ChangedSubnets = append(ch.ChangedSubnets, s.Name)
				ch.Lines = append(ch.Lines, fmt.Sprintf("subnet %s: %s", s.Name, what))
			}
		}
	}
	for _, c := range old.Cameras() {
		n, kept := nextCams[c.ID]
		switch {
		case !kept:
			ch.Removed = append(ch.Removed, c.ID)
			ch.Retire[c.Subnet] = append(ch.Retire[c.Subnet], c.ID)
			ch.Lines = append(ch.Lines, fmt.Sprintf("camera %s: removed from subnet %s", c.ID, c.Subnet))
		case n.Subnet != c.Subnet:
			ch.Removed = append(ch.Removed, c.ID)
			ch.Added = append(ch.Added, c.ID)
			ch.Retire[c.Subnet] = append(ch.Retire[c.Subnet], c.ID)
			ch.Lines = append(ch.Lines, fmt.Sprintf("camera %s: moved from subnet %s to %s", c.ID, c.Subnet, n.Subnet))
		case !reflect.DeepEqual(c.Camera, n.Camera):
			ch.Changed = append(ch.Changed, c.ID)
			ch.Retire[c.Subnet] = append(ch.Retire[c.Subnet], c.ID)
			ch.Lines = append(ch.Lines, fmt.Sprintf("camera %s: %s", c.ID, cameraChanges(c.Camera, n.Camera, oldShownCams[c.ID].Camera, nextShownCams[c.ID].Camera)))
		case old.Streams(c.Subnet, c.Camera) != runs.Streams(n.Subnet, n.Camera):
			// Its subnet's new interval crossed patrol.stream_below: the
			// camera restarts in its other mode.
			ch.Changed = append(ch.Changed, c.ID)
			ch.Retire[c.Subnet] = append(ch.Retire[c.Subnet], c.ID)
			ch.Lines = append(ch.Lines, fmt.Sprintf("camera %s: mode %s → %s (its subnet's interval against patrol.stream_below)", c.ID, modeOf(old, c), modeOf(runs, n)))
		}
	}
	for _, c := range next.Cameras() {
		if _, had := oldCams[c.ID]; !had {
			ch.Added = append(ch.Added, c.ID)
			ch.Lines = append(ch.Lines, fmt.Sprintf("camera %s: added to subnet %s", c.ID, c.Subnet))
		}
	}
	for _, s := range ch.RemovedSubnets {
		delete(ch.Retire, s) // the whole subnet stops
	}
	return ch
}

// modeOf names the patrol mode of camera sc under c.
func modeOf(c *Config, sc SubnetCamera) string {
	if c.Streams(sc.Subnet, sc.Camera) {
		return ModeStream
	}
	return ModeSnapshot
}

func subnetsByName(c *Config) map[string]Subnet {
	out := map[string]Subnet{}
	for _, s := range c.Subnets {
		out[s.Name] = s
	}
	return out
}

func camerasByID(c *Config) map[string]SubnetCamera {
	out := map[string]SubnetCamera{}
	for _, sc := range c.Cameras() {
		out[sc.ID] = sc
	}
	return out
}

// subnetSettings says which of a subnet's own settings changed.
func subnetSettings(o, n Subnet) string {
	var parts []string
	if o.Interval != n.Interval {
		parts = append(parts, fmt.Sprintf("interval %s → %s", o.Interval, n.Interval))
	}
	if o.Concurrency != n.Concurrency {
		parts = append(parts, fmt.Sprintf("concurrency %d → %d", o.Concurrency, n.Concurrency))
	}
	if o.Via != n.Via {
		parts = append(parts, fmt.Sprintf("via %q → %q", o.Via, n.Via))
	}
	return strings.Join(parts, ", ")
}

// SameSettings reports whether a subnet's own settings (not its cameras)
// are unchanged.
func SameSettings(o, n Subnet) bool { return subnetSettings(o, n) == "" }

// cameraChanges names the fields that changed, with their values as they
// may be shown: URLs redacted, strings from ${NAME} as ${NAME}. A change
// that shows only in the secret (a new password in the environment or the
// password file) is said so.
func cameraChanges(o, n, oShown, nShown Camera) string {
	var parts []string
	ov, nv := reflect.ValueOf(o), reflect.ValueOf(n)
	os, ns := reflect.ValueOf(oShown), reflect.ValueOf(nShown)
	for i := 0; i < ov.NumField(); i++ {
		name, _, _ := strings.Cut(ov.Type().Field(i).Tag.Get("yaml"), ",")
		if reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			continue
		}
		from, to := show(os.Field(i).Interface()), show(ns.Field(i).Interface())
		if from == to {
			parts = append(parts, name+": credentials changed")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s → %s", name, from, to))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func show(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return `""`
		}
		return redact.URL(x)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = redact.Text(s)
		}
		return "[" + strings.Join(out, " ") + "]"
	}
	return fmt.Sprint(v)
}
