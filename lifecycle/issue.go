package lifecycle

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// leafJob is one leaf certificate to issue and where it goes.
type leafJob struct {
	member    *spec.Member
	kind      pki.Kind
	cert, key string
	// old is the certificate it replaces, if any.
	old *x509.Certificate
	// reuse is the key to keep; nil means a new key.
	reuse crypto.Signer
}

// issueLeaves issues jobs (in member order) with ca, from the requests
// init would make today (layout.LeafRequest), and writes each pair as soon
// as it is issued. Keys are generated one member at a time, that member's
// in parallel: a run that is interrupted has then replaced the pairs of
// the members before, not none of them, and the next run has less to do.
func issueLeaves(cs *changeSet, c *spec.Cluster, ca *pki.CA, jobs []leafJob, now time.Time) ([]Issued, error) {
	var issued []Issued
	for len(jobs) > 0 {
		n := 1
		for n < len(jobs) && jobs[n].member == jobs[0].member {
			n++
		}
		batch := jobs[:n]
		jobs = jobs[n:]
		fresh := 0
		for _, j := range batch {
			if j.reuse == nil {
				fresh++
			}
		}
		keys, err := pki.GenerateKeys(c.Algorithm, fresh)
		if err != nil {
			return issued, err
		}
		for _, j := range batch {
			key := j.reuse
			if key == nil {
				key, keys = keys[0], keys[1:]
			}
			cert, err := issuePair(cs, ca, layout.LeafRequest(c, j.member, j.kind), key, j.reuse == nil, j.cert, j.key, now)
			if err != nil {
				return issued, fmt.Errorf("member %s: %w", j.member.Name, err)
			}
			is := Issued{Member: j.member.Name, Kind: j.kind, Serial: pki.Serial(cert), Fingerprint: pki.Fingerprint(cert),
				NotAfter: cert.NotAfter, KeyReused: j.reuse != nil}
			if j.old != nil {
				is.OldSerial, is.OldFingerprint = pki.Serial(j.old), pki.Fingerprint(j.old)
			}
			issued = append(issued, is)
		}
	}
	return issued, nil
}

// issuePair issues req for key with ca and writes the certificate to
// certPath and, when newKey, the key to keyPath, as one group (cs.apply).
// The key goes first: a run killed between the two renames leaves the
// certificate's temporary file, which repair renames into place next
// time.
func issuePair(cs *changeSet, ca *pki.CA, req pki.Request, key crypto.Signer, newKey bool, certPath, keyPath string, now time.Time) (*x509.Certificate, error) {
	cert, err := ca.Issue(req, key.Public(), now)
	if err != nil {
		return nil, err
	}
	group := []change{{certPath, pki.EncodeCert(cert), layout.CertPerm}}
	if newKey {
		keyPEM, err := pki.EncodeKey(key)
		if err != nil {
			return nil, err
		}
		group = append([]change{{keyPath, keyPEM, layout.KeyPerm}}, group...)
	}
	return cert, cs.apply(group...)
}

// readLeaf reads member's current pair of kind for a job: the certificate
// it replaces and, with reuseKey, the key to keep (which must match it).
func (d *Dir) readLeaf(op string, m *spec.Member, kind pki.Kind, reuseKey bool) (leafJob, error) {
	j := leafJob{member: m, kind: kind, cert: d.CertPath(m.Name, kind), key: d.KeyPath(m.Name, kind)}
	if !exists(j.cert) && !exists(j.key) {
		return j, &RefusedError{Op: op, Detail: fmt.Sprintf("member %s has no %s certificate (%s)", m.Name, kind, d.rel(j.cert)),
			Hint: "etcdpki init --config " + layout.SpecFile(d.Path) + " --out " + d.Path + " issues missing certificates"}
	}
	if !reuseKey {
		// A certificate that does not read (cut short, lost) is replaced
		// all the same; it is backed up first.
		if cert, err := layout.ReadCert(j.cert); err == nil {
			j.old = cert
		}
		return j, nil
	}
	kp, err := layout.ReadKeyPair(j.cert, j.key)
	if err != nil {
		return j, err
	}
	j.old, j.reuse = kp.Cert, kp.Key
	return j, nil
}
