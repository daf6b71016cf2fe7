#!/usr/bin/env bash
# bench/explain.sh — `etcdpki explain` speed (issue 15): one message, and
# `explain --log` over a generated log of LINES lines (default 100,000:
# etcd 3.6 JSON under journalctl, kubectl logs --timestamps over 3.4's
# text, CRI lines, kube-apiserver klog, EOF health checks and healthy
# noise; audit/explainlog_test.go writes it), whole-process wall time
# (median of RUNS, default 5) and peak RSS. Memory must not grow with the
# log: the script also runs ten times the lines and prints both RSS.
#
#   bench/explain.sh [LINES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
lines=${1:-100000} runs=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$(build_etcdpki)
trap 'rm -rf "$work" "$(dirname "$bin")"' EXIT
for n in "$lines" $((lines * 10)); do
	ETCDPKI_LOG_FILE="$work/log-$n" ETCDPKI_LOG_LINES="$n" go test -count=1 -run '^TestWriteLog$' ./audit >/dev/null
done
msg='{"level":"warn","ts":"2026-11-30T10:00:00Z","msg":"rejected connection on peer endpoint","remote-addr":"10.0.0.12:40000","server-name":"","error":"tls: failed to verify certificate: x509: certificate signed by unknown authority"}'
echo "explain one message (process):     $(median_ms "$runs" "$bin" explain "$msg") ms"
echo "explain --log, $lines lines:       $(median_ms "$runs" "$bin" explain --log "$work/log-$lines") ms  ($(du -h "$work/log-$lines" | cut -f1))"
for n in "$lines" $((lines * 10)); do
	rss=$(/usr/bin/time -f %M "$bin" explain --log "$work/log-$n" 2>&1 >/dev/null | tail -1)
	echo "explain --log, $n lines: peak RSS $((rss / 1024)) MiB"
done
"$bin" explain --log "$work/log-$lines" | head -3
