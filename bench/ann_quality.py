"""Retrieval quality with the approximate dense search forced on (not a test).

    PYTHONPATH=. python bench/ann_quality.py INDEX DATASET [--threshold 500] [--split test] [--backend onnx-int8]

Copies INDEX (an index that `rag eval DATASET` built, e.g. index/eval/squad-dev-HASH) to a temporary
folder, rewrites it as one segment with an ANN index (rag.storage.dense) by saving it again with a tiny
ann_threshold (no re-embedding), and runs the same evaluation over it, so the figures compare with
`rag eval DATASET` on the exact index side by side (README "Scale").
"""
import argparse
import shutil
import tempfile
from pathlib import Path

from rag.config import Config
from rag.evaluation.runner import evaluate, format_report
from rag.storage import writer as store

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("index"), ap.add_argument("dataset")
ap.add_argument("--threshold", type=int, default=500)
ap.add_argument("--split", default="test")
ap.add_argument("--backend", default="onnx-int8")
args = ap.parse_args()
with tempfile.TemporaryDirectory() as tmp:
    dst = Path(tmp) / "idx"
    shutil.copytree(args.index, dst)
    data = store.load(dst)
    data.manifest = {k: v for k, v in data.manifest.items() if k not in ("files", "segments")}
    data.manifest["settings"] = dict(data.manifest["settings"], ann_threshold=args.threshold)
    store.save(dst, data)   # no base: every document rewritten, into one segment with ann.faiss
    segs = store.read_manifest(dst)["segments"]
    print("segments:", {name: info.get("ann") for name, info in segs.items()})
    config = Config(backend=args.backend, ann_threshold=args.threshold)
    report = evaluate(args.dataset, split=args.split, modes=["hybrid", "dense"], config=config, index_dir=dst,
                      abstention=False)
    print(format_report(report))
