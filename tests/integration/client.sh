#!/usr/bin/env bash
# client.sh — `branchmeter read` and `branchmeter write` against the real
# meter: `branchmeter run` on the default simulator at --speed 10 serving
# Modbus TCP on a free local port. Checks reads by name and by pattern, JSON
# output, and the write path a user walks: refused while locked, accepted
# with the password and read back, refused by validation without a change,
# a wrong password, an unknown name, and a setting the meter acts on
# (tariff_select -> the tariff in use); then the same client over Modbus RTU
# through a socat pty pair (a second meter with --modbus-rtu), at the
# meter's defaults and after the client changes the line to 19200 8E1.
# Usage: client.sh BRANCHMETER DATA_DIR
set -euo pipefail
bm=$1
tmp=$(mktemp -d)
pid=
rpid=
spid=
cleanup() {
  for p in $pid $rpid $spid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0; fail=0
ok() { echo "ok   $1"; pass=$((pass+1)); }
bad() { echo "FAIL $1"; fail=$((fail+1)); }

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tcp=(--tcp "127.0.0.1:$port")
"$bm" run --speed 10 --no-state --modbus-tcp "127.0.0.1:$port" --interval 1 --json > "$tmp/run.jsonl" 2> "$tmp/run.err" &
pid=$!

# wait for the server (up to ~10 s)
up=0
for _ in $(seq 1 100); do
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  if "$bm" read "${tcp[@]}" --timeout 0.5 map_version > /dev/null 2>&1; then up=1; break; fi
  sleep 0.1
done
if [ $up -ne 1 ]; then
  echo "FAIL the meter did not answer on 127.0.0.1:$port within 10 s; its stderr:"
  cat "$tmp/run.err"
  exit 1
fi

# run CMD... : stdout to $tmp/out, stderr to $tmp/err, exit status to $rc
run() { set +e; timeout 20 "$bm" "$@" > "$tmp/out" 2> "$tmp/err"; rc=$?; set -e; }
show() { echo "rc=$rc out: $(head -c 400 "$tmp/out") err: $(head -c 400 "$tmp/err")"; }

run read "${tcp[@]}" map_version
if [ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "map_version = 1" ]; then ok "read map_version"; else bad "read map_version ($(show))"; fi

run read "${tcp[@]}" C1.U1
if [ $rc -eq 0 ] && awk '$1 == "C1.U1" && $2 == "=" && $4 == "V" && $3 > 200 && $3 < 260 { f = 1 } END { exit !f }' "$tmp/out"
then ok "read C1.U1 ($(cat "$tmp/out"))"; else bad "read C1.U1 ~230 V ($(show))"; fi

run read "${tcp[@]}" 'C1.EP_*'
n=$(grep -c '^C1\.EP_.* = ' "$tmp/out" || true)
if [ $rc -eq 0 ] && [ "$n" -ge 2 ] && [ "$n" -eq "$(wc -l < "$tmp/out")" ]; then ok "pattern 'C1.EP_*' ($n items)"
else bad "pattern 'C1.EP_*' ($(show))"; fi

# a whole circuit: ~1000 items in merged reads, every one answered
run read "${tcp[@]}" 'C1.*'
n=$(wc -l < "$tmp/out")
if [ $rc -eq 0 ] && [ "$n" -gt 500 ] && [ ! -s "$tmp/err" ]; then ok "pattern 'C1.*' ($n items)"; else bad "pattern 'C1.*' ($(show))"; fi

run read "${tcp[@]}" --json 'C1.U*' vendor datetime map_version
if [ $rc -eq 0 ] && /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["map_version"] == 1 and isinstance(d["vendor"], str) and d["vendor"]
assert 200 < d["C1.U1"] < 260
assert len(d["datetime"]) == 19
' < "$tmp/out"; then ok "--json parses"; else bad "--json parses ($(show))"; fi

run read "${tcp[@]}" C1.U1 nosuch_register
if [ $rc -eq 2 ] && grep -q nosuch_register "$tmp/err" && [ ! -s "$tmp/out" ]; then ok "read: unknown name exits 2"
else bad "read: unknown name exits 2 ($(show))"; fi

run read "${tcp[@]}" 'C1.nothing*'
if [ $rc -eq 2 ] && grep -q 'C1.nothing\*' "$tmp/err"; then ok "read: pattern matching nothing exits 2"
else bad "read: pattern matching nothing exits 2 ($(show))"; fi

run write "${tcp[@]}" vt_ratio=2
if [ $rc -eq 1 ] && grep -qi password "$tmp/err"; then ok "write while locked asks for the password"
else bad "write while locked asks for the password ($(show))"; fi

run write "${tcp[@]}" --password 1000 vt_ratio=2
if [ $rc -eq 0 ] && grep -q '^vt_ratio = 2$' "$tmp/out"; then ok "write --password 1000 vt_ratio=2"
else bad "write --password 1000 vt_ratio=2 ($(show))"; fi

run read "${tcp[@]}" vt_ratio
if [ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "vt_ratio = 2" ]; then ok "vt_ratio reads 2"; else bad "vt_ratio reads 2 ($(show))"; fi

run write "${tcp[@]}" --password 1000 vt_ratio=0
if [ $rc -eq 1 ] && grep -qi refused "$tmp/err"; then ok "vt_ratio=0 refused by validation"
else bad "vt_ratio=0 refused by validation ($(show))"; fi
run read "${tcp[@]}" vt_ratio
if [ "$(cat "$tmp/out")" = "vt_ratio = 2" ]; then ok "a refused write changes nothing"; else bad "a refused write changes nothing ($(show))"; fi

run write "${tcp[@]}" --password 1234 vt_ratio=3
if [ $rc -eq 1 ] && grep -qi "password refused" "$tmp/err"; then ok "wrong password refused"
else bad "wrong password refused ($(show))"; fi
run read "${tcp[@]}" vt_ratio
if [ "$(cat "$tmp/out")" = "vt_ratio = 2" ]; then ok "nothing written after a wrong password"; else bad "nothing written after a wrong password ($(show))"; fi

run write "${tcp[@]}" --password 1000 nosuch_register=1
if [ $rc -eq 2 ] && grep -q nosuch_register "$tmp/err"; then ok "write: unknown name exits 2"
else bad "write: unknown name exits 2 ($(show))"; fi

run write "${tcp[@]}" --password 1000 vt_ratio=abc
if [ $rc -eq 2 ] && grep -q vt_ratio "$tmp/err"; then ok "write: bad value exits 2"; else bad "write: bad value exits 2 ($(show))"; fi

run write "${tcp[@]}" --password 1000 C1.U1=5
if [ $rc -eq 2 ] && grep -qi "read-only" "$tmp/err"; then ok "write: read-only exits 2"; else bad "write: read-only exits 2 ($(show))"; fi

run write "${tcp[@]}" --password 1000 tariff_select=3
if [ $rc -eq 0 ] && grep -q '^tariff_select = 3$' "$tmp/out"; then ok "write tariff_select=3"
else bad "write tariff_select=3 ($(show))"; fi
# the tariff in use follows within a second or two of sample clock
seen=
for _ in $(seq 1 50); do
  run read "${tcp[@]}" tariff
  if [ "$(cat "$tmp/out")" = "tariff = 3" ]; then seen=1; break; fi
  sleep 0.1
done
if [ -n "$seen" ]; then ok "tariff follows tariff_select"; else bad "tariff follows tariff_select within 5 s ($(show))"; fi

if ! kill -0 "$pid" 2>/dev/null; then bad "the meter stopped during the test: $(tail -5 "$tmp/run.err")"; fi

# --- over RTU -------------------------------------------------------------
socat pty,raw,echo=0,link="$tmp/a" pty,raw,echo=0,link="$tmp/b" 2> "$tmp/socat.err" &
spid=$!
for _ in $(seq 1 50); do [ -e "$tmp/a" ] && [ -e "$tmp/b" ] && break; sleep 0.1; done
"$bm" run --speed 10 --no-state --modbus-tcp off --modbus-rtu "$tmp/a" --interval 1 > /dev/null 2> "$tmp/rtu.err" &
rpid=$!
rtu=(--rtu "$tmp/b")
up=0
for _ in $(seq 1 50); do
  if "$bm" read "${rtu[@]}" map_version > /dev/null 2>&1; then up=1; break; fi
  sleep 0.2
done
if [ $up -eq 1 ]; then ok "RTU: read map_version at 9600 8N1, address 1"; else bad "RTU: no answer ($(tail -3 "$tmp/rtu.err"))"; fi
run read "${rtu[@]}" C1.U1 'C1.EP_imp*'
if [ $rc -eq 0 ] && grep -q '^C1.U1 = ' "$tmp/out" && grep -q '^C1.EP_imp_Wh = ' "$tmp/out"; then ok "RTU: read by name and pattern"
else bad "RTU: read by name and pattern ($(show))"; fi
# the client moves the line: the answer comes at the old settings, the next
# request at the new ones
run write "${rtu[@]}" --password 1000 baud=19200 parity=2
if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then bad "RTU: write baud/parity ($(show))"; fi
up=0
for _ in $(seq 1 20); do
  run read "${rtu[@]}" --baud 19200 --parity E baud parity
  if [ $rc -eq 0 ] && grep -q '^baud = 19200 bit/s$' "$tmp/out" && grep -q '^parity = 2$' "$tmp/out"; then up=1; break; fi
  sleep 0.2
done
if [ $up -eq 1 ]; then ok "RTU: settings written over RTU apply to the line (now 19200 8E1)"
else bad "RTU: the line did not move to 19200 8E1 ($(show))"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
