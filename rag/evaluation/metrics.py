"""Retrieval and answer metrics for offline evaluation, as plain functions.

Computes, for one query at a time: nDCG@k (BEIR / pytrec_eval convention:
linear gain equal to the relevance grade, discount ``1 / log2(rank + 1)``
with ranks starting at 1, ideal DCG from the grades sorted descending and cut
at k), Recall@k, MRR@k and Hit@k over a ranked list of document ids against a
``{doc_id: grade}`` mapping; whether an answer text contains a gold answer
(case- and whitespace-insensitive); percentiles (numpy's linear
interpolation, ``q`` in 0..100); document rankings from passage rankings
(a document scores as its best passage); and means across queries.

Does not handle ties specially: the ranking order is taken as given, so two
documents with equal scores score by their given positions. Grades of 0 or
below count as not relevant (no gain, no recall). A duplicate id in a ranking
counts only at its first position; later copies still take up their rank
but add nothing. Does not strip punctuation or articles from answers (no
SQuAD-style normalization beyond case and whitespace), and does not treat
NaN scores or values specially.
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import numpy as np


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _first_occurrences(ranked: Sequence[str], k: int) -> list[tuple[int, str]]:
    """(rank starting at 1, doc id) for each id's first position within the top k."""
    seen: set[str] = set()
    out: list[tuple[int, str]] = []
    for rank, doc_id in enumerate(ranked[:k], start=1):
        if doc_id not in seen:
            seen.add(doc_id)
            out.append((rank, doc_id))
    return out


def _relevant_ids(relevant: Mapping[str, int]) -> set[str]:
    return {doc_id for doc_id, grade in relevant.items() if grade > 0}


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """Normalized discounted cumulative gain of the top ``k`` of ``ranked``.

    Gain is the relevance grade (linear), discounted by ``1 / log2(rank + 1)``;
    the ideal DCG uses the positive grades sorted descending, cut at ``k``.
    Returns 0.0 when no document has a positive grade.
    """
    _check_k(k)
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, start=1))
    if idcg == 0:
        return 0.0
    dcg = sum(max(relevant.get(doc_id, 0), 0) / math.log2(rank + 1)
              for rank, doc_id in _first_occurrences(ranked, k))
    return dcg / idcg


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents (grade > 0) found in the top ``k``; 0.0 when none are relevant."""
    _check_k(k)
    wanted = _relevant_ids(relevant)
    if not wanted:
        return 0.0
    return len(wanted.intersection(ranked[:k])) / len(wanted)


def mrr_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank (ranks start at 1) of the first relevant document in the top ``k``, else 0.0."""
    _check_k(k)
    wanted = _relevant_ids(relevant)
    for rank, doc_id in enumerate(ranked[:k], start=1):
        if doc_id in wanted:
            return 1.0 / rank
    return 0.0


def hit_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """1.0 when any relevant document is in the top ``k``, else 0.0.

    With a single relevant document per query (as in SQuAD) this equals Recall@k.
    """
    _check_k(k)
    wanted = _relevant_ids(relevant)
    return 1.0 if any(doc_id in wanted for doc_id in ranked[:k]) else 0.0


def normalize_answer(text: str) -> str:
    """Lowercase, collapse every run of whitespace (newlines and tabs included) to one space, strip."""
    return " ".join(text.lower().split())


def contains_answer(answer_text: str, gold: Sequence[str]) -> bool:
    """True when the normalized answer contains any normalized, non-empty gold string."""
    answer = normalize_answer(answer_text)
    return any(g and g in answer for g in (normalize_answer(s) for s in gold))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (``q`` in 0..100, e.g. 50 or 95) with numpy's linear interpolation.

    Raises ValueError on empty input or ``q`` outside 0..100.
    """
    if len(values) == 0:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    return float(np.percentile(np.asarray(values, dtype=float), q, method="linear"))


def documents_from_passages(passages: Iterable[tuple[str, float]]) -> list[str]:
    """Document ids ranked by their best passage score, descending, each once.

    ``passages`` are ``(doc_id, score)`` pairs, normally best first. Ties keep
    the order in which the documents were first seen.
    """
    best: dict[str, float] = {}
    for doc_id, score in passages:
        if doc_id not in best or score > best[doc_id]:
            best[doc_id] = score
    # sorted() is stable and dicts keep insertion (first-seen) order
    return sorted(best, key=lambda doc_id: -best[doc_id])


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; 0.0 for no values."""
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def summarize(per_query: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric across queries; ``{}`` for no queries.

    Raises ValueError when the queries do not all have the same keys.
    """
    if not per_query:
        return {}
    keys = list(per_query[0])
    for i, row in enumerate(per_query):
        if set(row) != set(keys):
            raise ValueError(f"query {i} has keys {sorted(row)}, expected {sorted(keys)}")
    return {key: mean(row[key] for row in per_query) for key in keys}


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pos, neg = np.asarray(positive, float), np.asarray(negative, float)
    if not len(pos) or not len(neg):
        return float("nan")
    allv = np.concatenate([pos, neg])
    order = allv.argsort(kind="stable")
    ranks = np.empty(len(allv))
    sorted_v = allv[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_v, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def squad_normalize(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    import re
    import string

    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def squad_em_f1(prediction: str | None, gold: Sequence[str]) -> tuple[float, float]:
    """SQuAD exact match and token F1 of prediction against the best gold answer (0, 0 for None)."""
    from collections import Counter

    if prediction is None or not gold:
        return 0.0, 0.0
    pred = squad_normalize(prediction).split()
    em = f1 = 0.0
    for g in gold:
        gt = squad_normalize(g).split()
        em = max(em, float(pred == gt))
        common = sum((Counter(pred) & Counter(gt)).values())
        if common:
            p, r = common / len(pred), common / len(gt)
            f1 = max(f1, 2 * p * r / (p + r))
    return em, f1
