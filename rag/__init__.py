"""Offline question answering over a folder of documents, with cited passages.

    from rag import query
    answer = query("How many soldiers were sent?")
    print(answer.text)            # quoted sentence(s) with [n] markers
    for c in answer.citations:    # where each quote comes from
        print(c.marker, c.doc_id, c.quote_start, c.quote_end)

Importing this package does no work: models and indexes load on first use.
"""
__version__ = "0.1.0"

from .answer import Answer, Answerer, Citation
from .api import Rag, index, query
from .build import BuildReport
from .config import Config
from .errors import RagError
from .retrieve import Passage

__all__ = ["query", "index", "Rag", "Config", "Answer", "Answerer", "Citation", "Passage", "BuildReport",
           "RagError"]
