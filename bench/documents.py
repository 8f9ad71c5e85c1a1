#!/usr/bin/env python3
"""documents.py — the /documents benchmark (issue #12) against a running ragd
serve: writes/s of ~2 KB articles beside the encoder's own rate on the same
passages (POST /encode), write-to-visible latency p50/p99, and /ask throughput
while a writer adds 10 articles/s against read-only, all in one run so the
ratios compare figures taken under the same machine load.

    bench/documents.py URL CSV [SECONDS]   (bench/documents.sh starts the server)
"""
import csv, http.client, json, random, statistics, sys, threading, time, urllib.parse

url, csv_path = sys.argv[1], sys.argv[2]
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 10
host = urllib.parse.urlparse(url)
ASK_CLIENTS = 4


def conn():
    return http.client.HTTPConnection(host.hostname, host.port, timeout=120)


def call(c, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    c.request(method, path, data, {"Content-Type": "application/json"} if data else {})
    r = c.getresponse()
    payload = r.read()
    return r.status, json.loads(payload) if payload else None


# ~2 KB articles: corpus texts cut at a sentence end near 2048 bytes.
texts = []
with open(csv_path, encoding="cp1252", newline="") as f:
    for row in csv.DictReader(f):
        t = " ".join(row["Article"].split())
        if len(t) < 2048:
            continue
        cut = t.rfind(". ", 0, 2048)
        texts.append((row["Heading"].strip(), t[: cut + 1 if cut > 1500 else 2048]))
        if len(texts) >= 400:
            break
questions = [h for h, _ in texts[:200]]
seq = [0]
seq_lock = threading.Lock()


def next_article(word=""):
    with seq_lock:
        seq[0] += 1
        n = seq[0]
    heading, text = texts[n % len(texts)]
    return f"bench-{n}", {"heading": heading, "text": f"{word} {text}".strip(), "date": "2016-06-01",
                          "topic": "bench"}


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


# 1. writes/s, 2 writers (one per core), and the passages they encoded.
def writer_loop(stop, out):
    c = conn()
    while not stop.is_set():
        aid, body = next_article()
        st, ans = call(c, "PUT", f"/documents/{aid}", body)
        assert st == 200, (st, ans)
        out.append(ans["passages"])


stop, done = threading.Event(), []
ws = [threading.Thread(target=writer_loop, args=(stop, done)) for _ in range(2)]
t0 = time.time()
for w in ws: w.start()
time.sleep(seconds)
stop.set()
for w in ws: w.join()
elapsed = time.time() - t0
writes_s = len(done) / elapsed
passages_per_article = sum(done) / max(1, len(done))

# The encoder's own rate on the same kind of text: the articles' passages as
# ingest encodes them ("heading\npassage"), through POST /encode in batches.
c = conn()
sample = []
for i in range(16):
    aid = f"bench-{i + 1}"
    st, d = call(c, "GET", f"/documents/{aid}")
    if st == 200:
        sample += [d["heading"] + "\n" + p["text"] for p in d["passages"]]
n_enc, t0 = 0, time.time()
while time.time() - t0 < seconds / 2:
    st, _ = call(c, "POST", "/encode", {"texts": sample[:32]})
    assert st == 200
    n_enc += len(sample[:32])
encode_s = n_enc / (time.time() - t0)
share = writes_s * passages_per_article / encode_s

# 2. write-to-visible: from sending the PUT until a search on another
# connection finds the article's unique word (read-your-writes: the first try).
lat, tries = [], []
cw, cr = conn(), conn()
for i in range(40):
    word = f"zq{random.getrandbits(40):x}"
    aid, body = next_article(word)
    t = time.time()
    st, _ = call(cw, "PUT", f"/documents/{aid}", body)
    assert st == 200
    k = 0
    while True:
        k += 1
        st, a = call(cr, "POST", "/ask", {"question": word, "mode": "lexical", "top_k": 1})
        if st == 200 and a["sources"] and a["sources"][0]["article_id"] == aid:
            break
    lat.append(time.time() - t)
    tries.append(k)


# 3. /ask throughput read-only, then with a writer at 10 articles/s.
def ask_loop(stop, counter):
    c = conn()
    i = random.randrange(len(questions))
    while not stop.is_set():
        i += 1
        st, _ = call(c, "POST", "/ask", {"question": questions[i % len(questions)]})
        assert st == 200
        counter.append(1)


def paced_writer(stop, rate, out):
    c = conn()
    t_next = time.time()
    while not stop.is_set():
        aid, body = next_article()
        st, _ = call(c, "PUT", f"/documents/{aid}", body)
        assert st == 200
        out.append(1)
        t_next += 1 / rate
        time.sleep(max(0, t_next - time.time()))


def ask_rate(with_writer):
    stop, counter, written = threading.Event(), [], []
    ts = [threading.Thread(target=ask_loop, args=(stop, counter)) for _ in range(ASK_CLIENTS)]
    if with_writer:
        ts.append(threading.Thread(target=paced_writer, args=(stop, 10, written)))
    t0 = time.time()
    for t in ts: t.start()
    time.sleep(seconds)
    stop.set()
    for t in ts: t.join()
    dt = time.time() - t0
    return len(counter) / dt, len(written) / dt


ro, _ = ask_rate(False)
rw, wrate = ask_rate(True)

print(f"writes of ~2 KB articles: {writes_s:.1f}/s ({len(done)} in {elapsed:.1f} s, "
      f"{passages_per_article:.2f} passages each, 2 writers)")
print(f"encoder's own rate on those passages (/encode, 32 a call): {encode_s:.1f} passages/s; "
      f"writes use {100 * share:.0f}% of it")
print(f"write-to-visible: p50 {1000 * percentile(lat, 50):.0f} ms, p99 {1000 * percentile(lat, 99):.0f} ms "
      f"({len(lat)} writes; found on the first search {tries.count(1)}/{len(tries)} times)")
print(f"/ask read-only: {ro:.1f}/s; with a writer at {wrate:.1f} articles/s: {rw:.1f}/s = {100 * rw / ro:.0f}% "
      f"({ASK_CLIENTS} clients, hybrid, mock LLM)")
