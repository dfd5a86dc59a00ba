"""Raw encoder throughput on a BEIR corpus's chunks, against which `rag index` is judged.

    python bench/embed_speed.py ../shared/data/scifact [--backend torch|onnx|onnx-int8] [--limit N]

Chunks the corpus exactly as `rag index` does (rag.build), then times one plain
encode pass over the chunk texts (as embedded: title prefix included) with the
chosen backend, batch size 32. Prints chunking time, encode time and chunks/s.
The machine is shared: compare figures measured side by side in one run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.build import _chunk, indexed_text  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.datasets import load_beir  # noqa: E402
from rag.embed import Embedder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--split", default="train")
    ap.add_argument("--backend", action="append")
    ap.add_argument("--limit", type=int, help="first N documents only")
    args = ap.parse_args()
    ds = load_beir(Path(args.dataset), args.split)
    docs = ds.documents[:args.limit] if args.limit else ds.documents
    config = Config()
    for backend in args.backend or ["torch"]:
        kwargs = {} if backend == "torch" else {"backend": backend}
        emb = Embedder(config.model, **kwargs)
        emb.encode(["warm up"], progress=False)
        t0 = time.perf_counter()
        fresh = _chunk(docs, config, emb)
        t_chunk = time.perf_counter() - t0
        by_id = {d.id: d for d in docs}
        texts = [indexed_text(c, by_id[i].title, config) for i in sorted(fresh) for c in fresh[i][0]]
        n_sent = sum(len(fresh[i][1]) for i in fresh)
        t0 = time.perf_counter()
        emb.encode(texts, progress=False)
        t_enc = time.perf_counter() - t0
        print(f"{backend}: {len(docs)} documents, {len(texts)} chunks, {n_sent} sentences; "
              f"chunking {t_chunk:.1f}s; encode {t_enc:.1f}s = {len(texts) / t_enc:.1f} chunks/s", flush=True)


if __name__ == "__main__":
    main()
