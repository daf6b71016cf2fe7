package local

import (
	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// PKIDir is the directory a cluster started by Start (here, or hosts.Start)
// keeps its PKI and data in.
type PKIDir struct {
	// Path is the directory; Temp says it was created for this run.
	Path    string
	Temp    bool
	release func()
	// Spec is the cluster's spec as written to Path/cluster.yaml.
	Spec *spec.Cluster
	// Init says what layout.Init wrote or kept.
	Init *layout.InitResult
}

// PreparePKI puts the PKI of fresh in dir, or in a new temporary directory
// named after tempPrefix when dir is empty. An existing PKI in dir is
// reused as layout.Init reuses it, once reuse has accepted the spec found
// there (it returns the spec to run, or refuses a directory of another
// cluster). alg, when set, is the key algorithm of a new PKI.
func PreparePKI(dir, tempPrefix string, fresh *spec.Cluster, alg pki.Algorithm, reuse func(string, *spec.Cluster) (*spec.Cluster, error)) (*PKIDir, error) {
	p := &PKIDir{Path: dir, Spec: fresh}
	var err error
	if dir == "" {
		if p.Path, p.release, err = TempDir(tempPrefix); err != nil {
			return nil, err
		}
		p.Temp = true
	} else if p.Spec, err = reuse(dir, fresh); err != nil {
		return nil, err
	}
	if alg != "" {
		p.Spec.Algorithm = alg
	}
	// The cluster is etcd's alone, and etcd loads every algorithm: up
	// --algo ed25519 runs, where init refuses it for kubeadm's layout.
	if p.Init, err = layout.Init(p.Spec, p.Path, layout.InitOptions{AnyAlgorithm: true}); err != nil {
		p.Remove()
		return nil, err
	}
	return p, nil
}

// Remove deletes the directory if it was created for this run.
func (p *PKIDir) Remove() {
	if p.Temp && p.release != nil {
		p.release()
	}
}
