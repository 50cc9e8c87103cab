#!/usr/bin/env bash
# deps.sh — install the Debian packages branchmeter needs, only if missing.
# Usage: scripts/deps.sh [build|test]   (test adds the test-only peers)
# Runs `apt-get update` only when something is missing. Needs root then.
set -euo pipefail
# libmodbus: the client of 'branchmeter read/write' (the servers are our own, in core/)
# libgpiod-dev: relays and digital inputs on GPIO lines (platform/linux/gpio.c, libgpiod v1 API)
# libcivetweb-dev, libsodium-dev, libcjson-dev: the web server (platform/linux/web.c): HTTP,
#   password hashes (Argon2id) and session tokens, the login body's JSON
want=(cmake make gcc libc6-dev pkg-config libinih-dev libkissfft-dev libmodbus-dev libgpiod-dev
      libcivetweb-dev libsodium-dev libcjson-dev)
if [ "${1:-build}" = test ]; then
  # cmocka: unit tests; python3 (standard library only): the integration
  # tests' checks and tests/tools; arm-none-eabi + newlib: scripts/cross-check.sh;
  # clang + libclang-rt (libFuzzer, ASan) + llvm (llvm-symbolizer, for readable
  # crash traces): scripts/fuzz-run.sh. gcc's own ASan runtime comes with gcc.
  # mbpoll, python3-pymodbus, socat: real Modbus peers and a pty pair for RTU.
  # chromium, nodejs, npm, curl: the web page in a real browser (tests/integration/web.sh runs
  #   tests/web/page.test.mjs with playwright-core from tests/web/package-lock.json, driving
  #   Debian's /usr/bin/chromium; curl sends the API's bad requests). nodejs and npm only when
  #   the machine has no node/npm: a NodeSource nodejs (node 20 with its own npm, as on our
  #   machines) conflicts with Debian's npm package, and playwright-core wants node >= 20.
  want+=(libcmocka-dev python3 gcc-arm-none-eabi libnewlib-arm-none-eabi clang libclang-rt-14-dev llvm
         mbpoll python3-pymodbus socat chromium curl)
  if ! command -v node > /dev/null || ! command -v npm > /dev/null; then want+=(nodejs npm); fi
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#want[@]} packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages and not root; run: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
