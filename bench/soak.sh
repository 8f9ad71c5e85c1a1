#!/usr/bin/env bash
# soak.sh — POST /ask for a long time at ~80% of saturation: throughput,
# errors and the server's RSS over time (flat RSS is the goal: no leak, no
# creeping cache, no fragmentation that grows with requests).
#
#   bench/soak.sh [duration-seconds]      (default 600; builds nothing)
#
# Environment: RAGD_BIN (default ./build/ragd), RAGD_DATA_DIR (default ./data,
# ingested first when it holds no store), CONNECTIONS (default 32), INTERVAL
# (default 10 s: one wrk run, one RSS sample and one table row each),
# LOAD (default 0.8 of the measured saturation), STREAM=1 for SSE answers.
#
# How: `ragd serve` starts; wrk at full speed for 10 s measures saturation
# (req/s); then wrk runs back to back, INTERVAL seconds each, with a per-
# connection delay (bench/ask.lua) set for LOAD × saturation — recalibrated
# once after the first interval, because the delay does not count the
# request's own latency. After each interval the server's VmRSS is read from
# /proc. Questions are the corpus headings, rotated, as in bench/ask.sh.
# Prints one row per interval and a summary: start/end/max RSS, the RSS
# change over the run, throughput first/last interval and its ratio, total
# errors (socket errors + non-2xx answers).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-600}
bin=${RAGD_BIN:-$root/build/ragd}
data=${RAGD_DATA_DIR:-$root/data}
csv="$root/../shared/data/news-articles/Articles.csv"
conns=${CONNECTIONS:-32}
interval=${INTERVAL:-10}
load=${LOAD:-0.8}
[ -x "$bin" ] || { echo "soak.sh: no $bin — build first (scripts/build.sh) or set RAGD_BIN" >&2; exit 1; }
[ -f "$csv" ] || { echo "soak.sh: corpus not found at $csv" >&2; exit 1; }
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
command -v wrk >/dev/null || { echo "soak.sh: wrk is not installed" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true

tmp=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

python3 - "$csv" "$tmp/bodies.txt" <<'PY'
import csv, json, sys
rows = csv.DictReader(open(sys.argv[1], encoding="cp1252", newline=""))
heads = [r["Heading"].strip() for r in rows if r["Heading"].strip()]
with open(sys.argv[2], "w") as f:
    for h in heads[:1024]:
        f.write(json.dumps({"question": h}) + "\n")
PY

if [ ! -f "$data/store.bin" ]; then
  echo "soak.sh: no store in $data — ingesting the corpus first (once)" >&2
  nice "$bin" ingest --data-dir "$data" --csv "$csv" >&2
fi

"$bin" serve --data-dir "$data" --no-ingest --host 127.0.0.1 --port 0 --max-connections 4096 \
  2>"$tmp/serve.log" &
server=$!
port=""
for _ in $(seq 1200); do
  port=$(grep -o '"msg":"listening".*"port":[0-9]*' "$tmp/serve.log" | grep -o '"port":[0-9]*' | cut -d: -f2 || true)
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { echo "soak.sh: ragd serve did not start:" >&2; cat "$tmp/serve.log" >&2; exit 1; }
url="http://127.0.0.1:$port"

rss_mb() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$server/status"; }

# run_wrk SECONDS DELAY_MS → "req/s p99_ms errors"
run_wrk() {
  BODIES="$tmp/bodies.txt" STREAM="${STREAM:-0}" DELAY_MS="$2" \
    wrk -t2 -c"$conns" -d"$1s" --latency --timeout 10s -s "$root/bench/ask.lua" "$url" >"$tmp/wrk.out" 2>&1 || true
  local rps p99 sock non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.out")
  p99=$(awk '$1=="99%" {v=$2; n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n+=0; else if (v ~ /s$/) n*=1000; printf "%.1f", n}' "$tmp/wrk.out")
  sock=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$tmp/wrk.out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/wrk.out")
  [ -z "$rps" ] && { cat "$tmp/wrk.out" >&2; echo "0 0 -1"; return; }
  echo "$rps ${p99:-0} $(( ${sock:-0} + ${non2xx:-0} ))"
}

curl -s -o /dev/null -H 'Content-Type: application/json' -d "$(head -1 "$tmp/bodies.txt")" "$url/ask"
rss_warm=$(rss_mb)
read -r sat sat_p99 sat_err < <(run_wrk 10 0)
# The soak's baseline is after the saturation run: thread arenas and
# buffers sized by the peak are already there, so growth from here is drift.
rss_start=$(rss_mb)
target=$(awk -v s="$sat" -v l="$load" 'BEGIN { printf "%.1f", s * l }')
# Each connection waits DELAY_MS between requests: conns / delay = target.
delay=$(awk -v c="$conns" -v t="$target" 'BEGIN { printf "%.3f", (t > 0 ? c * 1000 / t : 1000) }')
echo "POST /ask soak: ${duration}s, $conns connections, saturation $sat req/s (p99 $sat_p99 ms, $sat_err errors);"
echo "target $target req/s ($load of saturation), sampled every ${interval}s; RSS after one request $rss_warm MB, after saturation $rss_start MB"
printf "%8s %10s %9s %8s %9s\n" "t (s)" "req/s" "p99 ms" "errors" "RSS MB"

elapsed=0 total_err=0 first_rps="" last_rps="" rss_max=$rss_start n=0
while [ "$elapsed" -lt "$duration" ]; do
  read -r rps p99 err < <(run_wrk "$interval" "$delay")
  elapsed=$((elapsed + interval))
  n=$((n + 1))
  rss=$(rss_mb)
  printf "%8d %10.1f %9s %8d %9s\n" "$elapsed" "$rps" "$p99" "$err" "$rss"
  total_err=$((total_err + (err < 0 ? 0 : err)))
  [ -z "$first_rps" ] && first_rps=$rps
  last_rps=$rps
  rss_max=$(awk -v a="$rss_max" -v b="$rss" 'BEGIN { print (b > a ? b : a) }')
  if [ "$n" -eq 1 ] && awk -v r="$rps" 'BEGIN { exit !(r > 0) }'; then
    # The delay ignored each request's own latency: correct once.
    delay=$(awk -v d="$delay" -v r="$rps" -v t="$target" 'BEGIN { printf "%.3f", d * r / t }')
  fi
  kill -0 "$server" 2>/dev/null || { echo "soak.sh: ragd serve died:" >&2; tail -20 "$tmp/serve.log" >&2; exit 1; }
done
rss_end=$(rss_mb)
echo
echo "RSS: start (after saturation) $rss_start MB, end $rss_end MB, max $rss_max MB, change $(awk -v a="$rss_start" -v b="$rss_end" 'BEGIN { printf "%+.1f MB (%+.1f%%)", b - a, (a > 0 ? 100 * (b - a) / a : 0) }')"
echo "throughput: first interval $first_rps req/s, last $last_rps req/s (last/first $(awk -v a="$first_rps" -v b="$last_rps" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')); target $target"
echo "errors: $total_err (socket errors + non-2xx) over the soak"
[ "$total_err" -eq 0 ]
