#!/usr/bin/env bash
# Whole-process wall time of `etcdpki init` (median of RUNS runs), the
# figure issue 2 targets (3 members, ecdsa-p256: under 50 ms).
# Usage: bench/init.sh [ALGO] [MEMBERS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
algo=${1:-ecdsa-p256}
members=${2:-3}
runs=${3:-21}
bin=$(mktemp -d)/etcdpki
go build -o "$bin" ./cmd/etcdpki
args=()
for i in $(seq 1 "$members"); do args+=(--member "m$i=10.0.0.$i"); done
work=$(mktemp -d)
trap 'rm -rf "$work" "$(dirname "$bin")"' EXIT
times=()
for r in $(seq 1 "$runs"); do
	start=$(date +%s%N)
	"$bin" init --algo "$algo" --out "$work/$r" "${args[@]}" >/dev/null
	end=$(date +%s%N)
	times+=($(( (end - start) / 1000 )))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
awk -v m="$median" -v a="$algo" -v n="$members" -v r="$runs" 'BEGIN {printf "init %s, %d members: median %.1f ms over %d runs\n", a, n, m/1000, r}'
