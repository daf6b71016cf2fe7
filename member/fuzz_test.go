package member

import (
	"strings"
	"testing"
)

// The settings parsers read files copied off nodes nobody vetted: they
// must never panic, and must return settings or an error, never neither.

func FuzzParseEnvFile(f *testing.F) {
	f.Add([]byte("ETCD_NAME=etcd1\nETCD_CERT_FILE=/etc/ssl/etcd/ssl/member-node1.pem\nETCD_CLIENT_CERT_AUTH=True\n"))
	f.Add([]byte("export ETCD_LISTEN_CLIENT_URLS=\"https://10.0.0.11:2379,https://127.0.0.1:2379\"\n# c\n\\\n"))
	f.Add([]byte("ETCD_CLIENT_CERT_AUTH=maybe\nETCD_LISTEN_PEER_URLS=::\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseEnvFile("src", data)
		if s == nil && err == nil {
			t.Fatal("no settings and no error")
		}
	})
}

func FuzzParseSystemdUnit(f *testing.F) {
	f.Add([]byte("[Service]\nEnvironmentFile=-/etc/etcd.env\nExecStart=/usr/local/bin/etcd --name=a \\\n  --cert-file=/x.crt\n"))
	f.Add([]byte("ExecStart=\nEnvironment=\"ETCD_NAME=a\" ETCD_X=1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _, err := ParseSystemdUnit("src", data)
		if err == nil && !strings.Contains(string(data), "ExecStart") {
			t.Fatal("a unit without ExecStart parsed without an error")
		}
	})
}

func FuzzUnwrapShell(f *testing.F) {
	f.Add("#!/bin/sh\nexport ETCD_NAME=${NODE_a_ETCD_NAME}\nexec nice -n -19 etcd \\\n --cert-file=${X}/a.crt --name=\"q u\" || mv a b\n")
	f.Add("etcd '--name=a' \"--cert-file=$X\" ; etcd")
	f.Add("$(${'" + `"\` + ")")
	f.Fuzz(func(t *testing.T, script string) {
		args, _ := unwrapShell([]string{"/bin/sh", "-c", script}, "etcd", map[string]string{"X": "/x", "NODE_a_ETCD_NAME": "a"})
		if len(args) == 0 {
			t.Fatal("no command line at all")
		}
	})
}

func FuzzParseConfigFile(f *testing.F) {
	f.Add([]byte("name: a\nlisten-client-urls: https://127.0.0.1:2379\nclient-transport-security:\n  cert-file: /a\n"))
	f.Add([]byte("peer-transport-security: 3\n"))
	f.Add([]byte("listen-peer-urls: '::'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseConfigFile("src", data)
		if s == nil && err == nil {
			t.Fatal("no settings and no error")
		}
	})
}

// FuzzReadBundle: any bytes read as a bundle give members or an error,
// never a panic, whatever indexes or certificates they claim.
func FuzzReadBundle(f *testing.F) {
	f.Add(`{"schemaVersion":"etcdpki.io/bundle/v1","members":[{"name":"cp1","input":{"dir":"cp1","root":"/","layout":"kubeadm"},"files":{"server":0},"ca":1,"peerCA":-1,"apiServerCA":-1,"k8sCA":-1}],"files":[{"kind":"server","certPath":"a","certs":"-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"}]}`)
	f.Add(`{"schemaVersion":"etcdpki.io/bundle/v1","members":[{"name":"x","input":{"layout":"nope"},"ca":7}]}`)
	f.Add(`{"schemaVersion":"other"}`)
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ReadBundle(strings.NewReader(s))
		if err != nil {
			return
		}
		ms, err := b.Load()
		if err == nil && len(ms) != len(b.Members) {
			t.Fatalf("%d members from a bundle of %d", len(ms), len(b.Members))
		}
	})
}
