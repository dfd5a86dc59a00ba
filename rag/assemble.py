"""The composition root: every part of the pipeline built from a Config, in one place.

``Rag`` (rag.api), the ``rag`` command, the web page, the HTTP API, evaluation and the
bench scripts get their embedder, index settings, retriever and answerer from here, so a
setting (model, backend, device, fusion weights, LLM endpoint) means the same everywhere.
Each function builds one part and loads nothing until that part is first used. Does not
hold state: callers keep what they build (``rag.api`` caches one ``Rag`` per Config).
"""
from __future__ import annotations

from pathlib import Path

from rag import embed
from rag.answer.base import Answerer
from rag.answer.extractive import ExtractiveAnswerer
from rag.build.progress import LogHandler, Progress  # noqa: F401  (the edge's progress display)
from rag.config import Config
from rag.embed.base import EmbeddingModel
from rag.embed.embedder import offline_env  # noqa: F401  (the edge calls it before anything loads)
from rag.errors import RagError
from rag.llm import answerer as generative
from rag.retrieve.retriever import Retriever
from rag.storage import settings as index_settings
from rag.storage.live import LiveIndex


def embedder(config: Config, *, ray: str | None = None, actors: int | None = None,
             ray_batch: int | None = None) -> EmbeddingModel:
    """The embedding model config names (see from_config in rag.embed.embedder)."""
    return embed.from_config(config, ray=ray, actors=actors, ray_batch=ray_batch)


def config_for_index(index_dir, explicit: dict | None = None, base: Config | None = None, *,
                     refuse: bool = True) -> Config:
    """The Config of an existing index: the settings it was built with (rag.storage.settings)."""
    return index_settings.for_index(index_dir, explicit, base, refuse=refuse)


def recorded_corpus(index_dir: Path) -> str | None:
    """The corpus folder recorded in an existing index's manifest, else None."""
    from rag.storage.integrity import corpus_hint
    from rag.storage.reader import read_manifest

    index_dir = Path(index_dir)
    if not (index_dir / "CURRENT").exists() and not (index_dir / "manifest.json").exists():
        return None
    try:
        manifest = read_manifest(index_dir)
    except RagError:
        manifest = None   # an old layout or a damaged version: corpus_hint reads what it can
    return corpus_hint(manifest, index_dir)


def retriever_factory(config: Config, embed: EmbeddingModel | None = None):
    """IndexData -> Retriever with config's fusion weights and candidate depth (embed: encodes what a
    question needs of a partial index, rag.retrieve.retriever)."""
    encode = (lambda texts: embed.encode(texts, progress=False)) if embed is not None else None
    return lambda data: Retriever(data, weights=config.fusion_weights, depth=config.depth, encode=encode)


def live_index(config: Config, embed: EmbeddingModel | None = None) -> LiveIndex:
    """A reader that follows config.index_dir's newest version (checked against config's settings)."""
    return LiveIndex(config.index_dir, retriever_factory(config, embed), settings=config.index_settings(),
                     corpus=config.corpus_dir)


def extractive_answerer(config: Config) -> ExtractiveAnswerer:
    """The offline, deterministic answer step (the default), with the learned readers unless config.reader is off."""
    return ExtractiveAnswerer(config.min_score, reader="default" if config.reader else None)


def answerer(config: Config, embed: EmbeddingModel) -> Answerer:
    """The answer step config asks for: an LLM's checked answer when config.llm_url is set (falling
    back to the extractive one), else the extractive one."""
    return generative.from_config(config, embed, extractive_answerer(config))
