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
from rag.evaluation.evaluate import _cache_dir
from rag.evaluation.metrics import hit_at_k, ndcg_at_k


def features(rag: Rag, question: str, qvec: np.ndarray, depth: int):
    f = rag.retriever.fusion_features(question, qvec, depth)
    return (np.arange(len(f["chunks"])), f["dense"], f["bm25"], f["sentence"],
            [list(f["chunks"]).index(c) for c in f["dense_ids"]],
            [list(f["chunks"]).index(c) for c in f["bm25_ids"]], f["document"], f["docs"])


def doc_ranking(f, scores):
    order = np.argsort(-scores, kind="stable")
    seen, out = set(), []
    for c in order:
        d = f[7][c]
        if d not in seen:
            seen.add(d)
            out.append(d)
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
    feats = [features(rag, ds.queries[q], v, args.depth) for q, v in zip(qids, qvecs)]

    def evaluate(fn):
        nd, h1 = [], []
        for q, f in zip(qids, feats):
            ranked = doc_ranking(f, fn(f))
            nd.append(ndcg_at_k(ranked, ds.qrels[q], 10))
            h1.append(hit_at_k(ranked, ds.qrels[q], 1))
        return float(np.mean(nd)), float(np.mean(h1))

    def rrf(f):
        cands, _, _, _, dense_ids, bm_ids, _ = f
        pos = {c: i for i, c in enumerate(cands)}
        s = np.zeros(len(cands))
        for ranked in (dense_ids, bm_ids):
            for r, c in enumerate(ranked, 1):
                s[pos[c]] += 1 / (60 + r)
        return s

    def rrf_document(f):
        """Plain RRF of the dense and document-BM25 rankings of the candidates."""
        s = np.zeros(len(f[0]))
        for x in (f[1], f[6] + 1e-6 * f[2]):
            ranks = np.empty(len(x))
            ranks[np.argsort(-x, kind="stable")] = np.arange(1, len(x) + 1)
            s += 1 / (60 + ranks)
        return s

    print(f"{ds.name} {args.split}: {len(qids)} queries, depth {args.depth}")
    print("dense      nDCG@10 %.4f  Hit@1 %.4f" % evaluate(lambda f: f[1]))
    print("bm25       nDCG@10 %.4f  Hit@1 %.4f" % evaluate(lambda f: f[2]))
    print("sentence   nDCG@10 %.4f  Hit@1 %.4f" % evaluate(lambda f: f[3]))
    print("rrf        nDCG@10 %.4f  Hit@1 %.4f" % evaluate(rrf))
    print("document   nDCG@10 %.4f  Hit@1 %.4f" % evaluate(lambda f: f[6] + 1e-6 * f[2]))
    print("rrf (dense + document BM25) nDCG@10 %.4f  Hit@1 %.4f" % evaluate(rrf_document))
    results = []
    for wb, ws, wdoc in itertools.product([0.0, 0.3, 0.5, 0.7], [0.0, 0.5, 0.75, 1.0], [0.0, 0.2, 0.4, 0.7]):
        nd, h1 = evaluate(lambda f: f[1] + wb * f[2] + ws * f[3] + wdoc * f[6])
        results.append((nd, h1, wb, ws, wdoc))
    results.sort(reverse=True)
    print("best weights (dense=1):  nDCG@10  Hit@1  w_bm25  w_sentence  w_document")
    for nd, h1, wb, ws, wdoc in results[:12]:
        print(f"                         {nd:.4f}   {h1:.4f}  {wb:.2f}    {ws:.2f}        {wdoc:.2f}")
    default = Config().fusion_weights
    print("default %s: nDCG@10 %.4f  Hit@1 %.4f" % ((default,) + evaluate(
        lambda f: default[0] * f[1] + default[1] * f[2] + default[2] * f[3] + default[3] * f[6])))


if __name__ == "__main__":
    main()
