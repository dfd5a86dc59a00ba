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

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

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


@dataclass(frozen=True)
class Reading:
    """The reader's best span in one passage (offsets within the passage text)."""
    text: str
    start: int
    end: int
    prob: float        # probability of this span (joint softmax with "no answer")
    null_prob: float   # probability of "no answer" in the window the span was found in


def _damaged(path: Path, why: str) -> ReaderError:
    return ReaderError(f"the reader's weights in {path} are {why}: rebuild them with `{TRAIN_COMMAND}`")


def load_weights(folder: Path | str = WEIGHTS_DIR) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, manifest) of the trained part, checked against the manifest's names and shapes."""
    folder = Path(folder)
    weights, manifest_path = folder / WEIGHTS_FILE, folder / MANIFEST_FILE
    if not weights.is_file() or not manifest_path.is_file():
        raise ReaderError(f"the reader's weights are missing ({weights}): train them with `{TRAIN_COMMAND}`")
    if weights.stat().st_size > MAX_BYTES:
        raise _damaged(folder, f"larger than {MAX_BYTES} bytes")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        shapes = {k: tuple(v) for k, v in manifest["shapes"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        raise _damaged(folder, "damaged (manifest unreadable)") from None
    try:
        from safetensors.numpy import load_file

        arrays = load_file(str(weights))
    except Exception:   # safetensors raises its own error types for a damaged header or body
        raise _damaged(folder, "damaged (not a readable safetensors file)") from None
    if set(arrays) != set(shapes):
        raise _damaged(folder, "damaged (tensor names differ from the manifest)")
    for name, arr in arrays.items():
        if tuple(arr.shape) != shapes[name] or not np.isfinite(arr.astype(np.float32)).all():
            raise _damaged(folder, f"damaged ({name}: shape {tuple(arr.shape)}, manifest {shapes[name]})")
    return arrays, manifest


def base_model():
    """A fresh copy of the shipped MiniLM transformer (not the embedder's shared one)."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    from rag.config import DEFAULT_MODEL
    from rag.embed.embedder import offline_env, resolve_model

    offline_env()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    path = resolve_model(DEFAULT_MODEL)
    try:
        from transformers import AutoTokenizer

        return AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
    except Exception as exc:
        raise ModelError(f"cannot load the reader's base model offline from {path} ({type(exc).__name__})") from None


def trained_state(model, head) -> dict:
    """The trained part's tensors: the layers above FROZEN and the span head."""
    out = {}
    for i in range(FROZEN, len(model.encoder.layer)):
        for k, v in model.encoder.layer[i].state_dict().items():
            out[f"layer.{i}.{k}"] = v
    for k, v in head.state_dict().items():
        out[f"head.{k}"] = v
    return out


def pair_encoding(tokenizer, question: str, texts: Sequence[str]):
    """Tokenized (question, text) windows: input ids, attention mask, token types, offsets, which
    text each window is of, and the mask of the text's word pieces."""
    q = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    if len(q) > MAX_QUESTION_TOKENS:   # the passage must keep room: a long question is cut
        question = question[:q[MAX_QUESTION_TOKENS - 1][1]]
    enc = tokenizer([question] * len(texts), list(texts), truncation="only_second", max_length=MAX_TOKENS,
                    stride=STRIDE, return_overflowing_tokens=True, return_offsets_mapping=True, padding=True,
                    return_tensors="np")
    context = np.array([[s == 1 for s in enc.sequence_ids(i)] for i in range(len(enc["input_ids"]))], bool)
    return enc, context


def best_spans(start: np.ndarray, end: np.ndarray, context: np.ndarray):
    """Per window: (start token, end token, span probability, no-answer probability) of the best span
    under the joint softmax over "no answer" (the [CLS] logits) and every span of at most
    MAX_ANSWER_TOKENS word pieces of the text."""
    out = []
    n = start.shape[1]
    band = np.triu(np.ones((n, n), bool)) & ~np.triu(np.ones((n, n), bool), MAX_ANSWER_TOKENS)
    for s, e, c in zip(start.astype(np.float64), end.astype(np.float64), context):
        ok = band & c[:, None] & c[None, :]
        joint = np.where(ok, s[:, None] + e[None, :], -np.inf)
        null = s[0] + e[0]
        top = max(float(joint.max()), null)
        z = np.exp(null - top) + np.exp(joint - top).sum()
        i, j = np.unravel_index(int(np.argmax(joint)), joint.shape)
        out.append((int(i), int(j), float(np.exp(joint[i, j] - top) / z), float(np.exp(null - top) / z)))
    return out


class Reader:
    """The shipped reader, loaded once per process (see ``get``)."""

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

    def logits(self, question: str, texts: Sequence[str]):
        """(encoding, text mask, start logits, end logits) of the question with each text."""
        import torch

        enc, context = pair_encoding(self.tokenizer, question, texts)
        with torch.inference_mode():
            hidden = self.model(input_ids=torch.from_numpy(enc["input_ids"]),
                                attention_mask=torch.from_numpy(enc["attention_mask"]),
                                token_type_ids=torch.from_numpy(enc["token_type_ids"])).last_hidden_state
            out = self.head(hidden).float().numpy()
        return enc, context, out[..., 0], out[..., 1]

    def read(self, question: str, texts: Sequence[str]) -> list[Reading]:
        """The best span of each text (its window with the most probable span) and its probabilities."""
        if not texts:
            return []
        enc, context, start, end = self.logits(question, texts)
        best: dict[int, Reading] = {}
        for w, (i, j, p, null) in enumerate(best_spans(start, end, context)):
            t = int(enc["overflow_to_sample_mapping"][w])
            a, b = int(enc["offset_mapping"][w][i][0]), int(enc["offset_mapping"][w][j][1])
            r = Reading(texts[t][a:b], a, b, p, null)
            if t not in best or (r.prob, -r.null_prob) > (best[t].prob, -best[t].null_prob):
                best[t] = r
        return [best[t] for t in range(len(texts))]


def get(folder: Path | str = WEIGHTS_DIR) -> Reader:
    """The reader of folder, loaded once per process."""
    key = str(Path(folder).resolve())
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = Reader(folder)
        return _LOADED[key]
