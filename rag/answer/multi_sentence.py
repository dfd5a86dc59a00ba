"""Questions that need more than one sentence: summaries, comparisons, yes/no.

``intent`` reads the question: "summarize X" (also "sum up", "give a summary
of", "what is this document about"), a comparison ("compare A and B", "the
difference between A and B", "how does A differ from B"), a yes/no question
(opening with is/are/was/did/does/can/has...), else None. ``summary`` gives the
3-5 most central statements of one document (closest to the mean of its
sentence vectors) in reading order; ``compare`` the best statement about each
side, from two different documents when the passages allow. Extractive only:
no sentence is shortened or rewritten, and a summary covers one document.
"""
from __future__ import annotations

import re

import numpy as np

from rag.text.evidence import line_of, question_terms, sentence_kind
from rag.text.evidence import terms as terms_of

SUMMARY = re.compile(r"^\s*(?:please\s+)?(?:summari[sz]e|sum up|give (?:me )?an? (?:short )?(?:summary|overview) "
                     r"of|what (?:is|are) (?:this|the) (?:article|document|text|report|notes?) about)\b\s*(.*)$",
                     re.I)
COMPARE = re.compile(r"^\s*(?:compare|contrast|what is the difference between|what are the differences between|"
                     r"how (?:does|do|did) )\s*(.+?)\s+(?:and|with|to|vs\.?|versus|differ from)\s+(.+?)\??$", re.I)
YES_NO = re.compile(r"^\s*(?:is|are|was|were|do|does|did|can|could|has|have|had|will|would|should)\b", re.I)


def intent(question: str) -> str | None:
    if SUMMARY.match(question):
        return "summary"
    if COMPARE.match(question):
        return "compare"
    if YES_NO.match(question):
        return "yes/no"
    return None


GENERIC = {"articl", "document", "text", "report", "note", "page", "file", "stori", "piec", "paper", "pleas",
           "brief", "short", "main", "point", "summari", "summar"}


def summary_matches(question: str, passage) -> bool:
    """Whether the top passage's document is the X of "summarize X": X names nothing specific
    ("the article"), or at least half of X's rarity-weighted terms are in the passage or title."""
    m = SUMMARY.match(question)
    terms = {t: w for t, w in question_terms(m.group(1) if m else "").items() if t not in GENERIC}
    if not terms:
        return True
    present = terms_of(passage.title + " " + passage.text)
    return sum(w for t, w in terms.items() if t in present) >= 0.5 * sum(terms.values())


def statements(passages, source) -> list:
    """(passage, sentence) statements of the passages, each once, in reading order."""
    out, seen = [], set()
    for p in passages:
        for s in source.sentences(p):
            a = s.start - p.start
            if s.row not in seen and sentence_kind(s.text, line_of(p.text, a, a + len(s.text)),
                                                   first_line=s.start == 0) == "statement":
                seen.add(s.row)
                out.append((p, s))
    return sorted(out, key=lambda ps: (ps[0].doc_id, ps[1].start))


def summary(doc_id: str, source, *, low: int = 3, high: int = 5) -> list:
    """The most central 3-5 statements of the document, in reading order."""
    cands = statements(source.document_passages(doc_id), source)
    if not cands:
        return []
    vecs = source.sentence_vectors([s.row for _, s in cands])
    centre = vecs.mean(axis=0)
    n = max(low, min(high, round(len(cands) / 5)))
    keep = sorted(np.argsort(-(vecs @ centre), kind="stable")[:n])
    return [cands[i] for i in keep]


def compare(question: str, passages, source) -> list:
    """The best statement for each side of a comparison, preferring two different documents."""
    m = COMPARE.match(question)
    cands = statements(passages, source)
    picked = []
    for side in (m.group(1), m.group(2)) if m else ():
        terms = question_terms(side)
        total = sum(terms.values()) or 1.0

        def cover(ps):
            present = terms_of(ps[1].text + " " + ps[0].title)
            return sum(w for t, w in terms.items() if t in present) / total - ps[0].rank * 1e-3

        others = [c for c in cands if c not in picked and all(c[0].doc_id != p[0].doc_id for p in picked)]
        pool = others or [c for c in cands if c not in picked]
        if pool:
            best = max(pool, key=cover)
            if cover(best) > 0:
                picked.append(best)
    return picked
