#!/usr/bin/env bash
# run.sh — ctest's entry to the JS tests (labels js, browser): install the
# packages pinned in package-lock.json with `npm ci` when node_modules is
# missing or older than the lock file (so it runs offline once installed) —
# under a lock, since the release and sanitizer suites may start at the same
# time — then run the given *.test.mjs files (default: every one) with
# node's own test runner, one file at a time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
for tool in node npm flock; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing: run scripts/deps.sh" >&2; exit 1; }
done
exec 9>"$here/node_modules.lock"
flock 9
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
flock -u 9
if [ $# -eq 0 ]; then set -- ./*.test.mjs; fi
exec node --test --test-concurrency=1 --test-reporter=spec "$@"
