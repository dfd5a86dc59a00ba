"""The one fusion scorer: how the hybrid and RRF modes combine dense and BM25 evidence for candidates.

``Features`` holds, for the candidate chunks of one question, every input of the hybrid score: chunk
cosine, chunk BM25 over its best, best-sentence cosine and document BM25 over its best, plus the dense
and BM25 rankings that RRF fuses. ``hybrid`` and ``rrf`` turn them into one score per candidate. The
retriever ranks with these functions and bench/tune_fusion.py tunes the weights with the same ones, so
a tuned weight means the same in both. Does not fetch candidates (rag.retrieve.retriever does).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RRF_K = 60   # the constant of reciprocal rank fusion (Cormack et al. 2009)


@dataclass
class Features:
    chunks: np.ndarray            # candidate chunk rows, ascending
    dense: np.ndarray             # cosine(question, chunk)
    bm25: np.ndarray              # chunk BM25 / the best chunk BM25 (0 when none matched)
    sentence: np.ndarray | None   # best cosine(question, sentence of the chunk); None: not computed
    document: np.ndarray | None   # document BM25 / the best document BM25; None: not computed
    dense_ids: np.ndarray         # the dense ranking of candidates (rows, best first)
    bm25_ids: np.ndarray          # the BM25 ranking


def hybrid(f: Features, weights) -> np.ndarray:
    """w_dense * cosine + w_bm25 * BM25 + w_sentence * best sentence + w_document * document BM25."""
    wd, wb, ws, wdoc = weights
    scores = wd * f.dense + wb * f.bm25
    if ws and f.sentence is not None:
        scores = scores + ws * f.sentence
    if wdoc and f.document is not None:
        scores = scores + wdoc * f.document
    return scores


def rrf(f: Features) -> np.ndarray:
    """Plain reciprocal rank fusion of the dense and BM25 rankings."""
    scores = np.zeros(len(f.chunks))
    pos = {c: i for i, c in enumerate(f.chunks)}
    for ranked in (f.dense_ids, f.bm25_ids):
        for r, c in enumerate(ranked, 1):
            scores[pos[c]] += 1.0 / (RRF_K + r)
    return scores
