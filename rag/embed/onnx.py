"""Run the embedding model's transformer with ONNX Runtime (backends onnx and onnx-int8).

The first use exports the local model's own weights to ONNX (torch.onnx, the
transformer only: token embeddings out; pooling stays in rag.embed.embedder) and, for
onnx-int8, quantizes that file's weights to int8 (onnxruntime.quantization
dynamic quantization, per channel, matrix products only). Both files are cached under ``$RAG_CACHE_DIR`` (default
``$XDG_CACHE_HOME/rag-offline`` or ``~/.cache/rag-offline``) in a folder named
by the sha256 of the model's weights and config, written atomically (a temporary
file, fsynced, renamed, the folder fsynced: a crash leaves no file or the whole
file), so later runs and other processes reuse them; a cached file ONNX Runtime
cannot load is produced again. The export and the quantization are deterministic:
the same model and package versions give the same bytes (checked: two exports and
two quantizations, same sha256). Nothing is downloaded. Needs the optional
packages onnx and onnxruntime (dependencies of the package, as the default backend is
onnx-int8): without them a DependencyError names the install command. Does not handle models that are not
a local folder with their weights, GPU execution providers, or static
quantization with calibration data.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from rag.errors import DependencyError, ModelError

INSTALL = "pip install onnxruntime onnx   (dependencies of rag-offline: its install is incomplete)"
EXPORT_VERSION = "2"   # bump when the export recipe changes: a new cache folder
OPSET = 17
_SESSIONS: dict[tuple, object] = {}
_LOCK = threading.Lock()
_EXPORT_LOCK = threading.Lock()


def cache_root() -> Path:
    root = os.environ.get("RAG_CACHE_DIR")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "rag-offline"


def _require():
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise DependencyError(f"the onnx backends need onnxruntime and onnx: {INSTALL}") from None
    return onnxruntime


def model_key(model_dir: Path) -> str:
    """sha256 over the model folder's weights and configs (names and bytes), plus the recipe."""
    h = hashlib.sha256(f"export {EXPORT_VERSION} opset {OPSET}".encode())
    files = sorted(p for p in model_dir.iterdir() if p.is_file() and p.suffix in (".safetensors", ".bin", ".json"))
    if not any(p.suffix in (".safetensors", ".bin") for p in files):
        raise ModelError(f"no weights file in {model_dir}: the onnx backends need a local model folder")
    for p in files:
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def _atomic(target: Path, write, *, in_folder: bool = False) -> Path:
    """Unless target exists, call write(tmp_path) and rename the result to target (another process may win:
    fine). One export at a time in this process (torch.onnx.export is not thread-safe: the embedder's and the
    reader's first exports can start together, e.g. `rag serve`'s build and its warm-up question); a thread
    that waited finds the file made. in_folder: run write inside the cache folder (the quantizer leaves scratch
    files in the current folder; the working folder is the whole process's, so only there)."""
    with _EXPORT_LOCK:
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".onnx", dir=target.parent)
        os.close(fd)
        cwd = os.getcwd()
        try:
            if in_folder:
                os.chdir(target.parent)
            with _quiet():
                write(Path(tmp))
            os.chmod(tmp, 0o644)
            _fsync(Path(tmp))   # the bytes are on disk before the name points at them:
            os.replace(tmp, target)   # a crash leaves the old state (no file) or the whole file
            _fsync(target.parent)
        finally:
            if in_folder:
                os.chdir(cwd)
            Path(tmp).unlink(missing_ok=True)
        return target


atomic_file = _atomic   # also used by rag.answer.passage_reader for its own export


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _quiet():
    """Keep the exporter's tracer warnings and the quantizer's advice off the user's terminal."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def export(st_model, path: Path) -> None:
    """Export the transformer of a sentence-transformers model to path (token embeddings out)."""
    try:
        import onnx  # noqa: F401  (torch.onnx writes through it)
    except ImportError:
        raise DependencyError(f"exporting the model to ONNX needs onnx: {INSTALL}") from None
    import torch

    auto = st_model[0].auto_model

    class Tokens(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.auto = auto

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.auto(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones((2, 16), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(Tokens().eval(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(path),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["token_embeddings"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                        "token_embeddings": axes})


def model_file(st_model, model_dir: str, backend: str) -> Path:
    """The cached ONNX file for backend (onnx | onnx-int8), exported/quantized if missing."""
    _require()
    folder = cache_root() / "onnx" / f"{Path(model_dir).name}-{model_key(Path(model_dir))}"
    fp32 = folder / "model.onnx"
    if not fp32.exists():
        _atomic(fp32, lambda tmp: export(st_model, tmp))
    if backend == "onnx":
        return fp32
    int8 = folder / "model-int8.onnx"
    if not int8.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # int8 weights per output channel, MatMuls only (the embedding tables stay float):
        # on the seed article, cosine to torch 0.993 mean, against 0.956 per tensor
        _atomic(int8, lambda tmp: quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8,
                                                   per_channel=True, op_types_to_quantize=["MatMul"]),
                in_folder=True)
    return int8


def onnx_forward(st_model, model_dir: str, backend: str, *, alone: bool | None = None):
    """A function (input_ids, attention_mask, token_type_ids) -> token embeddings [B, T, D]; alone (default: for
    onnx-int8 only): each text run on its own (below), else the batch in one call (bench/int8_alone.py compares)."""
    ort = _require()
    if not Path(model_dir).is_dir():
        raise ModelError(f"the {backend} backend needs the bundled model or a local model folder, "
                         f"not {model_dir!r}")
    path = model_file(st_model, model_dir, backend)
    with _LOCK:
        if path not in _SESSIONS:
            opts = ort.SessionOptions()
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.log_severity_level = 3
            # no busy-waiting between operators: on a shared machine it burns the cores others need
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            try:
                _SESSIONS[path] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            except Exception:   # an unreadable cached file (damaged on disk): produce it again, once
                path.unlink(missing_ok=True)
                if backend == "onnx-int8":
                    (path.parent / "model.onnx").unlink(missing_ok=True)
                path = model_file(st_model, model_dir, backend)
                _SESSIONS[path] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        session = _SESSIONS[path]

    def forward(input_ids, attention_mask, token_type_ids):
        return session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask,
                                  "token_type_ids": token_type_ids})[0]

    if not (backend == "onnx-int8" if alone is None else alone):
        return forward

    def one_by_one(input_ids, attention_mask, token_type_ids):
        """int8 quantizes each layer's input with one scale over the whole tensor it is given, so a
        text run in a batch would get a vector that depends on its batch mates and their padding
        (seen: evidence scores moving by 0.03 between a one-document and a 41-document corpus).
        Each text runs alone, unpadded: its vector is a function of its text only."""
        out = None
        for k in range(len(input_ids)):
            n = int(attention_mask[k].sum())
            hidden = forward(input_ids[k:k + 1, :n], attention_mask[k:k + 1, :n], token_type_ids[k:k + 1, :n])
            if out is None:
                out = np.zeros((len(input_ids), input_ids.shape[1], hidden.shape[-1]), dtype=hidden.dtype)
            out[k, :n] = hidden[0]
        return out
    return one_by_one
