"""Time a local build against a Ray build (rag.embed.ray_cluster) of the same corpora, side by side.

    PYTHONPATH=. python bench/ray_build.py [--scifact ../shared/data/scifact --limit 300]
        [--address ADDR] [--actors N] [--sentence-vectors encoded|pooled] [--ray-first]

Corpora: the seed folder, and the first --limit SciFact abstracts when --scifact is given.
Ray: a cluster at --address, else one started here (ray.init, usage statistics off) and
kept for all builds; its start time is printed apart. The local model is loaded before
timing; a Ray build's time includes starting its actors (each loads the model). Prints
seconds per build and the largest difference between the two builds' vectors.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
from rag import Config  # noqa: E402
from rag.build.builder import build_index  # noqa: E402
from rag.embed.embedder import Embedder  # noqa: E402
from rag.embed.ray_cluster import RayEmbedder, require_ray  # noqa: E402
from rag.evaluation.datasets import load_beir  # noqa: E402
from rag.storage.writer import load  # noqa: E402


def build(config, embedder, documents):
    t0 = time.perf_counter()
    report = build_index(config, embedder=embedder, documents=documents, rebuild=True, progress=False)
    return time.perf_counter() - t0, report


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="seeds")
    ap.add_argument("--scifact")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--address")
    ap.add_argument("--actors", type=int)
    ap.add_argument("--sentence-vectors", default="encoded", choices=("encoded", "pooled"))
    ap.add_argument("--ray-first", action="store_true", help="build with Ray before the local build")
    args = ap.parse_args()
    ray = require_ray()
    t0 = time.perf_counter()
    ray.init(address=args.address, **({} if args.address else {"include_dashboard": False}),
             logging_level="ERROR", log_to_driver=False,
             runtime_env={"py_modules": [str(Path("rag").resolve())]})
    print(f"ray cluster {'connected' if args.address else 'started'} in {time.perf_counter() - t0:.1f}s: "
          f"{ray.cluster_resources().get('CPU', 0):.0f} CPUs, {ray.cluster_resources().get('GPU', 0):.0f} GPUs")
    corpora = [("seeds", Path(args.seeds), None)]
    if args.scifact:
        docs = load_beir(Path(args.scifact), split="train").documents[:args.limit]
        corpora.append((f"scifact[:{len(docs)}]", Path(args.scifact), docs))
    local = Embedder()
    local.count_tokens("")   # model loaded before timing
    remote = RayEmbedder(local.name, address=args.address, actors=args.actors)
    print(f"{'corpus':<16} {'chunks':>6} {'texts':>6} {'local s':>8} {'ray s':>8} {'ratio':>6} {'max |diff|':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, corpus, docs in corpora:
            out = {}
            for kind, emb in (("ray", remote), ("local", local)) if args.ray_first else (("local", local), ("ray", remote)):
                config = Config(corpus_dir=corpus, index_dir=Path(tmp) / f"{name}-{kind}",
                                sentence_vectors=args.sentence_vectors)
                out[kind] = build(config, emb, docs) + (load(config.index_dir),)
            (ts_l, rep, a), (ts_r, _, b) = out["local"], out["ray"]
            diff = max(float(np.abs(a.chunk_vecs - b.chunk_vecs).max()),
                       float(np.abs(np.asarray(a.sentence_vecs) - np.asarray(b.sentence_vecs)).max()))
            texts = rep.chunks + (rep.sentences if args.sentence_vectors == "encoded" else 0)
            print(f"{name:<16} {rep.chunks:>6} {texts:>6} {ts_l:>8.1f} {ts_r:>8.1f} {ts_r / ts_l:>6.2f} {diff:>10.1e}")
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
