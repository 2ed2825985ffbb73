package messages

import "time"

// Alert states.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// AlertChanged is the fact that an alert started firing or resolved. It is
// recorded, logged once per transition and pushed to every dashboard.
type AlertChanged struct {
	Rule       string // process_budget_exceeded, unowned_process, camera_failing, ...
	Subject    string // the camera, subnet or service it is about
	State      string // AlertFiring or AlertResolved
	FirstSeen  time.Time
	LastSeen   time.Time
	ResolvedAt time.Time
	Detail     string
}
