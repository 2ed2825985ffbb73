package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as "30s", "2m", "1h30m" or "14d".
// A value that does not parse is kept as written so Validate can name the
// field it came from.
type Duration struct {
	time.Duration
	raw string // as written, set only when it did not parse
}

// D is a Duration of d, for defaults and tests.
func D(d time.Duration) Duration { return Duration{Duration: d} }

// UnmarshalYAML parses the scalar; errors surface later from Validate.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		*d = Duration{raw: n.Value}
		if d.raw == "" {
			d.raw = `""`
		}
		return nil
	}
	*d = Duration{Duration: v}
	return nil
}

// MarshalYAML writes the duration the way it is read.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText lets JSON show durations as text too.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// ParseDuration accepts Go durations plus a whole number of days ("14d").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		if int64(n) > math.MaxInt64/int64(24*time.Hour) || int64(n) < math.MinInt64/int64(24*time.Hour) {
			return 0, fmt.Errorf("%q is longer than a duration can be (106751d)", s) // it would wrap around
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 30s, 5m, 14d)", s)
	}
	return v, nil
}

// checkOptional reports a duration that did not parse or is negative: 0
// (or absent) means the key's automatic value.
func (d Duration) checkOptional(field string) error {
	if d.raw != "" {
		return fmt.Errorf("%s: %s is not a duration (like 30s, 5m, 14d)", field, d.raw)
	}
	if d.Duration < 0 {
		return fmt.Errorf("%s: must be 0 or positive, got %s", field, d.Duration)
	}
	return nil
}

// check reports a duration that did not parse or is not positive.
func (d Duration) check(field string) error {
	if d.raw != "" {
		return fmt.Errorf("%s: %s is not a duration (like 30s, 5m, 14d)", field, d.raw)
	}
	if d.Duration <= 0 {
		return fmt.Errorf("%s: must be positive, got %s", field, d.Duration)
	}
	return nil
}
