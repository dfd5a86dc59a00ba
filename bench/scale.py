"""Scale benchmark (not a test): the whole Rag over 1k to 1M passages made from real embeddings and text.

    PYTHONPATH=. python bench/scale.py --embed ../shared/data/scifact --ask ../shared/data/squad-dev \
        --docs 300 --queries 150 [--sizes 1000 1000000] [--threshold 20000] [--refresh 2]
    PYTHONPATH=. python bench/scale.py --phase refresh --index bench/.cache/scale/p1000000 --size 1000000 --round N

Real text is embedded once (onnx-int8: the sentences of the first --docs documents of each --embed data set,
and the first --queries questions of each --embed and --ask data set; --vectors-from: the vectors and texts of a
format-5 index folder) and cached under bench/.cache/. Passages of each size are made of those vectors and
perturbed copies of them (Gaussian noise, re-normalised: a copy keeps a cosine of about 0.9 with its source),
each passage --spp real sentences with a sentence vector each, in documents of 10 passages, and written with the
project's own store (rag.storage.writer.save: records, float16 vectors, BM25 postings and an ANN index in one
segment) under a manifest that Rag.open reads like any other (onnx-int8). Each phase runs in a child process
that reports its peak RSS (VmHWM): build, then serve: Rag.open (the index loaded and checked) and a first
answer (cold start, from the child's start), hybrid retrieval with the question vectors given, the whole
Rag.query (embedding, retrieval, answer step), --refresh one-file refreshes in a third process (build_index with
the real model; every other document given unchanged) each followed by a question that loads the new version
(live reload) and must find the changed document, then Recall@10 of the dense search against exact search over
the same float16 vectors and the hybrid top 10 against hybrid over exact dense candidates. Prints one JSON line
per size and a table.
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


def perturbed(base: np.ndarray, n: int, seed, start: int = 0) -> np.ndarray:
    """n float16 unit vectors: base rows in turn from row start, rows under len(base) as they are, later ones
    perturbed."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), np.float16)
    for lo in range(0, n, 100_000):
        idx = np.arange(start + lo, start + min(n, lo + 100_000))
        x = base[idx % len(base)].astype(np.float32)
        x += np.where(idx[:, None] >= len(base), NOISE, 0.0) * rng.standard_normal(x.shape, dtype=np.float32)
        out[lo:lo + len(idx)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


# ---------------------------------------------------------------- phases (child processes)

def passages(real: dict, lo: int, hi: int, spp: int, seeds) -> tuple:
    """Passages lo..hi (lo a multiple of PER_DOC): (chunk records, manifest documents, sentence spans,
    chunk vectors, sentence vectors); seeds: those of the chunk and the sentence vectors."""
    texts = [str(t) for t in real["texts"]]
    cv = perturbed(real["vecs"], hi - lo, seeds[0], start=lo)
    sv = perturbed(real["vecs"][::-1].copy(), (hi - lo) * spp, seeds[1], start=lo * spp)
    chunks, docs, spans = [], [], np.zeros(((hi - lo) * spp, 3), np.int64)
    s = 0
    for d in range(lo, hi, PER_DOC):
        doc_no, doc_id, pos = d // PER_DOC, f"doc-{d // PER_DOC:07d}", 0
        for j, i in enumerate(range(d, min(hi, d + PER_DOC))):
            sents = [texts[(i * 7 + k) % len(texts)] for k in range(spp)]
            start = pos
            for t in sents:
                spans[s] = (doc_no, pos, pos + len(t))
                s, pos = s + 1, pos + len(t) + 1
            chunks.append({"doc": doc_id, "ordinal": j, "start": start, "end": pos - 1, "sent_lo": j * spp,
                           "sent_hi": (j + 1) * spp, "text": " ".join(sents)})
        rows = min(hi, d + PER_DOC) - d
        docs.append({"id": doc_id, "title": f"Document {doc_no}", "sha256": hashlib.sha256(doc_id.encode()).hexdigest(),
                     "kind": "txt", "size": pos, "chunks": rows, "sentences": rows * spp})
    return chunks, docs, spans, cv, sv


def build(args) -> dict:
    """Write the synthetic index: documents of PER_DOC passages, each passage --spp real sentences
    (a sentence vector each), written by rag.storage.writer.save as one segment (records, vectors,
    ANN, BM25 postings), with a manifest Rag.open reads like any other (onnx-int8, the default weights).
    --segment-size: in segments of that many passages, the first by save, each further one by save on
    the previous version as its base (the writer's incremental path: a refresh that adds documents), so
    memory holds one segment; --stop-by: no segment is started that would end after that time."""
    import datetime

    from rag.config import Config
    from rag.storage import writer as store
    from rag.storage.lexical import PARAMS
    from rag.storage.manifest import Manifest

    real = real_vectors(args)
    n, spp = args.size, args.spp
    config = Config(backend="onnx-int8", ann_threshold=args.threshold)

    def manifest(docs, seconds):
        return Manifest.new(
            model=config.model, backend=config.backend, sentence_vectors="encoded", settings=config.index_settings(),
            fusion_weights=config.fusion_weights, dimension=real["vecs"].shape[1],
            counts={"documents": len(docs), "chunks": sum(d["chunks"] for d in docs),
                    "sentences": sum(d["sentences"] for d in docs)},
            built_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), skipped=[],
            bm25=dict(PARAMS), build_seconds=seconds, corpus=str(args.index) + "-corpus", documents=docs)

    if not args.segment_size:
        t0 = time.perf_counter()
        chunks, docs, spans, cv, sv = passages(real, 0, n, spp, (1, 2))
        made = time.perf_counter() - t0
        t1 = time.perf_counter()
        store.save(args.index, store.IndexData(manifest(docs, 0.0), chunks, cv, spans, sv))
        return {"build_s": time.perf_counter() - t1, "make_s": made, "build_hwm_mb": hwm_mb()}
    size = args.segment_size - args.segment_size % PER_DOC
    stop_by = _clock(args.stop_by) if args.stop_by else None
    all_docs, segs, t_all = [], [], time.perf_counter()
    for k, lo in enumerate(range(0, n, size)):
        hi = min(n, lo + size)
        if segs and stop_by is not None and time.time() + segs[-1]["seconds"] > stop_by:
            print(f"stopping at {lo:,} passages: segment {k + 1} would end after --stop-by", file=sys.stderr, flush=True)
            break
        t0 = time.perf_counter()
        chunks, docs, spans, cv, sv = passages(real, lo, hi, spp, (1, 2) if k == 0 else ((1, k), (2, k)))
        all_docs += docs
        t1 = time.perf_counter()
        base = None
        if k:   # the previous version, loaded as a writer's base (verified, not searched)
            base = store.load(args.index, config.index_settings(), search=False, stamps=store.read_stamps(args.index))
        t2 = time.perf_counter()
        data = store.IndexData(manifest(all_docs, time.perf_counter() - t_all), chunks, cv, spans, sv,
                               fresh=[d["id"] for d in docs] if k else None)
        version = store.save(args.index, data, base=base)
        del chunks, docs, spans, cv, sv, data, base
        t3 = time.perf_counter()
        segs.append({"segment": k + 1, "passages": hi, "seconds": t3 - t0, "make_s": t1 - t0, "base_load_s": t2 - t1,
                     "save_s": t3 - t2, "version": version, "hwm_mb": hwm_mb(),
                     "at": datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S")})
        print(json.dumps(segs[-1]), file=sys.stderr, flush=True)
    m = store.read_manifest(args.index)
    return {"build_s": time.perf_counter() - t_all, "make_s": sum(s["make_s"] for s in segs),
            "build_hwm_mb": hwm_mb(), "passages": m["counts"]["chunks"], "segments_built": segs,
            "segments_stored": {name: info.get("chunks") for name, info in m["segments"].items()}}


def _clock(text: str) -> float:
    """HH:MM (UTC, today or else tomorrow) or seconds since the epoch, as seconds since the epoch."""
    import datetime

    if ":" not in text:
        return float(text)
    now = datetime.datetime.now(datetime.timezone.utc)
    h, m = (int(x) for x in text.split(":"))
    at = now.replace(hour=h, minute=m, second=0, microsecond=0)
    return (at if at > now else at + datetime.timedelta(days=1)).timestamp()


def refresh(args) -> dict:
    """One changed file through rag.build.builder.build_index (the real onnx-int8 model embeds it):
    every other document is given unchanged (same sha256), as a refresh of a folder sees them."""
    from rag.build.builder import build_index
    from rag.config import Config
    from rag.embed.embedder import Embedder
    from rag.ingest.read import Document
    from rag.storage import writer as store

    emb = Embedder(backend="onnx-int8")
    emb.encode(["warm up the model"], progress=False)
    m = store.read_manifest(args.index)
    docs = [Document(d["id"], d["title"], "", d["sha256"], d.get("kind", ""), d.get("size", 0))
            for d in m["documents"]]
    k = len(docs) // 2
    text = (f"Refreshed document {args.round}. The zorblax refresh marker {args.round} was added to this file. "
            "It holds two more sentences about nothing in particular, so that it is chunked like the others.")
    docs[k] = Document(docs[k].id, docs[k].title, text, hashlib.sha256(text.encode()).hexdigest(), "txt", len(text))
    config = Config(index_dir=args.index, corpus_dir=Path(m["corpus"]), backend="onnx-int8",
                    ann_threshold=args.threshold)
    t0 = time.perf_counter()
    report = build_index(config, embedder=emb, documents=docs, progress=False)
    return {"refresh_s": time.perf_counter() - t0, "refresh_hwm_mb": hwm_mb(), "updated": report.updated,
            "doc": docs[k].id}


def serve(args) -> dict:
    """The whole Rag (hybrid retrieval, the answer step, live reload) over the index, in this process."""
    import faiss

    from rag import Rag

    t_start = float(os.environ.get("SCALE_T0", time.time()))
    real = real_vectors(args)
    qs, qtexts = real["queries"].astype(np.float32), [str(t) for t in real["qtexts"]]
    t0 = time.perf_counter()
    rag = Rag.open(args.index)   # loads the index: manifest, checksums, records, postings, ANN
    t1 = time.perf_counter()
    rag.retriever
    t2 = time.perf_counter()
    first = rag.query(qtexts[0])
    out = {"open_s": time.perf_counter() - t0, "cold_start_s": time.time() - t_start, "first_found": first.found,
           "rag_open_s": t1 - t0, "index_load_s": t2 - t1, "first_query_s": time.perf_counter() - t2,
           "index_load_hwm_mb": hwm_mb()}
    r = rag.retriever
    data, dense = r.data, r.data.faiss_index
    faiss.omp_set_num_threads(1)

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
    out["hybrid_ms"] = timed(lambda i: r.search(qtexts[i], qs[i], 10, mode="hybrid"), rounds=2)
    out["query_ms"] = timed(lambda i: rag.query(qtexts[i]), rounds=1)
    out["serve_hwm_mb"] = hwm_mb()
    print(json.dumps(dict(out, partial=True)), file=sys.stderr, flush=True)
    # live reload: another process refreshes one file; the next question loads the new version
    if args.refresh:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        rs = []
        for rnd in range(args.refresh):
            proc = subprocess.run(_argv("refresh", args) + ["--round", str(rnd)], stdout=subprocess.PIPE,
                                  text=True, env=env)
            if proc.returncode:
                raise SystemExit(f"refresh failed ({proc.returncode})")
            rs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            t = time.perf_counter()
            ans = rag.query(f"zorblax refresh marker {rnd}")
            reload_ms = (time.perf_counter() - t) * 1000
            rs[-1].update(reload_query_ms=reload_ms, found=bool(ans.passages) and ans.passages[0].doc_id == rs[-1]["doc"])
        out["refresh"] = rs
        out["after_refresh_query_ms"] = timed(lambda i: rag.query(qtexts[i]), rounds=1)
        out["after_refresh_hwm_mb"] = hwm_mb()
        r = rag.retriever
        data, dense = r.data, r.data.faiss_index
    print(json.dumps(dict(out, partial=True)), file=sys.stderr, flush=True)   # a kill later loses none of it
    got_ann = [dense.search(q, 10)[1][0] for q in qs]
    got_served = [[p.chunk for p in r.search("", q, 10, mode="dense")] for q in qs]
    got_hybrid = [[p.chunk for p in r.search(t, q, 10, mode="hybrid")] for q, t in zip(qs, qtexts)]
    n, best_s, best_r = len(data.chunks), np.zeros((len(qs), 0), np.float32), np.zeros((len(qs), 0), np.int64)
    m, deep = min(60, len(qs)), max(r.depth, 10) * 10   # the first m questions: exact top `deep` for hybrid
    deep_s, deep_r = np.zeros((m, 0), np.float32), np.zeros((m, 0), np.int64)
    for lo in range(0, n, 50_000):   # exact top 10 (and top `deep` of the first m) by blocks
        block = np.arange(lo, min(n, lo + 50_000))
        scores = qs @ data.chunk_vecs[block].T
        block_rows = np.broadcast_to(block, (len(qs), len(block)))
        s = np.concatenate([best_s, scores], axis=1)
        rows = np.concatenate([best_r, block_rows], axis=1)
        top = np.argpartition(-s, 9, axis=1)[:, :10]
        best_s, best_r = np.take_along_axis(s, top, 1), np.take_along_axis(rows, top, 1)
        s, rows = np.concatenate([deep_s, scores[:m]], axis=1), np.concatenate([deep_r, block_rows[:m]], axis=1)
        if s.shape[1] > deep:
            top = np.argpartition(-s, deep - 1, axis=1)[:, :deep]
            s, rows = np.take_along_axis(s, top, 1), np.take_along_axis(rows, top, 1)
        deep_s, deep_r = s, rows
    tenth = best_s.min(axis=1)

    def recall(got):   # a result counts when it scores at least the exact 10th (ties count)
        return float(np.mean([min(10, int(np.sum(data.chunk_vecs[[int(x) for x in g if x >= 0]] @ q >= t - 1e-6))) / 10
                              for q, g, t in zip(qs, got, tenth)]))
    out["recall_ann"], out["recall_served"] = recall(got_ann), recall(got_served)
    print(json.dumps(dict(out, partial=True)), file=sys.stderr, flush=True)
    # hybrid against the same hybrid scoring over exact dense candidates (the ANN's only effect): an exact
    # index over the union of the first m questions' exact top `deep` rows (more than the retriever's depth)
    # gives each of them its exact dense candidates, without an in-memory copy of every vector (7.7 GB at 10M)
    from rag.storage import dense as ann
    union = np.unique(deep_r)
    exact = ann.Dense([(ann.exact(data.chunk_vecs, union), union)], data.chunk_vecs.dim)
    data.faiss_index = exact
    want = [[p.chunk for p in r.search(t, q, 10, mode="hybrid")] for q, t in zip(qs[:m], qtexts[:m])]
    data.faiss_index = dense
    out["recall_hybrid"] = float(np.mean([len(set(a) & set(b)) / max(1, len(b)) for a, b in zip(got_hybrid, want)]))
    return out


def _argv(phase: str, args) -> list[str]:
    cmd = [sys.executable, __file__, "--phase", phase, "--index", str(args.index), "--size", str(args.size),
           "--docs", str(args.docs), "--queries", str(args.queries), "--spp", str(args.spp),
           "--threshold", str(args.threshold), "--refresh", str(args.refresh)]
    cmd += ["--segment-size", str(args.segment_size)] if args.segment_size else []
    cmd += ["--stop-by", args.stop_by] if args.stop_by else []
    cmd += [x for d in args.embed for x in ("--embed", d)]
    cmd += [x for d in args.ask for x in ("--ask", d)] + [x for d in args.vectors_from for x in ("--vectors-from", d)]
    return cmd


def child(phase: str, args) -> dict:
    proc = subprocess.run(_argv(phase, args), stdout=subprocess.PIPE, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT), SCALE_T0=repr(time.time())))
    if proc.returncode:
        sys.exit(f"{phase} failed ({proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--embed", action="append", default=[], help="BEIR-layout data set: embed sentences "
                    "of its first --docs documents and its first --queries questions (repeatable)")
    ap.add_argument("--ask", action="append", default=[], help="BEIR-layout data set: embed its questions only")
    ap.add_argument("--vectors-from", action="append", default=[], help="an index folder (format 5): "
                    "use its chunk and sentence vectors and chunk texts")
    ap.add_argument("--docs", type=int, default=600, help="documents embedded per data set")
    ap.add_argument("--queries", type=int, default=150, help="questions embedded per data set")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 1_000_000])
    ap.add_argument("--spp", type=int, default=2, help="sentences per passage")
    ap.add_argument("--threshold", type=int, default=20_000, help="ann_threshold")
    ap.add_argument("--refresh", type=int, default=2, help="one-file refreshes while serving")
    ap.add_argument("--segment-size", type=int, default=0, help="build in segments of this many passages "
                    "(the first saved, each further one saved on the previous version); 0: one segment")
    ap.add_argument("--stop-by", help="with --segment-size: start no segment that would end after this "
                    "time (HH:MM UTC, projected from the last segment); the size built is served")
    ap.add_argument("--skip-build", action="store_true", help="serve the index already in --work")
    ap.add_argument("--work", type=Path, default=CACHE / "scale")
    ap.add_argument("--phase"), ap.add_argument("--index", type=Path), ap.add_argument("--size", type=int)
    ap.add_argument("--round", type=int, default=0)
    args = ap.parse_args()
    if args.phase:
        print(json.dumps({"build": build, "serve": serve, "refresh": refresh}[args.phase](args)))
        return
    real = real_vectors(args)
    print(f"real vectors: {len(real['vecs'])} (texts {len(real['texts'])}), {len(real['queries'])} queries; "
          f"{args.spp} sentence vectors per passage; threshold {args.threshold}", flush=True)
    rows = []
    for size in args.sizes:
        args.size, args.index = size, args.work / f"p{size}"
        if args.skip_build:
            b = {"build_s": float("nan"), "build_hwm_mb": float("nan")}
        else:
            subprocess.run(["rm", "-rf", str(args.index)], check=True)
            b = child("build", args)
        disk = sum(p.stat().st_size for p in args.index.rglob("*") if p.is_file())
        s = child("serve", args)
        rows.append((size, b, s, disk))
        print(json.dumps({"size": size, **b, **s, "disk": disk}), flush=True)
    print("\n| passages | build (peak RSS) | on disk | serving peak RSS | cold start (open + first answer) "
          "| hybrid retrieval p50 / p95 | whole query p50 / p95 | dense Recall@10 (ANN / served) | hybrid top-10 "
          "overlap with exact dense | one-file refresh (peak RSS) | first query after it |")
    print("|---" * 10 + "|")
    for size, b, s, disk in rows:
        rs = s.get("refresh") or [{}]
        refresh_s = " / ".join(f"{r['refresh_s']:.1f}" for r in rs if r)
        reload_ms = " / ".join(f"{r.get('reload_query_ms', 0):.0f}" for r in rs)
        segs = f" in {len(b['segments_built'])} segments" if b.get("segments_built") else ""
        line = (f"| {b.get('passages', size):,}{segs} | {b['build_s']:.0f} s ({b['build_hwm_mb'] / 1024:.2f} GB) | {disk / 1e9:.2f} GB | "
                f"{s['serve_hwm_mb'] / 1024:.2f} GB ({s.get('after_refresh_hwm_mb', 0) / 1024:.2f} GB after refreshes) | "
                f"{s['cold_start_s']:.1f} s (index {s['rag_open_s'] + s['index_load_s']:.1f} s) | "
                f"{s['hybrid_ms'][0]:.1f} / {s['hybrid_ms'][1]:.1f} ms | {s['query_ms'][0]:.1f} / {s['query_ms'][1]:.1f} ms | "
                f"{s['recall_ann']:.3f} / {s['recall_served']:.3f} | {s['recall_hybrid']:.3f} | "
                f"{refresh_s} s ({max((r.get('refresh_hwm_mb', 0) for r in rs), default=0) / 1024:.2f} GB) | "
                f"{reload_ms} ms "
                f"(found: {all(r.get('found') for r in rs)}) |")
        print(line)


if __name__ == "__main__":
    main()
