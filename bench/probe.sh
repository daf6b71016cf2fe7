#!/usr/bin/env bash
# Whole-process wall time of `etcdpki probe` (median of RUNS runs) against a
# healthy 3-member cluster that `etcdpki up` serves, with the etcdctl
# environment it prints: process start, loading the credentials,
# MemberList, and every check on the 6 endpoints. Issue 4 targets under
# 1 s. The black-hole cases are benchmarks: go test -run '^$' -bench . ./probe
# Usage: bench/probe.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-10}
bin=$(build_etcdpki)
log=$(mktemp)
"$bin" up --members 3 --base-port 27679 >"$log" 2>&1 &
up=$!
trap 'kill "$up" 2>/dev/null; wait "$up" 2>/dev/null; rm -rf "$(dirname "$bin")" "$log"' EXIT
for _ in $(seq 1 300); do
	grep -q '^serving until interrupted' "$log" && break
	kill -0 "$up" 2>/dev/null || { cat "$log" >&2; exit 1; }
	sleep 0.1
done
eval "$(grep '^export ETCDCTL_' "$log")"
run_probe() { "$bin" probe; }
# A probe with findings exits 1, which stops the script here.
run_probe >/dev/null
echo "probe, 3 members (6 endpoints): median $(median_ms "$runs" run_probe) ms over $runs runs"
