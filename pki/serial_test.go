package pki

import (
	"crypto/x509"
	"math/big"
	"testing"
)

func TestSerial(t *testing.T) {
	for _, c := range []struct {
		n    *big.Int
		want string
	}{
		{big.NewInt(0), "00"},
		{big.NewInt(0x0F26), "0F26"}, // whole bytes, as openssl x509 -serial
		{new(big.Int).SetBytes([]byte{0xAB, 0x01}), "AB01"},
	} {
		if got := Serial(&x509.Certificate{SerialNumber: c.n}); got != c.want {
			t.Errorf("Serial(%s) = %q, want %q", c.n, got, c.want)
		}
	}
}
