"""Offline question answering over a folder of documents, with cited passages.

    from rag import query
    answer = query("How many soldiers were sent?")
    print(answer.text)            # quoted sentence(s) with [n] markers
    for c in answer.citations:    # where each quote comes from
        print(c.marker, c.doc_id, c.quote_start, c.quote_end)

Importing this package does no work: models and indexes load on first use, and the names below are
imported when first used (so `rag ask` answered by a running server imports only what it needs).
"""
from __future__ import annotations

import importlib

_NAMES = {"Answer": "rag.answer.base", "Answerer": "rag.answer.base", "Citation": "rag.answer.base",
          "Rag": "rag.api", "index": "rag.api", "query": "rag.api", "BuildReport": "rag.build.builder",
          "Config": "rag.config", "RagError": "rag.errors", "Passage": "rag.retrieve.retriever",
          "Scope": "rag.retrieve.scope"}

__all__ = ["query", "index", "Rag", "Config", "Answer", "Answerer", "Citation", "Passage", "BuildReport",
           "RagError", "Scope"]


def __getattr__(name: str):
    if name == "__version__":
        from rag.version import package_version

        value = package_version()
    elif name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    else:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_NAMES) + ["__version__"])
