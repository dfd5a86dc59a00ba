"""Ways to get chunk and sentence vectors from one encoder pass, side by side, on a BEIR data set.

    PYTHONPATH=. python bench/one_pass.py ../shared/data/scifact --split train [--limit N]
    PYTHONPATH=. python bench/one_pass.py ../shared/data/squad-dev --articles validation

In one process, with one backend (default onnx-int8): the chunks are encoded once
(token embeddings kept for sentence spans) and the sentences (plus each document's
title) once (token sums kept); both passes are timed. From those two passes, every
variant's vectors are known without encoding again:
  two-pass          chunk vectors from the chunk pass, sentence vectors from the sentence pass
                    (what the two-pass build stores)
  chunk-pass        chunk vectors encoded; sentence vectors pooled from the chunk pass
                    (rag.embed.pooling.pool: Config.sentence_vectors == "pooled")
  sentence-pass     sentence vectors encoded; a chunk's vector pooled from the token sums of
                    its sentences (and of its title line when the chunk carries one):
                    rag.embed.pooling.pool_runs
  sentence-mean     as sentence-pass, but the normalized mean of the sentence vectors
  sentence-map      as sentence-pass, then the learned map of --map (fitted on other data by
                    bench/fit_chunk_map.py)
  sentence-selfcal  as sentence-pass, but a share (--selfcal) of the corpus's own chunks is encoded too
                    and a map (bench/fit_chunk_map.py's fit, lam 30) fitted on them is applied to the rest
                    (the sampled chunks keep their encoded vectors): no queries or labels used
Each variant is then evaluated with rag.evaluation.evaluate (hybrid mode, its own index
built through build_index by an embedder that looks the vectors up; the questions are
embedded by the real model), so the figures are `rag eval`'s.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.build.builder import _chunk, indexed_text  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.embed import pooling  # noqa: E402
from rag.embed.base import EmbeddingModel  # noqa: E402
from rag.embed.embedder import Embedder  # noqa: E402
from rag.evaluation.datasets import load_beir  # noqa: E402
from rag.evaluation.runner import evaluate, split_articles  # noqa: E402


class Lookup(EmbeddingModel):
    """Vectors looked up by text (chunks first, then sentences); anything else (questions) encoded."""

    def __init__(self, real: Embedder, chunks: dict, sentences: dict):
        self.real, self.chunks, self.sentences = real, chunks, sentences
        self.name, self.backend = real.name, real.backend

    @property
    def dim(self):
        return self.real.dim

    @property
    def max_tokens(self):
        return self.real.max_tokens

    def count_tokens(self, text):
        return self.real.count_tokens(text)

    def encode(self, texts, *, progress=None, on_batch=None):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        ask = []
        for n, t in enumerate(texts):
            v = self.chunks.get(t)
            v = self.sentences.get(t) if v is None else v
            if v is None:
                ask.append(n)
            else:
                out[n] = v
        if ask:
            out[ask] = self.real.encode([texts[n] for n in ask])
        if on_batch:
            on_batch(len(texts))
        return out


def prepare(folder: Path, split: str, backend: str, limit=None, keep=None):
    """(dataset, documents, config, embedder, texts) for one_pass's passes: the documents (the first
    limit, or those keep(doc) accepts) chunked as rag index does; texts holds the chunk texts, their
    sentence spans, the sentence texts, the title lines, each chunk's run of sentence rows and its document id."""
    ds = load_beir(folder, split)
    docs = ds.documents[:limit] if limit else ds.documents
    docs = [d for d in docs if keep(d)] if keep else docs
    config = Config(backend=backend)
    emb = Embedder(config.model, backend=backend)
    emb.encode(["warm up"])
    fresh = _chunk(docs, config, emb)
    by_id = {d.id: d for d in docs}
    chunk_texts, spans, where, sent_texts, sent_of_chunk, doc_of_chunk = [], [], [], [], [], []
    titles = sorted({by_id[i].title for i in fresh if by_id[i].title})
    for i in sorted(fresh):
        chunks, units, stexts = fresh[i]
        texts = [indexed_text(c, by_id[i].title, config) for c in chunks]
        base, sbase = len(chunk_texts), len(sent_texts)
        chunk_texts += texts
        spans += [[] for _ in chunks]
        prefixes = [len(t) - (c["end"] - c["start"]) for t, c in zip(texts, chunks)]
        for j, a, b in pooling.plan(chunks, units, prefixes):
            where.append((base + j, len(spans[base + j])))
            spans[base + j].append((a, b))
        sent_texts += stexts
        doc_of_chunk += [i] * len(chunks)
        for c, t in zip(chunks, texts):
            title = by_id[i].title if t != c["text"] else None
            sent_of_chunk.append((sbase + c["sent_lo"], sbase + c["sent_hi"], title))
    title_row = {t: len(sent_texts) + n for n, t in enumerate(titles)}
    runs = [(list(range(lo, hi)) + ([title_row[t]] if t else [])) for lo, hi, t in sent_of_chunk]
    print(f"{ds.name}: {len(docs)} documents, {len(chunk_texts)} chunks, {len(sent_texts)} sentences, "
          f"{len(titles)} titles; backend {backend}", flush=True)
    texts = dict(chunks=chunk_texts, spans=spans, where=where, sentences=sent_texts, titles=titles, runs=runs,
                 docs=doc_of_chunk)
    return ds, docs, config, emb, texts


def passes(emb, texts: dict, cache: Path | None = None) -> dict:
    """Both encoder passes over texts (prepare): chunk vectors "cvecs" and the sentence vectors pooled
    from them "pooled_sents"; sentence (and title) vectors "svecs" and token sums "ssums"; seconds
    "t_chunks", "t_sents". Kept in cache (an .npz, checked against a hash of the texts and the
    model) when given, so that a second run does not encode again (its seconds are the first run's)."""
    import hashlib
    import json

    key = hashlib.sha256(json.dumps([emb.name, emb.backend, texts["chunks"], texts["sentences"],
                                     texts["titles"]]).encode()).hexdigest()
    if cache and cache.exists():
        z = np.load(cache)
        if str(z["key"]) == key:
            print(f"passes from {cache}", flush=True)
            return {k: z[k] for k in z.files if k != "key"}
    t0 = time.perf_counter()
    cvecs, per_chunk = emb.encode_spans(texts["chunks"], texts["spans"])
    t_chunks = time.perf_counter() - t0
    t0 = time.perf_counter()
    svecs, ssums, _ = emb.encode_sums(texts["sentences"] + texts["titles"])
    t_sents = time.perf_counter() - t0
    pooled = np.stack([per_chunk[j][n] for j, n in texts["where"]])
    out = dict(cvecs=cvecs, pooled_sents=pooled, svecs=svecs, ssums=ssums,
               t_chunks=np.float64(t_chunks), t_sents=np.float64(t_sents))
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, key=np.array(key), **out)
        tmp.replace(cache)
    return out


def cache_path(name: str) -> Path:
    """bench/.cache/one_pass-NAME.npz (ignored by git)."""
    return Path(__file__).resolve().parent / ".cache" / f"one_pass-{name}.npz"


def cos(a, b) -> float:
    """Mean row-wise cosine of two arrays of unit vectors."""
    return float(np.mean(np.sum(a * b, axis=1)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--split", default="test")
    ap.add_argument("--backend", default="onnx-int8")
    ap.add_argument("--limit", type=int, help="first N documents only (and their queries)")
    ap.add_argument("--articles", help="SQuAD: only questions of the reader's split (validation | train)")
    ap.add_argument("--variants", nargs="*", default=["two-pass", "chunk-pass", "sentence-pass", "sentence-mean"])
    ap.add_argument("--map", help="variant sentence-map: chunk vectors of sentence-pass through this learned map "
                                  "(bench/fit_chunk_map.py writes it)")
    ap.add_argument("--selfcal", type=float, default=0.05,
                    help="variant sentence-selfcal: the share of the corpus's own chunks encoded to fit the map on")
    ap.add_argument("--no-cache", action="store_true", help="encode again (default: reuse bench/.cache)")
    args = ap.parse_args()
    folder = Path(args.dataset)
    ds, docs, config, emb, texts = prepare(folder, args.split, args.backend, args.limit)
    chunk_texts, sent_texts = texts["chunks"], texts["sentences"]
    name = f"{folder.name}-{args.split}-{args.limit or 'all'}-{args.backend}"
    got = passes(emb, texts, None if args.no_cache else cache_path(name))
    cvecs, svecs, ssums = got["cvecs"], got["svecs"], got["ssums"]
    t_chunks, t_sents = float(got["t_chunks"]), float(got["t_sents"])
    print(f"chunk pass {t_chunks:.1f}s ({len(chunk_texts)} texts); sentence pass {t_sents:.1f}s "
          f"({len(sent_texts) + len(texts['titles'])} texts); sentence / chunk {t_sents / t_chunks:.2f}", flush=True)
    runs = texts["runs"]
    pooled_sents = got["pooled_sents"]
    from_sums = pooling.pool_runs(ssums, runs)
    from_means = pooling.normalize(np.stack([svecs[r].sum(axis=0) for r in runs]))
    print(f"cosine to the encoded vector: sentences pooled from chunks {cos(pooled_sents, svecs[:len(sent_texts)]):.3f}, "
          f"chunks pooled from sentence token sums {cos(from_sums, cvecs):.3f}, "
          f"from sentence vectors {cos(from_means, cvecs):.3f}", flush=True)
    enc_s = svecs[:len(sent_texts)]
    variants = {"two-pass": (cvecs, enc_s), "chunk-pass": (cvecs, pooled_sents),
                "sentence-pass": (from_sums, enc_s), "sentence-mean": (from_means, enc_s)}
    if args.map:
        from fit_chunk_map import apply, load

        mapped = apply(*load(Path(args.map)), from_sums)
        print(f"cosine to the encoded vector: chunks pooled then mapped ({args.map}) {cos(mapped, cvecs):.3f}",
              flush=True)
        variants["sentence-map"] = (mapped, enc_s)
    if "sentence-selfcal" in args.variants:
        from fit_chunk_map import apply, fit

        rng = np.random.default_rng(0)
        sample = rng.permutation(len(cvecs))[:max(1, int(args.selfcal * len(cvecs)))]
        rest = np.setdiff1d(np.arange(len(cvecs)), sample)
        cal = apply(*fit(from_sums[sample], cvecs[sample], 30.0), from_sums)
        print(f"cosine to the encoded vector, chunks outside the {len(sample)} encoded: pooled "
              f"{cos(from_sums[rest], cvecs[rest]):.4f}, self-calibrated {cos(cal[rest], cvecs[rest]):.4f}", flush=True)
        cal[sample] = cvecs[sample]
        variants["sentence-selfcal"] = (cal, enc_s)
    articles = split_articles(args.articles) if args.articles else None
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants:
            cv, sv = variants[name]
            look = Lookup(emb, dict(zip(chunk_texts, cv)), dict(zip(sent_texts, sv)))
            t0 = time.perf_counter()
            if args.limit:
                sub = Path(tmp) / f"data-{name}"
                _subset(folder, sub, args.split, {d.id for d in docs})
            rep = evaluate(sub if args.limit else folder, split=args.split, modes=["hybrid"],
                           config=dataclasses.replace(config), embedder=look,
                           index_dir=Path(tmp) / name, abstention=False, articles=articles)
            m = rep.modes[0].metrics
            extra = "".join(f", {k} {m[k]:.4f}" for k in ("answer_contains", "answered", "short_f1") if k in m)
            print(f"{name}: nDCG@10 {m['ndcg@10']:.4f}, recall@10 {m['recall@10']:.4f}{extra} "
                  f"({rep.queries} queries, {time.perf_counter() - t0:.0f}s)", flush=True)


def _subset(folder: Path, out: Path, split: str, ids: set) -> None:
    """A BEIR folder with only the documents in ids and the queries about them."""
    import json
    import shutil

    (out / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", encoding="utf-8") as f, open(out / "corpus.jsonl", "w") as g:
        for line in f:
            if json.loads(line)["_id"] in ids:
                g.write(line)
    lines = (folder / "qrels" / f"{split}.tsv").read_text().splitlines()
    keep = [ln for ln in lines[1:] if ln.split("\t")[1] in ids]
    (out / "qrels" / f"{split}.tsv").write_text("\n".join(lines[:1] + keep) + "\n")
    for name in ("queries.jsonl", "answers.jsonl"):
        if (folder / name).exists():
            shutil.copy(folder / name, out / name)


if __name__ == "__main__":
    main()
