#!/usr/bin/env bash
# alarms.sh — alarms, relays, digital inputs, the model and the event log,
# end to end: `branchmeter run` on a simulator scenario whose load cycles
# (100 % for 30 s, 30 % for 30 s of every minute from 08:00:00), whose
# temperature follows the load (30 + 50·load² °C, no lag) and whose inputs
# step at known times, with alarms set by a configuration file on a KPM312
# with relays, inputs and temperature. The expected event times below come
# from the scenario, not from the meter:
#  - over_i (threshold 80 A, release 90 %, delay 2 s) on C1: on at m:02,
#    off at m:30 of every minute m; DO1 (alarm mode) follows it;
#  - over_t (70 °C) on C1: on at m:00, off at m:30; DO2 in pulse mode closes
#    for 3 s at each activation;
#  - DI1 closes at 20 s, opens at 50 s; its logic alarm (delay 1 s) drives DO3;
#    DI2 closes at 35 s;
#  - under_u on C2 (200 V) never triggers at 230 V.
# Then, at --speed 20 with Modbus: the SOE records carry the exact
# millisecond times, a manual relay obeys commands, and a relay in alarm mode
# refuses them; a restart keeps the log and numbers on. Finally the model's
# limits: impossible codes and settings for parts the model lacks are refused.
# Usage: alarms.sh BRANCHMETER DATA_DIR
set -euo pipefail
bm=$1
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0; fail=0
ok() { echo "ok   $1"; pass=$((pass+1)); }
bad() { echo "FAIL $1"; fail=$((fail+1)); }

load() { # circuit N with a constant load
  printf '[circuit%s]\nwiring = 3P4W_4CT\nsensor = CT\nprimary = 100\nsecondary = 5\nprofile = 00:00=20@0.9\n' "$1"
}
{
  printf '[meter]\nsample_rate = 12800\n[grid]\nvoltage = 230\nfrequency = 50\nstart = 2026-01-05T08:00:00Z\n'
  printf '[circuit1]\nwiring = 3P4W_4CT\nsensor = CT\nprimary = 100\nsecondary = 5\nprofile = 00:00=100@0.9\n'
  printf 'cycle_period = 60\ncycle_duty = 0.5\ncycle_off = 30\ntemperature = 30\ntemperature_rise = 50\n'
  load 2; load 3; load 4
  printf '[inputs]\ndi1 = 20:1, 50:0\ndi2 = 35:1\n'
} > "$tmp/s.ini"
cat > "$tmp/c.ini" <<'INI'
[meter]
model = KPM312-1B2B3B4B-R-K-T
[settings]
C1.over_i.enabled = 1
C1.over_i.threshold = 80
C1.over_i.release = 90
C1.over_i.delay = 2
C1.over_i.relays = 1
DO1.mode = 1
C1.over_t.enabled = 1
C1.over_t.threshold = 70
C1.over_t.relays = 2
DO2.mode = 1
DO2.pulse = 1
DO2.pulse_time = 3
DI1.alarm = 1
DI1.delay = 1
DI1.relays = 4
DO4.mode = 0
C2.under_u.enabled = 1
C2.under_u.threshold = 200
INI

# --- 1. 130 s of sample clock at full speed, then the event log ----------
"$bm" run --source "sim:$tmp/s.ini" --config "$tmp/c.ini" --speed max --duration 130 --state-dir "$tmp/st" \
  --modbus-tcp off --interval 1000 > "$tmp/run1.txt" 2> "$tmp/run1.err" || { bad "run 1: $(tail -3 "$tmp/run1.err")"; }
"$bm" events --state-dir "$tmp/st" --json > "$tmp/ev1.jsonl"
if /usr/bin/python3 - "$tmp/ev1.jsonl" > "$tmp/check1" <<'PY'
import json, sys
T0 = 1767600000  # 2026-01-05T08:00:00Z
ev = [json.loads(l) for l in open(sys.argv[1])]
got = [(e["time"] - T0, e["type"], e["circuit"], e["code"], e["value"]) for e in ev]
def want(t, typ, circuit, code, value=None, tol=0):
    hits = [g for g in got if g[1] == typ and g[2] == circuit and g[3] == code and abs(g[0] - t) <= tol
            and (value is None or abs(g[4] - value) < 1e-3 * max(1, abs(value)))]
    if not hits:
        print(f"missing: {typ} circuit {circuit} code {code} at {t}s (+-{tol}) value {value}")
        return 0
    return 1
n = 0; need = 0
for m in (0, 60, 120):
    # over_i: the window after 2 s of overcurrent (windows of 0.2 s: within 1 s)
    need += 2; n += want(m + 2, "alarm-on", 1, 0, tol=1) + want(m + 2, "relay", 0, 1, 1, tol=1)
    need += 2; n += want(m, "alarm-on", 1, 14, tol=1) + want(m, "relay", 0, 2, 1, tol=1)
    need += 1; n += want(m + 3, "relay", 0, 2, 0, tol=1)  # the 3 s pulse ends
for m in (0, 60):
    need += 3; n += want(m + 30, "alarm-off", 1, 0, tol=1) + want(m + 30, "alarm-off", 1, 14, tol=1) \
        + want(m + 30, "relay", 0, 1, 0, tol=1)
# the off events carry the extreme: 100 A (the on-phase current), 80 degC
offs_i = [g[4] for g in got if g[1] == "alarm-off" and g[3] == 0]
offs_t = [g[4] for g in got if g[1] == "alarm-off" and g[3] == 14]
need += 1; n += all(abs(v - 100) < 0.5 for v in offs_i) and all(abs(v - 80) < 0.5 for v in offs_t) and len(offs_i) == 2
# inputs at the exact second, the input alarm after its 1 s delay, DO3 with it
need += 7
n += want(20, "input", 0, 1, 1) + want(35, "input", 0, 2, 1) + want(50, "input", 0, 1, 0)
n += want(21, "alarm-on", 0, 101, tol=0) + want(50, "alarm-off", 0, 101, tol=0)
n += want(21, "relay", 0, 3, 1) + want(50, "relay", 0, 3, 0)
# nothing else: no under_u, no DO4, power on first and off last, numbers 1..N
need += 4
n += not any(g[3] == 3 and g[1].startswith("alarm") for g in got)
n += not any(g[1] == "relay" and g[3] == 4 for g in got)
n += ev[0]["type"] == "power-on" and ev[-1]["type"] == "power-off"
n += [e["seq"] for e in ev] == list(range(1, len(ev) + 1))
print(f"{n} of {need} expectations met; {len(ev)} events")
sys.exit(0 if n == need else 1)
PY
then ok "run 1 events: $(tail -1 "$tmp/check1")"; else bad "run 1 events: $(cat "$tmp/check1")"; fi
nev1=$(wc -l < "$tmp/ev1.jsonl")

# --- 2. with Modbus at --speed 20: SOE, manual relay, restart ----------------
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tcp=(--tcp "127.0.0.1:$port")
"$bm" run --source "sim:$tmp/s.ini" --config "$tmp/c.ini" --speed 20 --duration 70 --state-dir "$tmp/st" \
  --modbus-tcp "127.0.0.1:$port" --interval 1000 > "$tmp/run2.txt" 2> "$tmp/run2.err" &
pid=$!
for _ in $(seq 1 100); do "$bm" read "${tcp[@]}" map_version > /dev/null 2>&1 && break; sleep 0.05; done
# a relay in alarm mode refuses commands; the manual one obeys
if ! "$bm" write "${tcp[@]}" --password 1000 DO1.command=1 > "$tmp/w1" 2>&1; then ok "DO1 (alarm mode) refuses a command"
else bad "DO1 (alarm mode) accepted a command: $(cat "$tmp/w1")"; fi
if "$bm" write "${tcp[@]}" --password 1000 DO4.command=1 > "$tmp/w2" 2>&1 && \
   [ $(( $("$bm" read "${tcp[@]}" relays | awk '{print $3}') & 8 )) -eq 8 ]; then ok "DO4 (manual) closes on command"
else bad "DO4 (manual) command: $(cat "$tmp/w2")"; fi
# after 55 s of sample clock: the three input changes with their exact times
for _ in $(seq 1 100); do
  t=$("$bm" read "${tcp[@]}" --json rtc 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["rtc"])' || echo 0)
  [ "$t" -ge 1767600055 ] && break; sleep 0.1
done
"$bm" read "${tcp[@]}" --json 'SOE[123].*' 'DI[12].count' inputs > "$tmp/soe.json" 2>&1 || true
if /usr/bin/python3 - "$tmp/soe.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
T0 = 1767600000000
want = [(T0 + 50000, 1, 0), (T0 + 35000, 2, 1), (T0 + 20000, 1, 1)]  # newest first
got = [(d[f"SOE{k}.time_ms"], d[f"SOE{k}.input"], d[f"SOE{k}.state"]) for k in (1, 2, 3)]
assert got == want, (got, want)
assert d["DI1.count"] == 2 and d["DI2.count"] == 1 and d["inputs"] == 2, d
PY
then ok "SOE: input changes at 20.000, 35.000, 50.000 s, newest first; counters 2 and 1"
else bad "SOE / counters: $(cat "$tmp/soe.json")"; fi
kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=
"$bm" events --state-dir "$tmp/st" --json > "$tmp/ev2.jsonl"
if /usr/bin/python3 - "$tmp/ev1.jsonl" "$tmp/ev2.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert b[:len(a)] == a, "the first run's events changed"
seqs = [e["seq"] for e in b]
assert seqs == list(range(1, len(b) + 1)), seqs
new = b[len(a):]
assert new[0]["type"] == "power-on" and new[-1]["type"] == "power-off", (new[0], new[-1])
assert any(e["type"] == "relay" and e["code"] == 4 and e["value"] == 1 and e["source"] == "meter" for e in new)
PY
then ok "restart: the log kept run 1's $nev1 events and numbered on ($(wc -l < "$tmp/ev2.jsonl") now)"
else bad "restart: the event log did not continue"; fi

# --- 3. the model's limits ---------------------------------------------------
set +e
out=$("$bm" run --source "sim:$tmp/s.ini" --model KPM312-TS --no-state --duration 1 2>&1); rc=$?
set -e
if [ $rc -eq 2 ] && grep -q "cannot be combined" <<< "$out"; then ok "an impossible model code is refused with the reason"
else bad "--model KPM312-TS: rc $rc: $out"; fi
printf '[meter]\nmodel = KPM312-R-S\n[settings]\nC1.over_t.enabled = 1\n' > "$tmp/bad.ini"
set +e
out=$("$bm" run --source "sim:$tmp/s.ini" --config "$tmp/bad.ini" --no-state --modbus-tcp off --duration 1 2>&1); rc=$?
set -e
if [ $rc -ne 0 ] && grep -qi "model\|not on" <<< "$out"; then ok "a temperature alarm on a model without temperature inputs is refused"
else bad "over_t on KPM312-R-S: rc $rc: $out"; fi
set +e
out=$("$bm" run --source "sim:$tmp/s.ini" --model MPM4410-A --no-state --modbus-tcp off --duration 1 2>&1); rc=$?
set -e
if [ $rc -eq 0 ]; then ok "MPM4410-A runs the 4-circuit scenario"; else bad "MPM4410-A: rc $rc: $out"; fi
set +e
out=$("$bm" run --source "sim:$tmp/s.ini" --model MPM4210-A --no-state --modbus-tcp off --duration 1 2>&1); rc=$?
set -e
if [ $rc -eq 2 ] && grep -q "2 circuits" <<< "$out"; then ok "a 2-circuit model on a 4-circuit source is refused"
else bad "MPM4210-A on 4 circuits: rc $rc: $out"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
