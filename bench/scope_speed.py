"""Scoped against unscoped question time, side by side (not a test).

    PYTHONPATH=. python bench/scope_speed.py ../shared/data/scifact [--copies 4] [--queries 200] [--modes hybrid dense]

Indexes the corpus of a BEIR-layout folder (--copies times, each copy under its own ids, so the index can
cross Config.ann_threshold and its dense search use the approximate IVF index: rag.storage.dense) with a
hashing embedder (bag of words, 384 dimensions: retrieval's cost does not depend on what the vectors
mean, and the real model would take most of an hour here). Each document goes to one of 10 folders
(f0/ ... f9/, by its position) and is a .txt or a .md (alternately). Then, for the first --queries
questions, times Retriever.search (question vector computed beforehand, one thread) with no scope and
with scopes of one folder (10% of the documents), one type (50%), 100 picked documents and 1 document,
round-robin per question so that every scope sees the same machine load, each question 3 times
(best kept). Prints per mode and scope: mean and p50/p95 milliseconds, the ratio to unscoped, and
checks that every passage returned is inside its scope.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag import Config, Scope  # noqa: E402
from rag.build.builder import build_index  # noqa: E402
from rag.embed.base import EmbeddingModel  # noqa: E402
from rag.ingest.read import Document, sha256_bytes  # noqa: E402
from rag.retrieve.retriever import Retriever  # noqa: E402
from rag.storage.writer import load  # noqa: E402


class HashEmbedder(EmbeddingModel):
    name, dim = "hash-384", 384

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text)) + 2

    def encode(self, texts, *, progress=None, on_batch=None):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                out[i, int.from_bytes(hashlib.md5(w.encode()).digest()[:4], "little") % self.dim] += 1.0
            n = np.linalg.norm(out[i])
            out[i] /= n if n else 1.0
        if on_batch:
            on_batch(len(texts))
        return out


def documents(folder: Path, copies: int) -> list[Document]:
    rows = [json.loads(line) for line in (folder / "corpus.jsonl").open(encoding="utf-8") if line.strip()]
    docs = []
    for c in range(copies):
        for i, r in enumerate(rows):
            n = c * len(rows) + i
            text = f"{r.get('title') or ''}\n\n{r['text']}".strip()
            doc_id = f"f{n % 10}/c{c}-{r['_id']}.{'txt' if n % 2 == 0 else 'md'}"
            docs.append(Document(doc_id, r.get("title") or doc_id, text, sha256_bytes(text.encode())))
    return docs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--copies", type=int, default=1)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--modes", nargs="+", default=["hybrid", "dense"])
    ap.add_argument("-k", type=int, default=5)
    args = ap.parse_args()

    emb = HashEmbedder()
    docs = documents(args.dataset, args.copies)
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(index_dir=Path(tmp) / "idx", model=emb.name)
        t0 = time.perf_counter()
        build_index(config, embedder=emb, documents=docs, progress=False)
        data = load(config.index_dir, config.index_settings())
        r = Retriever(data, weights=(1.0, 0.3, 1.0, 0.4), depth=100)
        ann = sum(1 for info in data.manifest["segments"].values() if "ann" in info)
        print(f"{len(docs)} documents, {len(data.chunks)} chunks, {len(data.manifest['segments'])} segment(s), "
              f"{ann} with an IVF index; built in {time.perf_counter() - t0:.0f}s")
        ids = [d.id for d in docs]
        scopes = {"none": None, "1 folder (10%)": Scope(folders=("f3",)), "1 type (50%)": Scope(types=("md",)),
                  "100 documents": Scope(documents=tuple(ids[7::max(1, len(ids) // 100)][:100])),
                  "1 document": Scope(documents=(ids[len(ids) // 2],))}
        for s in scopes.values():
            r.allowed(s)   # resolved once per index version (cached by the retriever), as a server does
        queries = [json.loads(line)["text"] for line in (args.dataset / "queries.jsonl").open(encoding="utf-8")
                   if line.strip()][:args.queries]
        qvecs = emb.encode(queries)
        for mode in args.modes:
            times = {name: [] for name in scopes}
            for q, v in zip(queries, qvecs):
                for name, scope in scopes.items():
                    best = float("inf")
                    for _ in range(3):
                        t = time.perf_counter()
                        got = r.search(q, v, args.k, mode=mode, scope=scope)
                        best = min(best, time.perf_counter() - t)
                    if scope is not None:
                        assert all(scope.admits(p.doc_id) for p in got), (name, q)
                    times[name].append(best * 1000)
            base = float(np.mean(times["none"]))
            print(f"\nmode {mode}, k={args.k}, {len(queries)} questions (ms per Retriever.search, best of 3):")
            print(f"  {'scope':<16} {'mean':>7} {'p50':>7} {'p95':>7}  vs unscoped")
            for name, ts in times.items():
                print(f"  {name:<16} {np.mean(ts):7.2f} {np.percentile(ts, 50):7.2f} {np.percentile(ts, 95):7.2f}"
                      f"  {np.mean(ts) / base:5.2f}x")


if __name__ == "__main__":
    main()
