"""Settings, as one frozen dataclass passed explicitly to every stage.

Nothing here reads files or loads models. Default folders: run from a source
checkout (a pyproject.toml and seeds/ beside the package), ``seeds/`` and
``index/default`` in it; installed as a package, the current directory is the
corpus and the index lives in the user data folder (``$RAG_DATA_DIR``, else
``$XDG_DATA_HOME/rag-offline``, else ``~/.local/share/rag-offline``), never inside
site-packages. ``RAG_CORPUS`` and ``RAG_INDEX`` override them, and ``Config(...)``
or ``dataclasses.replace`` override everything. An existing index's own settings
(model, chunker, fusion weights) are read from its manifest by rag.storage.settings.
"""
from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MODES = ("dense", "bm25", "rrf", "hybrid")   # retrieval modes, see rag/retrieve.py
BACKENDS = ("torch", "onnx", "onnx-int8")    # how the model runs, see rag/embed.py
# The default: int8 ONNX, measured within 0.001 of torch on SciFact nDCG@10 and SQuAD containment and
# about 5x faster to build (docs/figures.md, "Build speed"). Indexes record theirs (LEGACY_SETTINGS: torch).
# onnx: the same numbers as torch (1.4e-7) about twice as fast; onnx-int8 is faster still but lost 0.006 of SQuAD
# containment (docs/figures.md, "One encoder pass, the int8 default"), over the 0.005 a default may lose
DEFAULT_BACKEND = "onnx"


def default_backend(device: str = "cpu") -> str:
    """$RAG_BACKEND, else the default: onnx on the CPU, torch on a GPU (ONNX Runtime runs here on the CPU only)."""
    return os.environ.get("RAG_BACKEND") or (DEFAULT_BACKEND if device == "cpu" else "torch")
SENTENCE_VECTORS = ("pooled", "encoded")     # see rag/pooling.py
CHUNK_VECTORS = ("pooled", "encoded")        # see rag/build/vectors.py

# Settings that change what is stored in an index. A loaded index must agree
# with the configuration on all of them, or it is refused.
INDEX_KEYS = ("model", "chunk_tokens", "chunk_overlap", "max_model_tokens", "title_in_chunks", "backend",
              "sentence_vectors", "chunk_vectors", "ann_threshold")
# What an index built before a key existed has: compared in its place when the manifest lacks it.
LEGACY_SETTINGS = {"backend": "torch", "sentence_vectors": "encoded", "chunk_vectors": "encoded"}
# Keys that change how an index is built but not how it is queried: a query does not refuse
# an index over them (a refresh rebuilds everything instead).
BUILD_ONLY_KEYS = ("sentence_vectors", "chunk_vectors")
# Keys that apply to the segments written from now on (kept in the manifest; never a reason to
# refuse an index or to rebuild it).
SEGMENT_KEYS = ("ann_threshold",)


def _checkout() -> Path | None:
    """The source checkout this package runs from, or None when installed (e.g. from a wheel)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "seeds").is_dir() else None


def data_home() -> Path:
    """Where an installed package keeps its indexes (see the module docstring)."""
    if os.environ.get("RAG_DATA_DIR"):
        return Path(os.environ["RAG_DATA_DIR"])
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "rag-offline"


CHECKOUT = _checkout()
PROJECT_ROOT = CHECKOUT or data_home()   # the folder default indexes (index/...) live under


UPLOAD_TYPES = ("txt", "md", "markdown", "html", "htm", "csv", "pdf", "docx", "pptx", "xlsx", "epub")


def _upload_types() -> tuple:
    raw = os.environ.get("RAG_UPLOAD_TYPES")
    return tuple(raw.replace(",", " ").split()) if raw else UPLOAD_TYPES


def default_corpus() -> Path:
    if os.environ.get("RAG_CORPUS"):
        return Path(os.environ["RAG_CORPUS"])
    return CHECKOUT / "seeds" if CHECKOUT else Path.cwd()


def default_index() -> Path:
    if os.environ.get("RAG_INDEX"):
        return Path(os.environ["RAG_INDEX"])
    return (CHECKOUT or data_home()) / "index" / "default"


@dataclasses.dataclass(frozen=True)
class Config:
    corpus_dir: Path = dataclasses.field(default_factory=default_corpus)
    index_dir: Path = dataclasses.field(default_factory=default_index)
    # Embedding model: the bundled name, any sentence-transformers model name, or a path.
    model: str = DEFAULT_MODEL
    batch_size: int = 32
    # How the model runs (torch | onnx | onnx-int8; default $RAG_BACKEND or onnx). A query must
    # embed with the backend its index was built with: an index opened by its folder (rag.storage.settings)
    # brings its own, and an index built before the default changed (no backend recorded) is torch's.
    # (empty: default_backend(device))
    backend: str = ""
    # Sentence vectors: "encoded" one by one in a second pass (the default: faithful), or "pooled"
    # from the chunk pass's token embeddings (one encoder pass, about 2.4x faster to build, but
    # SciFact train nDCG@10 0.743 against 0.751: README, "Index engine"). Models that do not
    # mean-pool always encode.
    sentence_vectors: str = "encoded"
    # Chunk vectors: "encoded" in a pass of their own, or "pooled" from the sentence pass's token
    # embeddings (a chunk's vector is the mean over its sentences' word pieces, and its title line's:
    # rag.embed.pooling.pool_runs), so that one encoder pass gives both. Not with sentence_vectors
    # "pooled" (one of the two must be encoded). Models that do not mean-pool always encode.
    chunk_vectors: str = dataclasses.field(default_factory=lambda: os.environ.get("RAG_CHUNK_VECTORS") or "encoded")
    # The torch device that runs the model: cpu, cuda or cuda:N (default $RAG_DEVICE or cpu); not an
    # index setting (vectors agree within float tolerance). rag.embed.ray_cluster gives each actor one GPU.
    device: str = dataclasses.field(default_factory=lambda: os.environ.get("RAG_DEVICE") or "cpu")
    # Files larger than this (in MB of 1,000,000 bytes) are skipped before reading.
    max_file_mb: float = 20.0
    # Office files, e-books and PDFs are converted in a worker process (rag.ingest.sandbox) that may grow by
    # at most this many MB (of 1,000,000 bytes) of address space and take this many seconds per file;
    # a file over either is skipped with the reason ($RAG_CONVERT_MEMORY_MB, $RAG_CONVERT_TIMEOUT).
    convert_memory_mb: float = dataclasses.field(
        default_factory=lambda: float(os.environ.get("RAG_CONVERT_MEMORY_MB") or 1000.0))
    convert_timeout: float = dataclasses.field(
        default_factory=lambda: float(os.environ.get("RAG_CONVERT_TIMEOUT") or 60.0))
    # Files with more than one hard link are skipped (one may be a link to a file outside the folder)
    # unless this is set ($RAG_ALLOW_HARD_LINKS=1, rag index --allow-hard-links).
    allow_hard_links: bool = dataclasses.field(
        default_factory=lambda: (os.environ.get("RAG_ALLOW_HARD_LINKS") or "").strip().lower()
        in ("1", "true", "yes", "on"))
    # Uploads (rag.build.documents: `rag add`, the UI, the HTTP API): the largest file accepted, in MB,
    # and the types accepted (extensions; default every supported one). $RAG_UPLOAD_MAX_MB and
    # $RAG_UPLOAD_TYPES ("pdf,docx,md") set them too.
    upload_max_mb: float = dataclasses.field(
        default_factory=lambda: float(os.environ.get("RAG_UPLOAD_MAX_MB") or 20.0))
    upload_types: tuple = dataclasses.field(default_factory=_upload_types)
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
    # Best evidence score of a candidate sentence (rag.answer.extractive) under which the
    # answer is "not in the documents"; it uses no statistics of the indexed corpus.
    # Calibrated on SQuAD dev, article removed and one-document corpora, with
    # bench/calibrate_threshold.py (README, "Answer sentences and the not-found rule").
    min_score: float = 0.58
    # The learned readers (rag.answer.passage_reader, with rag.answer.span_reader's "no answer" model) pick
    # and gate the short answer and join the not-found score (rag.answer.extractive); on by default. $RAG_READER=0 or --no-reader: the rules alone.
    reader: bool = dataclasses.field(
        default_factory=lambda: os.environ.get("RAG_READER", "1").strip().lower() not in ("0", "off", "false", "no"))
    max_question_chars: int = 1000
    # Thumbs up/down from the chat, one JSON line each (rag/feedback.py); None: INDEX-feedback.jsonl
    # beside the index folder.
    feedback_log: Path | None = None
    # Saved conversations (rag.chats): an SQLite database; None: chats.sqlite3 inside the index folder (the
    # chats belong to the documents they cite; a refresh or --rebuild keeps them; never in the corpus folder).
    chats_db: Path | None = None
    # Accounts for `rag serve` (rag.users: hashed passwords, `rag users add NAME`); None: users.json inside
    # the index folder. With at least one account, the server asks every visitor to sign in.
    users_file: Path | None = None
    # A segment of at least this many chunks gets an approximate (IVF, 8-bit) dense index;
    # smaller ones are searched exactly (rag/ann.py; chosen with bench/scale.py, README "Scale").
    ann_threshold: int = 20_000
    # Generated answers (rag.llm.answerer), off by default: an OpenAI-compatible base URL turns them on
    # ("" = asked for but unset: the extractive answer with a notice); model and key default to
    # $RAG_LLM_MODEL and $RAG_LLM_KEY; timeout: seconds without data before falling back.
    llm_url: str | None = None
    llm_model: str = dataclasses.field(default_factory=lambda: os.environ.get("RAG_LLM_MODEL") or "default")
    llm_key: str | None = dataclasses.field(default_factory=lambda: os.environ.get("RAG_LLM_KEY") or None,
                                            repr=False)
    llm_timeout: float = 30.0
    # Longest generated answer kept (characters): a longer one is cut at a sentence end, with a notice.
    llm_max_chars: int = 4000

    def __post_init__(self):
        object.__setattr__(self, "corpus_dir", Path(self.corpus_dir))
        object.__setattr__(self, "index_dir", Path(self.index_dir))
        for name in ("feedback_log", "chats_db", "users_file"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, Path(getattr(self, name)))
        if self.chunk_tokens < 16:
            raise ValueError(f"chunk_tokens must be at least 16, got {self.chunk_tokens}")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ValueError(
                f"chunk_overlap must be in [0, chunk_tokens/2), got {self.chunk_overlap}")
        if not self.backend:
            object.__setattr__(self, "backend", default_backend(self.device))
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if not re.fullmatch(r"cpu|cuda(:\d+)?|mps", self.device):
            raise ValueError(f"device must be cpu, cuda, cuda:N or mps, got {self.device!r}")
        if self.sentence_vectors not in SENTENCE_VECTORS:
            raise ValueError(f"sentence_vectors must be one of {', '.join(SENTENCE_VECTORS)}, "
                             f"got {self.sentence_vectors!r}")
        if self.chunk_vectors not in CHUNK_VECTORS:
            raise ValueError(f"chunk_vectors must be one of {', '.join(CHUNK_VECTORS)}, got {self.chunk_vectors!r}")
        if self.chunk_vectors == "pooled" and self.sentence_vectors == "pooled":
            raise ValueError("chunk_vectors and sentence_vectors cannot both be pooled: one pass must encode")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        object.__setattr__(self, "fusion_weights", tuple(float(w) for w in self.fusion_weights))
        if len(self.fusion_weights) != 4:
            raise ValueError(f"fusion_weights needs 4 numbers, got {self.fusion_weights}")
        types = (self.upload_types,) if isinstance(self.upload_types, str) else self.upload_types
        object.__setattr__(self, "upload_types", tuple(str(t).lower().lstrip(".") for t in types))
        unknown = sorted(set(self.upload_types) - set(UPLOAD_TYPES))
        if unknown:
            raise ValueError(f"upload_types: unsupported {', '.join(unknown)}; choose from {', '.join(UPLOAD_TYPES)}")
        if not self.upload_max_mb > 0:
            raise ValueError(f"upload_max_mb must be positive, got {self.upload_max_mb}")
        if not self.convert_memory_mb > 0:
            raise ValueError(f"convert_memory_mb must be positive, got {self.convert_memory_mb}")
        if not self.convert_timeout > 0:
            raise ValueError(f"convert_timeout must be positive, got {self.convert_timeout}")
        if not self.max_file_mb > 0:
            raise ValueError(f"max_file_mb must be positive, got {self.max_file_mb}")
        if isinstance(self.ann_threshold, bool) or not isinstance(self.ann_threshold, int) \
                or self.ann_threshold < 1:
            raise ValueError(f"ann_threshold must be a positive int, got {self.ann_threshold!r}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")

    def chats_path(self) -> Path:
        """Where the saved conversations live (chats_db, else INDEX/chats.sqlite3)."""
        return self.chats_db if self.chats_db is not None else self.index_dir / "chats.sqlite3"

    def users_path(self) -> Path:
        """Where the accounts live (users_file, else INDEX/users.json)."""
        return self.users_file if self.users_file is not None else self.index_dir / "users.json"

    def index_settings(self) -> dict:
        """The settings recorded in (and checked against) an index manifest."""
        return {key: getattr(self, key) for key in INDEX_KEYS}
