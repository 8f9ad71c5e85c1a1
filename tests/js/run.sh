#!/usr/bin/env bash
# run.sh — ctest's entry to the JS tests (label js): install the packages
# pinned in package-lock.json with `npm ci` when node_modules is missing or
# older than the lock file (so it runs offline once installed), then run
# every *.test.mjs with node's own test runner.
set -euo pipefail
cd "$(dirname "$0")"
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing: run scripts/deps.sh" >&2; exit 1; }
done
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test --test-reporter=spec ./*.test.mjs
