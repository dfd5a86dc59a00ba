"""Figures on BEIR-layout data sets (``rag eval``): data sets, metrics, the retrieval/answer evaluation,
the not-found settings (notfound), follow-ups and the claim-checker set (claimset).
"""

from rag.evaluation.claimset import format_measure
from rag.evaluation.claimset import measure as measure_claims
from rag.evaluation.runner import evaluate, format_report, split_articles

__all__ = ["evaluate", "format_report", "split_articles", "measure_claims", "format_measure"]
