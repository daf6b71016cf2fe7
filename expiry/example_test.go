package expiry_test

import (
	"fmt"
	"time"

	"github.com/etcdpki/etcdpki/expiry"
)

// ShortDuration prints residual times as kubeadm's check-expiration does.
func ExampleShortDuration() {
	for _, d := range []time.Duration{45 * time.Second, 90 * time.Minute, 364 * 24 * time.Hour, 9 * 365 * 24 * time.Hour, -time.Hour} {
		fmt.Println(expiry.ShortDuration(d))
	}
	// Output:
	// 45s
	// 1h
	// 364d
	// 9y
	// <invalid>
}
