#!/bin/sh
# bench/pg_recall.sh [N] [QUERIES] — pgvector's HNSW recall@10 and latency
# against exact search on PostgreSQL, through ragd's PostgreSQL store, on N
# synthetic clustered 384-d unit vectors (bench_search gen), in one run; also
# the bulk-load (ingest) rate. Starts and removes its own throwaway cluster.
#   BUILD=/path/to/build (default ./build), EF=16,32,… (hnsw.ef_search values).
set -eu
N=${1:-20000}
Q=${2:-200}
BUILD=${BUILD:-build}
EF=${EF:-16,32,64,128,256}
for b in bench_search bench_pg_recall; do
  [ -x "$BUILD/bench/$b" ] || { echo "build $b first: cmake --build $BUILD --target $b" >&2; exit 1; }
done
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
"$BUILD/bench/bench_search" gen "$WORK" "$N" "$Q" >/dev/null
# It starts its cluster through the tests' harness, whose watchdog would stop a long run.
RAGD_TEST_DEADLINE_S=${RAGD_TEST_DEADLINE_S:-3600} "$BUILD/bench/bench_pg_recall" "$WORK" "$EF"
