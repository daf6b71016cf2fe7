package pki

// Port is one of etcd's two TLS ports.
type Port string

// The ports.
const (
	// PortClient is 2379: --cert-file, --trusted-ca-file.
	PortClient Port = "client"
	// PortPeer is 2380: --peer-cert-file, --peer-trusted-ca-file.
	PortPeer Port = "peer"
)

// Use is what a certificate of a kind is for.
type Use string

// The uses.
const (
	// UseServe: a member serves its port with it (and, unless split
	// credentials are set, also presents it as its client identity).
	UseServe Use = "serve"
	// UseCredential: the member's own client identity on its port (the
	// split --client-cert-file / --peer-client-cert-file).
	UseCredential Use = "credential"
	// UseClient: a client's credential (kube-apiserver, health checks).
	UseClient Use = "client"
	// UseCA: a trusted CA.
	UseCA Use = "ca"
)

// KindInfo is one row of the certificate-kind table: what a kind is, on
// which port, signed by which port's CA, with which usages. It is the
// one place the commands look these facts up, as kubeadm keeps its cert
// list in one table (cmd/kubeadm/app/phases/certs/certlist.go).
type KindInfo struct {
	Kind Kind
	// Name is kubeadm's name for it (kubeadm certs check-expiration):
	// etcd-server, etcd-peer, …, apiserver-etcd-client.
	Name string
	// Title names it for people.
	Title string
	// Port is the port it is used on; for a CA, empty (either).
	Port Port
	Use  Use
	// ServerAuth and ClientAuth are the usages its profile carries (the
	// serving kinds drop clientAuth with split credentials).
	ServerAuth, ClientAuth bool
	// SANs: the profile names the member's hosts.
	SANs bool
	// SplitOnly: issued only with split credentials.
	SplitOnly bool
}

// kinds is the table, in the order the kinds are generated, written and
// listed.
var kinds = []KindInfo{
	{Kind: KindServer, Name: "etcd-server", Title: "server certificate", Port: PortClient, Use: UseServe, ServerAuth: true, ClientAuth: true, SANs: true},
	{Kind: KindPeer, Name: "etcd-peer", Title: "peer certificate", Port: PortPeer, Use: UseServe, ServerAuth: true, ClientAuth: true, SANs: true},
	{Kind: KindHealthcheckClient, Name: "etcd-healthcheck-client", Title: "health-check client certificate", Port: PortClient, Use: UseClient, ClientAuth: true},
	{Kind: KindAPIServerClient, Name: "apiserver-etcd-client", Title: "kube-apiserver etcd client certificate", Port: PortClient, Use: UseClient, ClientAuth: true},
	{Kind: KindServerClient, Name: "etcd-server-client", Title: "gateway client credential (--client-cert-file)", Port: PortClient, Use: UseCredential, ClientAuth: true, SANs: true, SplitOnly: true},
	{Kind: KindPeerClient, Name: "etcd-peer-client", Title: "peer client credential (--peer-client-cert-file)", Port: PortPeer, Use: UseCredential, ClientAuth: true, SANs: true, SplitOnly: true},
}

var caInfo = KindInfo{Kind: KindCA, Name: "etcd-ca", Title: "CA", Use: UseCA}

// Kinds returns the leaf kinds' table rows, in order.
func Kinds() []KindInfo { return append([]KindInfo(nil), kinds...) }

// Info returns the table row of k; an unknown kind gets a row with only
// its Kind and Name set.
func (k Kind) Info() KindInfo {
	if k == KindCA {
		return caInfo
	}
	for _, i := range kinds {
		if i.Kind == k {
			return i
		}
	}
	return KindInfo{Kind: k, Name: string(k), Title: string(k)}
}

// LeafKinds lists the leaf kinds a member gets, in the order they are
// generated and written. split adds the two client credentials.
func LeafKinds(split bool) []Kind {
	var out []Kind
	for _, i := range kinds {
		if !i.SplitOnly || split {
			out = append(out, i.Kind)
		}
	}
	return out
}
