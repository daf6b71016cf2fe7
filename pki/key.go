package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sort"
	"strings"
)

// Algorithm names a key type and size, as accepted by --algo.
type Algorithm string

// The supported key algorithms. RSA2048 is the default because kubeadm
// generates 2048-bit RSA keys unless its encryptionAlgorithm is changed.
const (
	RSA2048   Algorithm = "rsa-2048"
	RSA3072   Algorithm = "rsa-3072"
	RSA4096   Algorithm = "rsa-4096"
	ECDSAP256 Algorithm = "ecdsa-p256"
	ECDSAP384 Algorithm = "ecdsa-p384"
	Ed25519   Algorithm = "ed25519"

	// DefaultAlgorithm is kubeadm's default.
	DefaultAlgorithm = RSA2048
)

// Algorithms lists every supported algorithm in a stable order.
func Algorithms() []Algorithm {
	return []Algorithm{RSA2048, RSA3072, RSA4096, ECDSAP256, ECDSAP384, Ed25519}
}

// AlgorithmNames returns the supported algorithms as strings, for help text
// and error messages.
func AlgorithmNames() []string {
	var names []string
	for _, a := range Algorithms() {
		names = append(names, string(a))
	}
	sort.Strings(names)
	return names
}

// ParseAlgorithm parses an --algo value. The empty string selects
// DefaultAlgorithm.
func ParseAlgorithm(s string) (Algorithm, error) {
	if s == "" {
		return DefaultAlgorithm, nil
	}
	for _, a := range Algorithms() {
		if strings.EqualFold(s, string(a)) {
			return a, nil
		}
	}
	return "", fmt.Errorf("unknown key algorithm %q (want one of %s)", s, strings.Join(AlgorithmNames(), ", "))
}

// GenerateKey makes a new private key of the given algorithm.
func GenerateKey(alg Algorithm) (crypto.Signer, error) {
	switch alg {
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case RSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unknown key algorithm %q", alg)
}

// GenerateKeys makes n keys of one algorithm concurrently. RSA key
// generation dominates the cost of init (tens of milliseconds per 2048-bit
// key, seconds for 4096), so it is spread over all CPUs.
func GenerateKeys(alg Algorithm, n int) ([]crypto.Signer, error) {
	return GenerateKeysProgress(alg, n, nil)
}

// GenerateKeysProgress is GenerateKeys that calls progress (when not nil)
// with 0 first and then each time a key is done, from the calling
// goroutine, so a CLI can show how far a slow run (rsa-4096 for many
// members) has got.
func GenerateKeysProgress(alg Algorithm, n int, progress func(done, total int)) ([]crypto.Signer, error) {
	keys := make([]crypto.Signer, n)
	errs := make([]error, n)
	done := make(chan struct{})
	sem := make(chan struct{}, parallelism())
	if progress != nil {
		progress(0, n)
	}
	for i := 0; i < n; i++ {
		go func(i int) {
			sem <- struct{}{}
			keys[i], errs[i] = GenerateKey(alg)
			<-sem
			done <- struct{}{}
		}(i)
	}
	for i := 0; i < n; i++ {
		<-done
		if progress != nil {
			progress(i+1, n)
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// KeyDescription says what kind of key pub is, e.g. "RSA 2048" or
// "ECDSA P-256", without revealing anything secret.
func KeyDescription(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// AlgorithmOf is the algorithm of a public key: what a renewal generates
// to keep a certificate's key type (kubeadm certs renew keeps it too). ok
// is false for a key type or size that is not one of [Algorithms] (RSA
// 1024, say); the caller then picks one.
func AlgorithmOf(pub crypto.PublicKey) (alg Algorithm, ok bool) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return RSA2048, true
		case 3072:
			return RSA3072, true
		case 4096:
			return RSA4096, true
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECDSAP256, true
		case elliptic.P384():
			return ECDSAP384, true
		}
	case ed25519.PublicKey:
		return Ed25519, true
	}
	return "", false
}

// KeyMatches reports whether the private key key belongs to the public key
// pub (typically a certificate's). tls.X509KeyPair does the same check when
// etcd loads a cert/key pair and fails with "private key does not match
// public key".
func KeyMatches(pub crypto.PublicKey, key crypto.Signer) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := key.Public().(equaler)
	return ok && e.Equal(pub)
}
