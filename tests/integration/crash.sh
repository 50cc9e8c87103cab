#!/usr/bin/env bash
# crash.sh — power cuts: `branchmeter run --speed max` killed with SIGKILL at
# random moments, 50 times. After every restart: the saved energy never went
# backwards, the restart found a valid copy (the record store's A/B slots),
# the energy lost is at most the save interval's worth, and the settings are
# the ones last acknowledged over Modbus (every 5th run changes one and is
# killed soon after the answer).
# Usage: crash.sh BRANCHMETER DATA_DIR
set -euo pipefail
bm=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
state=$tmp/state
save=1.0      # --save-interval, seconds of sample clock
runs=50
prev=0
fail=0
RANDOM=4242   # a fixed sequence of kill moments
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mb=(--tcp 127.0.0.1:$port)
want_vt=1     # vt_ratio last acknowledged
want_tariff=1 # tariff_select last acknowledged
for i in $(seq 1 $runs); do
  "$bm" run --modbus-tcp 127.0.0.1:$port --speed max --state-dir "$state" --save-interval $save --json --interval 0.05 > "$tmp/out.jsonl" 2> "$tmp/err" &
  pid=$!
  # the settings survived: read them as soon as the server answers
  got=""
  for _ in $(seq 1 100); do
    got=$("$bm" read "${mb[@]}" --json vt_ratio tariff_select 2>/dev/null) && break
    sleep 0.02
  done
  if ! /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if abs(d["vt_ratio"]-float(sys.argv[2]))<1e-6 and d["tariff_select"]==int(sys.argv[3]) else 1)' "${got:-{\}}" "$want_vt" "$want_tariff"; then
    echo "FAIL run $i: settings not intact after the restart: got ${got:-nothing}, want vt_ratio $want_vt tariff_select $want_tariff"
    kill -9 $pid 2>/dev/null || true; fail=$((fail+1)); break
  fi
  if [ $((i % 5)) -eq 0 ]; then
    # change settings and cut the power right after the acknowledgement
    nv=$((i / 5 + 1)); nt=$(( (i / 5) % 6 + 1 ))
    if "$bm" write "${mb[@]}" --password 1000 vt_ratio=$nv tariff_select=$nt > /dev/null; then
      want_vt=$nv; want_tariff=$nt
    fi
    kill -9 $pid 2>/dev/null || true
  else
    sleep "0.$(( (RANDOM % 8) + 2 ))"   # 0.2 .. 0.9 s of wall time
  fi
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  if ! /usr/bin/python3 - "$tmp/out.jsonl" "$prev" "$save" "$i" > "$tmp/res" <<'PY'
import json, sys
lines = []
for l in open(sys.argv[1]):
    try:
        lines.append(json.loads(l))
    except ValueError:
        pass  # the kill may cut the last line
prev, save, i = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
first = lines[0]
restored = first["circuits"][0]["EP_imp_Wh"]
if i > 1 and not first["restored"]:
    print(f"run {i}: nothing restored ({first['state']})"); sys.exit(1)
if restored + 1e-9 < prev:
    print(f"run {i}: energy went backwards: {restored} < {prev}"); sys.exit(1)
# the last energy the killed run printed, and its power: the next restart
# may lose at most a save interval (plus a print interval) of that
last = [l for l in lines[1:] if "windows" in l]
printed = last[-1]["circuits"][0]["EP_imp_Wh"] if last else restored
power = last[-1]["circuits"][0]["P"] if last else 0.0
print(restored, printed, power)
PY
  then echo "FAIL $(cat "$tmp/res")"; fail=$((fail+1)); break; fi
  read -r restored printed power < "$tmp/res"
  # loss check against the previous run's last print happens at the next restart
  if [ "$i" -gt 1 ]; then
    lost=$(awk -v p="$prev_printed" -v r="$restored" 'BEGIN { printf "%.6f", p - r }')
    # a save interval, plus the time the saver takes to write (fsync: a few
    # ms of wall time, ~1 s of sample clock at --speed max)
    limit=$(awk -v w="$prev_power" -v s="$save" 'BEGIN { printf "%.6f", w * (s + 1.0) / 3600 }')
    echo "$lost" >> "$tmp/losses"
    if awk -v l="$lost" -v m="$limit" 'BEGIN { exit !(l > m) }'; then
      echo "FAIL run $i: lost $lost Wh, more than a save interval's worth ($limit Wh)"; fail=$((fail+1)); break
    fi
  fi
  prev=$restored; prev_printed=$printed; prev_power=$power
done
# a clean stop saves everything: the next start restores what the last print said
"$bm" run --modbus-tcp off --speed max --duration 1 --state-dir "$state" --json --interval 0.05 > "$tmp/a.jsonl"
"$bm" run --modbus-tcp off --speed max --duration 0.01 --state-dir "$state" --json > "$tmp/b.jsonl"
if ! /usr/bin/python3 - "$tmp/a.jsonl" "$tmp/b.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = json.loads(open(sys.argv[2]).readline())
end = a[-1]["circuits"][0]["EP_imp_Wh"]
got = b["circuits"][0]["EP_imp_Wh"]
# the counter record keeps whole mWh (a restart drops < 1 mWh per counter);
# prints carry 9 digits
assert b["restored"] and abs(got - end) <= 1e-3 + 1e-8 * end, (got, end)
PY
then echo "FAIL clean stop does not restore the final energy"; fail=$((fail+1)); fi
if [ $fail -eq 0 ]; then
  worst=$(sort -g "$tmp/losses" | tail -1)
  echo "ok   $runs SIGKILLs: energy never backwards, state valid, settings intact (last: vt_ratio $want_vt, tariff $want_tariff); largest shortfall against the killed run's last printed energy: $worst Wh (negative: none; limit: (save interval + 1 s) of its power)"
fi
echo "$(( fail == 0 ? 2 : 0 )) passed, $fail failed"
[ $fail -eq 0 ]
