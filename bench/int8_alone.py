"""int8 with each text run alone (the default) against the batch in one call, side by side in one process.

    PYTHONPATH=. .venv/bin/python bench/int8_alone.py ../shared/data/scifact --limit 300

Prints raw encode seconds of the first LIMIT abstracts (first 600 characters) and of their first 4*LIMIT
sentences for both, and the largest cosine change of a text's vector between its batch and alone."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from rag.embed.embedder import Embedder, offline_env
from rag.embed.onnx import onnx_forward
from rag.embed.embedder import resolve_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="a BEIR-layout folder (corpus.jsonl)")
    ap.add_argument("--limit", type=int, default=300)
    args = ap.parse_args()
    offline_env()
    texts = []
    with open(args.folder / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            texts.append(json.loads(line)["text"][:600])
            if len(texts) >= args.limit:
                break
    sents = [s for t in texts for s in t.split(". ") if s.strip()][:4 * args.limit]
    out = {}
    for name, alone in (("batched", False), ("alone", True)):
        e = Embedder(backend="onnx-int8")
        fwd = onnx_forward(e.model, resolve_model(e.name), "onnx-int8", alone=alone)
        e.forward = lambda fwd=fwd: fwd
        e.encode(["warm up"])
        t = time.perf_counter()
        a = e.encode(texts)
        t1 = time.perf_counter() - t
        t = time.perf_counter()
        b = e.encode(sents)
        t2 = time.perf_counter() - t
        out[name] = (a, b)
        print(f"{name:8s} {len(texts)} chunks {t1:6.1f} s   {len(sents)} sentences {t2:6.1f} s   total {t1 + t2:6.1f} s")
    cos = np.sum(out["batched"][1] * out["alone"][1], axis=1)
    print(f"sentence vectors, batched vs alone: cosine min {cos.min():.4f} mean {cos.mean():.4f}")


if __name__ == "__main__":
    main()
