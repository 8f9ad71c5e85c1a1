#!/usr/bin/python3
"""FAISS peers of bench_search on the same vector files, and the comparison.

Reads DIR/base.f32, DIR/queries.f32 (uint32 n, uint32 dim, float32 data) and
the exact top-10 ground truth DIR/gt.u32 written by `bench_search run`; times
IndexFlatIP and IndexHNSWFlat (M=16, efConstruction=100, inner product: the
store's parameters) one query per call on one thread, as ragd searches; then
prints both sides from DIR/ragd.json with ratios (ragd / FAISS)."""
import json
import os
import sys
import time

import faiss
import numpy as np

K = 10


def load(path):
    with open(path, "rb") as f:
        n, dim = np.frombuffer(f.read(8), dtype=np.uint32)
        return np.fromfile(f, dtype=np.float32, count=int(n) * int(dim)).reshape(int(n), int(dim))


def run_queries(index, q, limit=None):
    nq = len(q) if limit is None else min(limit, len(q))
    out = np.empty((nq, K), dtype=np.int64)
    t0 = time.process_time()  # CPU time: robust to other jobs on a shared machine
    for i in range(nq):
        _, ids = index.search(q[i:i + 1], K)
        out[i] = ids[0]
    return out, nq / (time.process_time() - t0)


def recall(gt, got):
    n = len(got)
    return sum(len(set(gt[i]) & set(got[i])) for i in range(n)) / (n * K)


def main():
    d = sys.argv[1]
    efs = [int(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "16,32,64,128,256").split(",")]
    faiss.omp_set_num_threads(1)  # one query, one thread: as the store searches
    base, q = load(f"{d}/base.f32"), load(f"{d}/queries.f32")
    gt = np.fromfile(f"{d}/gt.u32", dtype=np.uint32).reshape(-1, K)
    ragd = json.load(open(f"{d}/ragd.json"))
    n, dim = base.shape

    flat = faiss.IndexFlatIP(dim)
    flat.add(base)
    # At 1 M one FAISS flat query costs ~0.5 CPU s here: time the first 50
    # (a rate per CPU second, comparable with ragd's over its first queries).
    flat_n = ragd["exact"]["queries"] if n < 500000 else min(50, ragd["exact"]["queries"])
    got, flat_qps = run_queries(flat, q, flat_n)
    flat_recall = recall(gt, got)

    fh = []
    hnsw_build = hnsw_build_cpu = float("nan")
    if os.environ.get("SKIP_FAISS_HNSW"):
        efs = []
    else:
        faiss.omp_set_num_threads(2)  # build on both cores, as ragd's commit does
        t0, c0 = time.perf_counter(), time.process_time()
        hnsw = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 100
        hnsw.add(base)
        hnsw_build, hnsw_build_cpu = time.perf_counter() - t0, time.process_time() - c0
        faiss.omp_set_num_threads(1)
    for ef in efs:
        hnsw.hnsw.efSearch = ef
        got, qps = run_queries(hnsw, q)
        fh.append({"ef": ef, "recall": recall(gt, got), "qps": qps})

    print(f"\n{n} vectors x {dim} (synthetic clustered unit vectors), {len(q)} queries, k={K}, "
          f"one query per call, one thread, QPS per CPU second; ragd SIMD: {ragd['simd']}, FAISS {faiss.__version__}")
    print(f"{'':26}{'ragd':>14}{'FAISS':>14}{'ragd/FAISS':>12}")
    print(f"{'exact QPS':26}{ragd['exact']['qps']:>14.1f}{flat_qps:>14.1f}"
          f"{ragd['exact']['qps'] / flat_qps:>12.2f}")
    print(f"{'exact recall vs gt':26}{1.0:>14.4f}{flat_recall:>14.4f}")
    print(f"{'build wall s (2 threads)':26}{ragd['build_s']:>14.1f}{hnsw_build:>14.1f}"
          f"{ragd['build_s'] / hnsw_build:>12.2f}   (ragd: log + commit + HNSW + files)")
    print(f"{'build CPU s':26}{ragd['commit_cpu_s']:>14.1f}{hnsw_build_cpu:>14.1f}"
          f"{ragd['commit_cpu_s'] / hnsw_build_cpu:>12.2f}")
    for r in ragd["hnsw"]:
        if not fh:
            print(f"HNSW ef={r['ef']:<4} recall@10   {r['recall']:>14.4f}{'-':>14}")
            print(f"HNSW ef={r['ef']:<4} QPS         {r['qps']:>14.0f}{'-':>14}")
            continue
        f = next(x for x in fh if x["ef"] == r["ef"])
        print(f"HNSW ef={r['ef']:<4} recall@10   {r['recall']:>14.4f}{f['recall']:>14.4f}")
        print(f"HNSW ef={r['ef']:<4} QPS         {r['qps']:>14.0f}{f['qps']:>14.0f}"
              f"{r['qps'] / f['qps']:>12.2f}")

    def best(rows):
        ok = [x for x in rows if x["recall"] >= 0.95]
        return max(ok, key=lambda x: x["qps"]) if ok else None

    br, bf = best(ragd["hnsw"]), best(fh)
    if not fh:
        print("FAISS HNSW skipped (SKIP_FAISS_HNSW): its build is too slow at this size here")
    elif br and bf:
        print(f"HNSW fastest at recall@10 >= 0.95: ragd ef={br['ef']} {br['qps']:.0f} QPS "
              f"(recall {br['recall']:.4f}) vs FAISS ef={bf['ef']} {bf['qps']:.0f} QPS "
              f"(recall {bf['recall']:.4f}): ratio {br['qps'] / bf['qps']:.2f}")
    else:
        print("HNSW: a side never reached recall@10 >= 0.95 at these ef values")


if __name__ == "__main__":
    main()
