"""Fit the chunk-vector map (rag.embed.chunk_map) on SQuAD training articles only.

    PYTHONPATH=. python bench/fit_chunk_map.py ../shared/data/squad-dev [--out rag/embed/models/chunk_map]

The paragraphs of the training articles of bench/reader_split.json are chunked as rag index does;
both encoder passes run once (bench/one_pass.py's prepare and passes, cached in bench/.cache) with
the backend given (default onnx-int8, as bench/one_pass.py). x: each chunk's vector pooled from its
sentences' token sums (chunk_vectors "pooled"); y: the chunk encoded. The map is ridge regression
toward the identity,

    min ||x W + b - y||^2 + lam ||W - I||^2,   stored as residual = W - I and bias b,

lam chosen by leave-articles-out cross-validation (4 folds over the training articles) on the mean
cosine of normalize(x W + b) to y. Prints the cosine on the validation articles (never fitted on)
before and after the map. Deterministic (no sampling; --seed fixes the fold assignment).
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

from rag.embed import chunk_map, pooling  # noqa: E402

SPLIT = Path(__file__).resolve().parent / "reader_split.json"
LAMBDAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)


def pairs(folder: Path, backend: str, articles: set, tag: str):
    """(x pooled, y encoded, article of each chunk, embedder) for the chunks of these articles."""
    keep = lambda d: d.id.rsplit("_", 1)[0] in articles  # noqa: E731
    ds, docs, config, emb, texts = prepare(folder, "test", backend, keep=keep)
    got = passes(emb, texts, cache_path(f"{folder.name}-{tag}-{backend}"))
    x = pooling.pool_runs(got["ssums"], texts["runs"])
    arts = np.array([i.rsplit("_", 1)[0] for i in texts["docs"]])
    return x.astype(np.float64), got["cvecs"].astype(np.float64), arts, emb


def mapped(x, r, b):
    return chunk_map.apply({"residual": r, "bias": b}, x)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--backend", default="onnx-int8")
    ap.add_argument("--out", default=str(chunk_map.MAP_DIR))
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
            r, b = chunk_map.fit(x[tr], y[tr], lam)
            got.append(cos(mapped(x[te], r, b), y[te]) * te.sum())
        scores[lam] = sum(got) / len(x)
        print(f"  lam {lam:g}: cross-validated cosine {scores[lam]:.4f}", flush=True)
    lam = max(scores, key=scores.get)
    r, b = chunk_map.fit(x, y, lam)
    r16, b16 = r.astype(np.float16).astype(np.float64), b.astype(np.float16).astype(np.float64)
    train_cos, val_cos = cos(mapped(x, r16, b16), y), cos(mapped(vx, r16, b16), vy)
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
    chunk_map.save(args.out, r, b, manifest)
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
