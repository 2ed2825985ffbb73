package messages

import (
	"time"

	"camvisor/actors/config"
)

// The reload's conversation: the facade asks the patrol to apply a new
// configuration (ApplyConfig); the patrol first has every camera that
// goes or changes retired by its subnet (RetireCameras, RetireSubnet →
// RetireCamera: processes killed and reaped, its live view drained, its
// go2rtc streams removed: ReleaseCameras), then starts what is new
// (ApplySubnet), and answers ConfigApplied. ConfigReloaded is the fact.

// ApplyConfig asks the patrol to run next's subnets and cameras as
// Changes says (computed against what runs). It answers ConfigApplied.
type ApplyConfig struct {
	Next    *config.Config
	Changes *config.Changes
	Reason  string
}

// ConfigApplied answers ApplyConfig once every retired camera is gone and
// every new one runs.
type ConfigApplied struct {
	Error string // what did not finish in time
}

// RetireCameras asks a subnet to stop some of its cameras for good (their
// processes killed and reaped, their live views drained, their go2rtc
// streams removed). It answers CamerasRetired when they are gone.
type RetireCameras struct {
	Cameras []string
	Reason  string
}

// CamerasRetired answers RetireCameras.
type CamerasRetired struct {
	Subnet string
}

// RetireSubnet asks a subnet to stop for good: every camera retired, its
// cycle ended (CycleEnded), then itself.
type RetireSubnet struct {
	Reason string
}

// ApplySubnet gives a running subnet its new configuration: its own
// settings, from its next cycle on, and the cameras it lacks, started. It
// answers SubnetApplied.
type ApplySubnet struct {
	Subnet config.Subnet
}

// SubnetApplied answers ApplySubnet.
type SubnetApplied struct {
	Subnet string
}

// RetireCamera asks a camera actor to stop for good: its live view (if
// any) drained first, at most Policy.RetireWait, its processes killed and
// reaped (stop reason reload).
type RetireCamera struct {
	Reason string
}

// SetInterval tells a camera its subnet's new interval (its breaker's
// back-off and busy hold start from it).
type SetInterval struct {
	Interval time.Duration
}

// ReleaseCameras asks the gateway to remove from go2rtc every stream of
// cameras that no longer run (removed or changed by a reload).
type ReleaseCameras struct {
	Subnet  string
	Cameras []string
	Reason  string
}

// StopReload: the process's camera was removed or changed by a reload.
const StopReload StopReason = "reload"

// Reload outcomes (ConfigReloaded.Outcome, config_changes.outcome).
const (
	ReloadApplied    = "applied"    // the new subnets and cameras run
	ReloadUnchanged  = "unchanged"  // the file says what runs already
	ReloadRejected   = "rejected"   // the file is invalid: nothing changed
	ReloadIncomplete = "incomplete" // applied, but not every part confirmed in time
)

// ConfigReloaded is the fact of a reload (SIGHUP, POST
// /api/config/reload): recorded in config_changes, logged, pushed to the
// dashboards. Nothing in it holds a secret.
type ConfigReloaded struct {
	At      time.Time
	Who     string // "signal SIGHUP", "api 127.0.0.1:51234"
	Outcome string // ReloadApplied, ReloadUnchanged, ReloadRejected, ReloadIncomplete
	Error   string // why it was rejected or is incomplete, redacted
	Added   []string
	Removed []string
	Changed []string
	// AddedSubnets and RemovedSubnets are the subnets started and stopped.
	AddedSubnets, RemovedSubnets []string
	// Restart are the sections that changed in the file but take effect
	// only at the next start.
	Restart []string
	// Lines say what changed, redacted.
	Lines []string
	// Config is the configuration that runs now, redacted (empty when
	// nothing changed).
	Config string
	// Cameras are the cameras that run now.
	Cameras []ConfiguredCamera
}

// ConfiguredCamera is a camera that runs, as the record keeps it.
type ConfiguredCamera struct {
	ID, Subnet     string
	Name           string // cameras[].name; empty when none
	URL            string // redacted
	MaxConnections int
}
