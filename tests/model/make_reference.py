#!/usr/bin/python3
"""Make tests/model/reference_controls.jsonl: PyTorch's token ids and vectors
for texts with NUL, other C0 controls, DEL and lone combining marks, computed
on the random-weight twin by the Python system's reference encoder
(../shared/peers/python-system/minilm_torch.py). test_encoder checks ragd's
encoder against these lines (same ids, cosine >= 0.9999).

Test-generation only: needs Debian's python3-torch (not a build dependency).
Run from the repository root:  /usr/bin/python3 tests/model/make_reference.py
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("RAGD_SHARED_DIR", os.path.join(HERE, "..", "..", "..", "shared"))
sys.path.insert(0, os.path.join(SHARED, "peers", "python-system"))
import minilm_torch  # noqa: E402

TEXTS = [
    "\u0000",
    "a\u0000b",
    "\u0000leading and trailing\u0000",
    "control\u0007char\u0000nul",
    "bell\u0007 tab\t newline\n return\r escape\u001b del\u007f",
    "".join(chr(c) for c in range(0x00, 0x20)) + "all C0 controls",
    "unit\u001fseparator\u001erecord\u001dgroup\u001cfile",
    "\u0301",
    "\u0301\u0302\u0303",
    " \u0301 lone acute after a space",
    "\u0301starts with a combining mark",
    "cafe\u0301 and cafe\u0301\u0000s",
    "a\u0000\u0301b",
    "na\u0308ive \u0000 co\u0327a\u0000",
    "\u200bzero\u200bwidth\u0000space",
    "\ufeffbyte order mark\u0000",
    "x\u0085next line\u00a0nbsp",
    "NUL\u0000in\u0000every\u0000gap\u0000of\u0000a\u0000longer\u0000sentence about markets and rates",
]

def main():
    model_dir = os.path.join(SHARED, "models", "minilm-l6-h384-random")
    enc = minilm_torch.Encoder(model_dir, threads=2)
    vectors, ids = enc(TEXTS)
    out_path = os.path.join(HERE, "reference_controls.jsonl")
    with open(out_path, "w", encoding="utf-8") as f:
        for text, vec, seq in zip(TEXTS, vectors, ids):
            line = {"text": text, "ids": seq, "embedding": [round(float(x), 7) for x in vec]}
            f.write(json.dumps(line, ensure_ascii=True) + "\n")
    print(f"{len(TEXTS)} cases -> {out_path}")

if __name__ == "__main__":
    main()
