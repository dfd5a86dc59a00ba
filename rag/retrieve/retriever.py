"""Rank passages for a question: dense, BM25, their plain RRF, or the tuned hybrid.

Every mode draws candidates from the top ``depth`` chunks of the dense search
(cosine; exact, or approximate in large segments: rag.storage.dense)
and, when the index has one, of BM25, then scores them:
  dense   cosine similarity of the question and chunk vectors
  bm25    BM25 score of the chunk text
  rrf     reciprocal rank fusion of the dense and BM25 rankings (k=60)
  hybrid  w_dense * cosine + w_bm25 * BM25 / max BM25 + w_sentence * best sentence
          cosine + w_document * document BM25 / max document BM25
Each passage also carries its cosine ``similarity`` to the question, whatever
the mode, and the page its start is on for paged documents (PDF, slides). With a scope
(rag.retrieve.scope: folders, file types, picked documents) every candidate comes from the
scope's own rows: the dense search runs over only those rows (all of them scored exactly when
they are few: ``exact_scope_rows``), BM25 scores only them, and the hybrid's maxima are
theirs, so nothing outside the scope is ranked or returned.

A partial index (a build still computing vectors: documents marked ``pending`` in
the manifest, their stored vectors zero; rag.build.builder) is ranked by BM25 in
every mode until it is complete, and the vectors of the few chunks and sentences a
question then needs (the passages shown and their sentences, for the answer step)
are encoded on demand with ``encode`` when given. ``progress`` says how far the
vectors are. Does not rerank with a cross-encoder.
"""
from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass

import numpy as np

from rag.config import MODES
from rag.retrieve import fusion
from rag.retrieve.fusion import RRF_K  # noqa: F401  (callers read it here)
from rag.retrieve.scope import Allowed, Scope, resolve
from rag.storage.reader import IndexData, chunk_vectors
from rag.storage.records import column


@dataclass(frozen=True)
class Passage:
    rank: int
    chunk: int       # row in chunks.jsonl / the FAISS index
    doc_id: str
    title: str
    text: str
    start: int       # character span of the passage in its document
    end: int
    score: float     # the mode's ranking score
    similarity: float  # cosine similarity of question and passage
    page: int | None = None   # 1-based page (PDF page, slide) of the passage start; None if not paged

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

    exact_scope_rows = 1024   # a scope of at most this many chunks is scored exactly rather than searched

    def __init__(self, data: IndexData, *, weights: tuple, depth: int, encode=None):
        import faiss

        faiss.omp_set_num_threads(1)   # fastest for single queries on small machines
        self.data, self.weights, self.depth, self.encode = data, tuple(weights), depth, encode
        self.docs = data.manifest["documents"]
        self.bm25, self.doc_bm25 = data.bm25, data.doc_bm25
        self._pages = [d.get("page_starts") or None for d in self.docs]
        self._vecs = chunk_vectors(data)
        self._sent_vecs = data.sentence_vecs   # float32 rows on demand (rag.storage.vector_rows over float16 segments)
        # rows are laid out document by document in manifest order (rag.storage.segments.assemble)
        n_chunks = np.array([d["chunks"] for d in self.docs], dtype=np.int64)
        n_sents = np.array([d["sentences"] for d in self.docs], dtype=np.int64)
        self._doc_rows = np.concatenate([[0], np.cumsum(n_chunks)])
        base = np.concatenate([[0], np.cumsum(n_sents)])[:-1]
        self._chunk_doc = np.repeat(np.arange(len(self.docs), dtype=np.int64), n_chunks)
        self._sent_lo = base[self._chunk_doc] + column(data.chunks, "sent_lo")
        self._sent_hi = base[self._chunk_doc] + column(data.chunks, "sent_hi")
        pending = np.array([bool(d.get("pending")) for d in self.docs], dtype=bool)
        self.partial = bool(pending.any())
        self._chunk_pending = pending[self._chunk_doc] if self.partial else None
        self._sent_pending = np.repeat(pending, n_sents) if self.partial else None
        self._lazy: dict = {}   # ("c" | "s", row) -> vector encoded on demand (partial index)
        self._scopes: dict[Scope, Allowed] = {}
        self._dense_within: dict[Scope, object] = {}

    def allowed(self, scope: Scope | None) -> Allowed | None:
        """The scope resolved against this version (cached; QuestionError when it matches nothing)."""
        if not scope:
            return None
        hit = self._scopes.get(scope)
        if hit is None:
            hit = resolve(scope, self.docs, self._chunk_doc)
            if len(self._scopes) >= 64:
                self._scopes.clear()
            self._scopes[scope] = hit
        return hit

    @property
    def progress(self) -> dict:
        """How far the vectors are: {"complete", "documents", "documents_pending", "chunks",
        "chunks_pending"}."""
        n_docs = sum(1 for d in self.docs if d.get("pending"))
        n_chunks = int(self._chunk_pending.sum()) if self.partial else 0
        return {"complete": not self.partial, "documents": len(self.docs), "documents_pending": n_docs,
                "chunks": len(self.data.chunks), "chunks_pending": n_chunks}

    def _chunk_vecs(self, rows) -> np.ndarray:
        """Chunk vectors of rows (float32); on a partial index, pending rows encoded on demand."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = self._vecs[rows]
        if self.partial:
            self._fill(out, rows, self._chunk_pending, "c")
        return out

    def _fill(self, out, rows, pending, kind) -> None:
        todo = [n for n, r in enumerate(rows) if pending[r]]
        if not todo or self.encode is None:
            return
        need = [int(rows[n]) for n in todo if (kind, int(rows[n])) not in self._lazy]
        if need:
            texts = [self._chunk_text(r) if kind == "c" else self._sentence_text(r) for r in need]
            for r, v in zip(need, self.encode(texts)):
                self._lazy[kind, r] = np.asarray(v, dtype=np.float32)
        for n in todo:
            out[n] = self._lazy[kind, int(rows[n])]

    def _chunk_text(self, row: int) -> str:
        """What the build embeds for a chunk (rag.build.builder.indexed_text)."""
        from rag.build.builder import indexed_text

        c = self.data.chunks[row]
        settings = self.manifest.get("settings", {})
        return indexed_text(c, self.docs[self._chunk_doc[row]]["title"], _Titles(settings.get("title_in_chunks", True)))

    def _sentence_text(self, row: int) -> str:
        d, a, b = (int(x) for x in self.data.sentences[row])
        # the document's chunks are contiguous, in order: read those only, one at a time
        lo, hi = (int(x) for x in np.searchsorted(self._chunk_doc, [d, d + 1]))
        for row in range(lo, hi):
            c = self.data.chunks[row]
            if c["start"] <= a and b <= c["end"]:
                return c["text"][a - c["start"]:b - c["start"]]
        return ""

    @property
    def manifest(self) -> dict:
        return self.data.manifest

    def _within(self, allowed: Allowed):
        """The dense search's selectors of a resolved scope (built once per scope and version)."""
        within = self._dense_within.get(allowed.scope)
        if within is None:
            make = getattr(self.data.faiss_index, "within", None)
            within = make(allowed.chunks) if make else allowed.chunks
            if len(self._dense_within) >= 64:
                self._dense_within.clear()
            self._dense_within[allowed.scope] = within
        return within

    def _candidates(self, question: str, qvec: np.ndarray, depth: int, mode: str, allowed: Allowed | None = None):
        n = self.data.faiss_index.ntotal
        if self.partial and self.bm25 is not None:   # dense ranks wait for every vector
            n = len(self.data.chunks)
            bm = self.bm25.scores(question, None if allowed is None else allowed.chunks)
            top = min(depth, n)
            bm_ids = np.argpartition(-bm, top - 1)[:top] if top < n else np.arange(n)
            bm_ids = bm_ids[np.argsort(-bm[bm_ids], kind="stable")]
            return np.zeros(0, np.int64), bm_ids[bm[bm_ids] > 0], bm
        if allowed is not None and len(allowed.rows) <= max(depth, self.exact_scope_rows):
            sims = self._vecs[allowed.rows] @ qvec   # a small scope: every row of it scored exactly
            dense_ids = allowed.rows[np.lexsort((allowed.rows, -sims))][:depth]
        elif allowed is not None:   # only the scope's rows are searched (rag.storage.dense: FAISS ID selectors)
            _, ids = self.data.faiss_index.search(qvec.reshape(1, -1), min(depth, n), self._within(allowed))
            dense_ids = ids[0][ids[0] >= 0]
        else:
            _, ids = self.data.faiss_index.search(qvec.reshape(1, -1), min(depth, n))
            dense_ids = ids[0][ids[0] >= 0]
        bm = (self.bm25.scores(question, None if allowed is None else allowed.chunks)
              if self.bm25 is not None and mode != "dense" else None)
        if bm is None:
            return dense_ids, np.zeros(0, np.int64), None
        top = min(depth, n)
        bm_ids = np.argpartition(-bm, top - 1)[:top] if top < n else np.arange(n)
        bm_ids = bm_ids[np.argsort(-bm[bm_ids], kind="stable")]
        bm_ids = bm_ids[bm[bm_ids] > 0]
        return dense_ids, bm_ids, bm

    def best_sentence(self, chunks: np.ndarray, qvec: np.ndarray) -> np.ndarray:
        """Highest sentence cosine within each chunk."""
        lo, hi = self._sent_lo[chunks], self._sent_hi[chunks]
        rows = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
        sims = self._sent_vecs[rows] @ qvec
        return np.maximum.reduceat(sims, np.concatenate([[0], np.cumsum(hi - lo)[:-1]]))

    def search(self, question: str, qvec: np.ndarray, k: int, *, mode: str = "hybrid",
               depth: int | None = None, scope: Scope | None = None) -> list[Passage]:
        """The k best passages (scope: only its documents' passages are searched and ranked)."""
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}: choose from {', '.join(MODES)}")
        qvec = np.asarray(qvec, np.float32).reshape(-1)
        depth = max(k, depth or self.depth)
        allowed = self.allowed(scope)
        if self.partial and self.bm25 is not None:
            mode = "bm25"
        dense_ids, bm_ids, bm = self._candidates(question, qvec, depth, mode, allowed)
        if mode == "bm25" and bm is not None:
            cands = bm_ids
            if len(cands) == 0:
                return []
            scores = bm[cands]
        else:
            cands = np.unique(np.concatenate([dense_ids, bm_ids]))   # by row: ties do not depend on the ANN
            if len(cands) == 0:
                return []
            if mode == "dense" or bm is None:
                scores = self._vecs[cands] @ qvec
            else:
                _, _, ws, wdoc = self.weights
                f = self._features(question, qvec, cands, dense_ids, bm_ids, bm,
                                   sentence=mode == "hybrid" and bool(ws), document=mode == "hybrid" and bool(wdoc),
                                   allowed=allowed)
                scores = fusion.rrf(f) if mode == "rrf" else fusion.hybrid(f, self.weights)
        order = np.argsort(-scores, kind="stable")[:k]
        picked = cands[order]
        sims = self._chunk_vecs(picked) @ qvec
        out = []
        for rank, (i, s, sim) in enumerate(zip(picked, scores[order], sims), 1):
            c = self.data.chunks[i]
            title = self.docs[self._chunk_doc[i]]["title"]
            out.append(Passage(rank, int(i), c["doc"], title, c["text"], c["start"], c["end"],
                               float(s), float(sim), self.page(int(i))))
        return out

    def fusion_features(self, question: str, qvec: np.ndarray, depth: int) -> fusion.Features:
        """Every input of the hybrid score for the question's candidates (for tuning its weights with
        rag.retrieve.fusion, the scorer search uses)."""
        qvec = np.asarray(qvec, np.float32).reshape(-1)
        dense_ids, bm_ids, bm = self._candidates(question, qvec, depth, "hybrid")
        cands = np.unique(np.concatenate([dense_ids, bm_ids]))
        return self._features(question, qvec, cands, dense_ids, bm_ids, bm, sentence=True, document=True)

    def _features(self, question, qvec, cands, dense_ids, bm_ids, bm, *, sentence: bool,
                  document: bool, allowed: Allowed | None = None) -> fusion.Features:
        """fusion.Features of cands (best-sentence and document scores only when asked: they cost;
        with a scope, BM25 maxima are the scope's)."""
        bmax = float(bm.max()) if len(bm) else 0.0
        dbm = (self.doc_bm25.scores(question, None if allowed is None else allowed.docs)
               if document and self.doc_bm25 is not None else None)
        return fusion.Features(
            chunks=cands, dense=self._vecs[cands] @ qvec,
            bm25=bm[cands] / bmax if bmax > 0 else np.zeros(len(cands)),
            sentence=self.best_sentence(cands, qvec) if sentence else None,
            document=(dbm[self._chunk_doc[cands]] / float(dbm.max()) if dbm is not None and dbm.max() > 0
                      else None),
            dense_ids=dense_ids, bm25_ids=bm_ids)

    def chunk_docs(self, rows) -> list[str]:
        """The document id of each chunk row."""
        return [self.data.chunks[int(c)]["doc"] for c in rows]

    def document_passages(self, doc_id: str) -> list[Passage]:
        """Every chunk of one document, in reading order, as unranked passages (rank 0, score 0)."""
        n = next((n for n, d in enumerate(self.docs) if d["id"] == doc_id), None)
        rows = [] if n is None else range(int(self._doc_rows[n]), int(self._doc_rows[n + 1]))
        return [Passage(0, i, doc_id, self.docs[self._chunk_doc[i]]["title"], self.data.chunks[i]["text"],
                        self.data.chunks[i]["start"], self.data.chunks[i]["end"], 0.0, 0.0, self.page(i))
                for i in rows]

    def page(self, chunk: int) -> int | None:
        """The 1-based page on which chunk row `chunk` starts, or None for a document without pages."""
        starts = self._pages[self._chunk_doc[chunk]]
        return bisect.bisect_right(starts, self.data.chunks[chunk]["start"]) if starts else None

    def sentences(self, passage: Passage) -> list[Sentence]:
        """The sentences of a passage, with their rows in the sentence arrays."""
        c = self.data.chunks[passage.chunk]
        out = []
        for row in range(self._sent_lo[passage.chunk], self._sent_hi[passage.chunk]):
            _, a, b = (int(x) for x in self.data.sentences[row])
            out.append(Sentence(int(row), a, b, c["text"][a - c["start"]:b - c["start"]]))
        return out

    def sentence_vectors(self, rows: list[int]) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = self._sent_vecs[rows]
        if self.partial:
            self._fill(out, rows, self._sent_pending, "s")
        return out


@dataclass(frozen=True)
class _Titles:
    title_in_chunks: bool
