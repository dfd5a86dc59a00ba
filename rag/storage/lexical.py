"""BM25 over chunk texts and whole documents, with English stopwords and Snowball stemming.

Each immutable segment carries the postings of its own rows (``Postings``: the
sorted terms, per term the rows holding it and how often, and each row's length,
as ``.npy`` arrays read memory-mapped); nothing in them depends on the rest of
the corpus. ``SegmentedBM25`` scores a version's live rows at query time from the
postings of all its segments, with corpus-wide statistics (number of live rows,
their average length, each query term's document frequency over live rows), so
its scores are those of a BM25 built from scratch over the live rows (bm25s's
Lucene variant, k1 = 1.2, b = 0.75) while a refresh writes only the new segment's
postings. ``BM25`` (bm25s itself, saved as its own ``.npy`` arrays and JSON
files, loaded with ``allow_pickle=False``) reads the version-wide BM25 of indexes
written before segments carried postings. Does not handle languages other than
English well (stemming and stopwords are English).
"""
from __future__ import annotations

import math
import os
import weakref
from array import array
from collections import Counter
from itertools import repeat
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


def indexed_text(chunk: dict, title: str, title_in_chunks: bool = True) -> str:
    """What is embedded and BM25-indexed for a chunk: its text, after the document title
    when the chunk does not start the document (so later chunks keep their topic)."""
    if title_in_chunks and chunk["start"] > 0 and title:
        return f"{title}\n{chunk['text']}"
    return chunk["text"]


def document_text(chunks) -> str:
    """A document's text rebuilt from its chunks (overlaps removed; whitespace
    between sentences may differ), so unchanged documents need not be re-read."""
    parts, pos = [], 0
    for c in sorted(chunks, key=lambda c: c["start"]):
        if c["end"] > pos:
            parts.append(c["text"][max(0, pos - c["start"]):])
            pos = c["end"]
    return " ".join(parts)


POSTINGS = ("terms.npy", "starts.npy", "rows.npy", "tf.npy", "lengths.npy")


class FileArray1:
    """A 1-D ``.npy`` file whose slices are read with ``os.pread`` (nothing mapped: see
    rag.storage.vector_rows.FileArray); dtype, shape and len as numpy's."""

    def __init__(self, path: Path):
        from numpy.lib import format as npy

        with open(path, "rb") as f:
            version = npy.read_magic(f)
            read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran, dtype = read(f)
            self.offset = f.tell()
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        if len(self.shape) != 1 or path.stat().st_size != self.offset + self.dtype.itemsize * self.shape[0]:
            raise IndexCorruptError(f"{path.name} is not a whole 1-D array")
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, s: slice) -> np.ndarray:
        a, b, _ = s.indices(self.shape[0])
        if b <= a:
            return np.zeros(0, self.dtype)
        size = self.dtype.itemsize
        return np.frombuffer(os.pread(self._fd, (b - a) * size, self.offset + a * size), dtype=self.dtype)


class Postings:
    """One segment's BM25 postings: terms (sorted UTF-8 bytes), starts [V + 1] into rows/tf
    (int32: the rows holding each term, ascending; how often), lengths [R] (terms a row holds;
    an empty row counts 1, as bm25s counts it)."""

    def __init__(self, terms: np.ndarray, starts: np.ndarray, rows: np.ndarray, tf: np.ndarray,
                 lengths: np.ndarray):
        self.terms, self.starts, self.rows, self.tf, self.lengths = terms, starts, rows, tf, lengths

    @classmethod
    def build(cls, texts) -> "Postings":
        """Postings of texts (an iterable of strings, one per row)."""
        vocab: dict[str, int] = {}
        tids, rows, counts, lengths = array("q"), array("i"), array("i"), array("i")   # compact: 1M rows fit
        for r, text in enumerate(texts):
            toks = tokenize(text)
            lengths.append(len(toks) or 1)
            tf = Counter(toks)
            tids.extend(vocab.setdefault(t, len(vocab)) for t in tf)
            rows.extend(repeat(r, len(tf)))
            counts.extend(tf.values())
        names = sorted(vocab)
        rank = np.empty(len(names), dtype=np.int64)
        rank[[vocab[t] for t in names]] = np.arange(len(names))
        del vocab
        tid = rank[np.frombuffer(tids, dtype=np.int64)] if len(tids) else np.zeros(0, np.int64)
        del tids
        rows_a = np.frombuffer(rows, dtype=np.int32)
        order = np.lexsort((rows_a, tid))
        starts = np.zeros(len(names) + 1, dtype=np.int64)
        np.cumsum(np.bincount(tid, minlength=len(names)), out=starts[1:])
        raw = [t.encode("utf-8") for t in names]
        terms = np.array(raw, dtype=f"S{max((len(t) for t in raw), default=1) or 1}")
        return cls(terms, starts, rows_a[order], np.frombuffer(counts, dtype=np.int32)[order],
                   np.frombuffer(lengths, dtype=np.int32).copy())

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, arr in zip(POSTINGS, (self.terms, self.starts, self.rows, self.tf, self.lengths)):
            np.save(folder / name, arr, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, rows: int) -> "Postings":
        """Memory-mapped postings of a segment folder's subfolder, checked against its row count."""
        terms, starts, lengths = (np.load(folder / name, allow_pickle=False)
                                  for name in ("terms.npy", "starts.npy", "lengths.npy"))
        prow, tf = FileArray1(folder / "rows.npy"), FileArray1(folder / "tf.npy")   # read per term
        problems = []
        if terms.dtype.kind != "S" or terms.ndim != 1:
            problems.append(f"terms.npy is {terms.dtype} {terms.shape}, expected bytes [V]")
        if starts.dtype != np.int64 or starts.shape != (len(terms) + 1,) or starts[0] != 0:
            problems.append(f"starts.npy is {starts.dtype} {starts.shape}, expected int64 [{len(terms) + 1}]")
        elif prow.dtype != np.int32 or tf.dtype != np.int32 or prow.shape != tf.shape or \
                prow.shape != (int(starts[-1]),):
            problems.append(f"rows.npy/tf.npy are {prow.dtype} {prow.shape}/{tf.dtype} {tf.shape}, "
                            f"expected int32 [{int(starts[-1])}]")
        if lengths.dtype != np.int32 or lengths.shape != (rows,):
            problems.append(f"lengths.npy is {lengths.dtype} {lengths.shape}, expected int32 [{rows}]")
        if problems:
            raise IndexCorruptError(f"BM25 postings in {folder.name}: {'; '.join(problems)}")
        return cls(terms, starts, prow, tf, lengths)

    def lookup(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, tf) of a term; empty when the segment lacks it."""
        key = term.encode("utf-8")
        i = int(np.searchsorted(self.terms, key))
        if i < len(self.terms) and self.terms[i] == key:
            a, b = int(self.starts[i]), int(self.starts[i + 1])
            return np.asarray(self.rows[a:b]), np.asarray(self.tf[a:b])
        return np.zeros(0, np.int32), np.zeros(0, np.int32)


class SegmentedBM25:
    """BM25 over a version's rows from the postings of its segments, statistics over live rows only.

    parts: [(Postings, to_version)]: to_version maps each of the postings' rows to the version's
    row (-1: a deleted row, left out of every statistic); n: the version's row count."""

    def __init__(self, parts: list, n: int):
        self.parts, self.n = parts, int(n)
        self._lengths = np.zeros(self.n, dtype=np.float64)
        for postings, to_version in parts:
            live = to_version >= 0
            self._lengths[to_version[live]] = postings.lengths[live]
        self.avgdl = float(self._lengths.mean()) if self.n else 1.0

    @property
    def size(self) -> int:
        return self.n

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(version rows, tf) of the live rows holding term."""
        rows, tfs = [], []
        for postings, to_version in self.parts:
            r, tf = postings.lookup(term)
            if len(r):
                v = to_version[r]
                keep = v >= 0
                rows.append(v[keep])
                tfs.append(tf[keep])
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int32)
        return np.concatenate(rows), np.concatenate(tfs)

    def _idf(self, df: int) -> float:
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def idf(self, terms) -> dict[str, float]:
        """BM25's idf of each (already tokenized) term; unknown terms get the largest idf."""
        return {t: self._idf(len(self.postings(t)[0])) for t in terms}

    def scores(self, query: str, allowed: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every row (zeros when no query term is known); a repeated query term
        counts as often as it is repeated, as in bm25s. allowed: bool [rows] or None, the rows
        that may score (the others score 0; statistics stay corpus-wide, as bm25s's weight mask)."""
        out = np.zeros(self.n, dtype=np.float64)
        k1, b = PARAMS["k1"], PARAMS["b"]
        for term, times in Counter(tokenize(query)).items():
            rows, tf = self.postings(term)
            if not len(rows):
                continue
            tf = tf.astype(np.float64)
            norm = k1 * ((1 - b) + b * self._lengths[rows] / self.avgdl)
            out[rows] += times * self._idf(len(rows)) * tf / (norm + tf)
        if allowed is not None:
            out *= np.asarray(allowed, dtype=bool)
        return out.astype(np.float32)
