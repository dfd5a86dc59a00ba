"""Fit a linear map from pooled to encoded chunk vectors on SQuAD training articles only.

    PYTHONPATH=. python bench/fit_chunk_map.py ../shared/data/squad-dev [--out bench/.cache/chunk_map]

The paragraphs of the training articles of bench/reader_split.json are chunked as rag index does;
both encoder passes run once (bench/one_pass.py's prepare and passes, cached in bench/.cache) with
the backend given (default onnx-int8, as bench/one_pass.py). x: each chunk's vector pooled from its
sentences' token sums (chunk_vectors "pooled"); y: the chunk encoded. The map is ridge regression
toward the identity,

    min ||x W + b - y||^2 + lam ||W - I||^2,   stored as residual = W - I and bias b,

lam chosen by leave-articles-out cross-validation (4 folds over the training articles) on the mean
cosine of normalize(x W + b) to y. Prints the cosine on the validation articles (never fitted on)
before and after the map; bench/one_pass.py --map applies it (variant sentence-map). Deterministic
(no sampling; --seed fixes the fold assignment).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from one_pass import cache_path, cos, passes, prepare  # noqa: E402

from rag.embed import pooling  # noqa: E402

SPLIT = Path(__file__).resolve().parent / "reader_split.json"
LAMBDAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
OUT = Path(__file__).resolve().parent / ".cache" / "chunk_map"


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


def apply(residual: np.ndarray, bias: np.ndarray, vecs: np.ndarray) -> np.ndarray:
    """normalize(vecs + vecs @ residual + bias), float32."""
    x = np.asarray(vecs, dtype=np.float64)
    return pooling.normalize(x + x @ np.asarray(residual, np.float64) + np.asarray(bias, np.float64))


def save(folder: Path, residual: np.ndarray, bias: np.ndarray, manifest: dict) -> None:
    """The map as float16 safetensors (weights.safetensors: residual, bias) and manifest.json."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({"residual": np.ascontiguousarray(residual, dtype=np.float16),
               "bias": np.ascontiguousarray(bias, dtype=np.float16)}, str(folder / "weights.safetensors"))
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def load(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(residual, bias) as float32, from what save wrote."""
    from safetensors.numpy import load_file

    arrays = load_file(str(Path(folder) / "weights.safetensors"))
    return arrays["residual"].astype(np.float32), arrays["bias"].astype(np.float32)



def pairs(folder: Path, backend: str, articles: set, tag: str):
    """(x pooled, y encoded, article of each chunk, embedder) for the chunks of these articles."""
    keep = lambda d: d.id.rsplit("_", 1)[0] in articles  # noqa: E731
    ds, docs, config, emb, texts = prepare(folder, "test", backend, keep=keep)
    got = passes(emb, texts, cache_path(f"{folder.name}-{tag}-{backend}"))
    x = pooling.pool_runs(got["ssums"], texts["runs"])
    arts = np.array([i.rsplit("_", 1)[0] for i in texts["docs"]])
    return x.astype(np.float64), got["cvecs"].astype(np.float64), arts, emb


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--backend", default="onnx-int8")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    folder = Path(args.dataset)
    split = json.loads(SPLIT.read_text())
    x, y, arts, emb = pairs(folder, args.backend, set(split["train"]), "train")
    vx, vy, _, _ = pairs(folder, args.backend, set(split["validation"]), "validation")
    names = sorted(set(arts))
    rng = np.random.default_rng(args.seed)
    fold = dict(zip(names, rng.permutation(len(names)) % 4))
    folds = np.array([fold[a] for a in arts])
    print(f"train: {len(x)} chunks of {len(names)} articles; validation: {len(vx)} chunks", flush=True)
    print(f"cosine pooled to encoded: train {cos(x, y):.4f}, validation {cos(vx, vy):.4f}", flush=True)
    scores = {}
    for lam in LAMBDAS:
        got = []
        for k in range(4):
            tr, te = folds != k, folds == k
            r, b = fit(x[tr], y[tr], lam)
            got.append(cos(apply(r, b, x[te]), y[te]) * te.sum())
        scores[lam] = sum(got) / len(x)
        print(f"  lam {lam:g}: cross-validated cosine {scores[lam]:.4f}", flush=True)
    lam = max(scores, key=scores.get)
    r, b = fit(x, y, lam)
    r16, b16 = r.astype(np.float16).astype(np.float64), b.astype(np.float16).astype(np.float64)
    train_cos, val_cos = cos(apply(r16, b16, x), y), cos(apply(r16, b16, vx), vy)
    print(f"lam {lam:g}: cosine mapped to encoded (float16 weights): train {train_cos:.4f}, "
          f"validation {val_cos:.4f} (pooled {cos(vx, vy):.4f})", flush=True)
    manifest = {
        "model": emb.name, "backend": args.backend, "dim": int(x.shape[1]),
        "data": "SQuAD v1.1 dev half (../shared/data/squad-dev), paragraphs of the training articles",
        "articles": split["train"], "validation_articles": split["validation"],
        "command": f"PYTHONPATH=. python bench/fit_chunk_map.py {args.dataset} --backend {args.backend} --seed {args.seed}",
        "seed": args.seed, "method": "ridge toward identity, bias unpenalized, lam by 4-fold leave-articles-out CV",
        "lambda": lam, "cv_cosine": {str(k): round(v, 5) for k, v in scores.items()},
        "metrics": {"train_chunks": int(len(x)), "validation_chunks": int(len(vx)),
                    "cosine_pooled_validation": round(cos(vx, vy), 5), "cosine_mapped_validation": round(val_cos, 5),
                    "cosine_pooled_train": round(cos(x, y), 5), "cosine_mapped_train": round(train_cos, 5)},
    }
    save(Path(args.out), r, b, manifest)
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
