"""Compose an extractive, cited answer from ranked passages.

The answer is the one or two sentences of the retrieved passages that best
match the question, each followed by the marker of the passage it comes from.
A sentence scores by its cosine similarity to the question (sentence vectors
are computed at index time, so this adds no model call), the share of the
question's (stemmed, idf-weighted) terms it contains, its passage's rank, and,
for questions asking for a number or date, whether it has a digit. When the
best sentence scores under ``min_score`` the answer says the documents do not
contain it (and the passages are still listed). Does not generate or
paraphrase text: every answer word is quoted.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from .lexical import tokenize
from .retrieve import Passage, Retriever

NOT_FOUND = "The documents do not contain an answer to this question."
NUMERIC_QUESTION = re.compile(r"\b(how (many|much|long|old|far|big|large)|what (year|date|percentage)|when)\b", re.I)
# Words that shape a question but are not evidence in a sentence (after stemming).
QUESTION_WORDS = set("""how mani much what which who whom whose when where whi did doe do were
been has have had can could would should""".split())
# weights of (sentence cosine, question-term share, 1/passage rank, number match);
# tuned on SQuAD dev with bench/tune_answer.py
SENTENCE_WEIGHTS = (1.0, 1.5, 0.3, 0.2)
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


def sentence_features(question: str, qvec: np.ndarray, passages: list[Passage],
                      retriever: Retriever) -> tuple[list, np.ndarray]:
    """Candidate (passage, sentence) pairs from the passages, and their features: sentence cosine, idf-weighted share of question terms present, 1/passage rank, and
    whether a number-seeking question meets a sentence with a digit."""
    q_terms = set(tokenize(question)) - QUESTION_WORDS
    idf = retriever.bm25.idf(q_terms) if retriever.bm25 is not None else dict.fromkeys(q_terms, 1.0)
    total = sum(idf.values())
    numeric = bool(NUMERIC_QUESTION.search(question))
    cands, seen = [], set()
    for p in passages:
        for s in retriever.sentences(p):
            if s.row not in seen:
                seen.add(s.row)
                cands.append((p, s))
    feats = np.zeros((len(cands), 4), dtype=np.float32)
    if cands:
        feats[:, 0] = retriever.sentence_vectors([s.row for _, s in cands]) @ np.asarray(qvec, np.float32)
    for i, (p, s) in enumerate(cands):
        feats[i, 1] = sum(idf[t] for t in q_terms & set(tokenize(s.text))) / total if total else 0.0
        feats[i, 2] = 1.0 / p.rank
        feats[i, 3] = float(numeric and bool(re.search(r"\d", s.text)))
    return cands, feats


def compose(question: str, qvec: np.ndarray, passages: list[Passage], retriever: Retriever,
            *, min_score: float, notice: str | None = None) -> Answer:
    cands, feats = sentence_features(question, qvec, passages, retriever)
    scores = feats @ np.asarray(SENTENCE_WEIGHTS, dtype=np.float32)
    if not cands or scores.max() < min_score:
        return Answer(question, NOT_FOUND, False, (), tuple(passages), notice)
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
