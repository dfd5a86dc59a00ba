"""Offline question answering over a folder of documents, with cited passages.

    from rag import query
    answer = query("How many soldiers were sent?")
    print(answer.text)            # quoted sentence(s) with [n] markers
    for c in answer.citations:    # where each quote comes from
        print(c.marker, c.doc_id, c.quote_start, c.quote_end)

Importing this package does no work: models and indexes load on first use.
"""
from rag.answer.base import Answer, Answerer, Citation
from rag.api import Rag, index, query
from rag.build.builder import BuildReport
from rag.config import Config
from rag.errors import RagError
from rag.retrieve.retriever import Passage
from rag.retrieve.scope import Scope
from rag.version import package_version

__version__ = package_version()

__all__ = ["query", "index", "Rag", "Config", "Answer", "Answerer", "Citation", "Passage", "BuildReport",
           "RagError", "Scope"]
