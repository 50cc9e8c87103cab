#!/usr/bin/env bash
# registers.sh — the committed register documents are the table's own output:
# docs/registers.md and docs/registers.csv must equal `branchmeter registers`
# (run `make docs` after changing core/src/regmap.c), and the CSV is sound.
# Usage: registers.sh BRANCHMETER DATA_DIR
set -euo pipefail
bm=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bm" registers --md > "$tmp/registers.md"
"$bm" registers --csv > "$tmp/registers.csv"
for f in registers.md registers.csv; do
	if ! cmp -s "$tmp/$f" "$root/docs/$f"; then
		echo "FAIL: docs/$f is stale: run 'make docs' and commit it"
		diff -u "$root/docs/$f" "$tmp/$f" | head -20
		exit 1
	fi
done
# the CSV parses as RFC 4180, has the documented columns, unique names and
# addresses, and items that never overlap
/usr/bin/python3 - "$tmp/registers.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
cols = ['name', 'address', 'count', 'type', 'unit', 'scale', 'access', 'unlock', 'requires', 'description']
assert list(rows[0].keys()) == cols, rows[0].keys()
names = set(); end = -1
for r in rows:
    a, n = int(r['address']), int(r['count'])
    assert r['name'] not in names, r['name']
    names.add(r['name'])
    assert a >= end, f"{r['name']} at {a} overlaps the previous item (ends {end})"
    end = a + n
    assert r['access'] in ('R', 'RW', 'W'), r
for must in ['C1.U1', 'C4.P', 'C2.T6.EP_imp_Wh', 'C3.HI2[50]', 'C1.M12.PF', 'tariff_select', 'datetime']:
    assert must in names, must
print(f"registers: {len(rows)} items, documents current")
PY
