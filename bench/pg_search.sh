#!/bin/sh
# bench/pg_search.sh [ARTICLES] [QUERIES] — a search as /ask makes it, through
# the store API (acquire, search k=10, store_get of every hit, release), on
# the embedded store and on the PostgreSQL store holding the same corpus slice
# (seeded random vectors), in one run: p50/p99/mean per mode and the ratio,
# and the bulk-load rate. Starts and removes its own throwaway cluster.
#   BUILD=/path/to/build (default ./build), RAGD_SHARED_DIR (default ../shared).
set -eu
BUILD=${BUILD:-build}
[ -x "$BUILD/bench/bench_pg_search" ] || {
  echo "build it first: cmake --build $BUILD --target bench_pg_search" >&2; exit 1; }
RAGD_SHARED_DIR=${RAGD_SHARED_DIR:-../shared} \
RAGD_TEST_DEADLINE_S=${RAGD_TEST_DEADLINE_S:-3600} \
  "$BUILD/bench/bench_pg_search" "${1:-1000}" "${2:-200}"
