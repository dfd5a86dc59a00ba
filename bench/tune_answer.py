"""Grid-search the answer-sentence weights on SQuAD dev (answer containment).

Needs the evaluation index first (``rag eval ../shared/data/squad-dev``). For every
question, takes the default mode's top passages, computes each candidate
sentence's features once (rag.answer.sentence_features), then for each weight
setting picks the best sentence and checks whether it contains a gold answer;
finally shows how a second sentence within a score margin trades length for
containment. The not-found threshold is left out here (it is calibrated by
bench/calibrate_threshold.py). Usage:

    .venv/bin/python bench/tune_answer.py ../shared/data/squad-dev
"""
import itertools
import sys
from pathlib import Path

import numpy as np

from rag import Config
from rag.answer import SENTENCE_WEIGHTS, sentence_features
from rag.datasets import load_beir
from rag.embed import Embedder
from rag.evaluate import _cache_dir
from rag.metrics import contains_answer
from rag.retrieve import Retriever
from rag.store import load


def main(folder: str, split: str = "test") -> None:
    folder, config = Path(folder), Config()
    ds = load_beir(folder, split)
    retriever = Retriever(load(_cache_dir(folder, config), config.index_settings()),
                          weights=config.fusion_weights, depth=config.depth)
    qids = [q for q in ds.queries if q in ds.answers]
    qvecs = Embedder().encode([ds.queries[q] for q in qids])
    rows = []
    for q, v in zip(qids, qvecs):
        passages = retriever.search(ds.queries[q], v, config.top_k, mode=config.mode)
        cands, feats = sentence_features(ds.queries[q], v, passages, retriever)
        hit = np.array([contains_answer(s.text, ds.answers[q]) for _, s in cands])
        words = np.array([len(s.text.split()) for _, s in cands])
        rows.append((feats, hit, words))
    print(f"{len(rows)} questions; any candidate sentence contains the answer: "
          f"{np.mean([h.any() for _, h, _ in rows]):.3f}")

    def run(w, margin=None):
        got, length = [], []
        for feats, hit, words in rows:
            s = feats @ np.asarray(w, np.float32)
            order = np.argsort(-s, kind="stable")
            pick = [order[0]]
            if margin is not None and len(order) > 1 and s[order[1]] >= s[order[0]] - margin:
                pick.append(order[1])
            got.append(hit[pick].any())
            length.append(words[pick].sum())
        return float(np.mean(got)), float(np.mean(length))

    results = []
    for wl, wr, wn in itertools.product([0, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0], [0, 0.1, 0.2, 0.3, 0.5],
                                        [0, 0.1, 0.2, 0.3]):
        results.append((run((1.0, wl, wr, wn))[0], wl, wr, wn))
    results.sort(reverse=True)
    print("one sentence: containment  w_terms w_rank w_number  (w_cosine = 1)")
    for c, wl, wr, wn in results[:8]:
        print(f"              {c:.4f}       {wl:.2f}    {wr:.2f}   {wn:.2f}")
    best = (1.0, *results[0][1:])
    print(f"cosine only: {run((1, 0, 0, 0))[0]:.4f}; current default: {run(SENTENCE_WEIGHTS)[0]:.4f}")
    print("second sentence within margin: margin  containment  mean words")
    for m in [None, 0.02, 0.05, 0.1, 0.15, 0.2]:
        c, n = run(best, m)
        print(f"                                {m!s:6}  {c:.4f}       {n:.1f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
