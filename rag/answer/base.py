"""What an answer is, and the small interface every answer step implements.

``Answer`` and ``Citation`` are the results the API, CLI and UI show.
``Answerer`` is the answer step: given the question, its vector, the ranked
passages and a ``SentenceSource`` (the retriever's public view of the indexed
sentences), it returns an ``Answer``. The extractive answerer
(``rag.answer.extractive``) is the one used today; an LLM answerer can plug in later
through the same interface (``Rag(config, answerer=...)``; rag.llm.answerer is one). ``cite`` turns
chosen sentences into the answer text with ``[n]`` markers and its citations.
Does not retrieve or embed anything itself.
"""
from __future__ import annotations

import abc
from dataclasses import asdict, dataclass
from typing import Iterator, Optional, Protocol, Sequence

import numpy as np

from rag.retrieve.retriever import Passage, Sentence

NOT_FOUND = "The documents do not contain an answer to this question."
NOT_FOUND_SCOPED = "The selected documents do not contain an answer to this question."   # a scoped question


@dataclass(frozen=True)
class Citation:
    marker: int      # the [n] shown in the answer text
    doc_id: str
    title: str
    passage: str
    start: int       # passage span in the document
    end: int
    score: float     # passage retrieval score
    quote: str       # the cited sentence, highlighted in the passage
    quote_start: int # quote span in the document
    quote_end: int
    page: Optional[int] = None   # page of the passage start (PDF page, slide), None if not paged


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    found: bool
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    notice: Optional[str] = None
    short: Optional[str] = None        # the short answer ("February 7, 2016"), None when not confident
    short_doc: Optional[str] = None    # the document it is in
    short_start: Optional[int] = None  # its character span in that document
    short_end: Optional[int] = None
    score: float = 0.0                 # the evidence score the not-found rule compared with its threshold
    claims: tuple = ()                 # generated answers: each sentence checked (rag.llm.claims.Claim)
    supported_share: Optional[float] = None   # generated answers: share of sentences the passages support
    generated: bool = False            # written by an LLM (rag.llm.answerer) rather than quoted
    short_prob: Optional[float] = None  # the probability that the short answer is right (rag.answer.chooser, or
    #                                     the span reader's gate); None for a rule's or a labelled value's
    # from a partial index (a build still computing vectors): how far it is (rag.retrieve.Retriever.progress)
    partial: Optional[dict] = None

    def to_json(self, *, seconds: float | None = None) -> dict:
        """The JSON shape of `rag ask --json` and the HTTP API's /api/ask: to_dict(), plus the
        seconds the answer took when given."""
        out = self.to_dict()
        if seconds is not None:
            out["seconds"] = round(float(seconds), 3)
        return out

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": self.text, "found": self.found,
                "short_answer": self.short, "short_doc": self.short_doc,
                "short_start": self.short_start, "short_end": self.short_end, "short_prob": self.short_prob,
                "score": round(float(self.score), 4), "notice": self.notice, "partial": self.partial,
                "generated": self.generated,
                "supported_share": self.supported_share, "claims": [c.to_dict() for c in self.claims],
                "citations": [asdict(c) for c in self.citations],
                "passages": [p.to_dict() for p in self.passages]}


class SentenceSource(Protocol):
    """The retriever's public view of indexed sentences (rag.retrieve.retriever.Retriever implements it)."""

    def sentences(self, passage: Passage) -> list[Sentence]: ...

    def sentence_vectors(self, rows: list[int]) -> np.ndarray: ...

    def document_passages(self, doc_id: str) -> list[Passage]: ...


class Answerer(abc.ABC):
    """The answer step: ranked passages in, an Answer out, whole (answer) or streamed (stream).

    generated: whether the text is written by a model (rag.llm.answerer) rather than quoted; the
    edges stream such answers as they are written and then show the checked final Answer."""

    generated: bool = False

    @abc.abstractmethod
    def answer(self, question: str, qvec: np.ndarray, passages: Sequence[Passage],
               source: SentenceSource, *, notice: str | None = None) -> Answer:
        """The answer to question from the ranked passages (source: their indexed sentences)."""

    def stream(self, question: str, qvec: np.ndarray, passages: Sequence[Passage],
               source: SentenceSource, *, notice: str | None = None) -> Iterator[str | Answer]:
        """Text deltas (str) as they are written, then the final Answer. An answer step that
        does not write text piece by piece yields its whole text once, then the Answer."""
        answer = self.answer(question, qvec, passages, source, notice=notice)
        yield answer.text
        yield answer


def cite(picked: Sequence[tuple[Passage, Sentence]], *, reading_order: bool = True) -> tuple[str, tuple]:
    """(answer text with [n] after each sentence, citations) for the chosen (passage, sentence) pairs."""
    if reading_order:
        picked = sorted(picked, key=lambda ps: (ps[0].doc_id, ps[1].start))
    citations, markers, parts = [], {}, []
    for p, s in picked:
        marker = markers.setdefault(p.chunk, len(markers) + 1)
        citations.append(Citation(marker, p.doc_id, p.title, p.text, p.start, p.end, p.score,
                                  s.text, s.start, s.end, p.page))
        parts.append(f"{s.text} [{marker}]")
    return " ".join(parts), tuple(citations)
