#!/usr/bin/env bash
# The project's one test command (README, .ci/run). From a clean clone it installs what the
# tests need (Debian packages when run as root, npm packages), builds libjoblet and the
# executable, type-checks, runs every test, and ends with "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(gcc make libc6-dev openssl ca-certificates procps zsh python3 util-linux bubblewrap qemu-system-x86 busybox-static e2fsprogs curl)

fail() {
  echo "test.sh: $*" >&2
  echo "tests: 0 passed, 1 failed"
  exit 1
}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || fail "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null || fail "apt-get install failed"
fi

npm ci --no-audit --no-fund --loglevel=error || fail "npm ci failed"
npm run --silent build >/dev/null || { npm run build; fail "build failed"; }
npm run --silent typecheck || fail "type check failed"

BUN=./node_modules/.bin/bun
LOG=$(mktemp)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(test/unit test/e2e test/vm)
# e2e tests start daemons and real sandboxes: a generous per-test limit
"$BUN" test --timeout 120000 "${TARGETS[@]}" 2>&1 | tee "$LOG"
RC=${PIPESTATUS[0]}
PASS=$(grep -E '^ *[0-9]+ pass$' "$LOG" | tail -1 | awk '{print $1}')
FAILED=$(grep -E '^ *[0-9]+ fail$' "$LOG" | tail -1 | awk '{print $1}')
rm -f "$LOG"
if [ -z "$PASS" ] && [ -z "$FAILED" ]; then
  echo "tests: 0 passed, 1 failed"
  exit 1
fi
if [ "$RC" != 0 ] && [ "${FAILED:-0}" = 0 ]; then FAILED=1; fi
echo "tests: ${PASS:-0} passed, ${FAILED:-0} failed"
exit "$RC"
