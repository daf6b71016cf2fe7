package pki

import "runtime"

// parallelism bounds concurrent key generation. One goroutine per CPU keeps
// the machine busy without oversubscribing it.
func parallelism() int {
	n := runtime.GOMAXPROCS(0)
	if n < 1 {
		n = 1
	}
	return n
}
