#!/bin/sh
# bench/retrieval_tune.sh [QRELS] — the BM25F grid search behind the store's
# defaults (k1, b, heading weight) and the /ask article cap: `ragd eval` in
# lexical mode over every combination, one line each, best MRR@10 last.
# Run it on the TUNING half only (default eval/tune.jsonl); never on the
# reporting half.
#   BUILD=build (ragd, bench_lexical_store), DATA=dir of a store (default:
#   a lexical-only store of the corpus, built once into data-lex/),
#   K1S, BS, WS, CAPS = the values to try (space-separated).
set -eu
QRELS=${1:-eval/tune.jsonl}
BUILD=${BUILD:-build}
DATA=${DATA:-data-lex}
K1S=${K1S:-0.6 0.9 1.2 1.5 2.0}
BS=${BS:-0.3 0.5 0.75 0.9}
WS=${WS:-0 1 2 3 4}
CAPS=${CAPS:-0 1 2 3}
SHARED=${SHARED:-../shared}
if [ ! -f "$DATA/store.bin" ]; then
  "$BUILD/bench/bench_lexical_store" "$SHARED/models/all-MiniLM-L6-v2/vocab.txt" \
    "$SHARED/data/news-articles/Articles.csv" "$DATA" 2>/dev/null
fi
row() { "$BUILD/ragd" eval --qrels "$QRELS" --data-dir "$DATA" --mode lexical "$@" | awk '$2 == "all" {print $4, $5, $6, $7, $8}'; }
echo "# BM25F grid (cap 2): k1 b heading_weight -> R@1 R@5 R@10 MRR@10 nDCG@10"
for k1 in $K1S; do for b in $BS; do for w in $WS; do
  echo "$k1 $b $w -> $(row --bm25-k1 "$k1" --bm25-b "$b" --heading-weight "$w" --max-per-article 2)"
done; done; done | sort -t' ' -k8,8n -k5,5n
echo "# article cap at the store's BM25F defaults: cap -> R@1 R@5 R@10 MRR@10 nDCG@10"
for cap in $CAPS; do echo "$cap -> $(row --max-per-article "$cap")"; done
