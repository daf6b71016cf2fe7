package spec_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/spec"
)

func TestParseDuration(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"8760h", 8760 * time.Hour, false},
		{"365d", 365 * day, false},
		{"1d", day, false},
		{"0d", 0, false},
		{"90m", 90 * time.Minute, false},
		{"1h30m", 90 * time.Minute, false},
		{"-1h", -time.Hour, false}, // Validate rejects it, naming the field
		{"", 0, true},
		{"abc", 0, true},
		{"10", 0, true},
		{"1y", 0, true},
		{"d", 0, true},
		{"-1d", 0, true},
		{"1.5d", 0, true},
		{"+1d", 24 * time.Hour, false}, // as time.ParseDuration("+24h")
		{" 1d", 0, true},
		{"1 d", 0, true},
		{"1dd", 0, true},
		// More days than a time.Duration holds (about 106751) must not
		// wrap around to some other duration.
		{"106751d", 106751 * day, false},
		{"106752d", 0, true},
		{"999999999999d", 0, true},
		{"99999999999999999999h", 0, true},
	}
	for _, tt := range tests {
		got, err := spec.ParseDuration(tt.in)
		if time.Duration(got) != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, time.Duration(got), err, tt.want, tt.wantErr)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{`"365d"`, 365 * 24 * time.Hour, false},
		{`"8760h0m0s"`, 8760 * time.Hour, false},
		{`8760`, 0, true},
		{`"soon"`, 0, true},
		{`null`, 0, false}, // "certValidity:" left empty in YAML: the default
	}
	for _, tt := range tests {
		var d spec.Duration
		err := json.Unmarshal([]byte(tt.in), &d)
		if time.Duration(d) != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v, error %v", tt.in, time.Duration(d), err, tt.want, tt.wantErr)
		}
	}
	out, err := json.Marshal(spec.Duration(36 * time.Hour))
	if err != nil || string(out) != `"36h0m0s"` {
		t.Errorf("Marshal(36h) = %s, %v", out, err)
	}
}

func TestDurationFlag(t *testing.T) {
	var d spec.Duration
	if err := d.Set("30d"); err != nil || time.Duration(d) != 30*24*time.Hour {
		t.Errorf("Set(30d) = %v, %v", time.Duration(d), err)
	}
	if err := d.Set("month"); err == nil {
		t.Error("Set(month) succeeded")
	}
	if time.Duration(d) != 30*24*time.Hour {
		t.Errorf("a failed Set changed the value to %v", time.Duration(d))
	}
	if d.Type() != "duration" || d.String() != "720h0m0s" {
		t.Errorf("Type %q String %q", d.Type(), d.String())
	}
}
