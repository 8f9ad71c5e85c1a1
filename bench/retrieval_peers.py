#!/usr/bin/env python3
"""retrieval_peers.py — the eval set's questions against SQLite FTS5 and Xapian.

Two ordinary full-text engines as peers for `ragd eval`, on the same
questions and the same articles:
  - SQLite FTS5 (Python's sqlite3): one row per article, columns heading and
    article, tokenizer porter (over unicode61), ranked by bm25(heading 2.0,
    article 1.0); the question's words are ORed.
  - Xapian (Debian python3-xapian, installed here on first use): English
    Snowball stemmer (STEM_SOME), the heading indexed with wdf increment 2 and
    the body with 1 in the same field, BM25Weight with Xapian's defaults; the
    question is parsed as plain words, ORed.
Neither gets stopwords (their defaults have none). Articles are indexed as
ragd stores them: a text that repeats an earlier article's is indexed once,
under the first id; markup left in the corpus is stripped and entities decoded
(a regex stand-in for ragd's clean_text). Ids are ragd's (eval/corpus_ids.py).

R@1, R@5, R@10, MRR@10 and nDCG@10 per kind and overall, as eval/README.md
defines them (eval/metrics.py).

  python3 bench/retrieval_peers.py eval/tune.jsonl eval/report.jsonl [--json]
"""
import argparse
import html
import json
import os
import re
import sqlite3
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "eval"))
import corpus_ids  # noqa: E402
import metrics  # noqa: E402

TOP = 10
HEADING_WEIGHT = 2

TAG = re.compile(r"<[^<>]{0,300}>")
# Damaged tags the corpus kept: "</strongThe", "today.strong>", ' dir="ltr" lang="en">', "./>"
BROKEN = re.compile(r"</?(?:strong|span|em|div|p|br|a|b|i|img|h\d)(?=[A-Z\s]|$)"
                    r"|\b(?:strong|span|em|div|p|br|a|b|i)/?>"
                    r"|(?:\s*[a-z-]+=\"[^\"]*\")+\s*/?>"
                    r"|/>")


def clean(text):
    text = TAG.sub(" ", text)
    text = BROKEN.sub(" ", text)
    text = html.unescape(text).replace("\u00b4", "'")
    return " ".join(text.split())


def load_questions(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def stored_articles(csv_path):
    """(id, heading, body) for each distinct text, under its first id, like ragd."""
    return [(a["id"], clean(a["heading"]), clean(a["article"]))
            for a in corpus_ids.load(csv_path) if not a["repeated"]]


class Fts5:
    name = "SQLite FTS5 (porter, bm25 heading 2.0)"

    def __init__(self, articles):
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, heading, article, "
                        "tokenize='porter')")
        self.db.executemany("INSERT INTO docs VALUES (?, ?, ?)", articles)

    def search(self, question):
        words = sorted(set(re.findall(r"\w+", question.lower())))
        if not words:
            return []
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = self.db.execute(
            f"SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 0.0, {HEADING_WEIGHT}.0, 1.0) "
            "LIMIT ?", (match, TOP)).fetchall()
        return [r[0] for r in rows]


def import_xapian():
    """The xapian module, installing Debian's python3-xapian first if it is missing.
    Debian's module is built for /usr/bin/python3: under another interpreter
    (a pyenv shim) that cannot load it, rerun this script with that one."""
    try:
        import xapian
        return xapian
    except ImportError:
        pass
    installed = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "python3-xapian"],
                               capture_output=True, text=True).stdout
    if "install ok installed" not in installed:
        # The peer's package (not a test dependency, so not in scripts/packages.txt).
        print("installing python3-xapian ...", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-qq", "python3-xapian"], check=True,
                       stdout=subprocess.DEVNULL,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import xapian
        return xapian
    except ImportError:
        if os.path.realpath(sys.executable) == os.path.realpath("/usr/bin/python3"):
            raise
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)


class Xapian:
    def __init__(self, articles):
        xapian = self.xapian = import_xapian()
        self.name = f"Xapian {xapian.version_string()} (BM25, English stemmer, heading wdf x2)"
        self.db = xapian.WritableDatabase("", xapian.DB_BACKEND_INMEMORY)
        tg = xapian.TermGenerator()
        tg.set_stemmer(xapian.Stem("english"))
        tg.set_stemming_strategy(xapian.TermGenerator.STEM_SOME)
        for article_id, heading, body in articles:
            doc = xapian.Document()
            tg.set_document(doc)
            tg.index_text(heading, HEADING_WEIGHT)
            tg.increase_termpos()
            tg.index_text(body)
            doc.set_data(article_id)
            self.db.add_document(doc)
        self.qp = xapian.QueryParser()
        self.qp.set_stemmer(xapian.Stem("english"))
        self.qp.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
        self.qp.set_default_op(xapian.Query.OP_OR)
        self.qp.set_database(self.db)
        self.enquire = xapian.Enquire(self.db)
        self.enquire.set_weighting_scheme(xapian.BM25Weight())

    def search(self, question):
        self.enquire.set_query(self.qp.parse_query(question, 0))
        return [m.document.get_data().decode() for m in self.enquire.get_mset(0, TOP)]


def evaluate(engine, questions):
    per_question = [(q.get("kind", "all"), metrics.target_rank(engine.search(q["question"]),
                                                               q["article_id"]))
                    for q in questions]
    return metrics.summarise(per_question)


def print_table(results, engines):
    print("| qrels | engine | kind | n | " + " | ".join(metrics.NAMES) + " |")
    print("| --- | --- | --- | --- | " + " | ".join("---" for _ in metrics.NAMES) + " |")
    for qrels, per_engine in results.items():
        for engine, groups in per_engine.items():
            for kind in sorted(groups, key=lambda g: (g == "all", g)):
                g = groups[kind]
                print(f"| {qrels} | {engines[engine].name} | {kind} | {g['n']} | "
                      + " | ".join(f"{g[m]:.3f}" for m in metrics.NAMES) + " |")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("qrels", nargs="+", help="JSONL files of {question, article_id, kind}")
    p.add_argument("--csv", default=None, help="Articles.csv (default: ../shared/data/news-articles)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--engines", default="fts5,xapian", help="comma-separated: fts5, xapian")
    args = p.parse_args()
    articles = stored_articles(args.csv)
    makers = {"fts5": Fts5, "xapian": Xapian}
    unknown = [e for e in args.engines.split(",") if e.strip() not in makers]
    if unknown:
        p.error(f"unknown engine {unknown[0]!r}: choose from {', '.join(makers)}")
    engines = {e.strip(): makers[e.strip()](articles) for e in args.engines.split(",")}
    results = {}
    for path in args.qrels:
        questions = load_questions(path)
        results[os.path.basename(path)] = {key: evaluate(e, questions) for key, e in engines.items()}
    if args.json:
        json.dump({"articles": len(articles), "top": TOP,
                   "engines": {key: e.name for key, e in engines.items()}, "results": results},
                  sys.stdout, indent=1)
        print()
    else:
        print(f"{len(articles)} articles indexed (repeated texts once); ranks over the top {TOP}\n")
        print_table(results, engines)


if __name__ == "__main__":
    main()
