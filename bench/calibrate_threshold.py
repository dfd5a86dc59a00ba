"""Calibrate the not-found threshold on SQuAD dev, for two candidate signals.

Each question is answered twice with the default retrieval: once over the whole
corpus (its article present: answerable) and once with its own article's
passages removed from the results (article absent: not in the documents).
Signals compared: the best passage cosine similarity, and the best answer-
sentence score (rag.answer.sentence_features @ SENTENCE_WEIGHTS). For each, the
share of answerable questions answered and of unanswerable ones refused at a
range of thresholds, and the best balanced accuracy. Needs the evaluation index
(``rag eval ../shared/data/squad-dev`` first). Usage:

    .venv/bin/python bench/calibrate_threshold.py ../shared/data/squad-dev
"""
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag import Config
from rag.answer import SENTENCE_WEIGHTS, sentence_features
from rag.datasets import load_beir
from rag.embed import Embedder
from rag.evaluate import _cache_dir
from rag.retrieve import Retriever
from rag.store import load


def signals(retriever, question, qvec, passages, k):
    passages = [replace(p, rank=r) for r, p in enumerate(passages[:k], 1)]
    if not passages:
        return -1.0, -1.0
    _, feats = sentence_features(question, qvec, passages, retriever)
    return max(p.similarity for p in passages), float((feats @ np.asarray(SENTENCE_WEIGHTS)).max())


def table(name, pos, neg, grid):
    print(f"\n{name}: answerable median {np.median(pos):.3f}, unanswerable median {np.median(neg):.3f}")
    print("threshold  answered(answerable)  refused(unanswerable)  balanced")
    best = (0.0, 0.0)
    for t in grid:
        tpr, tnr = float((pos >= t).mean()), float((neg < t).mean())
        print(f"  {t:.3f}     {tpr:.3f}                 {tnr:.3f}                  {(tpr + tnr) / 2:.3f}")
        best = max(best, ((tpr + tnr) / 2, round(float(t), 3)))
    print(f"best balanced accuracy {best[0]:.3f} at threshold {best[1]}")


def main(folder: str, split: str = "test") -> None:
    folder, config = Path(folder), Config()
    ds = load_beir(folder, split)
    article = {d.id: d.title for d in ds.documents}
    retriever = Retriever(load(_cache_dir(folder, config), config.index_settings()),
                          weights=config.fusion_weights, depth=config.depth)
    qids = list(ds.queries)
    qvecs = Embedder().encode([ds.queries[q] for q in qids])
    pos, neg = [], []
    for q, v in zip(qids, qvecs):
        own = article[next(iter(ds.qrels[q]))]
        passages = retriever.search(ds.queries[q], v, 100, mode=config.mode)
        pos.append(signals(retriever, ds.queries[q], v, passages, config.top_k))
        others = [p for p in passages if article[p.doc_id] != own]
        neg.append(signals(retriever, ds.queries[q], v, others, config.top_k))
    pos, neg = np.array(pos), np.array(neg)
    print(f"{len(qids)} questions, mode {config.mode}, top {config.top_k} passages")
    table("best passage cosine", pos[:, 0], neg[:, 0], np.arange(0.30, 0.61, 0.025))
    table("best sentence score", pos[:, 1], neg[:, 1], np.arange(0.8, 2.41, 0.1))


if __name__ == "__main__":
    main(*sys.argv[1:])
