"""Grid-search the hybrid fusion weights on a data set's split (tuning splits only).

Needs the evaluation index first (run ``rag eval DATASET --split SPLIT`` once).
Computes each query's candidate features once (dense cosine, chunk BM25 / best,
best sentence cosine, document BM25 / best, over the union of the dense and BM25
top ``--depth``),
then scores every weight combination by mean nDCG@10 and Hit@1 (documents
ranked by their best passage). Usage:

    .venv/bin/python bench/tune_fusion.py ../shared/data/scifact --split train
"""
import argparse
import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag import Config
from rag.api import Rag
from rag.evaluation.datasets import load_beir
from rag.evaluation.metrics import hit_at_k, ndcg_at_k
from rag.evaluation.runner import _cache_dir
from rag.retrieve import fusion


def doc_ranking(docs, scores):
    """The first 10 distinct documents by score (stable order for ties)."""
    seen, out = set(), []
    for c in np.argsort(-scores, kind="stable"):
        if docs[c] not in seen:
            seen.add(docs[c])
            out.append(docs[c])
            if len(out) == 10:
                break
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--split", default="train")
    ap.add_argument("--depth", type=int, default=100)
    args = ap.parse_args()
    folder, config = Path(args.dataset), Config()
    ds = load_beir(folder, args.split)
    rag = Rag(replace(config, index_dir=_cache_dir(folder, config), depth=args.depth))
    qids = list(ds.queries)
    qvecs = rag.embedder.encode([ds.queries[q] for q in qids])
    feats = [rag.retriever.fusion_features(ds.queries[q], v, args.depth) for q, v in zip(qids, qvecs)]
    docs = [rag.retriever.chunk_docs(f.chunks) for f in feats]

    def evaluate(fn):
        nd, h1 = [], []
        for q, f, d in zip(qids, feats, docs):
            ranked = doc_ranking(d, fn(f))
            nd.append(ndcg_at_k(ranked, ds.qrels[q], 10))
            h1.append(hit_at_k(ranked, ds.qrels[q], 1))
        return float(np.mean(nd)), float(np.mean(h1))

    print(f"{ds.name} {args.split}: {len(qids)} queries, depth {args.depth}")
    print("dense      nDCG@10 %.4f  Hit@1 %.4f" % evaluate(lambda f: fusion.hybrid(f, (1, 0, 0, 0))))
    print("bm25       nDCG@10 %.4f  Hit@1 %.4f" % evaluate(lambda f: fusion.hybrid(f, (0, 1, 0, 0))))
    print("sentence   nDCG@10 %.4f  Hit@1 %.4f" % evaluate(lambda f: fusion.hybrid(f, (0, 0, 1, 0))))
    print("rrf        nDCG@10 %.4f  Hit@1 %.4f" % evaluate(fusion.rrf))
    print("document   nDCG@10 %.4f  Hit@1 %.4f" % evaluate(lambda f: fusion.hybrid(f, (0, 1e-6, 0, 1))))
    results = []
    for wb, ws, wdoc in itertools.product([0.0, 0.3, 0.5, 0.7], [0.0, 0.5, 0.75, 1.0], [0.0, 0.2, 0.4, 0.7]):
        nd, h1 = evaluate(lambda f: fusion.hybrid(f, (1.0, wb, ws, wdoc)))
        results.append((nd, h1, wb, ws, wdoc))
    results.sort(reverse=True)
    print("best weights (dense=1):  nDCG@10  Hit@1  w_bm25  w_sentence  w_document")
    for nd, h1, wb, ws, wdoc in results[:12]:
        print(f"                         {nd:.4f}   {h1:.4f}  {wb:.2f}    {ws:.2f}        {wdoc:.2f}")
    default = Config().fusion_weights
    print("default %s: nDCG@10 %.4f  Hit@1 %.4f" % ((default,) + evaluate(lambda f: fusion.hybrid(f, default))))


if __name__ == "__main__":
    main()
