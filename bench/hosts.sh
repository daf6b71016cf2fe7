#!/usr/bin/env bash
# Whole-process wall time of `etcdpki up --hosts netns --once` (median of
# RUNS runs): PKI generation, building the network (a namespace per member,
# bridge, veths), starting each member as a separate etcd process in its
# namespace, verification through every member (through the bridge and
# through each member's own 127.0.0.1), and tearing it all down. Issue 8
# targets 3 members under 5 s. Needs root and iproute2.
# Usage: sudo bench/hosts.sh [MEMBERS] [RUNS] [ALGO]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
members=${1:-3}
runs=${2:-5}
algo=${3:-ecdsa-p256}
bin=$(build_etcdpki)
trap 'rm -rf "$(dirname "$bin")"' EXIT
run_up() { "$bin" up --hosts netns --once --members "$members" --algo "$algo" --subnet 198.18.99.0/24; }
echo "up --hosts netns --once, $members members, $algo: median $(median_ms "$runs" run_up) ms over $runs runs"
