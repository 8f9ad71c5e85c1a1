#!/usr/bin/env python3
"""test_eval_check — eval/check.py accepts the real set and rejects each kind
of broken set, so test_eval_set passing means something; corpus_ids numbers
records as ragd does (0-based, header excluded, quoted line breaks inside one
record).

  python3 tests/eval/test_eval_check.py EVAL_DIR CSV
"""
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile

EVAL_DIR, CSV = sys.argv[1], sys.argv[2]
sys.path.insert(0, EVAL_DIR)
import check  # noqa: E402
import corpus_ids  # noqa: E402
import metrics  # noqa: E402
import split  # noqa: E402

failures = []


def run_check(d):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = check.main(["check.py", d, CSV])
    return rc, err.getvalue()


def write_set(d, questions, tune=None, report=None):
    if tune is None:
        tune, report = split.split(questions)
    for name, qs in (("questions", questions), ("tune", tune), ("report", report)):
        with open(os.path.join(d, name + ".jsonl"), "w", encoding="utf-8") as f:
            f.write(split.render(qs))


def expect_rejected(name, questions, needle, tune=None, report=None, raw_line=None):
    with tempfile.TemporaryDirectory() as d:
        write_set(d, questions, tune, report)
        if raw_line is not None:
            with open(os.path.join(d, "questions.jsonl"), "a", encoding="utf-8") as f:
                f.write(raw_line + "\n")
        rc, err = run_check(d)
        if rc == 0 or needle not in err:
            failures.append(f"{name}: expected a failure mentioning {needle!r}, got rc={rc}: {err}")


real = split.read_jsonl(os.path.join(EVAL_DIR, "questions.jsonl"))
articles = corpus_ids.load(CSV)

# The real set passes.
with tempfile.TemporaryDirectory() as d:
    for n in ("questions", "tune", "report"):
        shutil.copy(os.path.join(EVAL_DIR, n + ".jsonl"), d)
    rc, err = run_check(d)
    if rc != 0:
        failures.append(f"the committed set fails check.py: {err}")

base = [dict(q) for q in real[:12]]
other_topic = {"business": "sports", "sports": "business"}
short = next(a for a in articles if len(a["article"]) < 1000 and not a["repeated"])
later_copy = next(a for a in articles if a["repeated"])

expect_rejected("bad JSON", base, "not JSON", raw_line='{"question": ')
expect_rejected("missing field", base + [{"question": "Who won the toss today?", "kind": "paraphrase",
                                          "topic": "sports"}], "needs exactly the fields")
expect_rejected("unknown kind", [dict(base[0], kind="trivia")] + base[1:], "is not one of")
expect_rejected("wrong topic", [dict(base[0], topic=other_topic[base[0]["topic"]])] + base[1:],
                "but article")
expect_rejected("id out of range", [dict(base[0], article_id=str(len(articles)))] + base[1:],
                "is not in the corpus")
expect_rejected("id not decimal", [dict(base[0], article_id="1.0")] + base[1:], "is not in the corpus")
expect_rejected("later copy of a repeated text",
                [dict(base[0], article_id=later_copy["id"], topic=later_copy["topic"])] + base[1:],
                "repeats an earlier article's text")
expect_rejected("deep_fact on a short article",
                [dict(base[0], kind="deep_fact", article_id=short["id"], topic=short["topic"])]
                + base[1:], "deep_fact needs an article over")
expect_rejected("duplicated question", base + [dict(base[1], article_id=base[2]["article_id"],
                                                    topic=base[2]["topic"],
                                                    question=base[1]["question"].upper())],
                "question repeats")
tune, report = split.split(base)
expect_rejected("halves overlap", base, "in both tune.jsonl and report.jsonl",
                tune=tune, report=report + tune[:1])
expect_rejected("halves not the split", base, "is not what split.py makes",
                tune=report, report=tune)

# The split: stratified, and appending questions never moves one out of tune.
t_small, _ = split.split(real[: len(real) // 2])
t_all, r_all = split.split(real)
if not {q["question"] for q in t_small} <= {q["question"] for q in t_all}:
    failures.append("appending questions moved a question out of tune.jsonl")
for kind in check.KINDS:
    for topic in check.TOPICS:
        nt = sum(q["kind"] == kind and q["topic"] == topic for q in t_all)
        nr = sum(q["kind"] == kind and q["topic"] == topic for q in r_all)
        if not 0 <= nr - nt <= 1:
            failures.append(f"stratum {kind}/{topic} split {nt} tune, {nr} report")

# corpus_ids numbers records like src/ingest/csv_reader.c.
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "tiny.csv")
    with open(path, "w", encoding="cp1252", newline="") as f:
        f.write('Article,Date,Heading,NewsType\r\n"first, with a\r\nline break",1/1/2015,one,business\r\n'
                'second text,1/2/2015,two, Sports \r\n"first, with a\r\nline break",1/3/2015,three,business\r\n')
    tiny = corpus_ids.load(path)
    got = [(a["id"], a["heading"], a["topic"], a["repeated"]) for a in tiny]
    want = [("0", "one", "business", False), ("1", "two", "sports", False), ("2", "three", "business", True)]
    if got != want:
        failures.append(f"corpus_ids on a tiny CSV: {got} != {want}")

# The metrics as eval/README.md defines them: ranks over distinct articles.
def close(a, b):
    return abs(a - b) < 1e-12


if metrics.target_rank(["7", "7", "3", "7", "9"], "9") != 3:
    failures.append("target_rank must skip repeated articles")
if metrics.target_rank(["7", "3"], "9") is not None:
    failures.append("target_rank of a missing target must be None")
s3 = metrics.scores(3)
if (s3["R@1"], s3["R@5"], s3["R@10"]) != (0.0, 1.0, 1.0) or not close(s3["MRR@10"], 1 / 3) \
        or not close(s3["nDCG@10"], 0.5):
    failures.append(f"scores(3) = {s3}")
s1 = metrics.scores(1)
if any(not close(v, 1.0) for v in s1.values()):
    failures.append(f"scores(1) = {s1}")
s11 = metrics.scores(11)
if any(v != 0.0 for v in s11.values()) or any(v != 0.0 for v in metrics.scores(None).values()):
    failures.append(f"a target below 10 must score 0 everywhere, got {s11}")
summary = metrics.summarise([("paraphrase", 1), ("paraphrase", None), ("deep_fact", 2)])
if summary["paraphrase"]["n"] != 2 or not close(summary["paraphrase"]["MRR@10"], 0.5) \
        or not close(summary["all"]["MRR@10"], 0.5) or summary["all"]["n"] != 3 \
        or not close(summary["all"]["R@5"], 2 / 3):
    failures.append(f"summarise = {summary}")

for f in failures:
    print("FAIL:", f, file=sys.stderr)
print(f"test_eval_check: {len(failures)} failures")
sys.exit(1 if failures else 0)
