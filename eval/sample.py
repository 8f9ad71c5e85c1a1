#!/usr/bin/env python3
"""sample.py — print articles to read when writing eval questions.

The eval set's questions were written by hand from articles this script
picked: a seeded shuffle of the corpus per topic, leaving out any article
whose text or heading occurs more than once (ragd keeps one copy of a
repeated text, and a repeated heading means two versions of one story, so
the answer would not be unique). --long picks articles over 2500 characters
and marks where their second half starts (deep_fact questions come from
after that mark). It only shows articles; it writes no question.

  python3 eval/sample.py --topic sports --long --start 0 --count 5
"""
import argparse
import collections
import random

import corpus_ids

LONG = 2500


def candidates(articles, topic, long_only, seed):
    headings = collections.Counter(a["heading"].strip().lower() for a in articles)
    pool = [a for a in articles
            if a["topic"] == topic and a["text_count"] == 1
            and headings[a["heading"].strip().lower()] == 1
            and (len(a["article"]) > LONG) == long_only]
    random.Random(f"{seed}:{topic}:{long_only}").shuffle(pool)
    return pool


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--topic", choices=("business", "sports"), required=True)
    p.add_argument("--long", action="store_true", help="articles over 2500 characters")
    p.add_argument("--seed", default="14")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--count", type=int, default=5)
    args = p.parse_args()
    pool = candidates(corpus_ids.load(), args.topic, args.long, args.seed)
    for a in pool[args.start:args.start + args.count]:
        text = a["article"]
        print(f"=== id {a['id']} | {a['date']} | {a['topic']} | {len(text)} chars")
        print(f"HEADING: {a['heading']}")
        if args.long:
            half = len(text) // 2
            print(text[:half] + "\n--- second half ---\n" + text[half:])
        else:
            print(text)
        print()


if __name__ == "__main__":
    main()
