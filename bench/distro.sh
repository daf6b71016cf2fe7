#!/usr/bin/env bash
# Times `etcdpki check` on a distribution fixture (internal/distro): every
# node's tree as that distribution writes it. kubespray puts every
# member's certificates and keys on every node, so 100 members are about
# 30,000 files.
#
#   bench/distro.sh [distribution] [nodes] [runs]     # default kubespray 7 5
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-kubespray} nodes=${2:-7} runs=${3:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/etcdpki" ./cmd/etcdpki
mkdir "$work/fixture"
ETCDPKI_FIXTURE_DIR="$work/fixture" ETCDPKI_FIXTURE="$name" ETCDPKI_FIXTURE_NODES="$nodes" \
	go test -count=1 -run '^TestWriteFixture$' ./internal/distro >/dev/null
echo "files: $(find "$work/fixture" -type f | wc -l)"
for i in $(seq "$runs"); do
	/usr/bin/time -f "%e s, %M KB max RSS" "$work/etcdpki" check "$work"/fixture/* >/dev/null || true
done
