#!/usr/bin/env bash
# documents.sh — the /documents benchmark (issue #12): starts `ragd serve` on
# a fresh data directory holding the corpus's first ARTICLES articles
# (default 300, ingested on first start), runs bench/documents.py against
# it (writes/s of ~2 KB articles and their share of the encoder's own rate,
# write-to-visible p50/p99, /ask throughput with a writer at 10 articles/s
# against read-only) and stops it. A few minutes in all.
#
#   bench/documents.sh [SECONDS_PER_PHASE]    (default 10)
#
# Environment: RAGD_BIN (default ./build/ragd), RAGD_CSV (the corpus),
# ARTICLES, PORT (default 18800).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${RAGD_BIN:-$root/build/ragd}
csv=${RAGD_CSV:-$root/../shared/data/news-articles/Articles.csv}
articles=${ARTICLES:-300}
port=${PORT:-18800}
seconds=${1:-10}
work=$(mktemp -d /tmp/ragd-bench-documents-XXXXXX)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The first $articles records of the CSV (records may hold line breaks: Python's csv cuts them).
python3 - "$csv" "$work/corpus.csv" "$articles" <<'PY'
import csv, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, encoding="cp1252", newline="") as f, open(dst, "w", encoding="cp1252", newline="") as g:
    r, w = csv.reader(f), csv.writer(g)
    for i, row in enumerate(r):
        if i > n: break
        w.writerow(row)
PY
"$bin" serve --data-dir "$work/data" --csv "$work/corpus.csv" --host 127.0.0.1 --port "$port" \
  --log-level warn > "$work/serve.log" 2>&1 &
server=$!
until curl -sf "http://127.0.0.1:$port/ready" > /dev/null; do
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.5
done
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); store of $articles corpus articles"
python3 "$root/bench/documents.py" "http://127.0.0.1:$port" "$csv" "$seconds"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
