"""Compose an extractive, cited answer from ranked passages.

The answer is the one or two sentences of the retrieved passages that best
match the question, each followed by the marker of the passage it comes from.
A sentence scores by its cosine similarity to the question (sentence vectors
are computed at index time, so this adds no model call), the share of the
question's content words it contains, and the score of its passage. When the
best passage scores under ``min_score`` the answer says the documents do not
contain it. Does not generate or paraphrase text: every answer word is quoted.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from .retrieve import Passage, Retriever

NOT_FOUND = "The documents do not contain an answer to this question."
STOPWORDS = set("""a an and are as at be been being by can could did do does for from had has have how i in
into is it its me my of on or our so than that the their them then there these they this to was we were
what when where which who whom whose why will with would you your about after all also any many much""".split())
NUMERIC_QUESTION = re.compile(r"\b(how (many|much|long|old|far|big|large)|what (year|date|percentage)|when)\b", re.I)
LEXICAL_WEIGHT, PASSAGE_WEIGHT, NUMBER_BONUS = 0.3, 0.3, 0.1
SECOND_SENTENCE_MARGIN = 0.05


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


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    found: bool
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    notice: Optional[str] = None

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": self.text, "found": self.found,
                "notice": self.notice, "citations": [asdict(c) for c in self.citations],
                "passages": [p.to_dict() for p in self.passages]}


def _terms(text: str) -> set[str]:
    out = set()
    for w in re.findall(r"\w+", text.lower()):
        if w in STOPWORDS or len(w) < 2 and not w.isdigit():
            continue
        for suffix in ("ing", "ed", "es", "s"):
            if len(w) > len(suffix) + 3 and w.endswith(suffix):
                w = w[: -len(suffix)]
                break
        out.add(w)
    return out


def compose(question: str, qvec: np.ndarray, passages: list[Passage], retriever: Retriever,
            *, min_score: float, notice: str | None = None) -> Answer:
    if not passages or max(p.similarity for p in passages) < min_score:
        return Answer(question, NOT_FOUND, False, (), tuple(passages), notice)
    q_terms = _terms(question)
    numeric = bool(NUMERIC_QUESTION.search(question))
    cands, seen = [], set()
    for p in passages:
        if p.similarity < min_score:
            continue
        for s in retriever.sentences(p):
            if s.row not in seen:
                seen.add(s.row)
                cands.append((p, s))
    vecs = retriever.sentence_vectors([s.row for _, s in cands])
    scores = vecs @ np.asarray(qvec, np.float32).reshape(-1)
    for i, (p, s) in enumerate(cands):
        lex = len(q_terms & _terms(s.text)) / len(q_terms) if q_terms else 0.0
        scores[i] += LEXICAL_WEIGHT * lex + PASSAGE_WEIGHT * p.similarity
        if numeric and re.search(r"\d", s.text):
            scores[i] += NUMBER_BONUS
    order = np.argsort(-scores, kind="stable")
    picked = [order[0]]
    if len(order) > 1 and scores[order[1]] >= scores[order[0]] - SECOND_SENTENCE_MARGIN:
        picked.append(order[1])
    picked.sort(key=lambda i: (cands[i][0].doc_id, cands[i][1].start))   # reading order
    citations, markers, parts = [], {}, []
    for i in picked:
        p, s = cands[i]
        if p.chunk not in markers:
            markers[p.chunk] = len(markers) + 1
        marker = markers[p.chunk]
        citations.append(Citation(marker, p.doc_id, p.title, p.text, p.start, p.end, p.score,
                                  s.text, s.start, s.end))
        parts.append(f"{s.text} [{marker}]")
    return Answer(question, " ".join(parts), True, tuple(citations), tuple(passages), notice)
