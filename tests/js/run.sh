#!/usr/bin/env bash
# run.sh — run one node:test file of tests/js (ctest calls this). Installs the
# pinned npm packages (package-lock.json) with `npm ci` when node_modules is
# missing or older than the lock file — under a lock, since the release and
# sanitizer suites may start at the same time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
exec 9>"$here/node_modules.lock"
flock 9
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >&2
fi
flock -u 9
exec node --test --test-concurrency=1 "$here/$1"
