"""metrics — the retrieval metrics of the eval set, as eval/README.md defines them.

One relevant article per question. A ranking is reduced to its distinct
articles in order of first appearance (later passages of an article already
seen are skipped), and the target's 1-based rank in that list decides every
metric: R@k = 1 if rank <= k; MRR@10 = 1/rank if rank <= 10; nDCG@10 =
1/log2(rank + 1) if rank <= 10 (the ideal DCG of one relevant item is 1);
0 when the target is not in the first 10 distinct articles. Means are taken
over questions, per kind and over all questions.
"""
import math

NAMES = ("R@1", "R@5", "R@10", "MRR@10", "nDCG@10")


def target_rank(ranked_ids, target):
    """1-based rank of target among the distinct ids of ranked_ids, or None."""
    seen = []
    for article_id in ranked_ids:
        if article_id in seen:
            continue
        seen.append(article_id)
        if article_id == target:
            return len(seen)
    return None


def scores(rank):
    """The metrics of one question whose target has this rank (None: not found)."""
    hit = rank is not None and rank <= 10
    return {
        "R@1": 1.0 if rank is not None and rank <= 1 else 0.0,
        "R@5": 1.0 if rank is not None and rank <= 5 else 0.0,
        "R@10": 1.0 if hit else 0.0,
        "MRR@10": 1.0 / rank if hit else 0.0,
        "nDCG@10": 1.0 / math.log2(rank + 1) if hit else 0.0,
    }


def summarise(per_question):
    """per_question: list of (kind, rank). Returns {group: {metric: mean, "n": count}}
    for every kind present and "all"."""
    groups = {}
    for kind, rank in per_question:
        s = scores(rank)
        for g in (kind, "all"):
            acc = groups.setdefault(g, {name: 0.0 for name in NAMES} | {"n": 0})
            acc["n"] += 1
            for name in NAMES:
                acc[name] += s[name]
    for acc in groups.values():
        for name in NAMES:
            acc[name] = acc[name] / acc["n"]
    return groups
