"""Sentence vectors pooled from the token embeddings of the chunk pass (one encoder pass).

A mean-pooling model (all-MiniLM-L6-v2) turns a text into the normalized mean
of its token embeddings. Every sentence of a document is inside at least one
chunk, so instead of encoding each sentence again, its vector is taken as the
normalized mean of the chunk pass's token embeddings over the word pieces of
that sentence: ``plan`` picks one chunk per sentence (the one where it has the
most context on both sides, the earlier on ties) and its character span inside
the embedded chunk text (after the title prefix that rag.build.builder.indexed_text
adds to later chunks); ``token_range`` maps that span to word pieces with the
fast tokenizer's offset_mapping; ``pool`` averages and normalizes.

The result is close to, not equal to, encoding the sentence alone: the word
pieces saw the whole chunk as context (tests/test_pooling.py measures how close
on real text). Does not handle models that pool otherwise (CLS, max): callers
fall back to encoding sentences separately; nor a sentence whose word pieces
were cut off by truncation (``token_range`` then returns an empty range and the
caller encodes that sentence on its own).
"""
from __future__ import annotations

import numpy as np


def plan(chunks: list[dict], units: list[tuple[int, int]],
         prefixes: list[int]) -> list[tuple[int, int, int]]:
    """For each sentence (unit) of one document: (chunk number, start, end), the span
    in that chunk's embedded text (prefixes[j]: characters before the chunk's own text,
    e.g. len(title) + 1). Chunks are records with start, sent_lo, sent_hi (rag.build.builder)."""
    best: list[tuple[int, int] | None] = [None] * len(units)   # (context, -chunk) per sentence
    for j, c in enumerate(chunks):
        lo, hi = c["sent_lo"], c["sent_hi"]
        for s in range(lo, hi):
            key = (min(s - lo, hi - 1 - s), -j)   # more context on the poorer side wins; then earlier
            if best[s] is None or key > best[s]:
                best[s] = key
    out = []
    for s, (a, b) in enumerate(units):
        if best[s] is None:
            raise ValueError(f"sentence {s} ({a}-{b}) is in no chunk")
        j = -best[s][1]
        shift = prefixes[j] - chunks[j]["start"]
        out.append((j, a + shift, b + shift))
    return out


def token_range(offsets: np.ndarray, start: int, end: int) -> tuple[int, int]:
    """Word pieces [t0, t1) that overlap characters [start, end) of the text.

    offsets: [T, 2] character offsets per token as the fast tokenizer returns them
    (special and padding tokens are (0, 0) and never count)."""
    real = np.flatnonzero(offsets[:, 1] > offsets[:, 0])
    if not len(real):
        return 0, 0
    starts, ends = offsets[real, 0], offsets[real, 1]
    lo = int(np.searchsorted(ends, start, side="right"))   # first piece ending after start
    hi = int(np.searchsorted(starts, end, side="left"))    # first piece starting at or after end
    if hi <= lo:
        return 0, 0
    return int(real[lo]), int(real[hi - 1]) + 1


def normalize(vecs: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vecs, axis=-1, keepdims=True)
    return (vecs / np.maximum(norms, 1e-12)).astype(np.float32)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normalized masked mean over tokens: [B, T, D], [B, T] -> [B, D] (the text vectors)."""
    m = mask.astype(np.float32)[..., None]
    summed = (hidden * m).sum(axis=1)
    return normalize(summed / np.maximum(m.sum(axis=1), 1e-9))


def pool(hidden: np.ndarray, offsets: np.ndarray, spans: list[tuple[int, int]]) -> tuple[np.ndarray, list[int]]:
    """Vectors of character spans of one text from its token embeddings [T, D].

    Returns (vectors [len(spans), D], the positions in spans that have no word piece
    inside the encoded text: their rows are zero and the caller must fill them)."""
    out = np.zeros((len(spans), hidden.shape[-1]), dtype=np.float32)
    missing = []
    for n, (a, b) in enumerate(spans):
        t0, t1 = token_range(offsets, a, b)
        if t1 > t0:
            out[n] = hidden[t0:t1].mean(axis=0)
        else:
            missing.append(n)
    ok = np.ones(len(spans), dtype=bool)
    ok[missing] = False
    out[ok] = normalize(out[ok])
    return out, missing


def pool_runs(sums: np.ndarray, runs: list[list[int]]) -> np.ndarray:
    """Vectors of texts made of runs of encoded texts (a chunk from its sentences and title line):
    the normalized sum of their token sums [N, D] (from Embedder.encode_sums), i.e. the mean over
    all their word pieces, each embedded in the context of its own sentence."""
    out = np.zeros((len(runs), sums.shape[-1]), dtype=np.float64)
    for n, rows in enumerate(runs):
        out[n] = sums[rows].sum(axis=0)
    return normalize(out)
