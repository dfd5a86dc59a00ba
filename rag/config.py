"""Settings, as one frozen dataclass passed explicitly to every stage.

Nothing here reads files or loads models. Defaults point at the checkout this
package lives in (``seeds/`` and ``index/default``); the environment variables
``RAG_CORPUS`` and ``RAG_INDEX`` override them, and ``Config(...)`` or
``dataclasses.replace`` override everything.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "all-MiniLM-L6-v2"
MODES = ("dense", "bm25", "rrf", "hybrid")   # retrieval modes, see rag/retrieve.py
BACKENDS = ("torch", "onnx", "onnx-int8")    # how the model runs, see rag/embed.py
SENTENCE_VECTORS = ("pooled", "encoded")     # see rag/pooling.py

# Settings that change what is stored in an index. A loaded index must agree
# with the configuration on all of them, or it is refused.
INDEX_KEYS = ("model", "chunk_tokens", "chunk_overlap", "max_model_tokens", "title_in_chunks", "backend",
              "sentence_vectors")
# What an index built before a key existed has: compared in its place when the manifest lacks it.
LEGACY_SETTINGS = {"backend": "torch", "sentence_vectors": "encoded"}
# Keys that change how an index is built but not how it is queried: a query does not refuse
# an index over them (a refresh rebuilds everything instead).
BUILD_ONLY_KEYS = ("sentence_vectors",)


@dataclasses.dataclass(frozen=True)
class Config:
    corpus_dir: Path = dataclasses.field(
        default_factory=lambda: Path(os.environ.get("RAG_CORPUS", PROJECT_ROOT / "seeds")))
    index_dir: Path = dataclasses.field(
        default_factory=lambda: Path(os.environ.get("RAG_INDEX", PROJECT_ROOT / "index" / "default")))
    # Embedding model: the bundled name, any sentence-transformers model name, or a path.
    model: str = DEFAULT_MODEL
    batch_size: int = 32
    # How the model runs (torch | onnx | onnx-int8; default $RAG_BACKEND or torch). A query must
    # embed with the backend its index was built with: a mismatch is refused.
    backend: str = dataclasses.field(default_factory=lambda: os.environ.get("RAG_BACKEND") or "torch")
    # Sentence vectors: "encoded" one by one in a second pass (the default: faithful), or "pooled"
    # from the chunk pass's token embeddings (one encoder pass, about 2.4x faster to build, but
    # SciFact train nDCG@10 0.743 against 0.751: README, "Index engine"). Models that do not
    # mean-pool always encode.
    sentence_vectors: str = "encoded"
    # Files larger than this (in MB of 1,000,000 bytes) are skipped before reading.
    max_file_mb: float = 20.0
    # Chunking, in cl100k_base tokens. Chunks are also re-checked against the
    # embedding model's own tokenizer so none exceeds max_model_tokens word pieces.
    chunk_tokens: int = 180
    chunk_overlap: int = 40
    max_model_tokens: int = 256
    # Embed and BM25-index each later chunk of a document with the title before it.
    title_in_chunks: bool = True
    # Retrieval and answering.
    top_k: int = 5
    # dense | bm25 | rrf | hybrid (see rag/retrieve.py); hybrid weights are
    # (chunk cosine, chunk BM25 / best, best sentence cosine, document BM25 / best),
    # tuned on the SciFact train and SQuAD dev splits (README, "Retrieval results").
    mode: str = "hybrid"
    fusion_weights: tuple = (1.0, 0.3, 1.0, 0.4)
    depth: int = 100   # candidates taken from each of dense and BM25 before fusion
    # Best answer-sentence score (rag.answer: cosine + weighted evidence) under
    # which the answer is "not in the documents". Calibrated on SQuAD dev with
    # bench/calibrate_threshold.py (README, "Not-found threshold").
    min_score: float = 1.4
    max_question_chars: int = 1000

    def __post_init__(self):
        object.__setattr__(self, "corpus_dir", Path(self.corpus_dir))
        object.__setattr__(self, "index_dir", Path(self.index_dir))
        if self.chunk_tokens < 16:
            raise ValueError(f"chunk_tokens must be at least 16, got {self.chunk_tokens}")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ValueError(
                f"chunk_overlap must be in [0, chunk_tokens/2), got {self.chunk_overlap}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.sentence_vectors not in SENTENCE_VECTORS:
            raise ValueError(f"sentence_vectors must be one of {', '.join(SENTENCE_VECTORS)}, "
                             f"got {self.sentence_vectors!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        object.__setattr__(self, "fusion_weights", tuple(float(w) for w in self.fusion_weights))
        if len(self.fusion_weights) != 4:
            raise ValueError(f"fusion_weights needs 4 numbers, got {self.fusion_weights}")
        if not self.max_file_mb > 0:
            raise ValueError(f"max_file_mb must be positive, got {self.max_file_mb}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")

    def index_settings(self) -> dict:
        """The settings recorded in (and checked against) an index manifest."""
        return {key: getattr(self, key) for key in INDEX_KEYS}
