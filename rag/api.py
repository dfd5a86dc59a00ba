"""The Python entry points: ``query`` for the default index, ``Rag`` for an explicit one.

``Rag`` loads an index folder once (checking its manifest against the
configuration) and answers many questions; ``query`` keeps one ``Rag`` per
configuration and, for the default configuration only, builds the index from
the corpus folder when it is missing. A ``Rag`` notices a completed update of
its index (by any process) on its next question and switches to it (rag.live).
"""
from __future__ import annotations

import os
import threading
from dataclasses import replace

from .answer import Answer, compose
from .build import BuildReport, build_index
from .config import CHECKOUT, Config
from .embed import Embedder
from .errors import IndexMissingError, RagError
from .index_config import for_index
from .live import LiveIndex
from .question import check, clean_question  # noqa: F401  (clean_question: re-exported)
from .retrieve import Retriever

_CACHE: dict[Config, "Rag"] = {}
_CACHE_LOCK = threading.Lock()


class Rag:
    """A loaded index plus its embedding model, ready to answer questions."""

    def __init__(self, config: Config | None = None, *, embedder=None):
        self.config = config or Config()
        self.embedder = embedder or Embedder(self.config.model, batch_size=self.config.batch_size,
                                             backend=self.config.backend)
        self.live = LiveIndex(self.config.index_dir, lambda data: Retriever(
            data, weights=self.config.fusion_weights, depth=self.config.depth),
            settings=self.config.index_settings(), corpus=self.config.corpus_dir)

    @property
    def retriever(self) -> Retriever:
        """The current version's retriever (reloaded when an update completed: rag.live);
        take it once per question."""
        return self.live.get()

    @classmethod
    def open(cls, index_dir, *, embedder=None, **settings) -> "Rag":
        """Load the index in index_dir with the settings it was built with (model, backend,
        chunker, fusion weights: rag.index_config); settings set other Config fields (top_k...)
        and may repeat stored ones, but one that conflicts is refused with the rebuild command."""
        return cls(for_index(index_dir, settings), embedder=embedder)

    @property
    def status(self) -> dict:
        m = self.retriever.manifest
        return {"documents": m["counts"]["documents"], "chunks": m["counts"]["chunks"],
                "model": m["model"], "index": str(self.config.index_dir), "built_at": m.get("built_at")}

    def query(self, question: str, *, k: int | None = None, mode: str | None = None) -> Answer:
        """Answer one question with cited passages; see rag.answer for how.

        k: passages to retrieve, 1 to 100 (default config.top_k); mode: dense, bm25,
        rrf or hybrid (default config.mode). Raises QuestionError (one line) for a
        question, k or mode of the wrong type or value; see rag.question."""
        q = check(question, k, mode, config=self.config)   # QuestionError for any bad input (rag.question)
        retriever = self.retriever   # one version for the whole question
        qvec = self.embedder.encode([q.text], progress=False)[0]
        passages = retriever.search(q.text, qvec, q.k, mode=q.mode)
        return compose(q.text, qvec, passages, retriever,
                       min_score=self.config.min_score, notice=q.notice)


def open_default(config: Config | None = None, *, embedder=None) -> Rag:
    """The cached Rag for config; builds the default index from its corpus if it is missing."""
    if config is None:   # the default index, with the settings it was built with
        try:
            config = for_index(Config().index_dir)
        except RagError:
            config = Config()   # missing (built below) or unusable (Rag says how to rebuild it)
    with _CACHE_LOCK:
        if config not in _CACHE:
            try:
                _CACHE[config] = Rag(config, embedder=embedder)
            except IndexMissingError:   # built only for a checkout's seeds/ or a configured $RAG_CORPUS
                if config.index_dir != Config().index_dir or not (CHECKOUT or os.environ.get("RAG_CORPUS")):
                    raise
                embedder = embedder or Embedder(config.model, batch_size=config.batch_size)
                build_index(config, embedder=embedder)
                _CACHE[config] = Rag(config, embedder=embedder)
        return _CACHE[config]


def query(question: str, *, k: int | None = None, mode: str | None = None,
          config: Config | None = None) -> Answer:
    """Answer question from the default index (or the one config names)."""
    check(question, k, mode, config=config or Config())   # fail fast, before loading anything
    return open_default(config).query(question, k=k, mode=mode)


def index(corpus_dir=None, index_dir=None, *, rebuild: bool = False, embedder=None,
          **settings) -> BuildReport:
    """Build or refresh an index; arguments default to the configured folders."""
    config = Config(**settings)
    config = replace(config, corpus_dir=corpus_dir or config.corpus_dir,
                     index_dir=index_dir or config.index_dir)
    try:   # settings not given are the existing index's (given ones win: the build rebuilds over them)
        config = for_index(config.index_dir, settings, config, refuse=False)
    except RagError:
        pass   # no usable index: build with the given settings
    embedder = embedder or Embedder(config.model, batch_size=config.batch_size)
    report = build_index(config, embedder=embedder, rebuild=rebuild)
    with _CACHE_LOCK:
        _CACHE.pop(config, None)
    return report
