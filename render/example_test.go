package render_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/etcdpki/etcdpki/render"
	"github.com/etcdpki/etcdpki/spec"
)

// A member's etcd command line as kubeadm writes it, with the file paths of
// its tree in init's output directory.
func ExampleForMember() {
	c, err := spec.FromFlags(spec.Cluster{Name: "prod-etcd"}, []string{"cp1=10.0.0.11", "cp2=10.0.0.12"})
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := render.ForMember(c, "cp1", render.Options{Root: "/srv/pki/cp1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(cfg.CommandLine())
	// Output:
	// etcd \
	//   --advertise-client-urls=https://10.0.0.11:2379 \
	//   --cert-file=/srv/pki/cp1/etc/kubernetes/pki/etcd/server.crt \
	//   --client-cert-auth=true \
	//   --data-dir=/srv/pki/cp1/var/lib/etcd \
	//   --feature-gates=InitialCorruptCheck=true \
	//   --initial-advertise-peer-urls=https://10.0.0.11:2380 \
	//   --initial-cluster=cp1=https://10.0.0.11:2380,cp2=https://10.0.0.12:2380 \
	//   --initial-cluster-state=new \
	//   --initial-cluster-token=prod-etcd \
	//   --key-file=/srv/pki/cp1/etc/kubernetes/pki/etcd/server.key \
	//   --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.11:2379 \
	//   --listen-metrics-urls=http://127.0.0.1:2381 \
	//   --listen-peer-urls=https://10.0.0.11:2380 \
	//   --name=cp1 \
	//   --peer-cert-file=/srv/pki/cp1/etc/kubernetes/pki/etcd/peer.crt \
	//   --peer-client-cert-auth=true \
	//   --peer-key-file=/srv/pki/cp1/etc/kubernetes/pki/etcd/peer.key \
	//   --peer-trusted-ca-file=/srv/pki/cp1/etc/kubernetes/pki/etcd/ca.crt \
	//   --snapshot-count=10000 \
	//   --trusted-ca-file=/srv/pki/cp1/etc/kubernetes/pki/etcd/ca.crt \
	//   --watch-progress-notify-interval=5s
}

// etcd 3.5 has no --feature-gates: kubeadm, and etcdpki, write its
// experimental flags instead.
func ExampleForMember_etcd35() {
	c, err := spec.FromFlags(spec.Cluster{}, []string{"cp1=10.0.0.11"})
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := render.ForMember(c, "cp1", render.Options{EtcdVersion: "3.5"})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range cfg.Flags() {
		if strings.Contains(f, "corrupt") || strings.Contains(f, "progress") {
			fmt.Println(f)
		}
	}
	fmt.Println(cfg.Image())
	// Output:
	// --experimental-initial-corrupt-check=true
	// --experimental-watch-progress-notify-interval=5s
	// registry.k8s.io/etcd:3.5.24-0
}

// The kube-apiserver flags of a stacked control plane: it dials its local
// member on 127.0.0.1.
func ExampleAPIServerFlags() {
	c, err := spec.FromFlags(spec.Cluster{}, []string{"cp1=10.0.0.11", "cp2=10.0.0.12"})
	if err != nil {
		log.Fatal(err)
	}
	flags, err := render.APIServerFlags(c, "cp1", render.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range flags {
		fmt.Println(f)
	}
	// Output:
	// --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
	// --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt
	// --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key
	// --etcd-servers=https://127.0.0.1:2379
}
