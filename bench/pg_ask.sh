#!/usr/bin/env bash
# pg_ask.sh — the store on PostgreSQL against the embedded store, in one run,
# over the same corpus and vectors:
#
#   1. load: `ragd ingest --store-url … --from-data-dir DIR` copies the
#      embedded store (articles, passages, vectors) into an empty database —
#      the load rate without encoding — and a slice of the CSV is ingested
#      with encoding into a fresh data directory and into a database (the
#      encoder dominates both; the difference is the store's cost);
#   2. POST /ask: `ragd serve --data-dir DIR` and `ragd serve --store-url …`
#      (the same store, copied) under wrk at rising concurrency: req/s, p50,
#      p99, errors, and PostgreSQL's req/s as a share of the embedded one.
#
#   bench/pg_ask.sh [seconds-per-level]        (default 10; builds nothing)
#
# Environment: RAGD_BIN (default ./build/ragd), RAGD_DATA_DIR (default ./data;
# it must hold a store: `ragd ingest` first), LEVELS (default "1 8 32"
# connections), SLICE (default 60: CSV articles of the encoded ingest),
# RAGD_PG_BINDIR (default /usr/lib/postgresql/15/bin). A throwaway cluster
# (initdb, loopback port, fsync on as shipped) is started under a temp dir —
# as the postgres user when run as root — and removed at the end; pgvector
# must be installed (scripts/deps.sh). Questions are the first 1024 corpus
# headings (bench/ask.lua), default top_k and mode, the mock LLM, JSON answers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
bin=${RAGD_BIN:-$root/build/ragd}
data=${RAGD_DATA_DIR:-$root/data}
csv="$root/../shared/data/news-articles/Articles.csv"
levels=${LEVELS:-1 8 32}
slice=${SLICE:-60}
pgbin=${RAGD_PG_BINDIR:-/usr/lib/postgresql/15/bin}
[ -x "$bin" ] || { echo "pg_ask.sh: no $bin — build first or set RAGD_BIN" >&2; exit 1; }
[ -f "$data/store.bin" ] || { echo "pg_ask.sh: no store in $data — run 'ragd ingest --data-dir $data' first" >&2; exit 1; }
[ -x "$pgbin/initdb" ] || { echo "pg_ask.sh: no PostgreSQL 15 in $pgbin — install it with scripts/deps.sh" >&2; exit 1; }
command -v wrk >/dev/null || { echo "pg_ask.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -f "$tmp/pg/data/postmaster.pid" ] && as_server "$pgbin/pg_ctl" -D "$tmp/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The cluster: a free loopback port, trust authentication, the unix socket in the temp dir.
chmod 711 "$tmp" # the server user walks through it to its own folder
mkdir -p "$tmp/pg"
[ "$(id -u)" = 0 ] && chown postgres "$tmp/pg"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_server "$pgbin/initdb" -D "$tmp/pg/data" -U postgres --auth=trust >"$tmp/initdb.log" 2>&1 ||
  { cat "$tmp/initdb.log" >&2; exit 1; }
as_server "$pgbin/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/log" -w \
  -o "-p $port -k $tmp/pg -c listen_addresses=127.0.0.1" start >/dev/null
url() { echo "postgres://postgres@127.0.0.1:$port/$1"; }
for db in copy slice; do as_server "$pgbin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -c "CREATE DATABASE $db" postgres; done

echo "PostgreSQL store vs embedded store, $(nproc) cores, $(as_server "$pgbin/postgres" --version)"
echo
echo "load"
"$bin" ingest --store-url "$(url copy)" --from-data-dir "$data" --no-progress --log-level warn | sed 's/^/  copy, no encoding: /'
python3 - "$csv" "$tmp/slice.csv" "$slice" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="cp1252", newline="")))
with open(sys.argv[2], "w", encoding="cp1252", newline="") as f:
    csv.writer(f, lineterminator="\r\n").writerows(rows[: int(sys.argv[3]) + 1])
PY
"$bin" ingest --data-dir "$tmp/slice-dir" --csv "$tmp/slice.csv" --no-progress --log-level warn | sed 's/^/  CSV slice into a data directory: /'
"$bin" ingest --store-url "$(url slice)" --csv "$tmp/slice.csv" --no-progress --log-level warn | sed 's/^/  CSV slice into PostgreSQL: /'

# start NAME ARGS… : `ragd ARGS --host 127.0.0.1 --port 0`, wait for "listening", set $sport.
start() {
  local name=$1; shift
  "$bin" "$@" --host 127.0.0.1 --port 0 2>"$tmp/$name.log" &
  pids+=($!)
  sport=""
  for _ in $(seq 600); do
    sport=$(grep -o '"msg":"listening".*"port":[0-9]*' "$tmp/$name.log" | grep -o '"port":[0-9]*' | cut -d: -f2 || true)
    [ -n "$sport" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "pg_ask.sh: ragd $1 did not start; its log:" >&2; cat "$tmp/$name.log" >&2; return 1
}

python3 - "$csv" "$tmp/bodies.txt" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="cp1252", newline="")))
with open(sys.argv[2], "w") as f:
    for r in [r for r in rows if r["Heading"].strip()][:1024]:
        f.write(json.dumps({"question": r["Heading"].strip()}) + "\n")
PY

ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
                               else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }
wrk_level() { # URL CONNECTIONS → "req/s p50 p99 errors"
  local t=2; [ "$2" -lt 2 ] && t=1
  BODIES="$tmp/bodies.txt" wrk -t"$t" -c"$2" -d"${secs}s" --latency --timeout 10s \
    -s "$root/bench/ask.lua" "$1" >"$tmp/wrk.out" 2>&1 || true
  local rps p50 p99 sock non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.out")
  p50=$(awk '$1=="50%" {print $2}' "$tmp/wrk.out"); p99=$(awk '$1=="99%" {print $2}' "$tmp/wrk.out")
  sock=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$tmp/wrk.out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/wrk.out")
  [ -n "$rps" ] || { cat "$tmp/wrk.out" >&2; echo "0 0 0 -1"; return; }
  echo "$rps $(ms "$p50") $(ms "$p99") $(( ${sock:-0} + ${non2xx:-0} ))"
}

echo
echo "POST /ask, corpus headings as questions, ${secs}s per level, JSON answers"
printf "%-10s %11s %10s %9s %9s %8s %12s\n" store connections "req/s" "p50 ms" "p99 ms" errors "vs embedded"
declare -A RPS
for c in $levels; do
  for store in embedded postgres; do
    if [ "$store" = embedded ]; then start serve serve --data-dir "$data" --no-ingest --workers 64
    else start serve serve --store-url "$(url copy)" --no-ingest --workers 64; fi
    u="http://127.0.0.1:$sport"
    curl -s -o /dev/null -H 'Content-Type: application/json' -d "$(head -1 "$tmp/bodies.txt")" "$u/ask"
    read -r rps p50 p99 err < <(wrk_level "$u" "$c")
    RPS[$store]=$rps
    share=""; [ "$store" = postgres ] && share=$(awk -v a="$rps" -v b="${RPS[embedded]}" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')
    printf "%-10s %11s %10.0f %9s %9s %8s %12s\n" "$store" "$c" "$rps" "$p50" "$p99" "$err" "$share"
    kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
  done
done
