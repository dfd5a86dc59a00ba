"""The interface every embedding model implements, and the one function that builds one from a Config.

``EmbeddingModel`` is what the build, the retriever and the answerers use: a ``name`` and ``dim``,
``count_tokens`` (the chunker's budget; ``piece_counts`` optionally counts spans by their words) and
``encode`` (normalized float32 vectors, calling ``on_batch(n)`` after each batch it finishes).
Abilities are declared, not probed: ``backend`` (recorded in the manifest), ``token_outputs``
(``encode_spans`` pools sentence vectors from the chunk pass), ``one_call`` (chunks and sentences go
to one call: a remote pool) and ``close`` (release what it started).
Does not load anything itself: implementations load lazily on first use.
"""
from __future__ import annotations

import abc

import numpy as np

from rag.config import DEFAULT_BACKEND


class EmbeddingModel(abc.ABC):
    """Text to normalized vectors."""

    name: str = ""
    backend: str = DEFAULT_BACKEND
    one_call: bool = False

    @property
    @abc.abstractmethod
    def dim(self) -> int: ...

    @property
    def token_outputs(self) -> bool:
        """Whether encode_spans pools character spans from the same pass (mean-pooling models)."""
        return False

    @abc.abstractmethod
    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for text, special tokens included."""

    def piece_counts(self, words: list[str]) -> tuple[list[int], int] | None:
        """Word piece counts of words, that count spans without count_tokens (rag.text.chunk.piece_counter);
        None: count every span with count_tokens."""
        return None

    @abc.abstractmethod
    def encode(self, texts: list[str], *, progress=None, on_batch=None) -> np.ndarray:
        """Vectors [len(texts), dim], float32, unit length; on_batch(n) after each batch of n texts."""

    def encode_spans(self, texts: list[str], spans: list[list[tuple[int, int]]], *, on_batch=None):
        """(text vectors, per text its spans' vectors) from one pass; only when token_outputs."""
        raise NotImplementedError(f"{type(self).__name__} gives no token outputs")

    def close(self) -> None:
        """Release what the model started (a cluster connection); a local model needs nothing."""
