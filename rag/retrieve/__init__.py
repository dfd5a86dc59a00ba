"""Rank passages for a question: dense, BM25, plain RRF or the tuned hybrid (retriever), optionally
within some documents (scope: folders, file types, picked documents).
"""
