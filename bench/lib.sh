#!/usr/bin/env bash
# Helpers shared by the bench scripts: build the binary once and time
# whole-process runs.

# build_etcdpki builds ./cmd/etcdpki into a temp dir and prints its path.
build_etcdpki() {
	local dir
	dir=$(mktemp -d)
	go build -o "$dir/etcdpki" ./cmd/etcdpki
	echo "$dir/etcdpki"
}

# median_ms RUNS CMD... runs CMD RUNS times (each with $RUN set to the run
# number) and prints the median wall time in milliseconds.
median_ms() {
	local runs=$1
	shift
	local times=() start end
	for RUN in $(seq 1 "$runs"); do
		export RUN
		start=$(date +%s%N)
		"$@" >/dev/null
		end=$(date +%s%N)
		times+=($(((end - start) / 1000)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f\n", a[int((NR+1)/2)]/1000}'
}
