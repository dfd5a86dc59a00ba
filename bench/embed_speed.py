"""Raw encoder throughput on a BEIR corpus's chunks against a whole index build, per backend.

    python bench/embed_speed.py ../shared/data/scifact [--backend torch --backend onnx ...]
                                [--limit N] [--build KIND ...] [--files] [--repeat R]

For each backend, side by side in one process (the machine is shared: compare
ratios measured in the same run, not absolute times across runs):
  raw     one plain encode pass over the chunk texts (as embedded: title prefix
          included), batch size 32, chunks already made;
  index   build_index over the same documents into a fresh folder (chunking,
          embedding, BM25, writing), once per --build KIND: pooled (one encoder
          pass over the chunks, sentence vectors pooled from it), sentences (one
          encoder pass over the sentences, chunk vectors pooled from it:
          Config.chunk_vectors="pooled"), encoded (sentence vectors in a second pass; also
          --encoded), and pooled-serial / encoded-serial / sentences-serial (the same without
          overlapping reading and chunking with embedding: build_index(overlap=False)).
--files writes the documents to a temporary folder of .txt files first and
builds from that folder, as `rag index FOLDER` does (reading included);
--build none times the raw pass only. --window N embeds N chunks at a time while
reading (default rag.build.builder.WINDOW, 2048: a small corpus has one window, so no overlap).
Backends are interleaved round by round (--repeat), so load changes hit all alike.
--peers also times, in each round, the setup of the RAG frameworks' quick starts: sentence-transformers
(torch, its defaults: batch 32, each document cut at the model's 256 word pieces) encodes every whole
document ("title\n\ntext") once, and the normalised vectors go into a flat FAISS inner-product index
(no chunking, no sentence vectors, no BM25, nothing written to disk); the model is loaded before timing,
as ours is.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.build import builder as build_mod  # noqa: E402
from rag.build.builder import _chunk, build_index, indexed_text  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.embed.embedder import Embedder  # noqa: E402
from rag.evaluation.datasets import load_beir  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--split", default="train")
    ap.add_argument("--backend", action="append")
    ap.add_argument("--limit", type=int, help="first N documents only")
    ap.add_argument("--encoded", action="store_true", help="also time the two-pass build")
    ap.add_argument("--build", action="append", choices=["none", "pooled", "encoded", "sentences", "pooled-serial",
                                                         "encoded-serial", "sentences-serial"])
    ap.add_argument("--files", action="store_true", help="build from a folder of .txt files")
    ap.add_argument("--window", type=int, help="chunks embedded together while reading (rag.build.builder.WINDOW)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--build-backend", action="append", help="build with these backends only (default: every "
                    "--backend; the others are timed raw only)")
    ap.add_argument("--raw-backend", action="append", help="time the raw encode with these backends only "
                    "(default: every --backend)")
    ap.add_argument("--peers", action="store_true", help="also time the frameworks' whole-document flat-index setup")
    args = ap.parse_args()
    ds = load_beir(Path(args.dataset), args.split)
    if args.window:
        build_mod.WINDOW = args.window
    docs = ds.documents[:args.limit] if args.limit else ds.documents
    base = Config()
    emb0 = Embedder(base.model)
    emb0.count_tokens("")   # load the model before timing the chunker
    t0 = time.perf_counter()
    fresh = _chunk(docs, base, emb0)
    t_chunk = time.perf_counter() - t0
    by_id = {d.id: d for d in docs}
    texts = [indexed_text(c, by_id[i].title, base) for i in sorted(fresh) for c in fresh[i][0]]
    n_sent = sum(len(fresh[i][1]) for i in fresh)
    print(f"{len(docs)} documents -> {len(texts)} chunks, {n_sent} sentences; chunking {t_chunk:.1f}s", flush=True)
    kinds = [k for k in (args.build or ["pooled"]) + (["encoded"] if args.encoded else []) if k != "none"]
    folder = tempfile.TemporaryDirectory() if args.files else None
    if folder:
        for n, d in enumerate(docs):
            (Path(folder.name) / f"{n:06d}.txt").write_text(f"{d.title}\n\n{d.text}", encoding="utf-8")
    for rnd in range(args.repeat):
        for backend in args.backend or ["torch"]:
            emb = Embedder(base.model, backend=backend)
            emb.encode(["warm up"])
            if args.raw_backend and backend not in args.raw_backend:
                raw, row = float("nan"), f"round {rnd + 1} {backend}: raw not timed"
            else:
                t0 = time.perf_counter()
                emb.encode(texts)
                raw = time.perf_counter() - t0
                row = f"round {rnd + 1} {backend}: raw {raw:.1f}s ({len(texts) / raw:.1f} chunks/s)"
            for kind in kinds if not args.build_backend or backend in args.build_backend else []:
                with tempfile.TemporaryDirectory() as tmp:
                    how = kind.split("-")[0]
                    config = dataclasses.replace(base, index_dir=Path(tmp) / "idx", backend=backend,
                                                 sentence_vectors="encoded" if how == "sentences" else how,
                                                 chunk_vectors="pooled" if how == "sentences" else "encoded",
                                                 corpus_dir=Path(folder.name) if folder else base.corpus_dir)
                    t0 = time.perf_counter()
                    build_index(config, embedder=emb, documents=None if folder else docs, progress=False,
                                overlap=not kind.endswith("-serial"))
                    took = time.perf_counter() - t0
                row += f"; index {kind} {took:.1f}s (raw/index {raw / took:.2f})"
            print(row, flush=True)
        if args.peers:
            print(f"round {rnd + 1} peers: {peers(docs):.1f}s (whole documents, torch, flat FAISS index)", flush=True)


def peers(docs) -> float:
    """Seconds for sentence-transformers to encode each whole document and a flat FAISS index to hold them."""
    import faiss
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from rag.embed.embedder import resolve_model

    model = SentenceTransformer(resolve_model(Config().model), device="cpu")
    model.encode(["warm up"])
    t0 = time.perf_counter()
    vecs = model.encode([f"{d.title}\n\n{d.text}" for d in docs], batch_size=32, normalize_embeddings=True)
    index = faiss.IndexFlatIP(vecs.shape[1])
    index.add(np.ascontiguousarray(vecs, dtype=np.float32))
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
