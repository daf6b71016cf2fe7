package exporter

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/etcdpki/etcdpki/probe"
)

// certLabels label every certificate series: x509-certificate-exporter's
// (filename, filepath, subject_CN, issuer_CN, serial_number, the serial in
// decimal as it writes it: internal/collector.go getMetricsForCertificate,
// enix/x509-certificate-exporter) after etcdpki's member and kind.
var certLabels = []string{"member", "kind", "filename", "filepath", "subject_CN", "issuer_CN", "serial_number"}

// endpointLabels label every probed endpoint.
var endpointLabels = []string{"member", "url", "port"}

// The metrics. Names ending in _seconds are Unix times or durations in
// seconds, as Prometheus' conventions have it.
var (
	descNotBefore = prometheus.NewDesc("x509_cert_not_before",
		"Start of the certificate's validity, in Unix seconds.", certLabels, nil)
	descNotAfter = prometheus.NewDesc("x509_cert_not_after",
		"End of the certificate's validity, in Unix seconds.", certLabels, nil)
	descExpiresIn = prometheus.NewDesc("x509_cert_expires_in_seconds",
		"Seconds until the certificate expires, negative once expired.", certLabels, nil)
	descExpired = prometheus.NewDesc("x509_cert_expired",
		"1 if the certificate has expired, 0 otherwise.", certLabels, nil)
	descValidSince = prometheus.NewDesc("x509_cert_valid_since_seconds",
		"Seconds since the certificate became valid, negative before.", certLabels, nil)
	descBuildInfo = prometheus.NewDesc("etcdpki_build_info",
		"1, with the version of etcdpki, of Go and of the etcd linked in as labels.", []string{"version", "goversion", "etcd_version"}, nil)
	descFindings = prometheus.NewDesc("etcdpki_findings",
		"Findings of the last scan by source (check: the files; probe: the live cluster), rule ID, severity and member (empty for the cluster as a whole); rules are in docs/rules.md.",
		[]string{"source", "rule", "severity", "member"}, nil)
	descClusterForms = prometheus.NewDesc("etcdpki_check_cluster_forms",
		"1 if check says a quorum of members can form the cluster with these files.", nil, nil)
	descClientsConnect = prometheus.NewDesc("etcdpki_check_clients_connect",
		"1 if check says clients can connect to every member with these files.", nil, nil)
	descMembers = prometheus.NewDesc("etcdpki_members",
		"Members read in the last scan.", nil, nil)
	descScanErrors = prometheus.NewDesc("etcdpki_scan_errors_total",
		"Scan errors since start: unreadable member directories, unusable probe credentials.", nil, nil)
	descLastScan = prometheus.NewDesc("etcdpki_last_scan_timestamp_seconds",
		"When the last scan started, in Unix seconds.", nil, nil)
	descLastScanOK = prometheus.NewDesc("etcdpki_last_scan_success",
		"1 if the last scan had no errors.", nil, nil)
	descScanDuration = prometheus.NewDesc("etcdpki_scan_duration_seconds",
		"How long the last scan took.", nil, nil)
	descPeerFresh = prometheus.NewDesc("etcdpki_peer_bundle_fresh",
		"1 if the last scan fetched the peer exporter's bundle; 0 if it could not, and its last bundle, if any, was judged instead.", []string{"peer"}, nil)
	descPeerAge = prometheus.NewDesc("etcdpki_peer_bundle_age_seconds",
		"Seconds since the peer's bundle in use was collected.", []string{"peer"}, nil)
	descProbeSuccess = prometheus.NewDesc("etcdpki_probe_success",
		"1 if the last probe of the live cluster ran (whatever it found).", nil, nil)
	descReachable = prometheus.NewDesc("etcdpki_probe_endpoint_reachable",
		"1 if a TLS handshake with the endpoint completed.", endpointLabels, nil)
	descServedNotAfter = prometheus.NewDesc("etcdpki_probe_served_cert_not_after",
		"End of the validity of the certificate the endpoint serves, in Unix seconds.",
		append(append([]string{}, endpointLabels...), "subject_CN", "issuer_CN", "serial_number"), nil)
)

// Describe sends the descriptions of every metric the exporter can send.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNotBefore, descNotAfter, descExpiresIn, descExpired, descValidSince, descBuildInfo, descFindings,
		descClusterForms, descClientsConnect, descMembers, descScanErrors, descLastScan, descLastScanOK,
		descScanDuration, descPeerFresh, descPeerAge, descProbeSuccess, descReachable, descServedNotAfter} {
		ch <- d
	}
}

// Collect sends the last scan's metrics. Relative values (expires in,
// expired) are computed at collection time, so they are right whenever
// Prometheus scrapes.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		// Label values come from directory names, member settings and
		// certificate fields; Prometheus requires valid UTF-8 and
		// MustNewConstMetric panics on anything else, which would kill
		// the serving exporter on its first scrape. Invalid bytes become
		// U+FFFD, and a metric that still cannot be built is dropped.
		// A copy: the labels are the snapshot's, shared by concurrent
		// scrapes.
		labels = slices.Clone(labels)
		for i, l := range labels {
			labels[i] = strings.ToValidUTF8(l, "\uFFFD")
		}
		if m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...); err == nil {
			ch <- m
		}
	}
	ch <- prometheus.MustNewConstMetric(descScanErrors, prometheus.CounterValue, float64(e.scanErrors.Load()))
	bi := e.opts.BuildInfo
	gauge(descBuildInfo, 1, bi.Version, bi.Go, bi.Etcd)
	e.mu.RLock()
	s := e.last
	e.mu.RUnlock()
	if s == nil {
		return // no scan yet
	}
	now := e.opts.Now()
	for _, c := range s.certs {
		gauge(descNotBefore, unix(c.notBefore), c.labels...)
		gauge(descNotAfter, unix(c.notAfter), c.labels...)
		gauge(descExpiresIn, c.notAfter.Sub(now).Seconds(), c.labels...)
		gauge(descExpired, bit(now.After(c.notAfter)), c.labels...)
		gauge(descValidSince, now.Sub(c.notBefore).Seconds(), c.labels...)
	}
	for k, n := range s.findings {
		gauge(descFindings, float64(n), k.source, k.rule, k.severity, k.member)
	}
	// A scan that could not read every directory or fetch every peer's
	// bundle judged only part of the cluster, and one that read no
	// member judged nothing: neither verdict is a "yes".
	healthy := s.ok && s.members > 0
	gauge(descClusterForms, bit(healthy && s.verdict.ClusterForms))
	gauge(descClientsConnect, bit(healthy && s.verdict.ClientsConnect))
	gauge(descMembers, float64(s.members))
	gauge(descLastScan, unix(s.at))
	gauge(descLastScanOK, bit(s.ok))
	gauge(descScanDuration, s.duration.Seconds())
	for _, p := range s.peers {
		if p.self {
			continue // this exporter, in a list given to every node
		}
		gauge(descPeerFresh, bit(p.fresh), p.url)
		if !p.collected.IsZero() {
			gauge(descPeerAge, now.Sub(p.collected).Seconds(), p.url)
		}
	}
	if e.opts.Probe == nil {
		return
	}
	gauge(descProbeSuccess, bit(s.probeOK))
	if s.probe == nil {
		return
	}
	for _, ep := range s.probe.Endpoints {
		gauge(descReachable, bit(ep.Reachable), ep.Member, ep.URL, ep.Port)
		if sc := ep.Served; sc != nil {
			subject, issuer := names(sc)
			serial := sc.Serial
			if c := sc.Certificate(); c != nil {
				serial = c.SerialNumber.String()
			}
			gauge(descServedNotAfter, unix(sc.NotAfter), ep.Member, ep.URL, ep.Port, subject, issuer, serial)
		}
	}
}

func unix(t time.Time) float64 { return float64(t.Unix()) }

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// names are the subject's and issuer's common names of what an endpoint
// served.
func names(sc *probe.ServedCert) (subject, issuer string) {
	if c := sc.Certificate(); c != nil {
		return c.Subject.CommonName, c.Issuer.CommonName
	}
	return "", ""
}
