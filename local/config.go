package local

import (
	"fmt"
	"net/url"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/etcdpki/etcdpki/render"
)

// Raft timing of the local members. etcd's defaults (100 ms heartbeat,
// 1 s election timeout) are tuned for real networks; on loopback a round
// trip takes microseconds, so halving both keeps etcd's 1:10 ratio and a
// wide margin, and the first election, which etcd fast-forwards to its
// last two ticks once all peers are connected (InitialElectionTickAdvance),
// comes twice as fast. Nothing about TLS depends on it.
const (
	tickMs     = 50
	electionMs = 500
)

// embedConfig converts a member's rendered configuration into etcd's
// embed.Config, field by field, so the in-process member runs with what
// `etcdpki flags` prints for it and nothing else.
func embedConfig(rc *render.Config, lg *zap.Logger) (*embed.Config, error) {
	cfg := embed.NewConfig()
	cfg.Name = rc.Name
	cfg.Dir = rc.DataDir
	cfg.SnapshotCount = uint64(rc.SnapshotCount)

	var err error
	for _, u := range []struct {
		flag string
		from []string
		to   *[]url.URL
	}{
		{"listen-client-urls", rc.ListenClientURLs, &cfg.ListenClientUrls},
		{"advertise-client-urls", rc.AdvertiseClientURLs, &cfg.AdvertiseClientUrls},
		{"listen-peer-urls", rc.ListenPeerURLs, &cfg.ListenPeerUrls},
		{"initial-advertise-peer-urls", rc.InitialAdvertisePeerURLs, &cfg.AdvertisePeerUrls},
		{"listen-metrics-urls", rc.ListenMetricsURLs, &cfg.ListenMetricsUrls},
	} {
		if *u.to, err = parseURLs(u.from); err != nil {
			return nil, fmt.Errorf("--%s: %w", u.flag, err)
		}
	}
	cfg.InitialCluster = rc.InitialCluster
	cfg.ClusterState = rc.InitialClusterState
	cfg.InitialClusterToken = rc.InitialClusterToken

	cfg.ClientTLSInfo = transport.TLSInfo{
		CertFile:      rc.CertFile,
		KeyFile:       rc.KeyFile,
		TrustedCAFile: rc.TrustedCAFile,
		// TLSInfo.ServerConfig requires and verifies client certificates
		// as soon as TrustedCAFile is set; ClientCertAuth also makes etcd
		// take the user from the client cert's CN once auth is enabled
		// (EtcdServer.AuthInfoFromCtx -> AuthInfoFromTLS).
		ClientCertAuth: rc.ClientCertAuth,
		// With split credentials this is what the grpc-gateway presents
		// when it dials the member's own client port; without it etcd
		// presents CertFile, which then needs clientAuth too.
		ClientCertFile: rc.ClientCertFile,
		ClientKeyFile:  rc.ClientKeyFile,
	}
	cfg.PeerTLSInfo = transport.TLSInfo{
		// The serving cert of the peer port, and (unless
		// PeerClientCertFile) the credential this member presents when it
		// dials the others.
		CertFile:       rc.PeerCertFile,
		KeyFile:        rc.PeerKeyFile,
		TrustedCAFile:  rc.PeerTrustedCAFile,
		ClientCertAuth: rc.PeerClientCertAuth,
		ClientCertFile: rc.PeerClientCertFile,
		ClientKeyFile:  rc.PeerClientKeyFile,
	}
	// --auto-tls would make etcd generate self-signed certificates when the
	// files are missing and skip verifying peers' certificates: the very
	// thing this cluster exists to test. NewConfig leaves both off; say so.
	cfg.ClientAutoTLS = false
	cfg.PeerAutoTLS = false

	cfg.TickMs = tickMs
	cfg.ElectionMs = electionMs

	// Validate (called by StartEtcd) runs the builder instead of building a
	// stderr logger from LogOutputs, and then installs its own
	// TLSInfo.HandshakeFailure hooks that log every rejected handshake as
	// "rejected connection on client/peer endpoint" to this logger.
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	return cfg, nil
}

func parseURLs(ss []string) ([]url.URL, error) {
	us := make([]url.URL, 0, len(ss))
	for _, s := range ss {
		u, err := url.Parse(s)
		if err != nil {
			return nil, err
		}
		us = append(us, *u)
	}
	return us, nil
}
