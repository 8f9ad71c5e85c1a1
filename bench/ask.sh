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
# realistic length, so no cache can make the number), TOP_K (default 5),
# PEER=python (also run the Python system, below), GATEWAY=0 (skip the
# gateway deployment).
#
# Questions are rotated (bench/ask.lua), top_k TOP_K, hybrid retrieval, the
# mock LLM. Every level runs in this invocation, so the
# ratios (each level against 1 connection, serve against gateway, Locust
# against wrk) compare numbers taken under the same machine load. The
# 1000-connection level shows the server holding that many open connections:
# the "errors" column counts wrk's socket errors and non-2xx answers, and
# "open" the connections established to the server mid-run (ss).
# Locust (Debian python3-locust, installed here when missing) runs headless
# beside wrk at LOCUST_USERS users with no wait time; a Python client
# saturates long before ragd does, which the ratio shows.
#
# PEER=python adds the Python system that ragd replaces
# (../shared/peers/python-system: FastAPI + uvicorn + PyTorch, its gateway and
# model service, one vector per article) through bench/peer_python.sh: its
# Debian packages are installed when missing, its store is encoded once with
# the model of ragd's store and cached (bench/.cache), and it runs on free
# ports beside `ragd serve`. Both get the same bodies ({"question", "top_k"},
# which both /ask accept) at each level in turn, and a table of Python against
# ragd serve (req/s, p99, their ratios, non-2xx answers) closes the run. The
# load average (uptime) is printed at the start and the end, and `ragd serve`'s
# peak RSS (VmHWM) after its levels.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
bin=${RAGD_BIN:-$root/build/ragd}
data=${RAGD_DATA_DIR:-$root/data}
csv="$root/../shared/data/news-articles/Articles.csv"
levels=${LEVELS:-1 8 32 128 1000}
locust_users=${LOCUST_USERS:-32}
peer=${PEER:-}
top_k=${TOP_K:-5}
case $peer in ""|python) ;; *) echo "ask.sh: PEER is python (or unset)" >&2; exit 2 ;; esac
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
  [ -n "$peer" ] && "$root/bench/peer_python.sh" stop "$tmp/peer" || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

questions=${QUESTIONS:-headings}
case $questions in headings|distinct) ;; *) echo "ask.sh: QUESTIONS is headings or distinct" >&2; exit 2 ;; esac
python3 - "$csv" "$tmp/bodies.txt" "$questions" "$top_k" "${STREAM:-0}" <<'PY'
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
        # the fields both /ask accept: ragd's and the Python system's
        body = {"question": q, "top_k": int(sys.argv[4])}
        if sys.argv[5] == "1":
            body["stream"] = True
        f.write(json.dumps(body) + "\n")
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

# wrk_level URL CONNECTIONS → "req/s p50_ms p99_ms errors open non2xx", where
# errors = socket errors + non-2xx answers, and open is the number of
# established connections to the server's port counted in the middle of the
# run (the server's side of "holds N connections").
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
  if [ -z "$rps" ]; then cat "$tmp/wrk.out" >&2; echo "0 0 0 -1 0 -1"; return; fi
  echo "$rps $(ms "$p50") $(ms "$p99") $(( ${sock:-0} + ${non2xx:-0} )) $(cat "$tmp/open" 2>/dev/null || echo ?) ${non2xx:-0}"
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

declare -A RPS P50 P99 ERR NON2XX
# warm_up NAME URL: one question must be answered 200 (else the run stops,
# showing the answer), then 2 s at 4 connections so that neither side is
# measured while it loads lazily (PyTorch's first passes).
warm_up() {
  local name=$1 url=$2 code
  code=$(curl -s -o "$tmp/first.out" -w '%{http_code}' -H 'Content-Type: application/json' \
         -d "$(head -1 "$tmp/bodies.txt")" "$url/ask" || true)
  if [ "$code" != 200 ]; then
    echo "ask.sh: $name answered HTTP $code to $(head -1 "$tmp/bodies.txt"):" >&2
    head -c 2000 "$tmp/first.out" >&2; echo >&2
    exit 1
  fi
  BODIES="$tmp/bodies.txt" STREAM="${STREAM:-0}" wrk -t1 -c4 -d2s --timeout 10s \
    -s "$root/bench/ask.lua" "$url" >/dev/null 2>&1 || true
}

run_level() { # NAME URL CONNECTIONS: one row
  local name=$1 url=$2 c=$3 rps p50 p99 err open non2xx
  read -r rps p50 p99 err open non2xx < <(wrk_level "$url" "$c")
  RPS[$name,$c]=$rps; P50[$name,$c]=$p50; P99[$name,$c]=$p99; ERR[$name,$c]=$err; NON2XX[$name,$c]=$non2xx
  printf "%-9s %11s %10.0f %9s %9s %8s %9s %7s\n" "$name" "$c" "$rps" "$p50" "$p99" "$err" \
    "$(awk -v a="$rps" -v b="${RPS[$name,${levels%% *}]}" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')" "$open"
}

run_locust() { # NAME URL
  local name=$1 url=$2 out
  [ "$locust_users" -gt 0 ] || return 0
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
}

run_deployment() { # NAME URL
  local name=$1 url=$2 c
  warm_up "$name" "$url"
  for c in $levels; do run_level "$name" "$url" "$c"; done
  run_locust "$name" "$url"
}

# peak_rss PID → "VmHWM MB, VmRSS MB" of a running process
peak_rss() {
  awk '/^VmHWM/ { h = $2 } /^VmRSS/ { r = $2 } END { printf "VmHWM %.1f MB, VmRSS %.1f MB", h / 1024, r / 1024 }' \
    "/proc/$1/status"
}

# peer_table: Python system against ragd serve, one markdown row per level
peer_table() {
  local c n
  n=$(wc -l <"$tmp/bodies.txt")
  echo
  echo "Python system vs ragd serve, same run ($questions: $n questions, top_k $top_k," \
       "$([ "${STREAM:-0}" = 1 ] && echo SSE || echo JSON) answers, ${secs}s per level):"
  echo
  echo "| questions | connections | Python system | ragd serve | ratio | non-2xx (Python / ragd) |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for c in $levels; do
    awk -v q="$questions ($n)" -v c="$c" -v pr="${RPS[python,$c]}" -v pp="${P99[python,$c]}" \
        -v rr="${RPS[serve,$c]}" -v rp="${P99[serve,$c]}" \
        -v pn="${NON2XX[python,$c]}" -v rn="${NON2XX[serve,$c]}" '
      function num(x) { return x >= 100 ? sprintf("%.0f", x) : sprintf("%.3g", x) }
      BEGIN {
        rate = pr > 0 ? sprintf("%.1fx", rr / pr) : "-"
        if (rp > 0 && pp >= rp) tail = sprintf("p99 1/%.1f", pp / rp)
        else if (pp > 0) tail = sprintf("p99 %.1fx", rp / pp)
        else tail = "p99 -"
        printf "| %s | %s | %s req/s, p99 %s ms | %s req/s, p99 %s ms | %s, %s | %s / %s |\n",
               q, c, num(pr), num(pp), num(rr), num(rp), rate, tail, pn, rn
      }'
  done
}

echo "POST /ask, questions: $questions ($(wc -l <"$tmp/bodies.txt")), top_k $top_k, ${secs}s per level, $(nproc) cores, $([ "${STREAM:-0}" = 1 ] && echo SSE || echo JSON) answers"
echo "start: $(uptime)"

if [ -n "$peer" ]; then
  "$root/bench/peer_python.sh" deps
  peer_model=$("$root/bench/peer_python.sh" model "$data")
  peer_npz=$("$root/bench/peer_python.sh" store "$peer_model")
  peer_url=$("$root/bench/peer_python.sh" start "$tmp/peer" "$peer_npz" "$peer_model")
  echo "python: the Python system at $peer_url (${peer_model##*/}, $peer_npz)"
fi

printf "%-9s %11s %10s %9s %9s %8s %9s %7s\n" "deploy" "connections" "req/s" "p50 ms" "p99 ms" "errors" "vs c=1" "open"

start serve serve --data-dir "$data" --no-ingest --max-connections 4096
serve_pid=${pids[-1]}
serve_url="http://127.0.0.1:$port"
if [ -n "$peer" ]; then
  # level by level, the Python system then ragd, so both meet the same load
  warm_up python "$peer_url"
  warm_up serve "$serve_url"
  for c in $levels; do
    run_level python "$peer_url" "$c"
    run_level serve "$serve_url" "$c"
  done
  run_locust serve "$serve_url"
else
  run_deployment serve "$serve_url"
fi
echo "serve: peak RSS over the run: $(peak_rss "$serve_pid")"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
if [ -n "$peer" ]; then
  "$root/bench/peer_python.sh" stop "$tmp/peer"
  peer_table
fi

if [ "${GATEWAY:-1}" = 0 ]; then
  echo "gateway: skipped (GATEWAY=0)"
elif "$bin" gateway --help 2>/dev/null | grep -q -- "--model-url"; then
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
echo "end: $(uptime)"
