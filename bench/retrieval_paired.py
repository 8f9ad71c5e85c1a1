#!/usr/bin/env python3
"""retrieval_paired.py — is ragd's MRR@10 really different from SQLite FTS5's?

A paired bootstrap over the questions of one qrels file: for each question
the reciprocal rank of its article in ragd's lexical top 10 (`ragd search`,
the /ask defaults: article cap 2) and in FTS5's (bench/retrieval_peers.py's
engine), then 10,000 resamples of the per-question differences. Prints both
MRR@10, their difference, its 95% interval and how many questions each wins.
With ~170 questions a difference of 0.02 is a handful of questions; this says
whether the set can tell the engines apart at all.

  python3 bench/retrieval_paired.py eval/report.jsonl --data-dir DIR [--ragd build/ragd]
DIR: a store of the corpus (bench_lexical_store builds a lexical one in ~1 s,
see bench/retrieval_tune.sh; its BM25 ranking is the twin store's).
"""
import argparse
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "eval"))
import retrieval_peers as peers  # noqa: E402


def reciprocal_rank(article_ids, target):
    distinct = list(dict.fromkeys(article_ids))[:10]
    return 1.0 / (distinct.index(target) + 1) if target in distinct else 0.0


def ragd_ids(ragd, data_dir, question):
    out = subprocess.run([ragd, "search", "--data-dir", data_dir, "--mode", "lexical", "-k", "10",
                          "--json", "--log-level", "error", question],
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line)["article_id"] for line in out.splitlines() if line.strip()]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("qrels")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--ragd", default="build/ragd")
    p.add_argument("--csv", default=os.path.join(HERE, "..", "..", "shared", "data", "news-articles",
                                                 "Articles.csv"))
    p.add_argument("--resamples", type=int, default=10000)
    a = p.parse_args()
    questions = [json.loads(line) for line in open(a.qrels) if line.strip()]
    fts5 = peers.Fts5(peers.stored_articles(a.csv))
    ours, theirs = [], []
    for q in questions:
        ours.append(reciprocal_rank(ragd_ids(a.ragd, a.data_dir, q["question"]), q["article_id"]))
        theirs.append(reciprocal_rank(fts5.search(q["question"]), q["article_id"]))
    n = len(questions)
    diff = [x - y for x, y in zip(ours, theirs)]
    rng = random.Random(1)
    means = sorted(sum(rng.choice(diff) for _ in range(n)) / n for _ in range(a.resamples))
    lo, hi = means[int(0.025 * a.resamples)], means[int(0.975 * a.resamples) - 1]
    print(f"{a.qrels}: {n} questions; MRR@10 ragd {sum(ours) / n:.3f}, FTS5 {sum(theirs) / n:.3f}, "
          f"difference {sum(diff) / n:+.3f}, 95% interval [{lo:+.3f}, {hi:+.3f}]; "
          f"ragd ahead on {sum(d > 0 for d in diff)}, FTS5 on {sum(d < 0 for d in diff)}")


if __name__ == "__main__":
    main()
