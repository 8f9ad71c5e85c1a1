#!/usr/bin/env bash
# ask.sh — POST /ask as users meet it: req/s and p50/p99 latency at rising
# concurrency, driven by wrk over loopback, against the two deployments:
#
#   serve    `ragd serve` — gateway, model and store in one process
#   gateway  `ragd gateway --model-url A --model-url B` + two `ragd model`
#            services (skipped, saying so, when this build has no gateway)
#
#   bench/ask.sh [seconds-per-level]            (default 10; builds nothing)
#
# Environment: RAGD_BIN (default ./build/ragd), RAGD_DATA_DIR (default ./data:
# ingested first with `ragd ingest` when it holds no store), LEVELS (default
# "1 8 32 128 1000" connections), LOCUST_USERS (default 32; 0 skips Locust),
# STREAM=1 (ask for SSE instead of JSON answers), QUESTIONS (default
# "headings": the first 1024 corpus headings; "distinct": every distinct
# heading and article sentence of 40–300 bytes, ~7,100 different questions of
# realistic length, so no cache can make the number).
#
# Questions are rotated (bench/ask.lua), default top_k, hybrid retrieval, the
# mock LLM. Every level runs in this invocation, so the
# ratios (each level against 1 connection, serve against gateway, Locust
# against wrk) compare numbers taken under the same machine load. The
# 1000-connection level shows the server holding that many open connections:
# the "errors" column counts wrk's socket errors and non-2xx answers, and
# "open" the connections established to the server mid-run (ss).
# Locust (Debian python3-locust, installed here when missing) runs headless
# beside wrk at LOCUST_USERS users with no wait time; a Python client
# saturates long before ragd does, which the ratio shows.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
bin=${RAGD_BIN:-$root/build/ragd}
data=${RAGD_DATA_DIR:-$root/data}
csv="$root/../shared/data/news-articles/Articles.csv"
levels=${LEVELS:-1 8 32 128 1000}
locust_users=${LOCUST_USERS:-32}
[ -x "$bin" ] || { echo "ask.sh: no $bin — build first (scripts/build.sh) or set RAGD_BIN" >&2; exit 1; }
[ -f "$csv" ] || { echo "ask.sh: corpus not found at $csv" >&2; exit 1; }
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
command -v wrk >/dev/null || { echo "ask.sh: wrk is not installed and apt-get could not install it" >&2; exit 1; }
if [ "$locust_users" -gt 0 ] && ! command -v locust >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-locust >/dev/null 2>&1 || true
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

questions=${QUESTIONS:-headings}
case $questions in headings|distinct) ;; *) echo "ask.sh: QUESTIONS is headings or distinct" >&2; exit 2 ;; esac
python3 - "$csv" "$tmp/bodies.txt" "$questions" <<'PY'
import csv, json, re, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="cp1252", newline="")))
heads = [r["Heading"].strip() for r in rows if r["Heading"].strip()]
if sys.argv[3] == "headings":
    questions = heads[:1024]
else:
    # headings and article sentences interleaved, each once
    seen, questions = set(), []
    for r in rows:
        sentences = [s.strip() for s in re.split(r"(?<=[.?!])\s+", r["Article"])]
        for q in [r["Heading"].strip()] + [s for s in sentences if 40 <= len(s) <= 300]:
            if q and q not in seen:
                seen.add(q)
                questions.append(q)
with open(sys.argv[2], "w") as f:
    for q in questions:
        f.write(json.dumps({"question": q}) + "\n")
print(f"ask.sh: {len(questions)} {sys.argv[3]} questions", file=sys.stderr)
PY

if [ ! -f "$data/store.bin" ]; then
  echo "ask.sh: no store in $data — ingesting the corpus first (once)" >&2
  nice "$bin" ingest --data-dir "$data" --csv "$csv" >&2
fi

# start NAME ARGS… : run `ragd ARGS --host 127.0.0.1 --port 0`, wait for its
# "listening" log line, and set $port.
start() {
  local name=$1; shift
  "$bin" "$@" --host 127.0.0.1 --port 0 2>"$tmp/$name.log" &
  pids+=($!)
  port=""
  for _ in $(seq 1200); do
    port=$(grep -o '"msg":"listening".*"port":[0-9]*' "$tmp/$name.log" | grep -o '"port":[0-9]*' | cut -d: -f2 || true)
    [ -n "$port" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "ask.sh: ragd $1 did not start; its log:" >&2
  cat "$tmp/$name.log" >&2
  return 1
}

ms() { # wrk latency ("812.00us", "1.52ms", "1.01s", "1.00m") → ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
                         else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

# wrk_level URL CONNECTIONS → "req/s p50_ms p99_ms errors open", where open
# is the number of established connections to the server's port counted in
# the middle of the run (the server's side of "holds N connections").
wrk_level() {
  local t=2; [ "$2" -lt 2 ] && t=1
  local port=${1##*:}
  (sleep "$(awk -v s="$secs" 'BEGIN { print s / 2 }')"
   ss -Htn state established "( sport = :$port )" 2>/dev/null | wc -l >"$tmp/open") &
  local sampler=$!
  BODIES="$tmp/bodies.txt" STREAM="${STREAM:-0}" wrk -t"$t" -c"$2" -d"${secs}s" --latency --timeout 10s \
    -s "$root/bench/ask.lua" "$1" >"$tmp/wrk.out" 2>&1 || true
  wait "$sampler" 2>/dev/null || true
  local rps p50 p99 sock non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.out")
  p50=$(awk '$1=="50%" {print $2}' "$tmp/wrk.out")
  p99=$(awk '$1=="99%" {print $2}' "$tmp/wrk.out")
  sock=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$tmp/wrk.out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/wrk.out")
  if [ -z "$rps" ]; then cat "$tmp/wrk.out" >&2; echo "0 0 0 -1 0"; return; fi
  echo "$rps $(ms "$p50") $(ms "$p99") $(( ${sock:-0} + ${non2xx:-0} )) $(cat "$tmp/open" 2>/dev/null || echo ?)"
}

# locust_run URL USERS → "req/s p50_ms p99_ms failures" (or nothing), read
# from the summary Locust prints at exit (its CSV files lag behind the run).
locust_run() {
  command -v locust >/dev/null || return 0
  (cd "$tmp" && LOCUST_WAIT_MIN=0 LOCUST_WAIT_MAX=0 LOCUST_STREAM_WEIGHT=0 RAGD_CSV="$csv" \
     timeout $((secs + 30)) locust -f "$root/locust/locustfile.py" --headless -u "$2" -r "$2" \
     -t "${secs}s" --host "$1" --only-summary >"$tmp/locust.out" 2>&1) || true
  python3 - "$tmp/locust.out" <<'PY'
import re, sys
rps = fails = p50 = p99 = None
for line in open(sys.argv[1]):
    cols = line.split()
    if not cols or cols[0] != "Aggregated":
        continue
    if "|" in line:   # totals: reqs, fails | avg min max med | req/s failures/s
        parts = line.split("|")
        fails = re.match(r"\s*(\d+)", parts[0].split()[2]).group(1)
        rps = parts[2].split()[0]
    elif len(cols) >= 9:  # percentiles: 50% 66% 75% 80% 90% 95% 98% 99% …
        p50, p99 = cols[1], cols[8]
if rps is not None and p50 is not None:
    print(rps, p50, p99, fails)
PY
}

declare -A RPS P50 P99 ERR
run_deployment() { # NAME URL
  local name=$1 url=$2
  curl -s -o /dev/null -H 'Content-Type: application/json' -d "$(head -1 "$tmp/bodies.txt")" "$url/ask" # warm up
  for c in $levels; do
    read -r rps p50 p99 err open < <(wrk_level "$url" "$c")
    RPS[$name,$c]=$rps; P50[$name,$c]=$p50; P99[$name,$c]=$p99; ERR[$name,$c]=$err
    printf "%-9s %11s %10.0f %9s %9s %8s %9s %7s\n" "$name" "$c" "$rps" "$p50" "$p99" "$err" \
      "$(awk -v a="$rps" -v b="${RPS[$name,${levels%% *}]}" 'BEGIN { printf "%.2fx", a / b }')" "$open"
  done
  if [ "$locust_users" -gt 0 ]; then
    local out
    out=$(locust_run "$url" "$locust_users")
    if [ -n "$out" ]; then
      read -r lrps lp50 lp99 lfail <<<"$out"
      printf "%-9s %11s %10.0f %9s %9s %8s   locust, %d users" "$name" "locust" "$lrps" "$lp50" \
        "$lp99" "$lfail" "$locust_users"
      if [ -n "${RPS[$name,$locust_users]:-}" ]; then
        awk -v a="${RPS[$name,$locust_users]}" -v b="$lrps" -v u="$locust_users" \
          'BEGIN { printf "; wrk at %d connections did %.2fx its req/s", u, (b > 0 ? a / b : 0) }'
      fi
      echo
    else
      echo "$name: locust not available (apt-get install python3-locust) — skipped"
    fi
  fi
}

echo "POST /ask, corpus headings as questions, ${secs}s per level, $(nproc) cores, $([ "${STREAM:-0}" = 1 ] && echo SSE || echo JSON) answers"
printf "%-9s %11s %10s %9s %9s %8s %9s %7s\n" "deploy" "connections" "req/s" "p50 ms" "p99 ms" "errors" "vs c=1" "open"

start serve serve --data-dir "$data" --no-ingest --max-connections 4096
serve_pid=${pids[-1]}
run_deployment serve "http://127.0.0.1:$port"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true

if "$bin" gateway --help 2>/dev/null | grep -q -- "--model-url"; then
  start model1 model; m1=$port
  start model2 model; m2=$port
  start gateway gateway --data-dir "$data" --model-url "http://127.0.0.1:$m1" \
        --model-url "http://127.0.0.1:$m2" --max-connections 4096
  gw=$port
  for _ in $(seq 100); do # the gateway is ready once its health checks found the model services
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw/ready")" = 200 ] && break
    sleep 0.1
  done
  run_deployment gateway "http://127.0.0.1:$gw"
  echo
  echo "serve / gateway (req/s at the same concurrency):"
  for c in $levels; do
    awk -v c="$c" -v a="${RPS[serve,$c]}" -v b="${RPS[gateway,$c]}" -v p="${P99[serve,$c]}" -v q="${P99[gateway,$c]}" \
      'BEGIN { printf "  %5s connections: %.2fx req/s, p99 %s ms vs %s ms\n", c, (b > 0 ? a / b : 0), p, q }'
  done
else
  echo "gateway: this ragd has no 'ragd gateway --model-url' yet — the gateway + 2 model services run is skipped"
fi
