"""The vectors of a build: chunks and their sentences, in one encoder pass or two.

One pass over the chunks (``Config.sentence_vectors == "pooled"`` and an embedder with token
outputs, i.e. ``encode_spans``): the chunks are encoded once and each sentence's
vector is pooled from its chunk's token embeddings (rag.embed.pooling chooses the
chunk and the span). One pass over the sentences (``Config.chunk_vectors == "pooled"`` and
an embedder with ``encode_sums``): every sentence (and the title line of each document whose
later chunks carry it) is encoded once, and a chunk's vector is the mean of the token
embeddings of its sentences and title line (rag.embed.pooling.pool_runs). Two passes (both
``"encoded"``, or an embedder without token outputs such as the tests' fake): chunks, then
every sentence on its own. The
embedding phase of the given rag.build.progress.Progress counts chunks (one pass) or
texts (two). Does not chunk, store or decide what a refresh keeps (rag.build.builder).
"""
from __future__ import annotations

import numpy as np

from rag.config import Config
from rag.embed import pooling


def _encode(embedder, texts: list[str], progress) -> np.ndarray:
    """embedder.encode, reporting each batch on progress."""
    return embedder.encode(texts, on_batch=progress.advance)


def count(fresh: dict, ids, config: Config, embedder) -> tuple[int, str]:
    """(texts the embedding phase counts for these documents, its unit)."""
    if one_pass(config, embedder):
        return sum(len(fresh[i][0]) for i in ids), "chunks"
    if sentence_pass(config, embedder):   # sentences, and a title line per document with later chunks
        titled = sum(1 for i in ids if config.title_in_chunks and any(c["start"] > 0 for c in fresh[i][0]))
        return sum(len(fresh[i][1]) for i in ids) + titled, "texts"
    return sum(len(fresh[i][0]) + len(fresh[i][1]) for i in ids), "texts"


def sentence_pass(config: Config, embedder) -> bool:
    """Whether chunk vectors are pooled from the sentence pass for this build: configured so, and
    the embedder gives token sums (mean-pooling models run here, not on a remote pool)."""
    return (config.chunk_vectors == "pooled" and not one_pass(config, embedder) and embedder.token_outputs
            and callable(getattr(embedder, "encode_sums", None)) and not embedder.one_call)


def one_pass(config: Config, embedder) -> bool:
    """Whether sentence vectors are pooled from the chunk pass (rag.embed.pooling) for this build:
    configured so, and the embedder gives token outputs (mean-pooling models)."""
    return config.sentence_vectors == "pooled" and embedder.token_outputs


def embed(fresh: dict, order: list[str], texts: dict, config: Config, embedder,
          progress, *, phase: bool = True) -> tuple[np.ndarray, np.ndarray, str]:
    """(chunk vectors, sentence vectors, "pooled" or "encoded") for documents in order.

    fresh: doc id -> (chunk records, sentence spans, sentence texts) as rag.build.reading
    makes them; texts: doc id -> what is embedded for each chunk (rag.build.builder.indexed_text).
    phase=False: count on progress without starting its embedding phase (rag.build.builder
    embeds a window of documents at a time, see count())."""
    pooled = one_pass(config, embedder)
    chunk_texts, spans, where = [], [], []   # where: (chunk row, position in its spans) per sentence
    for i in order:
        chunks, units, _ = fresh[i]
        base = len(chunk_texts)
        chunk_texts += texts[i]
        if pooled:
            spans += [[] for _ in chunks]
            prefixes = [len(t) - (c["end"] - c["start"]) for t, c in zip(texts[i], chunks)]
            for j, a, b in pooling.plan(chunks, units, prefixes):
                where.append((base + j, len(spans[base + j])))
                spans[base + j].append((a, b))
    if pooled:
        if phase:
            progress.phase("embedding", len(chunk_texts), "chunks")
        cvecs, per_chunk = embedder.encode_spans(chunk_texts, spans, on_batch=progress.advance)
        svecs = (np.stack([per_chunk[j][n] for j, n in where]) if where
                 else np.zeros((0, cvecs.shape[1]), dtype=np.float32))
        return cvecs, svecs, "pooled"
    sent_texts = [t for i in order for t in fresh[i][2]]
    if sentence_pass(config, embedder):
        return _from_sentences(fresh, order, texts, sent_texts, embedder, progress, phase) + ("encoded",)
    if phase:
        progress.phase("embedding", len(chunk_texts) + len(sent_texts), "texts")
    if embedder.one_call:   # rag.embed.ray_cluster: one actor pool for both
        vecs = _encode(embedder, chunk_texts + sent_texts, progress)
        return vecs[:len(chunk_texts)], vecs[len(chunk_texts):], "encoded"
    return _encode(embedder, chunk_texts, progress), _encode(embedder, sent_texts, progress), "encoded"


def _from_sentences(fresh: dict, order: list[str], texts: dict, sent_texts: list[str], embedder, progress,
                    phase: bool) -> tuple[np.ndarray, np.ndarray]:
    """(chunk vectors pooled from the sentence pass, sentence vectors): see the module docstring."""
    titles, runs, base = {}, [], 0
    for i in order:
        chunks, units, _ = fresh[i]
        for c, t in zip(chunks, texts[i]):
            run = list(range(base + c["sent_lo"], base + c["sent_hi"]))
            prefix = t[:len(t) - len(c["text"])]   # the title line before a later chunk (indexed_text)
            if prefix:
                run.append(-1 - titles.setdefault(prefix.rstrip("\n"), len(titles)))
            runs.append(run)
        base += len(units)
    extra = list(titles)
    if phase:
        progress.phase("embedding", len(sent_texts) + len(extra), "texts")
    vecs, sums, _ = embedder.encode_sums(sent_texts + extra, on_batch=progress.advance)
    n = len(sent_texts)
    runs = [[r if r >= 0 else n + (-1 - r) for r in run] for run in runs]
    cvecs = pooling.pool_runs(sums, runs)
    empty = [j for j, run in enumerate(runs) if not run]   # a chunk without sentences: encode it
    if empty:
        flat = [t for i in order for t in texts[i]]
        cvecs[empty] = embedder.encode([flat[j] for j in empty])
    return cvecs, vecs[:n]
