"""BM25 over chunk texts (bm25s), with English stopwords and Snowball stemming.

Saved beside the FAISS index as bm25s's own ``.npy`` arrays and JSON files
(loaded with ``allow_pickle=False``); the index manifest records the
parameters and the vocabulary size, which ``load`` checks. The whole BM25 index
is rebuilt on every index build (it is cheap next to embedding). Does not handle
languages other than English well (stemming and stopwords are English).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.errors import IndexCorruptError
from rag.text.terms import STEMMER, _require, tokenize  # noqa: F401  (tokenize: callers import it here)

PARAMS = {"k1": 1.2, "b": 0.75, "method": "lucene", "stemmer": STEMMER, "stopwords": "en"}


class BM25:
    """A bm25s index over the chunks of one index folder, rows aligned with chunks.jsonl."""

    def __init__(self, model):
        self.model = model

    @classmethod
    def build(cls, texts: list[str]) -> "BM25":
        bm25s, _ = _require()
        model = bm25s.BM25(k1=PARAMS["k1"], b=PARAMS["b"], method=PARAMS["method"])
        model.index([tokenize(t) or [""] for t in texts], show_progress=False)
        return cls(model)

    @property
    def size(self) -> int:
        return int(self.model.scores["num_docs"])

    @property
    def vocab_size(self) -> int:
        return len(self.model.vocab_dict)

    def save(self, folder: Path) -> None:
        self.model.save(str(folder), allow_pickle=False, show_progress=False)

    @classmethod
    def load(cls, folder: Path, *, expect_docs: int, expect_vocab: int | None = None) -> "BM25":
        bm25s, _ = _require()
        try:
            model = bm25s.BM25.load(str(folder), allow_pickle=False, mmap=False, show_progress=False)
        except Exception as exc:
            raise IndexCorruptError(f"BM25 index in {folder} is damaged ({type(exc).__name__}: {exc})"
                                    ) from None   # rag.storage.writer adds the rebuild command
        bm25 = cls(model)
        if bm25.size != expect_docs or (expect_vocab is not None and bm25.vocab_size != expect_vocab):
            raise IndexCorruptError(
                f"BM25 index in {folder} has {bm25.size} rows and {bm25.vocab_size} terms, manifest says "
                f"{expect_docs} and {expect_vocab}")
        return bm25

    def idf(self, terms) -> dict[str, float]:
        """BM25's idf of each (already tokenized) term; unknown terms get the largest idf."""
        indptr, n = self.model.scores["indptr"], self.size
        out = {}
        for t in terms:
            tid = self.model.vocab_dict.get(t)
            df = int(indptr[tid + 1] - indptr[tid]) if tid is not None and tid + 1 < len(indptr) else 0
            out[t] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
        return out

    def scores(self, query: str, allowed: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every row for query (zeros when no query term is known); allowed: bool
        [rows] or None, the rows that may score (the others score 0: bm25s's weight mask)."""
        ids = self.model.get_tokens_ids(tokenize(query))
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        mask = None if allowed is None else np.asarray(allowed, dtype=np.float32)
        return np.asarray(self.model.get_scores_from_ids(ids, weight_mask=mask), dtype=np.float32)
