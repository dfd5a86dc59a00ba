"""Dense retrieval over a loaded index: question vector in, ranked passages out.

Scores are cosine similarities (inner products of normalized vectors), so they
are comparable across questions and usable for the not-found threshold. Does
not filter by document or date, and does not rerank with a cross-encoder.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .store import IndexData


@dataclass(frozen=True)
class Passage:
    rank: int
    chunk: int       # row in chunks.jsonl / the FAISS index
    doc_id: str
    title: str
    text: str
    start: int       # character span of the passage in its document
    end: int
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Sentence:
    row: int         # row in sentences.npy / sentence_vecs.npy
    start: int       # character span in the document
    end: int
    text: str


class Retriever:
    """Holds a loaded index; safe to share between threads for reading."""

    def __init__(self, data: IndexData):
        import faiss

        faiss.omp_set_num_threads(1)   # fastest for single queries on small machines
        self.data = data
        self.docs = data.manifest["documents"]
        self._doc_no = {d["id"]: i for i, d in enumerate(self.docs)}
        self._sent_base = np.searchsorted(data.sentences[:, 0], np.arange(len(self.docs)))

    @property
    def manifest(self) -> dict:
        return self.data.manifest

    def search(self, qvec: np.ndarray, k: int) -> list[Passage]:
        k = min(k, self.data.faiss_index.ntotal)
        if k <= 0:
            return []
        scores, ids = self.data.faiss_index.search(np.asarray(qvec, np.float32).reshape(1, -1), k)
        out = []
        for rank, (i, s) in enumerate(zip(ids[0], scores[0]), 1):
            if i < 0:
                continue
            c = self.data.chunks[i]
            title = self.docs[self._doc_no[c["doc"]]]["title"]
            out.append(Passage(rank, int(i), c["doc"], title, c["text"], c["start"], c["end"], float(s)))
        return out

    def sentences(self, passage: Passage) -> list[Sentence]:
        """The sentences of a passage, with their rows in the sentence arrays."""
        c = self.data.chunks[passage.chunk]
        base = int(self._sent_base[self._doc_no[c["doc"]]])
        out = []
        for row in range(base + c["sent_lo"], base + c["sent_hi"]):
            _, a, b = (int(x) for x in self.data.sentences[row])
            out.append(Sentence(row, a, b, c["text"][a - c["start"]:b - c["start"]]))
        return out

    def sentence_vectors(self, rows: list[int]) -> np.ndarray:
        return np.asarray(self.data.sentence_vecs[rows], dtype=np.float32)
