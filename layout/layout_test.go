package layout_test

import (
	"path/filepath"
	"testing"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

func TestLayoutPaths(t *testing.T) {
	tests := []struct {
		layout *layout.Layout
		paths  map[pki.Kind]string
	}{
		{layout.Kubeadm, kubeadmPaths},
		{layout.Etcd, etcdPaths},
	}
	kinds := append([]pki.Kind{pki.KindCA}, pki.LeafKinds(true)...)
	for _, tt := range tests {
		for _, k := range kinds {
			want := "/" + tt.paths[k]
			if got := tt.layout.CertPath(k); got != want+".crt" {
				t.Errorf("%s CertPath(%s) = %q, want %q", tt.layout.Name, k, got, want+".crt")
			}
			if got := tt.layout.KeyPath(k); got != want+".key" {
				t.Errorf("%s KeyPath(%s) = %q, want %q", tt.layout.Name, k, got, want+".key")
			}
		}
	}
}

func TestForName(t *testing.T) {
	tests := []struct {
		name    string
		want    *layout.Layout
		wantErr bool
	}{
		{spec.LayoutKubeadm, layout.Kubeadm, false},
		{"", layout.Kubeadm, false},
		{spec.LayoutEtcd, layout.Etcd, false},
		{"etcdadm", nil, true},
		{"Kubeadm", nil, true},
	}
	for _, tt := range tests {
		got, err := layout.ForName(tt.name)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ForName(%q) = %v, %v; want %v, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestOutPaths(t *testing.T) {
	out := filepath.FromSlash("/tmp/out")
	tests := []struct{ got, want string }{
		{layout.MemberDir(out, "cp1"), "/tmp/out/cp1"},
		{layout.CADir(out), "/tmp/out/ca"},
		{layout.SpecFile(out), "/tmp/out/cluster.yaml"},
		{layout.OnDisk(layout.MemberDir(out, "cp1"), layout.Kubeadm.CertPath(pki.KindServer)), "/tmp/out/cp1/etc/kubernetes/pki/etcd/server.crt"},
		{layout.OnDisk("root", "/etc/etcd/pki/ca.key"), "root/etc/etcd/pki/ca.key"},
	}
	for _, tt := range tests {
		if tt.got != filepath.FromSlash(tt.want) {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
