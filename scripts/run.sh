#!/usr/bin/env bash
# run.sh [ragd serve options…] — the embedded default, from nothing: install
# what is missing, build, then `ragd serve` on :8000 (it ingests the corpus
# into ./data on first start).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
"$root/scripts/build.sh" release
cd "$root"
exec "$root/build/ragd" serve "$@"
