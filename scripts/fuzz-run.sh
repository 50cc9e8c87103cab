#!/usr/bin/env bash
# fuzz-run.sh — run every libFuzzer target of a build for a fixed time each.
#
# Usage: scripts/fuzz-run.sh BUILD_DIR SECONDS
#   FUZZ_JOBS=n    targets fuzzed at once (default: the number of cores)
#   FUZZ_FLAGS=..  extra libFuzzer flags for every run (e.g. -max_len=512)
#
# For each executable BUILD_DIR/tests/fuzz/fuzz_<name> (tests/fuzz/fuzz_<name>.c):
#  1. replays the regression inputs tests/fuzz/regressions/<name>/* (inputs that
#     once crashed): each must run cleanly, before any fuzzing;
#  2. fuzzes for SECONDS (-max_total_time) starting from a copy of the seeds in
#     tests/fuzz/corpus/<name>/, made in a temporary folder so the repository
#     is never written; tests/fuzz/<name>.dict is used as a dictionary if present.
# (The folders may also be named after the whole target, fuzz_<name>.)
# Prints one line per target with the executions done; exits 1 if any target
# crashed, leaked, hung or failed a regression input, after printing the end of
# its log. A crashing input is kept in BUILD_DIR/fuzz-artifacts/<name>/: once
# fixed, copy it into tests/fuzz/regressions/<name>/ so it stays fixed.
# With no fuzz targets it says so and exits 0.
set -euo pipefail

if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
	echo "usage: $0 BUILD_DIR SECONDS" >&2
	exit 2
fi
build=$(cd "$1" 2>/dev/null && pwd) || { echo "fuzz-run: no build folder $1" >&2; exit 2; }
seconds=$2
jobs=${FUZZ_JOBS:-$(nproc)}
read -r -a extra <<<"${FUZZ_FLAGS:-}"
src=$(cd "$(dirname "$0")/.." && pwd)/tests/fuzz

shopt -s nullglob
targets=()
for exe in "$build"/tests/fuzz/fuzz_*; do
	[ -f "$exe" ] && [ -x "$exe" ] && targets+=("$(basename "$exe")")
done
# A fuzz source without its executable means the build is stale or broken.
for c in "$src"/fuzz_*.c; do
	t=$(basename "${c%.c}")
	if ! [ -x "$build/tests/fuzz/$t" ]; then
		echo "fuzz-run: $t.c has no executable in $build/tests/fuzz (configure with -DBM_FUZZ=ON and build)" >&2
		exit 1
	fi
done
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz-run: no fuzz targets (no tests/fuzz/fuzz_*.c yet), nothing to run"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# data_dir KIND TARGET — tests/fuzz/KIND/<name> or KIND/fuzz_<name>, or nothing.
data_dir() {
	local d
	for d in "$src/$1/${2#fuzz_}" "$src/$1/$2"; do
		if [ -d "$d" ]; then
			echo "$d"
			return 0
		fi
	done
	return 0
}

# fuzz_one TARGET — runs one target; writes $tmp/TARGET.line (the summary) and
# $tmp/TARGET.log (libFuzzer's output); returns non-zero on failure.
fuzz_one() {
	local t=$1 name=${1#fuzz_} exe=$build/tests/fuzz/$1
	local log=$tmp/$t.log corpus=$tmp/$t.corpus art=$build/fuzz-artifacts/$name
	local regs=() seeds=0 nreg=0 d dict=() rc=0
	mkdir -p "$corpus" "$art"
	local regdir
	regdir=$(data_dir regressions "$t")
	# files only: libFuzzer would take a folder argument as a corpus and fuzz it
	[ -n "$regdir" ] && mapfile -t regs < <(find "$regdir" -type f | sort)
	nreg=${#regs[@]}
	d=$(data_dir corpus "$t")
	if [ -n "$d" ]; then
		cp -r "$d"/. "$corpus"/
		seeds=$(find "$corpus" -type f | wc -l)
	fi
	for d in "$src/$name.dict" "$src/$t.dict"; do
		[ -f "$d" ] && dict=("-dict=$d")
	done
	: >"$log"
	if [ "$nreg" -gt 0 ] && ! "$exe" -timeout=10 "${extra[@]}" "${regs[@]}" >>"$log" 2>&1; then
		printf '%-28s FAIL  an input in tests/fuzz/%s fails again\n' "$t" "${regdir#"$src"/}" >"$tmp/$t.line"
		return 1
	fi
	"$exe" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$art/" "${dict[@]}" "${extra[@]}" "$corpus" >>"$log" 2>&1 || rc=$?
	local execs
	execs=$(awk '/^stat::number_of_executed_units:/ { n = $NF } END { print n }' "$log")
	local found=$(($(find "$corpus" -type f | wc -l) - seeds))
	if [ $rc -ne 0 ]; then
		local input
		input=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
		printf '%-28s FAIL  exit %d after %s executions; input kept: %s\n' \
			"$t" "$rc" "${execs:-?}" "${input:-none (see the log below)}" >"$tmp/$t.line"
		return 1
	fi
	printf '%-28s ok    %s executions in %ss, %d seeds + %d new inputs, %d regressions pass\n' \
		"$t" "${execs:-?}" "$seconds" "$seeds" "$found" "$nreg" >"$tmp/$t.line"
}

echo "fuzz-run: ${#targets[@]} targets, ${seconds}s each, $jobs at a time"
# Run up to $jobs targets at once; each writes its own files.
running=0
for t in "${targets[@]}"; do
	if [ $running -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	fuzz_one "$t" &
	running=$((running + 1))
done
wait || true

failed=()
for t in "${targets[@]}"; do
	line=$(cat "$tmp/$t.line" 2>/dev/null) || line=$(printf '%-28s FAIL  the runner itself failed' "$t")
	echo "$line"
	[[ $line == *" ok "* ]] || failed+=("$t")
done
if [ ${#failed[@]} -ne 0 ]; then
	for t in "${failed[@]}"; do
		echo
		echo "---- $t: last 60 lines of its log ----"
		tail -n 60 "$tmp/$t.log" 2>/dev/null || true
	done
	echo "fuzz-run: ${#failed[@]} of ${#targets[@]} targets failed: ${failed[*]}"
	exit 1
fi
echo "fuzz-run: all ${#targets[@]} targets ran clean"
