package remote_test

import (
	"fmt"

	"github.com/etcdpki/etcdpki/remote"
)

func ExampleParseURL() {
	t, err := remote.ParseURL("ssh://root@10.0.0.11:2222/srv/copy-of-cp1")
	if err != nil {
		panic(err)
	}
	fmt.Printf("user %s, host %s, port %s, collect reads %s\n", t.User, t.Host, t.Port, t.Path)
	t, _ = remote.ParseURL("ssh://cp1")
	fmt.Printf("host %s, path %q: collect --local\n", t.Host, t.Path)
	// Output:
	// user root, host 10.0.0.11, port 2222, collect reads /srv/copy-of-cp1
	// host cp1, path "": collect --local
}
