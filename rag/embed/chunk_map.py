"""A learned linear correction from chunk vectors pooled out of the sentence pass to encoded ones.

``Config.chunk_vectors == "mapped"``: chunk vectors are pooled from the sentence pass's token
sums (rag.embed.pooling.pool_runs, as "pooled") and then moved by a fixed linear map fitted on
SQuAD paragraphs (bench/fit_chunk_map.py; never on an evaluation corpus):

    mapped = normalize(x + x @ residual + bias)

residual [dim, dim] and bias [dim] ship as float16 safetensors in models/chunk_map/ with a
manifest (model, data, articles, command, seed, metrics). The map belongs to one embedding model.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rag.embed import pooling
from rag.errors import ModelError

MAP_DIR = Path(__file__).resolve().parent / "models" / "chunk_map"
WEIGHTS_FILE = "weights.safetensors"
MANIFEST_FILE = "manifest.json"
FIT_COMMAND = "PYTHONPATH=. python bench/fit_chunk_map.py ../shared/data/squad-dev"
MAX_BYTES = 1 << 20


class ChunkMapError(ModelError):
    """The chunk-vector map is missing, damaged or made for another model."""


def load(folder: Path | str = MAP_DIR, *, model: str | None = None, dim: int | None = None) -> dict:
    """{"residual": [dim, dim] float32, "bias": [dim] float32, "manifest": dict}, checked: both files
    present and readable, shapes square and matching (and dim, model when given), values finite;
    else ChunkMapError, one line naming the folder, the reason and the fit command."""
    folder = Path(folder)
    weights, man = folder / WEIGHTS_FILE, folder / MANIFEST_FILE

    def bad(why: str) -> ChunkMapError:
        return ChunkMapError(f"the chunk-vector map in {folder} is {why}: make it with `{FIT_COMMAND}`")

    if not weights.is_file() or not man.is_file():
        raise bad("missing")
    if weights.stat().st_size > MAX_BYTES:
        raise bad(f"larger than {MAX_BYTES} bytes")
    try:
        manifest = json.loads(man.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError
    except (OSError, ValueError, UnicodeDecodeError):
        raise bad("damaged (manifest unreadable)") from None
    try:
        from safetensors.numpy import load_file

        arrays = load_file(str(weights))
    except Exception:   # safetensors raises its own error types for a damaged header or body
        raise bad("damaged (not a readable safetensors file)") from None
    if set(arrays) != {"residual", "bias"}:
        raise bad(f"damaged (tensors {sorted(arrays)}, expected bias and residual)")
    r, b = arrays["residual"].astype(np.float32), arrays["bias"].astype(np.float32)
    if r.ndim != 2 or r.shape[0] != r.shape[1] or b.shape != (r.shape[0],):
        raise bad(f"damaged (residual {r.shape}, bias {b.shape})")
    if dim is not None and r.shape[0] != dim:
        raise bad(f"for {r.shape[0]}-dimensional vectors, not {dim}")
    if model is not None and manifest.get("model") not in (None, model):
        raise bad(f"fitted for {manifest.get('model')!r}, not {model!r}")
    if not (np.isfinite(r).all() and np.isfinite(b).all()):
        raise bad("damaged (values not finite)")
    return {"residual": r, "bias": b, "manifest": manifest}


def apply(m: dict, vecs: np.ndarray) -> np.ndarray:
    """normalize(vecs + vecs @ residual + bias), float32."""
    x = np.asarray(vecs, dtype=np.float64)
    return pooling.normalize(x + x @ m["residual"].astype(np.float64) + m["bias"].astype(np.float64)).astype(np.float32)


def fit(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """(residual, bias) of ridge regression toward the identity with an unpenalized bias:
    W, b minimizing ||x W + b - y||^2 + lam ||W - I||^2; residual = W - I."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    d = x.shape[1]
    a = np.hstack([x, np.ones((len(x), 1))])
    pen = np.diag(np.r_[np.full(d, float(lam)), 0.0])
    target = np.vstack([np.eye(d), np.zeros((1, d))])
    theta = np.linalg.solve(a.T @ a + pen, a.T @ y + pen @ target)
    return theta[:d] - np.eye(d), theta[d]


def save(folder: Path | str, residual: np.ndarray, bias: np.ndarray, manifest: dict) -> None:
    """Write the map (float16 safetensors) and its manifest, each through a temporary file."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"residual": np.ascontiguousarray(residual, dtype=np.float16),
              "bias": np.ascontiguousarray(bias, dtype=np.float16)}
    tmp = folder / (WEIGHTS_FILE + ".tmp")
    save_file(arrays, str(tmp))
    tmp.replace(folder / WEIGHTS_FILE)
    tmp = folder / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    tmp.replace(folder / MANIFEST_FILE)
