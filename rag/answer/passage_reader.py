"""The passage reader: MiniLM reads the question and a passage together and scores answer spans and "no answer".

The shipped all-MiniLM-L6-v2 (rag.embed.embedder.resolve_model) reads
"[CLS] question [SEP] passage [SEP]" (at most MAX_TOKENS word pieces; a longer passage is read in
overlapping windows). Its layers from FROZEN up carry trained low-rank adapters (rank RANK, merged
into MiniLM's own weights when the reader loads, so reading is one plain MiniLM pass) and trained
LayerNorms; a linear head gives each word piece a start and an end logit, and "no answer" is the
[CLS] start+end logit. Per window, the joint softmax over "no answer" and every span of at most
MAX_ANSWER_TOKENS word pieces of the passage gives the best span's probability and the no-answer
probability.

The manifest's thresholds (bench/calibrate_passage_reader.py chooses them on held-out training
articles) say when rag.answer.extractive shows the best span as the short answer (``min_prob``; ``agree_prob``
when the span reader's span agrees),
lets its sentence lead the quote (``lead_prob``) and how much the no-answer probability moves the
not-found score (``nil_weight``); its ``chooser`` entry (bench/fit_chooser.py; rag.answer.chooser), when
present, picks the passage and gates the short answer and the lead instead of the first three.

Only the trained part ships: rag/answer/models/passage_reader/weights.safetensors (float16, loaded
without pickle) and manifest.json (data, split, command, seed, figures, tensor shapes), made by
bench/train_reader_lora.py. Missing or damaged weights raise PassageReaderError, one line naming
that command.

Runs on the CPU, deterministically, with one of two backends (``backend``): "onnx" (the default where
onnxruntime and onnx import, as they do in a complete install) or "torch". For onnx, the first use merges
the adapters with torch and exports MiniLM + head (start and end logits out, float32, not quantized: the
thresholds were calibrated on float32 outputs) to an ONNX file cached under rag.embed.onnx.cache_root()
in a folder named by the base model and a hash of the base model's files, the weights file and the
manifest (new weights: a new export), written atomically (temporary file, fsync, rename); a cached file
ONNX Runtime cannot load is exported again. Later loads need no torch model. Both backends give the same
spans, probabilities within 1e-3 (tests/answer/test_passage_reader.py); onnx runs each window alone at its
own length (a padded batch gives the same logits, slower: 153 against 132 ms for 3 passages in
bench/reader_speed.py) and reads 3 passages about 20% faster than torch on 2 shared cores and loads in a
fraction of the time (bench/reader_speed.py, docs/figures.md).
Does not retrieve, pick sentences or decide what is shown: rag.answer.extractive does that. Does
not handle questions over MAX_QUESTION_TOKENS word pieces (the rest is cut).
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.answer.chooser import Chooser
from rag.errors import DependencyError, ModelError

WEIGHTS_DIR = Path(__file__).resolve().parent / "models" / "passage_reader"
WEIGHTS_FILE = "weights.safetensors"
MANIFEST_FILE = "manifest.json"
TRAIN_COMMAND = "python bench/train_reader_lora.py ../shared/data/squad-dev ../shared/data/squad2-dev"
MAX_TOKENS = 256
STRIDE = 96
MAX_ANSWER_TOKENS = 30
MAX_QUESTION_TOKENS = 64
FROZEN = 2
RANK = 16
SCALE = 2.0
PROJECTIONS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
               "intermediate.dense", "output.dense")
NORMS = ("attention.output.LayerNorm", "output.LayerNorm")
MAX_BYTES = 10 * 1024 * 1024
BACKENDS = ("onnx", "torch")
EXPORT_VERSION = "1"   # bump when the reader's export recipe changes: a new cache folder
_LOCK = threading.Lock()
_LOADED: dict[tuple[str, str], "PassageReader"] = {}


class PassageReaderError(ModelError):
    """The passage reader's weights are missing, damaged or do not fit the model."""


@dataclass(frozen=True)
class Reading:
    """The reader's best span in one passage (character offsets within the passage text)."""
    text: str
    start: int
    end: int
    prob: float        # probability of this span (joint softmax with "no answer")
    null_prob: float   # probability of "no answer" in the window the span was found in


def parent_of(module, path: str):
    """(the module holding the last name of a dotted path, that name)."""
    *parents, name = path.split(".")
    for p in parents:
        module = getattr(module, p)
    return module, name


def expected_shapes(layers: int = 6, hidden: int = 384, inner: int = 1536) -> dict[str, tuple[int, ...]]:
    """The trained tensors' names and shapes for MiniLM's sizes."""
    dims = {"attention.self.query": (hidden, hidden), "attention.self.key": (hidden, hidden),
            "attention.self.value": (hidden, hidden), "attention.output.dense": (hidden, hidden),
            "intermediate.dense": (hidden, inner), "output.dense": (inner, hidden)}
    out: dict[str, tuple[int, ...]] = {}
    for i in range(FROZEN, layers):
        for path in PROJECTIONS:
            n_in, n_out = dims[path]
            out[f"layer.{i}.{path}.lora_A"] = (RANK, n_in)
            out[f"layer.{i}.{path}.lora_B"] = (n_out, RANK)
        for path in NORMS:
            out[f"layer.{i}.{path}.weight"] = (hidden,)
            out[f"layer.{i}.{path}.bias"] = (hidden,)
    out["head.weight"] = (2, hidden)
    out["head.bias"] = (2,)
    return out


def _damaged(folder: Path, why: str) -> PassageReaderError:
    return PassageReaderError(f"the passage reader's weights in {folder} are {why}: rebuild them with "
                              f"`{TRAIN_COMMAND}`")


def load_arrays(folder: Path | str, *, weights_file: str, manifest_file: str, max_bytes: int, what: str,
                error: type[ModelError], command: str) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, manifest) of a safetensors file checked against its manifest's names and shapes (finite values,
    at most max_bytes); else error, one line naming what is wrong and the command that makes the file."""
    folder = Path(folder)
    weights, manifest_path = folder / weights_file, folder / manifest_file

    def damaged(why: str) -> ModelError:
        return error(f"{what} weights in {folder} are {why}: rebuild them with `{command}`")

    if not weights.is_file() or not manifest_path.is_file():
        raise error(f"{what} weights are missing ({weights}): train them with `{command}`")
    if weights.stat().st_size > max_bytes:
        raise damaged(f"larger than {max_bytes} bytes")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        shapes = {k: tuple(v) for k, v in manifest["shapes"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        raise damaged("damaged (manifest unreadable)") from None
    try:
        from safetensors.numpy import load_file

        arrays = load_file(str(weights))
    except Exception:   # safetensors raises its own error types for a damaged header or body
        raise damaged("damaged (not a readable safetensors file)") from None
    if set(arrays) != set(shapes):
        raise damaged("damaged (tensor names differ from the manifest)")
    for name, arr in arrays.items():
        if tuple(arr.shape) != shapes[name] or not np.isfinite(arr.astype(np.float32)).all():
            raise damaged(f"damaged ({name}: shape {tuple(arr.shape)}, manifest {shapes[name]})")
    return arrays, manifest


def load_weights(folder: Path | str = WEIGHTS_DIR) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, manifest) of the trained part, checked against the manifest."""
    return load_arrays(folder, weights_file=WEIGHTS_FILE, manifest_file=MANIFEST_FILE, max_bytes=MAX_BYTES,
                       what="the passage reader's", error=PassageReaderError, command=TRAIN_COMMAND)


def best_spans(start: np.ndarray, end: np.ndarray, context: np.ndarray):
    """Per window: (start token, end token, span probability, no-answer probability) of the best span
    under the joint softmax over "no answer" (position 0's logits) and every span of at most
    MAX_ANSWER_TOKENS word pieces inside the context mask."""
    out = []
    n = start.shape[1]
    band = np.triu(np.ones((n, n), bool)) & ~np.triu(np.ones((n, n), bool), MAX_ANSWER_TOKENS)
    for s, e, c in zip(start.astype(np.float64), end.astype(np.float64), context):
        ok = band & c[:, None] & c[None, :]
        null = s[0] + e[0]
        if not ok.any():
            out.append((0, 0, 0.0, 1.0))
            continue
        joint = np.where(ok, s[:, None] + e[None, :], -np.inf)
        top = max(float(joint.max()), null)
        z = np.exp(null - top) + np.exp(joint - top).sum()
        i, j = np.unravel_index(int(np.argmax(joint)), joint.shape)
        out.append((int(i), int(j), float(np.exp(joint[i, j] - top) / z), float(np.exp(null - top) / z)))
    return out


def base_path() -> str:
    """The local folder of the shipped MiniLM (offline settings applied; transformers imported under the
    embedder's model-loading lock)."""
    from rag.config import DEFAULT_MODEL
    from rag.embed.embedder import loading_lock, offline_env, resolve_model

    offline_env()
    with loading_lock():
        from transformers import AutoConfig, AutoModel, AutoTokenizer  # noqa: F401  (first import, one thread)
        from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    return resolve_model(DEFAULT_MODEL)


def base_model():
    """A fresh copy of the shipped MiniLM transformer and its tokenizer (not the embedder's shared one)."""
    path = base_path()   # first: imports transformers under the model-loading lock
    from transformers import AutoModel, AutoTokenizer
    try:
        return AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
    except Exception as exc:
        raise ModelError(f"cannot load the reader's base model offline from {path} ({type(exc).__name__})") from None


def base_parts():
    """(config, tokenizer) of the shipped MiniLM, without its weights."""
    path = base_path()   # first: imports transformers under the model-loading lock
    from transformers import AutoConfig, AutoTokenizer
    try:
        return AutoConfig.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    except Exception as exc:
        raise ModelError(f"cannot load the reader's base model offline from {path} ({type(exc).__name__})") from None


def default_backend() -> str:
    """onnx where onnxruntime and onnx import (a complete install), else torch."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return "torch"
    return "onnx"


def merge(model, arrays: dict[str, np.ndarray]):
    """model (MiniLM, changed in place) with the adapters merged and the trained LayerNorms, and the head."""
    import torch

    cfg = model.config
    w = {k: torch.from_numpy(v.astype(np.float32)) for k, v in arrays.items()}
    with torch.no_grad():
        for i in range(FROZEN, cfg.num_hidden_layers):
            layer = model.encoder.layer[i]
            for path in PROJECTIONS:
                parent, name = parent_of(layer, path)
                lin = getattr(parent, name)
                lin.weight += (w[f"layer.{i}.{path}.lora_B"] @ w[f"layer.{i}.{path}.lora_A"]) * SCALE
            for path in NORMS:
                parent, name = parent_of(layer, path)
                norm = getattr(parent, name)
                norm.weight.copy_(w[f"layer.{i}.{path}.weight"])
                norm.bias.copy_(w[f"layer.{i}.{path}.bias"])
    head = torch.nn.Linear(cfg.hidden_size, 2)
    head.load_state_dict({"weight": w["head.weight"], "bias": w["head.bias"]})
    return model.eval(), head.eval()


def onnx_path(folder: Path | str = WEIGHTS_DIR) -> Path:
    """Where the ONNX export of the reader in folder is cached: named by the base model and a hash of the
    base model's files, the reader's weights file and the export recipe (its merge constants included). The
    manifest's thresholds and chooser are not in the export, so changing them keeps it."""
    from rag.embed.onnx import OPSET, cache_root, model_key

    base = Path(base_path())
    if not base.is_dir():
        raise ModelError(f"the reader's onnx backend needs the bundled model as a local folder, not {base}")
    h = hashlib.sha256(f"reader export {EXPORT_VERSION} opset {OPSET} base {model_key(base)} frozen {FROZEN} "
                       f"rank {RANK} scale {SCALE} {PROJECTIONS} {NORMS}".encode())
    h.update((Path(folder) / WEIGHTS_FILE).read_bytes())
    return cache_root() / "onnx" / f"passage-reader-{base.name}-{h.hexdigest()[:16]}" / "reader.onnx"


def export(model, head, path: Path) -> None:
    """Export MiniLM + head to path: (input_ids, attention_mask, token_type_ids) -> start, end logits [B, T]."""
    from rag.embed.onnx import INSTALL, OPSET

    try:
        import onnx  # noqa: F401  (torch.onnx writes through it)
    except ImportError:
        raise DependencyError(f"exporting the passage reader to ONNX needs onnx: {INSTALL}") from None
    import torch

    class Reader(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model, self.head = model, head

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            out = self.head(hidden)
            return out[..., 0], out[..., 1]

    ids = torch.ones((2, 16), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(Reader().eval(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(path),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["start", "end"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                        "start": axes, "end": axes})


class PassageReader:
    """The shipped reader with its adapters merged, loaded once per process (see ``get``); backend "onnx"
    (ONNX Runtime on the cached export) or "torch" (None: ``default_backend()``)."""

    def __init__(self, folder: Path | str = WEIGHTS_DIR, *, backend: str | None = None):
        backend = backend or default_backend()
        if backend not in BACKENDS:
            raise ValueError(f"unknown passage reader backend {backend!r} (one of {', '.join(BACKENDS)})")
        self.backend, self.folder = backend, Path(folder)
        arrays, self.manifest = load_weights(folder)
        t = self.manifest.get("thresholds") or {}
        try:   # chosen by bench/calibrate_passage_reader.py; uncalibrated weights never show a short answer
            self.min_prob = float(t.get("min_prob", 2.0))
            self.lead_prob = float(t.get("lead_prob", 2.0))
            self.agree_prob = float(t.get("agree_prob", 2.0))
            self.nil_weight = float(t.get("nil_weight", 0.0))
            self.chooser = Chooser.from_manifest(self.manifest.get("chooser"))   # bench/fit_chooser.py
        except (TypeError, ValueError, AttributeError):
            raise _damaged(Path(folder), "damaged (thresholds or chooser unreadable)") from None
        cfg, self.tokenizer = base_parts()
        expected = expected_shapes(cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size)
        if {k: tuple(v.shape) for k, v in arrays.items()} != expected:
            raise _damaged(Path(folder), "for another model (tensor names or shapes differ from MiniLM's)")
        self.model = self.head = self.session = None
        if backend == "torch":
            self.model, self.head = merge(base_model()[0], arrays)
        else:
            self.session = self._session(arrays)
        self._lock = threading.Lock()

    def _session(self, arrays: dict[str, np.ndarray]):
        """An ONNX Runtime session on the cached export (exported first if missing; again if unloadable)."""
        from rag.embed.onnx import _require, atomic_file

        ort = _require()
        path = onnx_path(self.folder)

        def make():
            model, head = merge(base_model()[0], arrays)
            atomic_file(path, lambda tmp: export(model, head, tmp))

        if not path.exists():
            make()
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # no busy-waiting between operators (a shared machine's cores), as the embedder's session
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception:   # a damaged cached file: export it again, once
            path.unlink(missing_ok=True)
            make()
            return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def encode(self, question: str, texts: Sequence[str]):
        """Tokenized (question, text) windows and the mask of each window's text word pieces."""
        tok = self.tokenizer
        q = tok(question, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        if len(q) > MAX_QUESTION_TOKENS:   # the passage must keep room: a long question is cut
            question = question[:q[MAX_QUESTION_TOKENS - 1][1]]
        enc = tok([question] * len(texts), list(texts), truncation="only_second", max_length=MAX_TOKENS,
                  stride=STRIDE, return_overflowing_tokens=True, return_offsets_mapping=True, padding=True,
                  return_tensors="np")
        context = np.array([[s == 1 for s in enc.sequence_ids(i)] for i in range(len(enc["input_ids"]))], bool)
        return enc, context

    def logits(self, question: str, texts: Sequence[str]):
        """(encoding, text mask, start logits, end logits) of the question with each text."""
        # one thread at a time: a fast tokenizer used from two threads at once fails ("Already borrowed")
        with self._lock:
            enc, context = self.encode(question, texts)
            feed = {k: np.ascontiguousarray(enc[k], dtype=np.int64)
                    for k in ("input_ids", "attention_mask", "token_type_ids")}
            if self.session is not None:   # each window at its own length: no work on padding
                start = np.full(feed["input_ids"].shape, -1e4, np.float32)
                end = start.copy()
                for w, n in enumerate(feed["attention_mask"].sum(axis=1)):
                    s, e = self.session.run(["start", "end"], {k: v[w:w + 1, :n] for k, v in feed.items()})
                    start[w, :n], end[w, :n] = s[0], e[0]
                return enc, context, start, end
            import torch

            with torch.inference_mode():
                hidden = self.model(**{k: torch.from_numpy(v) for k, v in feed.items()}).last_hidden_state
                out = self.head(hidden).float().numpy()
        return enc, context, out[..., 0], out[..., 1]

    def read(self, question: str, texts: Sequence[str]) -> list[Reading]:
        """The best span of each text (over its windows, the most probable span) and its probabilities."""
        if not texts:
            return []
        enc, context, start, end = self.logits(question, texts)
        best: dict[int, Reading] = {}
        for w, (i, j, p, null) in enumerate(best_spans(start, end, context)):
            t = int(enc["overflow_to_sample_mapping"][w])
            if p == 0.0 and i == 0:
                r = Reading("", 0, 0, 0.0, null)
            else:
                a, b = int(enc["offset_mapping"][w][i][0]), int(enc["offset_mapping"][w][j][1])
                r = Reading(texts[t][a:b], a, b, p, null)
            if t not in best or (r.prob, -r.null_prob) > (best[t].prob, -best[t].null_prob):
                best[t] = r
        return [best[t] for t in range(len(texts))]


def get(folder: Path | str = WEIGHTS_DIR, backend: str | None = None) -> PassageReader:
    """The reader of folder on backend (None: ``default_backend()``), loaded once per process."""
    key = (str(Path(folder).resolve()), backend or default_backend())
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = PassageReader(folder, backend=key[1])
        return _LOADED[key]
