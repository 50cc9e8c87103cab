#!/usr/bin/env bash
# analyze.sh — `branchmeter analyze` on generated COMTRADE recordings of every
# data type, checked against the generator's float64 truth; --per-window; the
# readable table; and bad input answered with a clear error.
# Usage: analyze.sh BRANCHMETER DATA_DIR
set -euo pipefail
bm=$1
here=$(cd "$(dirname "$0")" && pwd)
gen=$here/../tools/make_comtrade.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0; pass=0
check() { # name truth.json result.json
  if /usr/bin/python3 - "$2" "$3" <<'PY'
import json, sys
truth = json.load(open(sys.argv[1]))["circuits"]
got = json.load(open(sys.argv[2]))["circuits"]
bad = []
for c, t in enumerate(truth):
    g = got[c]
    S = abs(t.get("S") or 1.0)
    for k, want in t.items():
        have = g.get(k)
        if isinstance(want, list):  # harmonic spectra: orders 1..50
            if not isinstance(have, list) or len(have) != 50:
                bad.append(f"C{c+1} {k}: {have!r:.60}"); continue
            ref = want[0] if k.endswith("_rms") else 100.0
            for h, (w, v) in enumerate(zip(want, have), start=1):
                if w == "any":
                    continue
                if w is None:
                    if v is not None: bad.append(f"C{c+1} {k}[{h}]: {v}, want null")
                    continue
                if v is None:
                    bad.append(f"C{c+1} {k}[{h}] null"); continue
                # 0.5 % of reading where the order is >= 1 %, else 0.005 % of the fundamental
                lim = 5e-3 * abs(w) if abs(w) >= 0.01 * ref else 5e-5 * ref
                if abs(v - w) > lim: bad.append(f"C{c+1} {k}[{h}]: {v:.6g}, want {w:.6g} (±{lim:.2g})")
            continue
        if want is None:
            if have is not None: bad.append(f"C{c+1} {k}: {have}, want null")
            continue
        if have is None: bad.append(f"C{c+1} {k}: null, want {want}"); continue
        if k.startswith("THD"): lim = 0.01          # percentage points
        elif k[0] == "K": lim = 5e-3 * abs(want)
        elif k[0] in "UI": lim = 2e-4 * abs(want)
        elif k.startswith("F"): lim = 1e-3
        elif k.startswith(("PF", "DPF")): lim = 1e-3
        elif k[0] in "PQS": lim = 5e-4 * S
        else: lim = 1e-3 * abs(want)
        if abs(have - want) > lim: bad.append(f"C{c+1} {k}: {have:.8g}, want {want:.8g} (±{lim:.3g})")
if bad:
    print("\n".join(bad)); sys.exit(1)
PY
  then echo "ok   $1"; pass=$((pass+1)); else echo "FAIL $1"; fail=$((fail+1)); fi
}

for spec in "ASCII 4000 50" "BINARY 4800 60" "BINARY32 6400 49.5" "FLOAT32 12800 50"; do
  set -- $spec
  /usr/bin/python3 "$gen" "$tmp/rec_$1" "$1" "$2" "$3" 2.0 > "$tmp/truth_$1.json"
  if "$bm" analyze "$tmp/rec_$1.cfg" --json > "$tmp/got_$1.json"; then
    check "analyze $1 at $2 S/s, $3 Hz" "$tmp/truth_$1.json" "$tmp/got_$1.json"
  else echo "FAIL analyze $1 exited non-zero"; fail=$((fail+1)); fi
done

# --per-window: one JSON line per window, each with both circuits
"$bm" analyze "$tmp/rec_FLOAT32.cfg" --per-window > "$tmp/pw.jsonl"
if /usr/bin/python3 - "$tmp/pw.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
# 2 s at 50 Hz: after the meter's start-up (crossing count, a lead half
# window and a probe window, about 0.35 s) 8 complete 10-cycle windows
assert len(lines) == 8, len(lines)
assert all(len(l["circuits"]) == 2 for l in lines)
assert not lines[-1]["settling"] and lines[0]["t"] > 0.3
assert abs(lines[-1]["circuits"][0]["F"] - 50.0) < 1e-3
PY
then echo "ok   --per-window"; pass=$((pass+1)); else echo "FAIL --per-window"; fail=$((fail+1)); fi

# readable table
"$bm" analyze "$tmp/rec_BINARY.cfg" > "$tmp/table.txt"
if grep -q "^U1 .* V .*[0-9]" "$tmp/table.txt" && grep -q "^THDI1 .*%" "$tmp/table.txt" &&
   grep -q "^C1 harmonics" "$tmp/table.txt"; then echo "ok   table"; pass=$((pass+1)); else echo "FAIL table"; fail=$((fail+1)); fi

# --map override: swap the two feeders' order is not possible for a 3-wire pair, so map circuit 1 only
if "$bm" analyze "$tmp/rec_FLOAT32.cfg" --json --map U1=1,U2=2,U3=3,C1.I1=4,C1.I2=5,C1.I3=6,C1.In=7 > "$tmp/map.json" &&
   /usr/bin/python3 -c "import json,sys; d=json.load(open('$tmp/map.json')); assert len(d['circuits'])==1 and d['circuits'][0]['wiring']=='3P4W_4CT'"; then
  echo "ok   --map"; pass=$((pass+1)); else echo "FAIL --map"; fail=$((fail+1)); fi

# bad input: a clear error naming the file, exit 1, nothing printed on stdout
expect_error() { # name pattern args...
  local name=$1 pat=$2; shift 2
  set +e; out=$("$bm" "$@" 2>"$tmp/err"); rc=$?; set -e
  if [ $rc -ne 0 ] && [ -z "$out" ] && grep -q -- "$pat" "$tmp/err"; then echo "ok   $name"; pass=$((pass+1))
  else echo "FAIL $name (rc=$rc, stderr: $(cat "$tmp/err"))"; fail=$((fail+1)); fi
}
expect_error "missing file" "nothere.cfg" analyze "$tmp/nothere.cfg"
head -5 "$tmp/rec_ASCII.cfg" > "$tmp/cut.cfg"; cp "$tmp/rec_ASCII.dat" "$tmp/cut.dat"
expect_error "truncated cfg names file and line" "cut.cfg.*line\|line.*cut.cfg" analyze "$tmp/cut.cfg"
sed 's/^4,F1 IA,A,Feeder1,A,[^,]*,/4,F1 IA,A,Feeder1,A,abc,/' "$tmp/rec_ASCII.cfg" > "$tmp/nan.cfg"; cp "$tmp/rec_ASCII.dat" "$tmp/nan.dat"
expect_error "non-numeric multiplier" "nan.cfg" analyze "$tmp/nan.cfg"
expect_error "bad --map" "map\|C9" analyze "$tmp/rec_FLOAT32.cfg" --map C9.I1=4
expect_error "bad --nominal" "nominal" analyze "$tmp/rec_FLOAT32.cfg" --nominal 55
head -c 1000 "$tmp/rec_BINARY.dat" > "$tmp/short.dat"; cp "$tmp/rec_BINARY.cfg" "$tmp/short.cfg"
expect_error "truncated binary dat" "short" analyze "$tmp/short.cfg"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
