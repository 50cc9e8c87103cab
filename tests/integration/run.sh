#!/usr/bin/env bash
# run.sh — `branchmeter run` as a user starts it: the default simulator at
# --speed max, a scenario file, a looping COMTRADE recording, real-time pacing,
# Ctrl-C, and bad options answered with a clear error.
# Usage: run.sh BRANCHMETER DATA_DIR
set -euo pipefail
bm=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$here/../..
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { echo "ok   $1"; pass=$((pass+1)); }
bad() { echo "FAIL $1"; fail=$((fail+1)); }

# default simulator, as fast as possible, 3 s of sample clock
if timeout 60 "$bm" run --modbus-tcp off --no-state --speed max --duration 3 --json --interval 0.1 > "$tmp/sim.jsonl" &&
   /usr/bin/python3 - "$tmp/sim.jsonl" <<'PY'
import json, sys
last = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert abs(last["t"] - 3.0) < 0.01, last["t"]
c = last["circuits"]
assert len(c) == 4 and [x["wiring"] for x in c] == ["3P4W_4CT", "3P4W_3CT", "3P3W_3CT", "3P4W_4CT"]
assert abs(c[0]["F"] - 50) < 0.1 and abs(c[0]["U1"] - 230) < 5
assert c[2]["U1"] is None and c[2]["U12"] > 390      # three-wire: no phase voltages
assert c[3]["P"] < 0                                  # the PV circuit exports at 08:00+
assert all(x["S"] > 0 for x in c)
# energy: P integrated over the published windows (all but the ~0.35 s start-up)
t_eff = c[0]["EP_imp_Wh"] * 3600.0 / c[0]["P"]
assert 2.5 < t_eff < 2.8, t_eff
assert c[3]["EP_imp_Wh"] == 0 and c[3]["EP_exp_Wh"] > 0        # the PV circuit exports
assert last["tariff"] == 1
PY
then ok "default simulator --speed max"; else bad "default simulator --speed max"; fi

# the readable summary names every circuit
timeout 60 "$bm" run --modbus-tcp off --no-state --speed max --duration 1 > "$tmp/summary.txt"
if grep -q "C4 3P4W_4CT" "$tmp/summary.txt" && grep -q "THD-U .* sequence U ok" "$tmp/summary.txt"; then
  ok "readable summary"; else bad "readable summary"; fi

# a scenario file
if timeout 60 "$bm" run --modbus-tcp off --no-state --source "sim:$root/scenarios/rogowski.ini" --speed max --duration 2 --json > "$tmp/rc.jsonl" &&
   tail -1 "$tmp/rc.jsonl" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); assert d['circuits'][0]['I1'] > 0"; then
  ok "scenario file"; else bad "scenario file"; fi

# real time: 1 s of sample clock takes about 1 s of wall time
start=$(date +%s.%N)
timeout 20 "$bm" run --modbus-tcp off --no-state --duration 1 --json > /dev/null
el=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
if awk -v e="$el" 'BEGIN { exit !(e > 0.9 && e < 5) }'; then ok "real-time pacing ($el s)"; else bad "real-time pacing ($el s)"; fi

# a COMTRADE recording of 2 s, looped for 5 s
/usr/bin/python3 "$here/../tools/make_comtrade.py" "$tmp/rec" FLOAT32 6400 50 2.0 > "$tmp/truth.json"
if timeout 60 "$bm" run --modbus-tcp off --no-state --source "comtrade:$tmp/rec.cfg" --speed max --duration 5 --json --interval 0.2 > "$tmp/ct.jsonl" &&
   /usr/bin/python3 - "$tmp/ct.jsonl" "$tmp/truth.json" <<'PY'
import json, sys
last = json.loads(open(sys.argv[1]).read().splitlines()[-1])
truth = json.load(open(sys.argv[2]))["circuits"]
assert abs(last["t"] - 5.0) < 0.01
# a loop joins the end to the start with a phase jump, so only a window near it is off; check loosely
assert abs(last["circuits"][0]["U1"] - truth[0]["U1"]) < 0.01 * truth[0]["U1"]
assert abs(last["circuits"][1]["P"] - truth[1]["P"]) < 0.01 * truth[1]["S"]
PY
then ok "COMTRADE source, looping"; else bad "COMTRADE source, looping"; fi

# Ctrl-C stops cleanly with a final summary
"$bm" run --modbus-tcp off --no-state --json > "$tmp/int.jsonl" & pid=$!
sleep 1.5; kill -INT $pid
if wait $pid && [ -s "$tmp/int.jsonl" ]; then ok "SIGINT stops cleanly"; else bad "SIGINT stops cleanly"; fi

expect_error() { # name pattern args...
  local name=$1 pat=$2; shift 2
  set +e; timeout 20 "$bm" "$@" > /dev/null 2> "$tmp/err"; rc=$?; set -e
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qi -- "$pat" "$tmp/err"; then ok "$name"; else bad "$name (rc=$rc: $(cat "$tmp/err"))"; fi
}
expect_error "unknown source" "unknown --source" run --source bogus
expect_error "missing scenario" "nothere.ini" run --source sim:"$tmp/nothere.ini"
printf '[grid]\nfrequency = 90\n' > "$tmp/badfreq.ini"
expect_error "out-of-range scenario value names file and line" "badfreq.ini.*2\|line 2" run --source sim:"$tmp/badfreq.ini"
expect_error "bad --speed" "speed" run --speed 0
expect_error "bad --duration" "duration" run --duration abc
expect_error "unknown option" "usage" run --frobnicate
expect_error "unknown command" "unknown command" frobnicate

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
