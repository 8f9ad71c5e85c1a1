"""corpus_ids — the articles of Articles.csv under the ids ragd gives them.

Shared by the eval set's check, its sampler and bench/retrieval_peers.py so
all three agree with src/ingest: an article's id is its 0-based data record
number, header excluded (csv_reader.c counts malformed rows too, and
corpus.c then skips them; the corpus has none, every record has 4 fields).
ragd stores a repeated article text once, under the first article's id, so
`repeated` marks every later copy and `text_count` lets callers avoid texts
that occur more than once at all.
"""
import collections
import csv
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CSV = os.path.normpath(
    os.path.join(HERE, "..", "..", "shared", "data", "news-articles", "Articles.csv"))


def csv_path():
    return os.environ.get("RAGD_CORPUS_CSV", DEFAULT_CSV)


def load(path=None):
    """A list of dicts: id, heading, article, date, topic, repeated."""
    with open(path or csv_path(), encoding="cp1252", newline="") as f:
        rows = list(csv.reader(f))
    header = [h.strip() for h in rows[0]]
    col = {name: header.index(name) for name in ("Article", "Date", "Heading", "NewsType")}
    articles = []
    first_of_text = {}
    for index, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise ValueError(f"record {index} has {len(row)} fields, the header {len(header)}: "
                             "ragd would skip it but keep counting, update this reader")
        text = row[col["Article"]]
        articles.append({
            "id": str(index),
            "heading": row[col["Heading"]],
            "article": text,
            "date": row[col["Date"]],
            "topic": row[col["NewsType"]].strip().lower(),
            "repeated": text in first_of_text,
        })
        first_of_text.setdefault(text, index)
    counts = collections.Counter(a["article"] for a in articles)
    for a in articles:
        a["text_count"] = counts[a["article"]]
    return articles
