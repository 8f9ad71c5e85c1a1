#!/usr/bin/python3
"""export_onnx — the ONNX Runtime peer's model: the same MiniLM module that
bench/encode_torch.py runs (BERT + mean pooling + normalisation), exported
with torch.onnx.export from the same model.safetensors, with dynamic batch
and sequence axes. Inputs input_ids and attention_mask (int64 [B, L]),
output embeddings (float [B, 384]).

    export_onnx.py MODEL_DIR OUT.onnx
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from encode_torch import MiniLM  # noqa: E402


def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    model = MiniLM(model_dir).eval()
    ids = torch.tensor([[101, 7592, 1010, 2088, 999, 102]], dtype=torch.int64)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        torch.onnx.export(
            model, (ids, mask), out,
            input_names=["input_ids", "attention_mask"],
            output_names=["embeddings"],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "embeddings": {0: "batch"}},
            opset_version=14,
        )
    print("wrote", out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
