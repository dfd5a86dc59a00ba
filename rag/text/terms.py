"""Word terms as BM25 and the answer rules see them: lowercased, English stopwords removed, Snowball-stemmed.

Uses bm25s's English stopword list and PyStemmer. Does not handle languages other than English well.
"""
from __future__ import annotations

import functools
import logging
import re

from rag.errors import DependencyError

STEMMER = "english"
_WORD = re.compile(r"\w+")


def _require():
    try:
        import bm25s
        import Stemmer

        logging.getLogger("bm25s").setLevel(logging.WARNING)   # it logs progress at DEBUG
    except ImportError:
        raise DependencyError("BM25 needs bm25s and PyStemmer: pip install bm25s PyStemmer") from None
    return bm25s, Stemmer


@functools.lru_cache(maxsize=1)
def _analyzer():
    bm25s, Stemmer = _require()
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN), Stemmer.Stemmer(STEMMER)


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens, stopwords removed, stemmed."""
    stop, stemmer = _analyzer()
    return stemmer.stemWords([w for w in _WORD.findall(text.lower()) if w not in stop])
