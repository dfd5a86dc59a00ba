"""The passage chooser: which passage's reading to trust, and the probability that its span is right.

The passage reader (rag.answer.passage_reader) gives each passage it reads a best span, that span's
probability and a no-answer probability; neither is comparable across passages on its own (a lone
date in an unrelated passage can outscore one of several in the right one). The chooser is a
logistic regression over FEATURES of each read passage: the reader's two probabilities (as logs),
the passage's rank, and the extractive answerer's view of the sentence holding the span (its
select and evidence scores, cosine, share of the question's words, whether it holds a typed
answer or covers the question, whether it is the rules' top sentence), and whether the rules'
short answer or the span reader's span overlaps the reader's span. Its output is the probability
that the passage's best span is right (F1 > 0 against a gold answer), fitted on held-out training
articles by bench/calibrate_passage_reader.py, with two thresholds chosen on out-of-fold
probabilities: ``show`` (the short answer is shown) and ``lead`` (the span's sentence is quoted
first). Weights and thresholds live in the reader's manifest (``chooser``); per raw feature unit.

Does not read text itself and does not decide "not in the documents".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

FEATURES = ("bias", "log_p_answer", "log_span_prob", "inv_rank", "holder", "h_select", "h_evidence", "h_cos",
            "h_share", "h_typed", "h_covered", "h_is_top", "agree_rules", "agree_span")


def row(facts: Mapping) -> list[float]:
    """The feature row of one read passage's facts (the keys rag.answer.extractive.reading_facts writes)."""
    return [1.0, math.log(max(1e-6, 1.0 - facts["null"])), math.log(max(1e-6, facts["prob"])), 1.0 / facts["rank"],
            float(facts.get("holder", False)), facts.get("h_select", 0.0), facts.get("h_evidence", 0.0),
            facts.get("h_cos", 0.0), facts.get("h_share", 0.0), facts.get("h_typed", 0.0),
            facts.get("h_covered", 0.0), float(facts.get("h_is_top", False)), float(facts.get("agree_rules", False)),
            float(facts.get("agree_span", False))]


@dataclass(frozen=True)
class Chooser:
    weights: np.ndarray   # one per FEATURES name, per raw unit
    show: float           # from this probability the span is shown as the short answer
    lead: float           # from this probability the span's sentence is quoted first

    @classmethod
    def from_manifest(cls, spec) -> "Chooser | None":
        """The chooser of a manifest's ``chooser`` entry; None when absent. ValueError when it does not fit."""
        if spec is None:
            return None
        try:
            names, weights = list(spec["features"]), np.asarray(spec["weights"], np.float64)
            show, lead = float(spec["show"]), float(spec["lead"])
        except (KeyError, TypeError, ValueError):
            raise ValueError("chooser entry unreadable") from None
        if tuple(names) != FEATURES or weights.shape != (len(FEATURES),) or not np.isfinite(weights).all():
            raise ValueError("chooser features differ from rag.answer.chooser.FEATURES")
        return cls(weights, show, lead)

    def probabilities(self, facts: Sequence[Mapping]) -> np.ndarray:
        """P(the passage's best span is right) per read passage."""
        if not facts:
            return np.zeros(0)
        z = np.array([row(f) for f in facts]) @ self.weights
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
