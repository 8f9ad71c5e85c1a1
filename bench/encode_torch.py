#!/usr/bin/python3
"""encode_torch — the PyTorch peer of bench/encode (the engine the Python
system ran on: SentenceTransformer over PyTorch, here Debian's python3-torch
with OpenBLAS, 2 threads).

The model is BERT as transformers' BertModel computes it, written out in a
few lines (transformers is not a Debian package), with sentence-transformers'
mean pooling and L2 normalisation; weights come from model.safetensors read
with the standard library and numpy (python3-safetensors is not packaged).
--check compares its vectors with ../shared/reference (cosine), so the peer
provably runs the same model as ragd.

It reads the inputs bench_encode wrote and follows the same protocol,
printing RESULT/LATENCY lines (see bench/encode.c). Batches are padded to
their longest sequence with an attention mask, as the Python system did.

    encode_torch.py MODEL_DIR INPUTS.jsonl [--seconds S] [--threads N] [--check REF.jsonl]
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "I64": np.int64}


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        begin, end = t["data_offsets"]
        dt = np.dtype(DTYPES[t["dtype"]])
        arr = np.frombuffer(data, dtype=dt, count=(end - begin) // dt.itemsize, offset=base + begin)
        tensors[name] = torch.from_numpy(arr.reshape(t["shape"]).copy())
    return tensors


class MiniLM(torch.nn.Module):
    """BertModel + mean pooling + normalisation (sentence-transformers)."""

    def __init__(self, model_dir):
        super().__init__()
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        self.layers = cfg["num_hidden_layers"]
        self.hidden = cfg["hidden_size"]
        self.heads = cfg["num_attention_heads"]
        self.eps = cfg["layer_norm_eps"]
        w = load_safetensors(os.path.join(model_dir, "model.safetensors"))
        for name, t in w.items():
            if t.dtype == torch.float32:
                self.register_buffer(name.replace(".", "_"), t)

    def p(self, name):
        return getattr(self, name.replace(".", "_"))

    def forward(self, ids, mask):
        B, L = ids.shape
        H, nh = self.hidden, self.heads
        dh = H // nh
        pos = torch.arange(L, device=ids.device)
        x = (
            F.embedding(ids, self.p("embeddings.word_embeddings.weight"))
            + F.embedding(pos, self.p("embeddings.position_embeddings.weight"))[None]
            + self.p("embeddings.token_type_embeddings.weight")[0]
        )
        x = F.layer_norm(x, (H,), self.p("embeddings.LayerNorm.weight"), self.p("embeddings.LayerNorm.bias"), self.eps)
        maskf = mask.to(x.dtype)
        ext = (1.0 - maskf[:, None, None, :]) * torch.finfo(x.dtype).min
        for l in range(self.layers):
            pre = "encoder.layer.%d." % l

            def lin(h, name):
                return F.linear(h, self.p(pre + name + ".weight"), self.p(pre + name + ".bias"))

            q = lin(x, "attention.self.query").view(B, L, nh, dh).transpose(1, 2)
            k = lin(x, "attention.self.key").view(B, L, nh, dh).transpose(1, 2)
            v = lin(x, "attention.self.value").view(B, L, nh, dh).transpose(1, 2)
            s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh) + ext
            c = torch.matmul(s.softmax(-1), v).transpose(1, 2).reshape(B, L, H)
            x = F.layer_norm(
                lin(c, "attention.output.dense") + x, (H,),
                self.p(pre + "attention.output.LayerNorm.weight"), self.p(pre + "attention.output.LayerNorm.bias"), self.eps,
            )
            h = F.gelu(lin(x, "intermediate.dense"))
            x = F.layer_norm(
                lin(h, "output.dense") + x, (H,),
                self.p(pre + "output.LayerNorm.weight"), self.p(pre + "output.LayerNorm.bias"), self.eps,
            )
        m = maskf[..., None]
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, p=2, dim=1)


def read_inputs(path):
    sets = {}
    with open(path) as f:
        for line in f:
            c = json.loads(line)
            sets.setdefault(c["set"], []).append(c["ids"])
    return sets


def pad(batch):
    L = max(len(s) for s in batch)
    ids = torch.zeros(len(batch), L, dtype=torch.int64)
    mask = torch.zeros(len(batch), L, dtype=torch.int64)
    for i, s in enumerate(batch):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("inputs")
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--check", help="reference embeddings.jsonl: print the worst cosine of the peer")
    ap.add_argument("--engine", default="torch")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = MiniLM(a.model_dir).eval()
    sets = read_inputs(a.inputs)
    engine = a.engine

    with torch.inference_mode():
        def run(batch):
            ids, mask = pad(batch)
            return model(ids, mask)

        if a.check:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            refs = [json.loads(l) for l in open(a.check)]
            tok = os.path.join(os.path.dirname(a.check), "tokens.jsonl")
            ids = {json.loads(l)["text"]: json.loads(l)["ids"] for l in open(tok)}
            worst = 1.0
            for r in refs:
                v = run([ids[r["text"]]])[0]
                ref = torch.tensor(r["embedding"])
                worst = min(worst, float(F.cosine_similarity(v, ref, dim=0)))
            print("CHECK %s worst cosine %.7f over %d cases" % (engine, worst, len(refs)), flush=True)

        def measure(name, bs):
            data = sets[name]
            run([data[i % len(data)] for i in range(min(bs, 8))])  # warm-up
            sentences = tokens = start = 0
            t0 = time.perf_counter()
            while True:
                batch = [data[(start + i) % len(data)] for i in range(bs)]
                run(batch)
                start += bs
                sentences += bs
                tokens += sum(len(s) for s in batch)
                t = time.perf_counter() - t0
                if t >= a.seconds:
                    break
            print("RESULT %s %s %d %d %d %.6f" % (engine, name, bs, sentences, tokens, t), flush=True)

        q = sets["query"][:1]
        for _ in range(10):
            run(q)
        times = []
        for _ in range(100):
            t0 = time.perf_counter()
            run(q)
            times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        print("LATENCY %s query %.4f %d" % (engine, times[len(times) // 2], len(q[0])), flush=True)
        measure("h13", 32)
        for name in ("headings", "passages"):
            for bs in (1, 8, 32, 128):
                measure(name, bs)


if __name__ == "__main__":
    main()
