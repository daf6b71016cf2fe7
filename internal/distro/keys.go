package distro

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "embed"
	"sync"
	"testing"

	"github.com/etcdpki/etcdpki/pki"
)

// rsa2048PEM holds 40 distinct RSA-2048 test keys (openssl genpkey), so
// fixtures of RSA distributions (kubespray, OpenShift, kubeadm-style
// etcdadm) cost no key generation and stay distinct per file: R3 flags a
// key shared by two members.
//
//go:embed testdata/rsa2048.pem
var rsa2048PEM []byte

var (
	rsaOnce sync.Once
	rsaPool []crypto.Signer
	rsaErr  error
)

// Keys hands out test keys: distinct within one Keys value, in the same
// order for every fixture, so tests are reproducible.
type Keys struct {
	t    testing.TB
	next int
}

// NewKeys starts a key sequence for one fixture.
func NewKeys(t testing.TB) *Keys { return &Keys{t: t} }

// RSA returns the next fixed RSA-2048 key; past the pool, a generated
// one, never a reused key.
func (k *Keys) RSA() crypto.Signer {
	k.t.Helper()
	rsaOnce.Do(func() {
		rest := rsa2048PEM
		for len(rest) > 0 {
			end := []byte("-----END PRIVATE KEY-----\n")
			i := bytes.Index(rest, end)
			if i < 0 {
				break
			}
			i += len(end)
			var key crypto.Signer
			key, rsaErr = pki.ParseKey(rest[:i])
			if rsaErr != nil {
				return
			}
			rsaPool = append(rsaPool, key)
			rest = rest[i:]
		}
	})
	if rsaErr != nil {
		k.t.Fatalf("distro: test keys: %v", rsaErr)
	}
	if k.next >= len(rsaPool) {
		// Only large fixtures (benchmarks of 100 members) get here: a
		// fresh key is slow but keeps every file's key distinct.
		k.next++
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			k.t.Fatalf("distro: %v", err)
		}
		return key
	}
	key := rsaPool[k.next]
	k.next++
	return key
}

// ECDSA returns a fresh P-256 key (generating one takes microseconds).
func (k *Keys) ECDSA() crypto.Signer {
	k.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		k.t.Fatalf("distro: %v", err)
	}
	return key
}
