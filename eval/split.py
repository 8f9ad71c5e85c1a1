#!/usr/bin/env python3
"""split.py — split eval/questions.jsonl into tune.jsonl and report.jsonl.

Stratified by (kind, topic) and seeded: within each stratum the questions
are paired in the order they were written, and a random draw seeded by the
stratum and the pair's number sends one of each pair to tune and the other to
report. A stratum's odd last question goes to report until a partner is
written. So the split is reproducible, halves every stratum, and adding
questions at the end never moves a question out of tune.jsonl (the retrieval
work tunes on that half, so one of its questions reaching report.jsonl would
leak). Only an odd last question can move, and only from report to tune.

  python3 eval/split.py           # write both halves
  python3 eval/split.py --check   # exit 1 if the files differ from the split
"""
import argparse
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = "ragd-eval-14"


def split(questions, seed=SEED):
    """(tune, report): lists of the questions, each in the master order."""
    strata = {}
    for i, q in enumerate(questions):
        strata.setdefault((q["kind"], q["topic"]), []).append(i)
    to_tune = set()
    for (kind, topic), members in strata.items():
        for pair in range(len(members) // 2):
            draw = random.Random(f"{seed}:{kind}:{topic}:{pair}").random()
            first, second = members[2 * pair], members[2 * pair + 1]
            to_tune.add(first if draw < 0.5 else second)
    tune = [q for i, q in enumerate(questions) if i in to_tune]
    report = [q for i, q in enumerate(questions) if i not in to_tune]
    return tune, report


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def render(questions):
    return "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", default=HERE, help="folder of questions.jsonl (default: eval/)")
    p.add_argument("--check", action="store_true", help="verify instead of writing")
    args = p.parse_args()
    tune, report = split(read_jsonl(os.path.join(args.dir, "questions.jsonl")))
    wrong = []
    for name, half in (("tune.jsonl", tune), ("report.jsonl", report)):
        path = os.path.join(args.dir, name)
        if args.check:
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != render(half):
                        wrong.append(name)
            except FileNotFoundError:
                wrong.append(name)
        else:
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                f.write(render(half))
            os.replace(path + ".tmp", path)
    if wrong:
        print(f"split.py --check: {', '.join(wrong)} differ from the split of questions.jsonl; "
              "run python3 eval/split.py", file=sys.stderr)
        return 1
    if not args.check:
        print(f"tune.jsonl: {len(tune)} questions, report.jsonl: {len(report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
