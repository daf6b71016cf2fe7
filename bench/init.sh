#!/usr/bin/env bash
# Whole-process wall time of `etcdpki init` (median of RUNS runs), the
# figure issue 2 targets (3 members, ecdsa-p256: under 50 ms).
# Usage: bench/init.sh [ALGO] [MEMBERS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
algo=${1:-ecdsa-p256}
members=${2:-3}
runs=${3:-21}
bin=$(build_etcdpki)
work=$(mktemp -d)
trap 'rm -rf "$work" "$(dirname "$bin")"' EXIT
args=()
for i in $(seq 1 "$members"); do args+=(--member "m$i=10.0.0.$i"); done
run_init() { "$bin" init --algo "$algo" --out "$work/$RUN" "${args[@]}"; }
echo "init $algo, $members members: median $(median_ms "$runs" run_init) ms over $runs runs"
