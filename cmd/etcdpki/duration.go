package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// day and year are the units --warn-within, --fail-within,
// --expiring-within and the validities take besides Go's: a year is 365
// days, as kubeadm's and pki's ten-year CA (pki.DefaultCAValidity) counts it.
const (
	day  = 24 * time.Hour
	year = 365 * day
)

// durationFlag is the pflag.Value of every duration flag a user writes in
// days or years: 30d, 1y, 87600h, 90m. It remembers what was written, so
// that errors and reports echo the user's words ("30d", not "720h0m0s"),
// and prints its default in help once, in the same units.
type durationFlag struct {
	d    time.Duration
	text string // as written, or as formatted for the default
	set  bool
}

// newDurationFlag is a flag whose default is def; a zero def shows no
// default in help.
func newDurationFlag(def time.Duration) *durationFlag {
	f := &durationFlag{d: def}
	if def != 0 {
		f.text = formatDuration(def)
	}
	return f
}

// durationVar registers a duration flag with default def.
func durationVar(fs *pflag.FlagSet, name string, def time.Duration, usage string) *durationFlag {
	f := newDurationFlag(def)
	fs.Var(f, name, usage)
	return f
}

// parseDuration reads whole days ("30d"), whole years ("1y") or a Go
// duration ("87600h", "90m"). The error quotes s as written.
func parseDuration(s string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": day, "y": year} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			// Past MaxInt64/unit the product would wrap around.
			if err != nil || v < 0 || v > math.MaxInt64/int64(unit) {
				return 0, fmt.Errorf("invalid duration %q (use e.g. 30d, 1y or 87600h)", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 30d, 1y or 87600h)", s)
	}
	return d, nil
}

// formatDuration writes d in the largest whole unit of y, d or a Go
// duration: 10y, 30d, 36h0m0s.
func formatDuration(d time.Duration) string {
	switch {
	case d > 0 && d%year == 0:
		return fmt.Sprintf("%dy", d/year)
	case d > 0 && d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

// Set implements pflag.Value.
func (f *durationFlag) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	f.d, f.text, f.set = d, s, true
	return nil
}

// String is what the user wrote, or the default; pflag prints it as the
// default in help, and an empty string (no default) not at all.
func (f *durationFlag) String() string { return f.text }

// Type implements pflag.Value; help shows it as the flag's argument.
func (f *durationFlag) Type() string { return "duration" }

// Duration is the flag's value.
func (f *durationFlag) Duration() time.Duration { return f.d }
