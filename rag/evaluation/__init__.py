"""Figures on BEIR-layout data sets (``rag eval``): data sets, metrics, the retrieval/answer evaluation,
the not-found settings (notfound), follow-ups and the claim-checker set (claimset).
"""
