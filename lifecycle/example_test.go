package lifecycle_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/etcdpki/etcdpki/layout"
	"github.com/etcdpki/etcdpki/lifecycle"
	"github.com/etcdpki/etcdpki/pki"
	"github.com/etcdpki/etcdpki/spec"
)

// Renew every leaf certificate of a PKI that init wrote; the replaced
// files are backed up.
func ExampleRenew() {
	out, _ := os.MkdirTemp("", "pki")
	defer os.RemoveAll(out)
	c, _ := spec.FromFlags(spec.Cluster{Algorithm: pki.ECDSAP256}, []string{"cp1=10.0.0.11", "cp2=10.0.0.12", "cp3=10.0.0.13"})
	if _, err := layout.Init(c, out, layout.InitOptions{}); err != nil {
		log.Fatal(err)
	}
	res, err := lifecycle.Renew(out, lifecycle.RenewOptions{Members: []string{"cp2"}})
	if err != nil {
		log.Fatal(err)
	}
	for _, is := range res.Issued {
		fmt.Println(is.Member, is.Kind, is.Serial != is.OldSerial)
	}
	fmt.Println(len(res.Written), "files written, old ones backed up:", res.Backup != "")
	// Output:
	// cp2 server true
	// cp2 peer true
	// cp2 healthcheck-client true
	// cp2 apiserver-etcd-client true
	// 8 files written, old ones backed up: true
}

// Rotate the CA of a PKI in its three steps. On a running cluster, each
// member is restarted, one at a time, after Stage and after Finalize, and
// Offline stays false: Reissue and Finalize then refuse until the running
// members are ready. No cluster runs this PKI, so nothing could answer.
func ExampleStage() {
	out, _ := os.MkdirTemp("", "pki")
	defer os.RemoveAll(out)
	c, _ := spec.FromFlags(spec.Cluster{Algorithm: pki.ECDSAP256}, []string{"cp1=10.0.0.11", "cp2=10.0.0.12", "cp3=10.0.0.13"})
	if _, err := layout.Init(c, out, layout.InitOptions{}); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	show := func() {
		st, err := lifecycle.Status(out)
		if err != nil {
			log.Fatal(err)
		}
		for _, m := range st.Members {
			fmt.Print(m.Name, "=", m.Stage, " ")
		}
		fmt.Println("next:", st.Next)
	}
	if _, err := lifecycle.Stage(out, lifecycle.RotateOptions{}); err != nil {
		log.Fatal(err)
	}
	show()
	if _, err := lifecycle.Reissue(ctx, out, lifecycle.RotateOptions{Offline: true}); err != nil {
		log.Fatal(err)
	}
	show()
	res, err := lifecycle.Finalize(ctx, out, lifecycle.RotateOptions{Offline: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("new CA in place:", res.Promoted)
	show()
	// Output:
	// cp1=staged cp2=staged cp3=staged next: reissue
	// cp1=reissued cp2=reissued cp3=reissued next: finalize
	// new CA in place: true
	// cp1=old cp2=old cp3=old next: restart
}
