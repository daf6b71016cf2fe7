package member

import (
	"errors"
	"strings"

	"github.com/etcdpki/etcdpki/layout"
)

// loadSettings reads the member's etcd settings from the first of the
// distribution's sources that exists (or the --etcd-flags file), following
// a --config-file as etcd does.
func (m *Member) loadSettings() {
	in := m.Input
	if in.SettingsFile != "" {
		data, err := layout.ReadFile(in.SettingsFile)
		if err != nil {
			m.problem(ProblemSettings, "", in.SettingsFile, "cannot read the settings: %v", unwrapFileError(err))
			return
		}
		m.setSettings(parseAny(in.SettingsFile, data))
		return
	}
	for _, src := range in.Distribution.Settings {
		if !in.exists(src.Path) {
			continue
		}
		p, data, err := in.read(src.Path)
		if err != nil {
			m.problem(ProblemSettings, "", p, "cannot read the %s: %v", formatName(src.Format), err)
			continue
		}
		var s *Settings
		switch src.Format {
		case "manifest":
			s, err = ParseEtcdManifest(p, data)
		case "config":
			s, err = ParseConfigFile(p, data)
		case "env":
			s, err = ParseEnvFile(p, data)
		case "flags":
			s, err = ParseFlagsFile(p, data)
		case "unit":
			s, err = m.parseUnit(p, data)
		}
		if s == nil {
			m.problem(ProblemSettings, "", p, "cannot read the %s: %v", formatName(src.Format), err)
			continue
		}
		m.setSettings(s, err)
		if m.Name != "" {
			m.NameFrom = formatName(src.Format)
		}
		break
	}
}

func (m *Member) setSettings(s *Settings, err error) {
	if s == nil {
		m.problem(ProblemSettings, "", m.Input.SettingsFile, "cannot read the settings: %v", err)
		return
	}
	if err != nil {
		m.problem(ProblemSettings, "", s.Source, "%v", trimSource(err, s.Source))
	}
	if s.ConfigFile != "" {
		// etcd reads only the config file then (etcdmain config.parse).
		p, data, rerr := m.Input.read(s.ConfigFile)
		if rerr != nil {
			kind := ProblemFlagFile
			if errors.Is(rerr, ErrOutside) {
				kind = ProblemOutside
			}
			m.problem(kind, "", p, "--config-file %s (from %s) cannot be read: %v", s.ConfigFile, s.Source, rerr)
			m.Settings = s
			return
		}
		cs, cerr := ParseConfigFile(p, data)
		if cs == nil {
			m.problem(ProblemSettings, "", p, "cannot read the etcd config file: %v", cerr)
			m.Settings = s
			return
		}
		if cerr != nil {
			m.problem(ProblemSettings, "", p, "%v", trimSource(cerr, p))
		}
		cs.ConfigFile = s.ConfigFile
		// The command line is still parsed, and the image still runs it.
		cs.Flags, cs.EtcdVersion, cs.EtcdVersionSource = s.Flags, s.EtcdVersion, s.EtcdVersionSource
		s = cs
	}
	m.Settings = s
	if s.Name != "" {
		m.Name, m.NameFrom = s.Name, "settings file"
	}
	m.ClientURLs = append(append([]string{}, s.ListenClientURLs...), s.AdvertiseClientURLs...)
	m.PeerURLs = append(append([]string{}, s.ListenPeerURLs...), s.AdvertisePeerURLs...)
}

func trimSource(err error, source string) string {
	return strings.TrimPrefix(err.Error(), source+": ")
}

// parseUnit reads a systemd unit: ExecStart's flags and the variables of
// its EnvironmentFile(s), mapped as etcd maps them.
func (m *Member) parseUnit(p string, data []byte) (*Settings, error) {
	args, envFiles, env, err := ParseSystemdUnit(p, data)
	if err != nil {
		return nil, err
	}
	for _, ef := range envFiles {
		optional := strings.HasPrefix(ef, "-")
		ef = strings.TrimPrefix(ef, "-")
		ep, edata, err := m.Input.read(ef)
		if err != nil {
			if !optional {
				m.problem(ProblemFlagFile, "", ep, "EnvironmentFile %s of %s cannot be read: %v", ef, p, err)
			}
			continue
		}
		vars, err := parseEnv(ep, edata)
		if err != nil {
			m.problem(ProblemSettings, "", ep, "%v", err)
			continue
		}
		env = append(env, vars...)
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = args[1:]
	}
	return settingsFromEnv(p, args, nil, env)
}

// parseAny reads a settings file of unknown format: ETCD_* variables, an
// etcd config file or a flags file.
func parseAny(source string, data []byte) (*Settings, error) {
	text := string(data)
	switch {
	case strings.Contains(text, "ETCD_"):
		return ParseEnvFile(source, data)
	case strings.Contains(text, "[Service]") || strings.Contains(text, "ExecStart="):
		args, _, env, err := ParseSystemdUnit(source, data)
		if err != nil {
			return nil, err
		}
		if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			args = args[1:]
		}
		return settingsFromEnv(source, args, nil, env)
	case strings.Contains(text, "kind: Pod"):
		return ParseEtcdManifest(source, data)
	case !strings.Contains(text, "--") && strings.Contains(text, ":"):
		return ParseConfigFile(source, data)
	}
	return ParseFlagsFile(source, data)
}

func formatName(f string) string {
	return map[string]string{"manifest": "manifest", "config": "config file", "env": "env file", "unit": "unit", "flags": "flags file"}[f]
}
