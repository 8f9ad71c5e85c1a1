#!/bin/sh
# bench/retrieval.sh [QRELS] — issue 14's table on the reporting half of the
# eval set: ragd's default /ask retrieval and its lexical mode (`ragd eval`)
# beside SQLite FTS5 and Xapian (bench/retrieval_peers.py) on the same
# questions, in the same run; then lexical search throughput of this build,
# and of an older build when OLD_BUILD is given (the before/after ratio).
#   QRELS       default eval/report.jsonl (never tune on it: bench/retrieval_tune.sh
#               takes eval/tune.jsonl)
#   BUILD       this build (default ./build)
#   DATA        a store built by `ragd ingest` on the random twin: "ragd default"
#               is then measured in-process with the twin's vectors. Without it,
#               a lexical-only store of the corpus (bench_lexical_store, no
#               encoding) is built into data-lex/ and "ragd default" is derived:
#               on the twin the default fuses lexical-first (app/retrieval.h),
#               so its top 10 is exactly lexical's whenever lexical fills all 10
#               places — the "short" count says for how many questions it did
#               not (the row is left out if any).
#   OLD_BUILD   build dir of an older commit with bench_lexical_store and
#               bench_search_lexical (see bench/README.md, "Retrieval")
#   PEERS       the peer script (default bench/retrieval_peers.py)
set -eu
QRELS=${1:-eval/report.jsonl}
BUILD=${BUILD:-build}
PEERS=${PEERS:-bench/retrieval_peers.py}
SHARED=${SHARED:-../shared}
VOCAB="$SHARED/models/all-MiniLM-L6-v2/vocab.txt"
CSV="$SHARED/data/news-articles/Articles.csv"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

if [ -n "${DATA:-}" ]; then
  MODES=default,lexical
else
  DATA=data-lex
  MODES=lexical
  [ -f "$DATA/store.bin" ] || "$BUILD/bench/bench_lexical_store" "$VOCAB" "$CSV" "$DATA" 2>/dev/null
fi
"$BUILD/ragd" eval --qrels "$QRELS" --data-dir "$DATA" --mode "$MODES" --json > "$TMP/ragd.json"
if [ -f "$PEERS" ]; then
  /usr/bin/python3 "$PEERS" "$QRELS" --json > "$TMP/peers.json"
else
  echo "retrieval.sh: $PEERS not found: peers left out" >&2
  echo '{"results": {}}' > "$TMP/peers.json"
fi

/usr/bin/python3 - "$TMP/ragd.json" "$TMP/peers.json" "$QRELS" "$DATA" <<'PY'
import json, os, sys
ragd = json.load(open(sys.argv[1]))
peers = json.load(open(sys.argv[2]))
qrels, data = os.path.basename(sys.argv[3]), sys.argv[4]
rows = {}
for r in ragd["results"]:
    if r["kind"] == "all":
        rows[r["mode"]] = r
keys = ["r1", "r5", "r10", "mrr10", "ndcg10"]
out = []
lex = rows["lexical"]
if "default" in rows:
    out.append(("ragd default (/ask, twin: lexical-first hybrid)", rows["default"]))
elif lex["short"] == 0:
    out.append(("ragd default (/ask, twin: lexical-first = lexical here, 0 short)", lex))
out.append(("ragd `mode: lexical`", lex))
names = {"fts5": "SQLite FTS5, porter, bm25(heading 2.0, article 1.0)",
         "xapian": "Xapian BM25, English Snowball stemmer, heading weight 2"}
peer_rows = peers.get("results", {}).get(qrels, {})
NAMES = {"r1": "R@1", "r5": "R@5", "r10": "R@10", "mrr10": "MRR@10", "ndcg10": "nDCG@10"}
for engine, groups in peer_rows.items():
    g = groups["all"]
    out.append((names.get(engine, engine), {k: g[NAMES[k]] for k in keys}))
print(f"{qrels}: {lex['n']} questions, store {data}, top 10 sources, article-level\n")
print("| retrieval | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 |")
print("| --- | --- | --- | --- | --- | --- |")
for name, r in out:
    print(f"| {name} | " + " | ".join(f"{r[k]:.3f}" for k in keys) + " |")
PY

QUESTIONS="$TMP/questions.jsonl"
cat "$QRELS" > "$QUESTIONS"
ROUNDS=${ROUNDS:-20}
echo
echo "lexical search throughput (one thread, top 10, no article cap, $ROUNDS rounds of the questions):"
NEW=$("$BUILD/bench/bench_search_lexical" "$DATA" "$QUESTIONS" "$ROUNDS")
echo "  this build:  $NEW"
if [ -n "${OLD_BUILD:-}" ]; then
  [ -f "$TMP/old/store.bin" ] || "$OLD_BUILD/bench/bench_lexical_store" "$VOCAB" "$CSV" "$TMP/old" 2>/dev/null
  OLD=$(VOCAB="$VOCAB" "$OLD_BUILD/bench/bench_search_lexical" "$TMP/old" "$QUESTIONS" "$ROUNDS")
  echo "  older build: $OLD"
  /usr/bin/python3 - "$NEW" "$OLD" <<'PY'
import json, sys
new, old = (json.loads(a)["qps_per_cpu"] for a in sys.argv[1:3])
print(f"  this / older: {new / old:.2f}x queries per CPU second")
PY
fi
