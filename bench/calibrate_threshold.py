"""Calibrate the not-found threshold (Config.min_score) on SQuAD dev.

For every question, two cases: the corpus holds its article (answerable: the
best passage score over the whole corpus) and the corpus lacks it (not in the
documents: the best score over the passages of all *other* articles). Prints,
for candidate thresholds, the share of answerable questions still answered and
the share of unanswerable ones correctly refused, and the threshold with the
best balanced accuracy. Usage:

    .venv/bin/python bench/calibrate_threshold.py ../shared/data/squad-dev
"""
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rag import Config
from rag.build import build_index
from rag.datasets import load_beir
from rag.embed import Embedder
from rag.store import load


def main(folder: str, split: str = "test") -> None:
    ds = load_beir(Path(folder), split)
    article = {d.id: d.title for d in ds.documents}
    emb = Embedder()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        config = Config(index_dir=Path(tmp) / "idx")
        build_index(config, embedder=emb, documents=ds.documents)
        print(f"indexed {len(ds.documents)} documents in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
        data = load(config.index_dir)
    chunk_article = np.array([article[c["doc"]] for c in data.chunks])
    qids = list(ds.queries)
    qv = emb.encode([ds.queries[q] for q in qids])
    scores = qv @ data.faiss_index.reconstruct_n(0, data.faiss_index.ntotal).T
    own = np.array([article[next(iter(ds.qrels[q]))] for q in qids])
    same = chunk_article[None, :] == own[:, None]
    pos = scores.max(axis=1)
    neg = np.where(same, -1.0, scores).max(axis=1)
    print(f"{len(qids)} questions; answerable best-score median {np.median(pos):.3f}, "
          f"unanswerable median {np.median(neg):.3f}")
    print("threshold  answered(answerable)  refused(unanswerable)  balanced")
    best = (0.0, 0.0)
    for t in np.arange(0.20, 0.61, 0.025):
        tpr, tnr = float((pos >= t).mean()), float((neg < t).mean())
        print(f"  {t:.3f}     {tpr:.3f}                 {tnr:.3f}                  {(tpr + tnr) / 2:.3f}")
        best = max(best, ((tpr + tnr) / 2, round(float(t), 3)))
    print(f"best balanced accuracy {best[0]:.3f} at threshold {best[1]}")


if __name__ == "__main__":
    main(*sys.argv[1:])
