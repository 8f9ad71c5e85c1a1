#!/usr/bin/env bash
# first-start.sh — the README's first command as a new user meets it: run
# ./scripts/run.sh (install, build, `ragd serve` on :8000 with an empty data
# directory) and require that the server answers /health while it ingests the
# corpus, says on /ready what it is doing, and ends on SIGTERM without SIGKILL.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
data=$(mktemp -d)
RAGD_DATA_DIR="$data" ./scripts/run.sh >"$log" 2>&1 &
pid=$!
fail() { echo "first-start: FAILED: $*" >&2; tail -20 "$log" >&2; kill -9 "$pid" 2>/dev/null; pkill -9 -f "ragd serve" 2>/dev/null; rm -rf "$data" "$log"; exit 1; }
# run.sh installs the packages (curl among them) and builds first.
for ((i = 0; i < 1200; i++)); do
  kill -0 "$pid" 2>/dev/null || fail "run.sh exited before serving"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:8000/health 2>/dev/null || true)
  [ "$code" = 200 ] && break
  sleep 0.5
done
[ "$code" = 200 ] || fail "no /health 200 within 600 s"
ready=$(curl -s --max-time 5 -w ' %{http_code}' http://127.0.0.1:8000/ready || true)
echo "first-start: /health 200 $((i / 2)) s after run.sh began (packages and build included); /ready: $ready"
# The data directory is empty and the corpus takes minutes to encode: the
# first answer must come while the ingest runs, and say so.
case "$ready" in
  *'"ingesting"'*' 503') ;;
  *) fail "/ready does not report the first ingest: $ready" ;;
esac
kill -TERM "$pid"
for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
kill -0 "$pid" 2>/dev/null && fail "ragd serve still running 30 s after SIGTERM"
rm -rf "$data" "$log"
echo "first-start: ok"
