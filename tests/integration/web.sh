#!/usr/bin/env bash
# web.sh — the web page and its JSON API (docs/api.md) against the running
# meter: first bad requests with curl (malformed JSON, wrong types, unknown
# fields, a 70 KiB body, missing and forged CSRF tokens, a logged-out
# session's cookie, the read-only account), each followed by a Modbus read
# that shows nothing changed; then the page in Debian's Chromium
# (tests/web/page.test.mjs, playwright-core): log in, the dashboard against
# Modbus, settings saved and refused through the forms, a relay closed from
# the page, the read-only user refused, screenshots of every page into
# $BM_ARTIFACTS (default: a new folder under /tmp; the path is printed).
# Usage: web.sh BRANCHMETER DATA_DIR
set -euo pipefail
bm=$(readlink -f "$1") # absolute: page.test.mjs runs in tests/web
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
webtests=$root/tests/web
tmp=$(mktemp -d)
meter=
cleanup() {
	if [ -n "$meter" ]; then
		kill "$meter" 2> /dev/null || true
		wait "$meter" 2> /dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
die() { echo "FAIL $*"; exit 1; }
t0=$(date +%s.%N)
passed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }

for tool in curl node npm python3; do
	command -v "$tool" > /dev/null || die "$tool is not installed (scripts/deps.sh test)"
done
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || die "no Chromium at $chromium (Debian package chromium; scripts/deps.sh test)"
"$bm" run --help 2>&1 | grep -q -- '--web-admin-password' ||
	die "$bm run has no --web / --web-admin-password options (this build has no web server)"

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- the meter (a free port may be taken between asking and binding: retry)
started=
for attempt in 1 2 3; do
	wport=$(free_port)
	mport=$(free_port)
	[ "$wport" != "$mport" ] || continue
	TMPDIR=$tmp "$bm" run --no-state --speed 4 --web "127.0.0.1:$wport" --web-assets "$root/web" \
		--modbus-tcp "127.0.0.1:$mport" --model KPM312-1B2B3B4B-R-K-T \
		--web-admin-password test-admin-pw --web-user-password test-user-pw \
		> "$tmp/meter.out" 2> "$tmp/meter.err" &
	meter=$!
	for _ in $(seq 200); do
		kill -0 "$meter" 2> /dev/null || break
		if curl -s -o /dev/null "http://127.0.0.1:$wport/" && (exec 3<> "/dev/tcp/127.0.0.1/$mport") 2> /dev/null; then
			started=1
			break
		fi
		sleep 0.05
	done
	[ -n "$started" ] && break
	kill "$meter" 2> /dev/null || true
	wait "$meter" 2> /dev/null || true
	meter=
	echo "note: meter did not come up (attempt $attempt): $(tail -3 "$tmp/meter.err")"
done
[ -n "$started" ] || die "the meter's web or Modbus server did not come up: $(cat "$tmp/meter.err")"
url=http://127.0.0.1:$wport
echo "meter: pid $meter, web $url, Modbus TCP 127.0.0.1:$mport"

# ---- helpers
# req METHOD PATH [curl args...]: the status on stdout, the body in $tmp/body,
# the headers in $tmp/headers; the session cookie in $jar
jar=$tmp/cookies
req() {
	local m=$1 p=$2
	shift 2
	curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' -b "$jar" -c "$jar" -X "$m" "$@" "$url$p"
}
# expect STATUS WHAT METHOD PATH [curl args...]
expect() {
	local want=$1 what=$2 got
	shift 2
	got=$(req "$@") || die "$what: curl failed"
	[ "$got" = "$want" ] || die "$what: HTTP $got, want $want: $(head -c 300 "$tmp/body")"
	ok "$what ($want)"
}
json_get() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$tmp/body" "$1"; }
modbus() { "$bm" read --tcp "127.0.0.1:$mport" --json "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
unchanged() {
	local v
	v=$(modbus vt_ratio)
	[ "$v" = "1.0" ] || [ "$v" = "1" ] || die "$1: vt_ratio reads $v over Modbus, want 1 (unchanged)"
}
json='Content-Type: application/json'

# ---- pages: only from web/, with the CSP
expect 200 "GET / serves the page" GET /
grep -qi "^content-security-policy: default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'" "$tmp/headers" ||
	die "GET /: no or another Content-Security-Policy: $(grep -i '^content-security' "$tmp/headers")"
grep -qi '^x-frame-options: *deny' "$tmp/headers" || die "GET /: no X-Frame-Options: DENY"
ok "the page comes with the Content-Security-Policy and X-Frame-Options"
grep -q 'data-testid="login-user"' "$tmp/body" || die "GET /: not web/index.html"
for f in app.js style.css; do expect 200 "GET /$f" GET "/$f"; done
code=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$url/../CMakeLists.txt")
[ "$code" != 200 ] || die "a path leaving web/ was served"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/%2e%2e/CMakeLists.txt")
[ "$code" != 200 ] || die "an encoded path leaving web/ was served"
ok "no file outside web/ is served"

# ---- without a session
expect 401 "GET /api/live without a session" GET /api/live
expect 401 "PATCH /api/settings without a session" PATCH /api/settings -H "$json" -d '{"vt_ratio": 2}'
expect 401 "a wrong password" POST /api/login -H "$json" -d '{"user": "admin", "password": "not-the-password"}'
expect 400 "a login body that is not JSON" POST /api/login -H "$json" -d '{"user": "admin", "password": '
unchanged "requests without a session"

# ---- admin
expect 200 "admin logs in" POST /api/login -H "$json" -d '{"user": "admin", "password": "test-admin-pw"}'
csrf=$(json_get csrf)
[ -n "$csrf" ] && [ "$(json_get role)" = admin ] || die "login: no csrf or role in $(cat "$tmp/body")"
grep -qi '^set-cookie: bm_session=.*httponly' "$tmp/headers" || die "login: no HttpOnly bm_session cookie"
expect 200 "GET /api/session" GET /api/session
[ "$(json_get csrf)" = "$csrf" ] || die "/api/session: another CSRF token"
grep -qi '^cache-control: no-store' "$tmp/headers" || die "/api/session: no Cache-Control: no-store"
cp "$jar" "$tmp/admin-cookies"
tok="X-CSRF-Token: $csrf"

expect 200 "GET /api/live" GET /api/live
expect 200 "GET /api/device" GET /api/device
expect 200 "GET /api/values with a pattern" GET '/api/values?names=C1.P,C*.U1'
expect 400 "GET /api/values with an unknown name" GET '/api/values?names=no_such_register'
expect 400 "GET /api/harmonics of a circuit the meter lacks" GET '/api/harmonics?circuit=9'
expect 404 "an unknown endpoint" GET /api/no-such-thing

expect 403 "PATCH without the CSRF token" PATCH /api/settings -H "$json" -d '{"vt_ratio": 2}'
expect 403 "PATCH with a forged CSRF token" PATCH /api/settings -H "$json" -H "X-CSRF-Token: ${csrf%?}x" -d '{"vt_ratio": 2}'
expect 403 "a relay command without the CSRF token" POST /api/relay -H "$json" -d '{"relay": 4, "close": true}'
expect 400 "malformed JSON" PATCH /api/settings -H "$json" -H "$tok" -d '{"vt_ratio": 2'
expect 400 "a body that is not an object" PATCH /api/settings -H "$json" -H "$tok" -d '[2]'
expect 400 "an empty settings object" PATCH /api/settings -H "$json" -H "$tok" -d '{}'
expect 400 "a string for a number" PATCH /api/settings -H "$json" -H "$tok" -d '{"vt_ratio": "2"}'
[ "$(json_get field)" = vt_ratio ] || die "the wrong type's 400 names no field vt_ratio: $(cat "$tmp/body")"
expect 400 "an unknown setting" PATCH /api/settings -H "$json" -H "$tok" -d '{"vt_ratio": 2, "no_such_setting": 1}'
[ "$(json_get field)" = no_such_setting ] || die "the unknown setting's 400 names no field: $(cat "$tmp/body")"
expect 400 "a value out of range" PATCH /api/settings -H "$json" -H "$tok" -d '{"vt_ratio": 0}'
[ "$(json_get field)" = vt_ratio ] || die "the range error names no field vt_ratio: $(cat "$tmp/body")"
expect 400 "a read-only register" PATCH /api/settings -H "$json" -H "$tok" -d '{"C1.P": 5}'
expect 400 "all or nothing: one bad value of two" PATCH /api/settings -H "$json" -H "$tok" -d '{"vt_ratio": 2, "u_nominal": -5}'
python3 -c 'import sys; sys.stdout.write("{\"vt_ratio\": 2, \"pad\": \"" + "x" * 71680 + "\"}")' > "$tmp/huge.json"
expect 413 "a 70 KiB body" PATCH /api/settings -H "$json" -H "$tok" --data-binary "@$tmp/huge.json"
expect 415 "a body that is not application/json" PATCH /api/settings -H 'Content-Type: text/plain' -H "$tok" -d '{"vt_ratio": 2}'
unchanged "the refused PATCH requests"

expect 400 "a relay command with an unknown field" POST /api/relay -H "$json" -H "$tok" -d '{"relay": 4, "close": true, "x": 1}'
expect 400 "a relay number of the wrong type" POST /api/relay -H "$json" -H "$tok" -d '{"relay": "4", "close": true}'
expect 400 "a relay the model lacks" POST /api/relay -H "$json" -H "$tok" -d '{"relay": 9, "close": true}'
expect 409 "a command to a relay in alarm mode" POST /api/relay -H "$json" -H "$tok" -d '{"relay": 1, "close": true}'
[ "$(modbus relays)" = 0 ] || die "a refused relay command changed the relays: $(modbus relays)"
expect 403 "a reset with a wrong reset password" POST /api/reset -H "$json" -H "$tok" -d '{"what": "energy", "reset_password": "9999"}'
expect 400 "a reset of an unknown kind" POST /api/reset -H "$json" -H "$tok" -d '{"what": "everything", "reset_password": "2000"}'
expect 400 "a clock with a bad date" POST /api/clock -H "$json" -H "$tok" -d '{"datetime": "2026-13-45T99:00:00"}'
expect 400 "a clock with both forms" POST /api/clock -H "$json" -H "$tok" -d '{"unix": 1767600000, "datetime": "2026-01-05T08:00:00"}'
unchanged "the refused commands"

# ---- the read-only user
rm -f "$jar"
expect 200 "user logs in" POST /api/login -H "$json" -d '{"user": "user", "password": "test-user-pw"}'
utok="X-CSRF-Token: $(json_get csrf)"
[ "$(json_get role)" = user ] || die "the user's role: $(cat "$tmp/body")"
expect 200 "the user reads /api/live" GET /api/live
expect 403 "the user's PATCH (with its CSRF token)" PATCH /api/settings -H "$json" -H "$utok" -d '{"vt_ratio": 2}'
expect 403 "the user's relay command" POST /api/relay -H "$json" -H "$utok" -d '{"relay": 4, "close": true}'
expect 403 "the user's reset" POST /api/reset -H "$json" -H "$utok" -d '{"what": "maxmin", "reset_password": "2000"}'
unchanged "the user's requests"
expect 200 "the user logs out" POST /api/logout -H "$json" -H "$utok"

# ---- a session that ended: logout, then the old cookie
cp "$tmp/admin-cookies" "$jar"
expect 200 "admin logs out" POST /api/logout -H "$json" -H "$tok"
cp "$tmp/admin-cookies" "$jar"
expect 401 "the logged-out session's cookie" GET /api/live
expect 401 "the logged-out session's cookie and token" PATCH /api/settings -H "$json" -H "$tok" -d '{"vt_ratio": 2}'
unchanged "the ended session"
# ---- the idle expiry, on a second meter whose sessions expire after 1 s
eport=$(free_port)
TMPDIR=$tmp "$bm" run --no-state --speed 4 --web "127.0.0.1:$eport" --web-assets "$root/web" --modbus-tcp off \
	--web-admin-password test-admin-pw --web-session-idle 1 > /dev/null 2> "$tmp/expiry.err" &
epid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$eport/" && break; sleep 0.05; done
ejar=$tmp/expiry-cookies
ecode=$(curl -s -o "$tmp/ebody" -w '%{http_code}' -c "$ejar" -H "$json" \
	-d '{"user":"admin","password":"test-admin-pw"}' "http://127.0.0.1:$eport/api/login")
[ "$ecode" = 200 ] || die "login on the 1-second-idle meter: HTTP $ecode"
ecode=$(curl -s -o /dev/null -w '%{http_code}' -b "$ejar" "http://127.0.0.1:$eport/api/live")
[ "$ecode" = 200 ] || die "a fresh session on the 1-second-idle meter: HTTP $ecode"
sleep 1.6
ecode=$(curl -s -o /dev/null -w '%{http_code}' -b "$ejar" "http://127.0.0.1:$eport/api/live")
kill "$epid" 2> /dev/null || true
wait "$epid" 2> /dev/null || true
[ "$ecode" = 401 ] || die "a session idle past --web-session-idle: HTTP $ecode, want 401"
ok "a session idle for longer than --web-session-idle is expired (401)"
t1=$(date +%s.%N)
echo "API checks: $passed passed in $(python3 -c "print(round($t1 - $t0, 1))") s"

# ---- the page in a real browser
if [ ! -d "$webtests/node_modules/playwright-core" ]; then
	echo "installing playwright-core (npm ci in tests/web)"
	(cd "$webtests" && npm ci --no-audit --no-fund --prefer-offline > "$tmp/npm.log" 2>&1) ||
		die "npm ci in tests/web failed (no access to the npm registry or its cache?): $(tail -5 "$tmp/npm.log")"
fi
if [ -z "${BM_ARTIFACTS:-}" ]; then
	BM_ARTIFACTS=$(mktemp -d /tmp/bm-web-artifacts.XXXXXX)
	export BM_ARTIFACTS
fi
set +e
(cd "$webtests" && CHROMIUM=$chromium timeout 120 node page.test.mjs --url "$url" --bm "$bm" --modbus "127.0.0.1:$mport" \
	--admin-pw test-admin-pw --user-pw test-user-pw)
rc=$?
set -e
[ $rc -eq 124 ] && echo "FAIL page.test.mjs timed out (120 s)"

# ---- the meter survived everything
if ! kill -0 "$meter" 2> /dev/null; then
	echo "FAIL the meter died during the tests: $(tail -5 "$tmp/meter.err")"
	rc=1
else
	kill -TERM "$meter"
	set +e; wait "$meter"; mrc=$?; set -e
	meter=
	if [ $mrc -ne 0 ]; then echo "FAIL the meter exited with $mrc after SIGTERM: $(tail -5 "$tmp/meter.err")"; rc=1
	else ok "the meter stops cleanly on SIGTERM"; fi
fi
echo "web.sh: $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s; screenshots in $BM_ARTIFACTS"
[ $rc -eq 0 ] && echo "PASS web.sh" || echo "FAIL web.sh"
exit $rc
