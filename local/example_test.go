package local_test

import (
	"context"
	"fmt"
	"log"

	"github.com/etcdpki/etcdpki/local"
	"github.com/etcdpki/etcdpki/pki"
)

// Start a 3-member mutual-TLS cluster in a temporary directory, prove it
// works, and print the endpoints. (Not run as a test: it binds ports 2379
// to 2381 on 127.0.0.1-3.)
func ExampleStart() {
	ctx := context.Background()
	cl, err := local.Start(ctx, local.Options{Members: 3, Algorithm: pki.ECDSAP256})
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Verify(ctx); err != nil {
		log.Fatal(err)
	}
	for i, name := range cl.Members() {
		fmt.Println(name, cl.Endpoints()[i])
	}
}
