#!/usr/bin/env bash
# bench.sh — run every benchmark program of a build, one after the other, and
# print its output (docs/benchmarks.md explains the figures).
#
# Usage: scripts/bench.sh BUILD_DIR
# Runs BUILD_DIR/bench/bench_* (built from bench/bench_*.c) from the repository
# root, in name order, each under a heading; one at a time so they do not
# disturb each other's timings. Exits 1 if any of them fails (after running the
# rest); with no benchmarks it says so and exits 0.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
build=$(cd "$1" 2>/dev/null && pwd) || { echo "bench: no build folder $1" >&2; exit 2; }
cd "$(dirname "$0")/.."

shopt -s nullglob
benches=()
for exe in "$build"/bench/bench_*; do
	[ -f "$exe" ] && [ -x "$exe" ] && benches+=("$exe")
done
if [ ${#benches[@]} -eq 0 ]; then
	echo "bench: no benchmarks in $build/bench (no bench/bench_*.c yet)"
	exit 0
fi

failed=()
for exe in "${benches[@]}"; do
	name=$(basename "$exe")
	echo "==== $name"
	start=$EPOCHREALTIME
	rc=0
	"$exe" || rc=$?
	end=$EPOCHREALTIME
	if [ $rc -ne 0 ]; then
		echo "bench: $name FAILED (exit $rc)"
		failed+=("$name")
	else
		awk -v n="$name" -v a="$start" -v b="$end" 'BEGIN { printf "bench: %s done in %.1f s\n", n, b - a }'
	fi
	echo
done
if [ ${#failed[@]} -ne 0 ]; then
	echo "bench: ${#failed[@]} of ${#benches[@]} failed: ${failed[*]}"
	exit 1
fi
echo "bench: ${#benches[@]} benchmarks ran"
