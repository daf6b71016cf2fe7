package release

// The etcd flag sets below were read off each version's own binary:
// `etcd --version --FLAG=1` parses every flag with that version's flag set
// (etcdmain config.parse) and exits with "flag provided but not defined"
// before printing the version when the flag is unknown. Binaries: Debian's
// etcd-server 3.4.23, and go.etcd.io/etcd/server/v3 v3.5.21, v3.6.5 and
// v3.7.3 built from the Go module proxy. Candidates were every flag-like
// string in those versions' etcdmain/config.go and embed/config.go and
// 3.4's --help. The interop tests repeat the probe for every flag here
// against the four binaries (interop/flagsets_test.go). The ETCD_*
// variables and the config file keys are the same names.

// versionSet is a set of etcd minor versions 3.4–3.7.
type versionSet uint8

const (
	in34 versionSet = 1 << iota
	in35
	in36
	in37
)

// flagVersions says which versions define a flag and what the others
// use instead (a renamed flag, or a feature gate).
type flagVersions struct {
	versions     versionSet
	alternatives []string
}

func (f flagVersions) knownBy(e Etcd) bool {
	if e.Minor < 4 || e.Minor > 7 {
		return false // not a version of the table (the zero Etcd)
	}
	return f.versions&(1<<(e.Minor-4)) != 0
}

// commonFlags are the flags etcd 3.4, 3.5, 3.6 and 3.7 all define.
var commonFlags = map[string]bool{
	"advertise-client-urls": true, "auth-token": true, "auth-token-ttl": true,
	"auto-compaction-mode": true, "auto-compaction-retention": true, "auto-tls": true,
	"backend-batch-interval": true, "backend-batch-limit": true, "bcrypt-cost": true,
	"cert-file": true, "cipher-suites": true, "client-cert-allowed-hostname": true,
	"client-cert-auth": true, "client-crl-file": true, "cluster-active-size": true,
	"cluster-remove-delay": true, "cluster-sync-interval": true, "config": true, "config-file": true,
	"cors": true, "data-dir": true, "discovery-fallback": true, "discovery-srv": true,
	"discovery-srv-name": true, "election-timeout": true, "enable-grpc-gateway": true,
	"enable-pprof": true, "force": true, "force-new-cluster": true, "grpc-keepalive-interval": true,
	"grpc-keepalive-min-time": true, "grpc-keepalive-timeout": true, "heartbeat-interval": true,
	"host-whitelist": true, "initial-advertise-peer-urls": true, "initial-cluster": true,
	"initial-cluster-state": true, "initial-cluster-token": true,
	"initial-election-tick-advance": true, "key-file": true, "listen-client-urls": true,
	"listen-metrics-urls": true, "listen-peer-urls": true, "log-level": true, "log-outputs": true,
	"logger": true, "max-concurrent-streams": true, "max-request-bytes": true,
	"max-result-buffer": true, "max-retry-attempts": true, "max-snapshots": true, "max-txn-ops": true,
	"max-wals": true, "metrics": true, "name": true, "peer-auto-tls": true,
	"peer-cert-allowed-cn": true, "peer-cert-allowed-hostname": true, "peer-cert-file": true,
	"peer-client-cert-auth": true, "peer-crl-file": true, "peer-election-timeout": true,
	"peer-heartbeat-interval": true, "peer-key-file": true, "peer-trusted-ca-file": true,
	"pre-vote": true, "quota-backend-bytes": true, "retry-interval": true, "snapshot": true,
	"snapshot-count": true, "strict-reconfig-check": true, "trusted-ca-file": true,
	"unsafe-no-fsync": true, "version": true, "vv": true, "wal-dir": true,
}

// versionedFlags are the flags only some of etcd 3.4–3.7 define, with
// what to use on the others.
var versionedFlags = map[string]flagVersions{
	"backend-bbolt-freelist-type":                       {versions: in35 | in36 | in37, alternatives: []string{"--experimental-backend-bbolt-freelist-type"}},
	"bootstrap-defrag-threshold-megabytes":              {versions: in36 | in37, alternatives: []string{"--experimental-bootstrap-defrag-threshold-megabytes"}},
	"client-cert-file":                                  {versions: in35 | in36 | in37},
	"client-key-file":                                   {versions: in35 | in36 | in37},
	"compact-hash-check-time":                           {versions: in36 | in37, alternatives: []string{"--experimental-compact-hash-check-time"}},
	"compaction-batch-limit":                            {versions: in36 | in37, alternatives: []string{"--experimental-compaction-batch-limit"}},
	"compaction-sleep-interval":                         {versions: in36 | in37, alternatives: []string{"--experimental-compaction-sleep-interval"}},
	"corrupt-check-time":                                {versions: in36 | in37, alternatives: []string{"--experimental-corrupt-check-time"}},
	"debug":                                             {versions: in34},
	"discovery":                                         {versions: in34 | in35 | in36},
	"discovery-cacert":                                  {versions: in36 | in37},
	"discovery-cert":                                    {versions: in36 | in37},
	"discovery-dial-timeout":                            {versions: in36 | in37},
	"discovery-endpoints":                               {versions: in36 | in37},
	"discovery-insecure-skip-tls-verify":                {versions: in36 | in37},
	"discovery-insecure-transport":                      {versions: in36 | in37},
	"discovery-keepalive-time":                          {versions: in36 | in37},
	"discovery-keepalive-timeout":                       {versions: in36 | in37},
	"discovery-key":                                     {versions: in36 | in37},
	"discovery-password":                                {versions: in36 | in37},
	"discovery-proxy":                                   {versions: in34 | in35 | in36},
	"discovery-request-timeout":                         {versions: in36 | in37},
	"discovery-token":                                   {versions: in36 | in37},
	"discovery-user":                                    {versions: in36 | in37},
	"distributed-tracing-address":                       {versions: in36 | in37, alternatives: []string{"--experimental-distributed-tracing-address"}},
	"distributed-tracing-instance-id":                   {versions: in36 | in37, alternatives: []string{"--experimental-distributed-tracing-instance-id"}},
	"distributed-tracing-sampling-rate":                 {versions: in36 | in37, alternatives: []string{"--experimental-distributed-tracing-sampling-rate"}},
	"distributed-tracing-service-name":                  {versions: in36 | in37, alternatives: []string{"--experimental-distributed-tracing-service-name"}},
	"downgrade-check-time":                              {versions: in36 | in37, alternatives: []string{"--experimental-downgrade-check-time"}},
	"enable-distributed-tracing":                        {versions: in36 | in37, alternatives: []string{"--experimental-enable-distributed-tracing"}},
	"enable-log-rotation":                               {versions: in35 | in36 | in37},
	"enable-v2":                                         {versions: in34 | in35},
	"experimental-backend-bbolt-freelist-type":          {versions: in34, alternatives: []string{"--backend-bbolt-freelist-type"}},
	"experimental-bootstrap-defrag-threshold-megabytes": {versions: in35 | in36, alternatives: []string{"--bootstrap-defrag-threshold-megabytes"}},
	"experimental-compact-hash-check-enabled":           {versions: in35 | in36, alternatives: []string{"--feature-gates=CompactHashCheck=true"}},
	"experimental-compact-hash-check-time":              {versions: in35 | in36, alternatives: []string{"--compact-hash-check-time"}},
	"experimental-compaction-batch-limit":               {versions: in34 | in35 | in36, alternatives: []string{"--compaction-batch-limit"}},
	"experimental-compaction-sleep-interval":            {versions: in35 | in36, alternatives: []string{"--compaction-sleep-interval"}},
	"experimental-corrupt-check-time":                   {versions: in34 | in35 | in36, alternatives: []string{"--corrupt-check-time"}},
	"experimental-distributed-tracing-address":          {versions: in35 | in36, alternatives: []string{"--distributed-tracing-address"}},
	"experimental-distributed-tracing-instance-id":      {versions: in35 | in36, alternatives: []string{"--distributed-tracing-instance-id"}},
	"experimental-distributed-tracing-sampling-rate":    {versions: in35 | in36, alternatives: []string{"--distributed-tracing-sampling-rate"}},
	"experimental-distributed-tracing-service-name":     {versions: in35 | in36, alternatives: []string{"--distributed-tracing-service-name"}},
	"experimental-downgrade-check-time":                 {versions: in35 | in36, alternatives: []string{"--downgrade-check-time"}},
	"experimental-enable-distributed-tracing":           {versions: in35 | in36, alternatives: []string{"--enable-distributed-tracing"}},
	"experimental-enable-lease-checkpoint":              {versions: in34 | in35 | in36, alternatives: []string{"--feature-gates=LeaseCheckpoint=true"}},
	"experimental-enable-lease-checkpoint-persist":      {versions: in34 | in35 | in36, alternatives: []string{"--feature-gates=LeaseCheckpointPersist=true"}},
	"experimental-enable-v2v3":                          {versions: in34 | in35},
	"experimental-initial-corrupt-check":                {versions: in34 | in35 | in36, alternatives: []string{"--feature-gates=InitialCorruptCheck=true"}},
	"experimental-memory-mlock":                         {versions: in35 | in36, alternatives: []string{"--memory-mlock"}},
	"experimental-peer-skip-client-san-verification":    {versions: in34 | in35 | in36, alternatives: []string{"--peer-skip-client-san-verification"}},
	"experimental-snapshot-catchup-entries":             {versions: in35 | in36, alternatives: []string{"--snapshot-catchup-entries"}},
	"experimental-stop-grpc-service-on-defrag":          {versions: in35 | in36, alternatives: []string{"--feature-gates=StopGRPCServiceOnDefrag=true"}},
	"experimental-txn-mode-write-with-shared-buffer":    {versions: in35 | in36, alternatives: []string{"--feature-gates=TxnModeWriteWithSharedBuffer=true"}},
	"experimental-warning-apply-duration":               {versions: in34 | in35 | in36, alternatives: []string{"--warning-apply-duration"}},
	"experimental-warning-unary-request-duration":       {versions: in36, alternatives: []string{"--warning-unary-request-duration"}},
	"experimental-watch-progress-notify-interval":       {versions: in34 | in35 | in36, alternatives: []string{"--watch-progress-notify-interval"}},
	"feature-gates":                                     {versions: in36 | in37, alternatives: []string{"--experimental-initial-corrupt-check=true"}},
	"listen-client-http-urls":                           {versions: in35 | in36 | in37},
	"log-format":                                        {versions: in36 | in37},
	"log-package-levels":                                {versions: in34},
	"log-rotation-config-json":                          {versions: in35 | in36 | in37},
	"max-learners":                                      {versions: in36 | in37},
	"memory-mlock":                                      {versions: in36 | in37, alternatives: []string{"--experimental-memory-mlock"}},
	"peer-client-cert-file":                             {versions: in35 | in36 | in37},
	"peer-client-key-file":                              {versions: in35 | in36 | in37},
	"peer-skip-client-san-verification":                 {versions: in36 | in37, alternatives: []string{"--experimental-peer-skip-client-san-verification"}},
	"proxy":                                             {versions: in34 | in35},
	"proxy-dial-timeout":                                {versions: in34 | in35},
	"proxy-failure-wait":                                {versions: in34 | in35},
	"proxy-read-timeout":                                {versions: in34 | in35},
	"proxy-refresh-interval":                            {versions: in34 | in35},
	"proxy-write-timeout":                               {versions: in34 | in35},
	"raft-read-timeout":                                 {versions: in35 | in36 | in37},
	"raft-write-timeout":                                {versions: in35 | in36 | in37},
	"self-signed-cert-validity":                         {versions: in35 | in36 | in37},
	"snapshot-catchup-entries":                          {versions: in36 | in37, alternatives: []string{"--experimental-snapshot-catchup-entries"}},
	"socket-reuse-address":                              {versions: in35 | in36 | in37},
	"socket-reuse-port":                                 {versions: in35 | in36 | in37},
	"tls-max-version":                                   {versions: in35 | in36 | in37},
	"tls-min-version":                                   {versions: in35 | in36 | in37},
	"v2-deprecation":                                    {versions: in35 | in36 | in37},
	"warning-apply-duration":                            {versions: in36 | in37, alternatives: []string{"--experimental-warning-apply-duration"}},
	"warning-unary-request-duration":                    {versions: in36 | in37, alternatives: []string{"--experimental-warning-unary-request-duration"}},
	"watch-progress-notify-interval":                    {versions: in36 | in37, alternatives: []string{"--experimental-watch-progress-notify-interval"}},
}
