"""Scale benchmark (not a test): indexes of 100k and 1M passages from real embeddings.

    PYTHONPATH=. python bench/scale.py --embed ../shared/data/scifact --ask ../shared/data/squad-dev \\
        --vectors-from index/eval/squad-dev-HASH \\
        --docs 400 --queries 150 [--sizes 100000 1000000] [--threshold 20000] [--full]

Real text is embedded once (onnx-int8, the first --docs documents of each data set, split into sentences,
and the first --queries questions of each; --ask: questions only; --vectors-from: the vectors of an index
folder of any format, e.g. the one `rag eval ../shared/data/squad-dev --backend onnx-int8` builds) and cached
under bench/.cache/. Passages of each size are then
made of those vectors and perturbed copies of them (Gaussian noise, re-normalised: a copy keeps a cosine of
about 0.9 with its source), each with --spp sentence vectors made the same way, in documents of 10
passages, and written with the project's own store (rag.storage.writer.save: float16 segments, an ANN index when a
segment holds at least --threshold chunks). Each phase runs in a child process that reports its peak RSS
(VmHWM): build (making the vectors included), then serving (rag.storage.writer.load, checksums and all, and a
Retriever). Printed: build time, peak RSS of build and serving, size on disk and bytes per passage, single-
query latency p50/p95 (one thread; every query 3 times) of the dense candidate search alone and of
Retriever.search in dense mode (candidates rescored exactly), Recall@10 of both against exact search over the
same float16 vectors, and an nprobe sweep. --full adds the texts' BM25 and times the whole hybrid retrieval.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
PER_DOC = 10
NOISE = 0.025   # per dimension; 384 dimensions: noise norm about 0.49, cosine with the source about 0.9


def hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- real vectors, embedded once

def real_vectors(args) -> dict:
    """Real vectors and texts: sentences of the first docs documents of each --embed data set,
    questions of each --embed and --ask data set (embedded once, cached), and the chunk and
    sentence vectors and chunk texts of each --vectors-from index folder."""
    key = hashlib.sha256(json.dumps([[Path(d).resolve().name for d in args.embed], args.docs, args.queries,
                                     [Path(d).resolve().name for d in args.ask],
                                     [str(Path(d).resolve()) for d in args.vectors_from]])
                         .encode()).hexdigest()[:12]
    path = CACHE / f"real-{key}.npz"
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        return _distinct({k: z[k] for k in z.files})
    from rag.embed.embedder import Embedder

    sents, qtexts = [], []
    for d in args.embed + args.ask:
        with open(Path(d) / "queries.jsonl", encoding="utf-8") as f:
            qtexts += [json.loads(line)["text"] for _, line in zip(range(args.queries), f)]
    for d in args.embed:
        with open(Path(d) / "corpus.jsonl", encoding="utf-8") as f:
            for n, line in zip(range(args.docs), f):
                doc = json.loads(line)
                sents += [s for s in re.split(r"(?<=[.!?])\s+", f"{doc.get('title', '')}. {doc['text']}")
                          if len(s.split()) >= 4]
    emb = Embedder(backend="onnx-int8")
    t0 = time.perf_counter()
    vecs = [emb.encode(sents, progress=True)] if sents else []
    for folder in args.vectors_from:
        for seg in sorted((Path(folder) / "segments").iterdir()):
            vecs += [np.load(seg / f"{k}_vecs.npy", allow_pickle=False).astype(np.float32)
                     for k in ("chunk", "sentence")]
            with open(seg / "chunks.jsonl", encoding="utf-8") as f:
                sents += [json.loads(line)["text"] for line in f]
    out = {"vecs": np.concatenate(vecs), "queries": emb.encode(qtexts, progress=False),
           "texts": np.array(sents), "qtexts": np.array(qtexts)}
    print(f"embedded {len(sents)} sentences and {len(qtexts)} queries in {time.perf_counter() - t0:.0f}s",
          file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return _distinct(out)


def _distinct(real: dict) -> dict:
    """Repeated sentences embed to equal vectors; ties would blur recall: keep one of each."""
    vecs = np.unique(real["vecs"].astype(np.float16), axis=0).astype(np.float32)
    return dict(real, vecs=np.random.default_rng(0).permutation(vecs))


def perturbed(base: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n float16 unit vectors: base rows in turn, the first len(base) as they are, later ones perturbed."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), np.float16)
    for lo in range(0, n, 100_000):
        idx = np.arange(lo, min(n, lo + 100_000))
        x = base[idx % len(base)].astype(np.float32)
        x += np.where(idx[:, None] >= len(base), NOISE, 0.0) * rng.standard_normal(x.shape, dtype=np.float32)
        out[lo:lo + len(idx)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


# ---------------------------------------------------------------- phases (child processes)

def build(args) -> dict:
    from rag.config import Config
    from rag.storage import writer as store
    from rag.storage.lexical import BM25

    real = real_vectors(args)
    n, spp, texts = args.size, args.spp, [str(t) for t in real["texts"]]
    t0 = time.perf_counter()
    cv = perturbed(real["vecs"], n, 1)
    sv = perturbed(real["vecs"][::-1].copy(), n * spp, 2)
    chunks, docs = [], []
    for d in range(0, n, PER_DOC):
        rows = range(d, min(n, d + PER_DOC))
        doc_id = f"doc-{d // PER_DOC:07d}"
        for j, i in enumerate(rows):
            text = " ".join(texts[(i * 7 + k) % len(texts)] for k in range(3))
            chunks.append({"doc": doc_id, "ordinal": j, "start": j * 1000, "end": j * 1000 + len(text),
                           "sent_lo": j * spp, "sent_hi": (j + 1) * spp, "text": text})
        docs.append({"id": doc_id, "title": doc_id, "sha256": "0" * 64, "chunks": len(rows),
                     "sentences": len(rows) * spp})
    sentences = np.zeros((n * spp, 3), np.int64)
    sentences[:, 0] = np.repeat(np.arange(len(docs)), [d["sentences"] for d in docs])
    local = np.concatenate([np.arange(d["sentences"]) for d in docs])
    sentences[:, 1], sentences[:, 2] = local * 300, local * 300 + 200
    made = time.perf_counter() - t0
    bm25 = doc_bm25 = None
    if args.full:
        bm25 = BM25.build([c["text"] for c in chunks])
        doc_bm25 = BM25.build([" ".join(c["text"] for c in chunks[i:i + PER_DOC]) for i in range(0, n, PER_DOC)])
    dim = cv.shape[1]
    settings = {"model": "all-MiniLM-L6-v2", "ann_threshold": args.threshold}
    manifest = {"format": store.FORMAT, "format_version": store.FORMAT_VERSION, "model": settings["model"],
                "dimension": dim, "settings": settings, "documents": docs,
                "counts": {"documents": len(docs), "chunks": n, "sentences": n * spp}}
    if args.full:
        manifest["bm25"] = {"rows": bm25.size, "vocabulary": bm25.vocab_size,
                            "documents": {"rows": doc_bm25.size, "vocabulary": doc_bm25.vocab_size}}
    Config(ann_threshold=args.threshold)   # validates it
    store.save(args.index, store.IndexData(manifest, chunks, cv, sentences, sv, bm25=bm25, doc_bm25=doc_bm25))
    return {"build_s": time.perf_counter() - t0 - made, "make_s": made, "build_hwm_mb": hwm_mb()}


def serve(args) -> dict:
    import faiss

    from rag.retrieve.retriever import Retriever
    from rag.storage import writer as store

    real = real_vectors(args)
    qs, qtexts = real["queries"].astype(np.float32), [str(t) for t in real["qtexts"]]
    faiss.omp_set_num_threads(1)
    t0 = time.perf_counter()
    data = store.load(args.index)
    r = Retriever(data, weights=(1.0, 0.3, 1.0, 0.4), depth=100)
    out = {"load_s": time.perf_counter() - t0}
    dense = data.faiss_index

    def timed(fn, rounds=3):
        times = []
        for _ in range(rounds):
            for i in range(len(qs)):
                t = time.perf_counter()
                fn(i)
                times.append((time.perf_counter() - t) * 1000)
        return float(np.percentile(times, 50)), float(np.percentile(times, 95))

    out["ann_ms"] = timed(lambda i: dense.search(qs[i], 100))
    out["dense_ms"] = timed(lambda i: r.search("", qs[i], 10, mode="dense"))
    if data.bm25 is not None:
        out["hybrid_ms"] = timed(lambda i: r.search(qtexts[i], qs[i], 10, mode="hybrid"), rounds=1)
    out["serve_hwm_mb"] = hwm_mb()
    got_ann = [dense.search(q, 10)[1][0] for q in qs]
    got_served = [[p.chunk for p in r.search("", q, 10, mode="dense")] for q in qs]
    n, best_s, best_r = len(data.chunks), np.zeros((len(qs), 0), np.float32), np.zeros((len(qs), 0), np.int64)
    for lo in range(0, n, 50_000):   # exact top 10 by blocks
        block = np.arange(lo, min(n, lo + 50_000))
        s = np.concatenate([best_s, qs @ data.chunk_vecs[block].T], axis=1)
        rows = np.concatenate([best_r, np.broadcast_to(block, (len(qs), len(block)))], axis=1)
        top = np.argpartition(-s, 9, axis=1)[:, :10]
        best_s, best_r = np.take_along_axis(s, top, 1), np.take_along_axis(rows, top, 1)
    tenth = best_s.min(axis=1)

    def recall(got):   # a result counts when it scores at least the exact 10th (ties count)
        return float(np.mean([min(10, int(np.sum(data.chunk_vecs[[int(x) for x in g if x >= 0]] @ q >= t - 1e-6))) / 10
                              for q, g, t in zip(qs, got, tenth)]))
    out["recall_ann"], out["recall_served"] = recall(got_ann), recall(got_served)
    sweep = []
    for index, _ in dense.parts:
        if hasattr(index, "nprobe"):
            base = index.nprobe
            for nprobe in sorted({8, 16, 32, 64, 128, base}):
                index.nprobe = nprobe
                ms = timed(lambda i: dense.search(qs[i], 100), rounds=1)[0]
                sweep.append((nprobe, index.nlist, recall([dense.search(q, 10)[1][0] for q in qs]), ms))
            index.nprobe = base
    out["sweep"] = sweep
    from rag.storage import (
        dense as ann,  # exact float16 search over every row, for the threshold: after the RSS reading
    )
    flat = ann.Dense([(ann.exact(data.chunk_vecs, np.arange(n)), np.arange(n))], data.chunk_vecs.dim)
    out["exact_ms"] = timed(lambda i: flat.search(qs[i], 100), rounds=1)
    return out


def child(phase: str, args) -> dict:
    cmd = [sys.executable, __file__, "--phase", phase, "--index", str(args.index), "--size", str(args.size),
           "--docs", str(args.docs), "--queries", str(args.queries), "--spp", str(args.spp),
           "--threshold", str(args.threshold)] + [x for d in args.embed for x in ("--embed", d)]
    cmd += [x for d in args.ask for x in ("--ask", d)] + [x for d in args.vectors_from for x in ("--vectors-from", d)]
    cmd += ["--full"] if args.full else []
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if proc.returncode:
        sys.exit(f"{phase} failed ({proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--embed", action="append", default=[], help="BEIR-layout data set: embed sentences "
                    "of its first --docs documents and its first --queries questions (repeatable)")
    ap.add_argument("--ask", action="append", default=[], help="BEIR-layout data set: embed its questions only")
    ap.add_argument("--vectors-from", action="append", default=[], help="an index folder (any format): "
                    "use its chunk and sentence vectors and chunk texts")
    ap.add_argument("--docs", type=int, default=600, help="documents embedded per data set")
    ap.add_argument("--queries", type=int, default=150, help="questions embedded per data set")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--spp", type=int, default=2, help="sentences per passage")
    ap.add_argument("--threshold", type=int, default=20_000, help="ann_threshold")
    ap.add_argument("--full", action="store_true", help="also BM25 and the hybrid retrieval")
    ap.add_argument("--work", type=Path, default=CACHE / "scale")
    ap.add_argument("--phase"), ap.add_argument("--index", type=Path), ap.add_argument("--size", type=int)
    args = ap.parse_args()
    if args.phase:
        print(json.dumps(build(args) if args.phase == "build" else serve(args)))
        return
    real = real_vectors(args)
    print(f"real vectors: {len(real['vecs'])} (texts {len(real['texts'])}), {len(real['queries'])} queries; "
          f"{args.spp} sentence vectors per passage; threshold {args.threshold}", flush=True)
    rows = []
    for size in args.sizes:
        args.size, args.index = size, args.work / f"p{size}"
        subprocess.run(["rm", "-rf", str(args.index)], check=True)
        b = child("build", args)
        disk = sum(p.stat().st_size for p in args.index.rglob("*") if p.is_file())
        vec = sum(p.stat().st_size for p in args.index.rglob("*vecs.npy")) + \
            sum(p.stat().st_size for p in args.index.rglob("ann.faiss"))
        s = child("serve", args)
        rows.append((size, b, s, disk, vec))
        print(json.dumps({"size": size, **b, **s, "disk": disk, "vector_bytes": vec}), flush=True)
    print("\n| passages | build | build peak RSS | serving peak RSS (load) | on disk (per passage; vectors+ANN) "
          "| ANN top-100 p50/p95 | dense search p50/p95 | exact p50 | Recall@10 ANN / served |"
          + (" hybrid p50/p95 |" if args.full else ""))
    print("|---" * (10 if args.full else 9) + "|")
    for size, b, s, disk, vec in rows:
        line = (f"| {size:,} | {b['build_s']:.0f} s | {b['build_hwm_mb'] / 1024:.2f} GB | "
                f"{s['serve_hwm_mb'] / 1024:.2f} GB ({s['load_s']:.0f} s) | {disk / 1e9:.2f} GB ({disk / size:.0f} B; "
                f"{vec / size:.0f} B) | {s['ann_ms'][0]:.1f} / {s['ann_ms'][1]:.1f} ms | "
                f"{s['dense_ms'][0]:.1f} / {s['dense_ms'][1]:.1f} ms | {s['exact_ms'][0]:.1f} ms | "
                f"{s['recall_ann']:.3f} / {s['recall_served']:.3f} |")
        if args.full:
            line += f" {s['hybrid_ms'][0]:.0f} / {s['hybrid_ms'][1]:.0f} ms |"
        print(line)
        for nprobe, nlist, rec, ms in s["sweep"]:
            print(f"    nprobe {nprobe}/{nlist}: Recall@10 {rec:.3f}, top-100 p50 {ms:.1f} ms")


if __name__ == "__main__":
    main()
