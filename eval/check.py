#!/usr/bin/env python3
"""check.py — the eval set is well formed (run by ctest as test_eval_set).

Every line of questions.jsonl, tune.jsonl and report.jsonl parses as a JSON
object with exactly question, article_id, kind and topic; kind and topic
take their allowed values; article_id names an article of the corpus under
the id ragd gives it (eval/corpus_ids.py) and not a later copy of a repeated
text (ragd stores that text under the first copy's id, so the later id would
never be retrieved); topic is that article's NewsType; deep_fact questions
are about long articles; no question occurs twice; the two halves are
disjoint, together make questions.jsonl, and are what split.py makes of it.

  python3 eval/check.py [EVAL_DIR] [CSV]
"""
import json
import os
import sys

import corpus_ids
import split

KINDS = ("paraphrase", "deep_fact", "low_overlap")
TOPICS = ("business", "sports")
FIELDS = {"question", "article_id", "kind", "topic"}
LONG = 2500


def read(path, problems):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            where = f"{os.path.basename(path)}:{n}"
            try:
                q = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(f"{where}: not JSON ({e})")
                continue
            if not isinstance(q, dict) or set(q) != FIELDS:
                problems.append(f"{where}: needs exactly the fields {sorted(FIELDS)}")
                continue
            if not all(isinstance(q[k], str) for k in FIELDS):
                problems.append(f"{where}: every field must be a string")
                continue
            q["_where"] = where
            out.append(q)
    return out


def check_questions(questions, articles, problems):
    by_id = {a["id"]: a for a in articles}
    seen = {}
    for q in questions:
        where = q["_where"]
        if q["kind"] not in KINDS:
            problems.append(f"{where}: kind {q['kind']!r} is not one of {KINDS}")
        if q["topic"] not in TOPICS:
            problems.append(f"{where}: topic {q['topic']!r} is not one of {TOPICS}")
        text = " ".join(q["question"].split()).lower()
        if len(text) < 15:
            problems.append(f"{where}: question too short: {q['question']!r}")
        if text in seen:
            problems.append(f"{where}: question repeats {seen[text]}")
        seen.setdefault(text, where)
        a = by_id.get(q["article_id"])
        if a is None:
            problems.append(f"{where}: article_id {q['article_id']!r} is not in the corpus "
                            f"(ids 0..{len(articles) - 1})")
            continue
        if a["repeated"]:
            problems.append(f"{where}: article {a['id']} repeats an earlier article's text; "
                            "ragd stores it under the first copy's id")
        if a["topic"] != q["topic"]:
            problems.append(f"{where}: topic {q['topic']} but article {a['id']} is {a['topic']}")
        if q["kind"] == "deep_fact" and len(a["article"]) <= LONG:
            problems.append(f"{where}: deep_fact needs an article over {LONG} characters, "
                            f"article {a['id']} has {len(a['article'])}")


def main(argv):
    eval_dir = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    articles = corpus_ids.load(argv[2] if len(argv) > 2 else None)
    problems = []
    files = {name: read(os.path.join(eval_dir, name + ".jsonl"), problems)
             for name in ("questions", "tune", "report")}
    check_questions(files["questions"], articles, problems)
    check_questions(files["tune"] + files["report"], articles, problems)

    def key(q):
        return " ".join(q["question"].split()).lower()

    tune, report = {key(q) for q in files["tune"]}, {key(q) for q in files["report"]}
    for k in sorted(tune & report):
        problems.append(f"in both tune.jsonl and report.jsonl: {k!r}")
    if tune | report != {key(q) for q in files["questions"]}:
        problems.append("tune.jsonl and report.jsonl together are not questions.jsonl")
    plain = [{k: v for k, v in q.items() if k != "_where"} for q in files["questions"]]
    want_tune, want_report = split.split(plain)
    for name, want in (("tune", want_tune), ("report", want_report)):
        got = [{k: v for k, v in q.items() if k != "_where"} for q in files[name]]
        if got != want:
            problems.append(f"{name}.jsonl is not what split.py makes of questions.jsonl")
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len(files['questions'])} questions ({len(files['tune'])} tune, "
          f"{len(files['report'])} report): {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
