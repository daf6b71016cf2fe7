package render

import (
	"slices"
	"strings"
	"testing"
)

// TestParseCommandLineRoundTrip reads every case's CommandLine back.
func TestParseCommandLineRoundTrip(t *testing.T) {
	for _, rc := range renderCases {
		t.Run(rc.name, func(t *testing.T) {
			_, cfg := rc.config(t)
			got, err := ParseCommandLine(cfg.CommandLine())
			if err != nil {
				t.Fatal(err)
			}
			if want := cfg.Flags(); !slices.Equal(got, want) {
				t.Errorf("ParseCommandLine(CommandLine()) =\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func TestParseCommandLine(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "etcd", want: []string{}},
		{in: "/usr/local/bin/etcd --name=a", want: []string{"--name=a"}},
		{in: "etcd \\\n  --name=a \\\n  --data-dir=/x\n", want: []string{"--name=a", "--data-dir=/x"}},
		{in: "etcd '--data-dir=/a b'", want: []string{"--data-dir=/a b"}},
		{in: `etcd '--data-dir=/it'\''s'`, want: []string{"--data-dir=/it's"}},
		{in: "etcd '--data-dir=/a\\\nb'", want: []string{"--data-dir=/a\\\nb"}},
		{in: "etcd --a=''", want: []string{"--a="}},
		{in: "", wantErr: "not an etcd command line"},
		{in: "kube-apiserver --etcd-servers=x", wantErr: "not an etcd command line"},
		{in: "etcd '--name=a", wantErr: "unterminated quote"},
		{in: `etcd --name=a\`, wantErr: "trailing backslash"},
	}
	for _, tt := range tests {
		got, err := ParseCommandLine(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseCommandLine(%q) = %q, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseCommandLine(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// FuzzParseCommandLine: any input parses or fails without panicking, and
// any argument quoted as CommandLine quotes it comes back unchanged.
func FuzzParseCommandLine(f *testing.F) {
	f.Add("--data-dir=/var/lib/etcd", "etcd \\\n  --name=a\n")
	f.Add("it's a 'path'\\\n", "etcd '--a=b")
	f.Add("", `etcd --x=\'`)
	f.Add("\xab", "0") // not UTF-8: must come back byte for byte
	f.Fuzz(func(t *testing.T, arg, line string) {
		_, _ = ParseCommandLine(line)
		got, err := ParseCommandLine("etcd \\\n  " + shellQuote(arg) + " \\\n  --z\n")
		if err != nil {
			t.Fatalf("quoted %q does not parse: %v", arg, err)
		}
		if len(got) != 2 || got[0] != arg || got[1] != "--z" {
			t.Fatalf("quoted %q parses as %q", arg, got)
		}
	})
}
