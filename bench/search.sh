#!/bin/sh
# bench/search.sh [N] [QUERIES] — the store's exact and HNSW search beside
# FAISS IndexFlatIP and IndexHNSWFlat on the same N synthetic 384-d unit
# vectors, in one run, printed as ratios.
#   BUILD=/path/to/build (default ./build), WORK=dir for the vector files and
#   the store (default a temporary folder, removed afterwards), EF=16,32,…,
#   SKIP_FAISS_HNSW=1 to leave out FAISS HNSW (its Debian build is slow to
#   build at 1 M here). Throughput is per CPU second on both sides.
set -eu
# The peer's packages (not needed by the tests, so not in scripts/packages.txt).
for p in python3-faiss python3-numpy; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
done
N=${1:-200000}
Q=${2:-1000}
BUILD=${BUILD:-build}
EF=${EF:-16,32,64,128,256}
BIN="$BUILD/bench/bench_search"
[ -x "$BIN" ] || { echo "build bench_search first: cmake --build $BUILD --target bench_search" >&2; exit 1; }
if [ -n "${WORK:-}" ]; then mkdir -p "$WORK"; else WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT; fi
rm -rf "$WORK/store"
"$BIN" gen "$WORK" "$N" "$Q"
"$BIN" run "$WORK" "$EF"
OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 "$(dirname "$0")/search_faiss.py" "$WORK" "$EF"
