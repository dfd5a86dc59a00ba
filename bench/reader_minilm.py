"""Route (b) of the reader, measured and NOT shipped: a MiniLM span head (bench/train_reader.py trains it).

It reached F1 0.17 on validation paragraphs against 0.29 for route (a) and cost 144-873 ms a query,
so the package ships the span reader (rag.answer.span_reader) instead; this module and its weights
(written under bench/.cache/reader_minilm, never committed) stay for the comparison (docs/reader.md).

The model is the shipped all-MiniLM-L6-v2 (rag.embed.embedder.resolve_model) reading
"[CLS] question [SEP] passage [SEP]" (at most MAX_TOKENS word pieces; a longer
passage is read in overlapping windows): its lower FROZEN layers are used as
they are, its top layer is replaced by a trained copy and a linear head gives
each word piece a start and an end logit. The no-answer logit is the start plus
end logit of [CLS]. In each window the joint softmax over "no answer" and every
span of at most MAX_ANSWER_TOKENS word pieces gives the best span's probability
and the no-answer probability. Only the trained part is written, as float16
safetensors in WEIGHTS_DIR beside a manifest naming the data, the split,
the command, the seeds and the validation metrics; bench/train_reader.py makes
both. Missing or damaged weights raise ReaderError (one line naming that
command). Runs with torch on the CPU, deterministically (inference mode, fixed
order). Does not retrieve, pick sentences or decide what is shown: that is
rag.answer.extractive's job.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from rag.answer.passage_reader import PassageReader, Reading  # noqa: F401  (Reading: what read() gives)
from rag.errors import ModelError

WEIGHTS_DIR = Path(__file__).resolve().parent / ".cache" / "reader_minilm"   # not shipped: bench/train_reader.py writes it
WEIGHTS_FILE = "reader.safetensors"
MANIFEST_FILE = "manifest.json"
TRAIN_COMMAND = "python bench/train_reader.py ../shared/data/squad-dev ../shared/data/squad2-dev"
MAX_TOKENS = 256
STRIDE = 96            # word pieces shared by consecutive windows of a long passage
MAX_ANSWER_TOKENS = 30
MAX_QUESTION_TOKENS = 64   # word pieces of the question read; the rest is cut
FROZEN = 5             # MiniLM layers used as they are; the layers above are the trained ones
MAX_BYTES = 10 * 1024 * 1024
_LOCK = threading.Lock()
_LOADED: dict[str, "Reader"] = {}


class ReaderError(ModelError):
    """The reader's weights are missing, damaged or do not fit the model."""


def _damaged(path: Path, why: str) -> ReaderError:
    return ReaderError(f"the reader's weights in {path} are {why}: rebuild them with `{TRAIN_COMMAND}`")


def load_weights(folder: Path | str = WEIGHTS_DIR) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, manifest) of the trained part, checked against the manifest's names and shapes."""
    from rag.answer.passage_reader import load_arrays

    return load_arrays(folder, weights_file=WEIGHTS_FILE, manifest_file=MANIFEST_FILE, max_bytes=MAX_BYTES,
                       what="the reader's", error=ReaderError, command=TRAIN_COMMAND)


def base_model():
    """A fresh copy of the shipped MiniLM transformer (not the embedder's shared one)."""
    from rag.answer.passage_reader import base_model as shipped

    return shipped()


def trained_state(model, head) -> dict:
    """The trained part's tensors: the layers above FROZEN and the span head."""
    out = {}
    for i in range(FROZEN, len(model.encoder.layer)):
        for k, v in model.encoder.layer[i].state_dict().items():
            out[f"layer.{i}.{k}"] = v
    for k, v in head.state_dict().items():
        out[f"head.{k}"] = v
    return out


def best_spans(start: np.ndarray, end: np.ndarray, context: np.ndarray):
    """Per window: (start token, end token, span probability, no-answer probability) of the best span
    (rag.answer.passage_reader.best_spans; the same MAX_ANSWER_TOKENS)."""
    from rag.answer.passage_reader import best_spans as shipped

    return shipped(start, end, context)


class Reader(PassageReader):
    """The reader, loaded once per process (see ``get``); reads as rag.answer.passage_reader.PassageReader."""

    def __init__(self, folder: Path | str = WEIGHTS_DIR):
        import torch

        arrays, self.manifest = load_weights(folder)
        model, self.tokenizer = base_model()
        head = torch.nn.Linear(model.config.hidden_size, 2)
        expected = {k: tuple(v.shape) for k, v in trained_state(model, head).items()}
        got = {k: tuple(v.shape) for k, v in arrays.items()}
        if expected != got:
            raise _damaged(Path(folder), "for another model (tensor names or shapes differ from MiniLM's)")
        for i in range(FROZEN, len(model.encoder.layer)):
            prefix = f"layer.{i}."
            model.encoder.layer[i].load_state_dict(
                {k[len(prefix):]: torch.from_numpy(v.astype(np.float32)) for k, v in arrays.items()
                 if k.startswith(prefix)})
        head.load_state_dict({k[5:]: torch.from_numpy(v.astype(np.float32)) for k, v in arrays.items()
                              if k.startswith("head.")})
        self.model, self.head = model.eval(), head.eval()
        self._lock = threading.Lock()


def get(folder: Path | str = WEIGHTS_DIR) -> Reader:
    """The reader of folder, loaded once per process."""
    key = str(Path(folder).resolve())
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = Reader(folder)
        return _LOADED[key]
