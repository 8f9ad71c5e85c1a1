"""Locust load test for ragd's POST /ask (as the Python system had one).

    locust -f locust/locustfile.py --host http://127.0.0.1:8000
    locust -f locust/locustfile.py --host http://127.0.0.1:8000 --headless -u 50 -r 10 -t 1m

Each simulated user asks random questions — corpus headings when the corpus
CSV is found (RAGD_CSV, else ../shared/data/news-articles/Articles.csv from
the repository), otherwise a built-in list — sometimes limited to a topic,
mostly as a JSON answer and sometimes as a Server-Sent Events stream read to
its `done` event.

Environment:
  RAGD_CSV              corpus CSV to take questions from
  RAGD_API_KEY          sent as "Authorization: Bearer …" when the server wants one
  LOCUST_WAIT_MIN/MAX   seconds a user waits between questions (default 1 and 3;
                        0 and 0 for a throughput test, as bench/ask.sh does)
  LOCUST_STREAM_WEIGHT  weight of the streaming task against 4 for JSON (default 1;
                        0 to ask for JSON only)
"""
import csv
import json
import os
import random

from locust import HttpUser, between, constant, task

HERE = os.path.dirname(os.path.abspath(__file__))
FALLBACK_QUESTIONS = [
    "What happened to oil prices?",
    "Who won the cricket match?",
    "How did the stock market close?",
    "What did the central bank decide about interest rates?",
    "Which team won the football final?",
    "What is the government's budget plan?",
    "How is the rupee doing against the dollar?",
    "Who was injured before the series?",
]


def load_questions():
    path = os.environ.get("RAGD_CSV") or os.path.join(
        HERE, "..", "..", "shared", "data", "news-articles", "Articles.csv")
    try:
        with open(path, encoding="cp1252", newline="") as f:
            heads = [row["Heading"].strip() for row in csv.DictReader(f)]
        heads = [h for h in heads if h]
        if heads:
            return heads
    except (OSError, KeyError, csv.Error):
        pass
    return FALLBACK_QUESTIONS


QUESTIONS = load_questions()
TOPICS = [None, None, "business", "sports"]
WAIT_MIN = float(os.environ.get("LOCUST_WAIT_MIN", "1"))
WAIT_MAX = float(os.environ.get("LOCUST_WAIT_MAX", "3"))
STREAM_WEIGHT = int(os.environ.get("LOCUST_STREAM_WEIGHT", "1"))


class AskUser(HttpUser):
    wait_time = constant(0) if WAIT_MAX <= 0 else between(WAIT_MIN, WAIT_MAX)

    def on_start(self):
        self.headers = {"Content-Type": "application/json"}
        key = os.environ.get("RAGD_API_KEY")
        if key:
            self.headers["Authorization"] = "Bearer " + key

    def body(self):
        return json.dumps({"question": random.choice(QUESTIONS),
                           "topic": random.choice(TOPICS),
                           "top_k": 5})

    @task(4)
    def ask(self):
        with self.client.post("/ask", data=self.body(), headers=self.headers,
                              name="/ask", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}: {r.text[:200]}")
                return
            try:
                doc = r.json()
            except ValueError:
                r.failure("answer is not JSON")
                return
            if not isinstance(doc.get("answer"), str) or not isinstance(doc.get("sources"), list):
                r.failure("answer lacks 'answer' or 'sources'")

    @task(STREAM_WEIGHT)
    def ask_stream(self):
        headers = dict(self.headers, Accept="text/event-stream")
        with self.client.post("/ask", data=self.body(), headers=headers, stream=True,
                              name="/ask (stream)", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
                return
            events = [line[7:] for line in r.iter_lines(decode_unicode=True)
                      if line and line.startswith("event: ")]
            if not events or events[0] != "sources" or events[-1] != "done":
                r.failure(f"unexpected event order: {events[:3]}…{events[-1:]}")
