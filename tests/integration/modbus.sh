#!/usr/bin/env bash
# modbus.sh — the running meter's Modbus servers against real peers: pymodbus
# and mbpoll over TCP and over RTU (a socat pty pair), raw bytes over a socket
# and over the serial line. Every item of docs/registers.csv is read over TCP
# and RTU, every writable setting is written, read back and restored, bad
# requests are answered as docs/registers.md and core/include/bm/regmap.h say
# and change nothing, and the reset command works. The checks themselves are
# in tests/tools/modbus_check.py.
# Usage: modbus.sh BRANCHMETER DATA_DIR
set -euo pipefail
bm=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
die() { echo "FAIL $*"; exit 1; }

for tool in socat mbpoll; do
	command -v "$tool" > /dev/null || die "$tool is not installed (Debian packages socat, mbpoll)"
done
/usr/bin/python3 -c 'import pymodbus.client, serial' 2> /dev/null ||
	die "python3-pymodbus and python3-serial are needed (Debian packages)"
t0=$(date +%s.%N)

# the serial line: a pty pair, the meter on a, the masters on b
socat pty,raw,echo=0,link="$tmp/a" pty,raw,echo=0,link="$tmp/b" 2> "$tmp/socat.err" &
pids+=($!)
for _ in $(seq 100); do
	[ -e "$tmp/a" ] && [ -e "$tmp/b" ] && break
	sleep 0.05
done
[ -e "$tmp/a" ] && [ -e "$tmp/b" ] || die "socat did not create the pty pair: $(cat "$tmp/socat.err")"

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# the meter; a free port may be taken between asking and binding, so try a few
started=
for attempt in 1 2 3; do
	port=$(free_port)
	"$bm" run --no-state --speed 4 --model KPM312-1A2B3C4D-R-K-T --modbus-tcp "127.0.0.1:$port" --modbus-rtu "$tmp/a" --json --interval 1 \
		> "$tmp/meter.jsonl" 2> "$tmp/meter.err" &
	meter=$!
	pids+=("$meter")
	# wait until the server accepts connections (timing: retry for up to 10 s)
	for _ in $(seq 200); do
		kill -0 "$meter" 2> /dev/null || break
		if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then started=1; break; fi
		sleep 0.05
	done
	[ -n "$started" ] && break
	kill "$meter" 2> /dev/null || true
	wait "$meter" 2> /dev/null || true
	echo "note: meter did not come up on port $port (attempt $attempt): $(tail -3 "$tmp/meter.err")"
done
[ -n "$started" ] || die "the meter's Modbus TCP server did not come up: $(cat "$tmp/meter.err")"
echo "meter: pid $meter, Modbus TCP 127.0.0.1:$port, RTU $tmp/a (masters on $tmp/b)"

version=$(sed -n 's/^project(branchmeter VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
set +e
timeout 240 /usr/bin/python3 "$root/tests/tools/modbus_check.py" --host 127.0.0.1 --port "$port" \
	--rtu "$tmp/b" --csv "$root/docs/registers.csv" --speed 4 --version "${version:-0.1.0}"
rc=$?
set -e
[ $rc -eq 124 ] && echo "FAIL modbus_check.py timed out (240 s)"

# the meter survived everything and stops cleanly
if ! kill -0 "$meter" 2> /dev/null; then
	echo "FAIL the meter died during the checks: $(tail -5 "$tmp/meter.err")"
	rc=1
else
	kill -INT "$meter"
	set +e; wait "$meter"; mrc=$?; set -e
	if [ $mrc -ne 0 ]; then echo "FAIL the meter exited with $mrc after SIGINT: $(tail -5 "$tmp/meter.err")"; rc=1
	else echo "ok   the meter stops cleanly on SIGINT"; fi
fi
if ! /usr/bin/python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) >= 3, len(lines)
for l in lines: json.loads(l)
' "$tmp/meter.jsonl"; then
	echo "FAIL the meter's --json output is not JSON lines"; rc=1
fi
el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
if [ $rc -ne 0 ]; then
	echo "meter stderr (last lines):"; tail -5 "$tmp/meter.err" | sed 's/^/  /'
	echo "modbus: FAILED ($el s)"
	exit 1
fi
echo "modbus: all passed ($el s)"
