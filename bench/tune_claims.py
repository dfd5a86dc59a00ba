"""Tune the claim checker (rag.llm.claims weights and threshold) on half A of the labelled set; show half B.

Usage: PYTHONPATH=. python bench/tune_claims.py ../shared/data/squad-dev [N] [--cache FILE]
The set is generated from the data at run time (rag.evaluation.claimset). For each weight setting, the threshold is
tuned on half A (rag.evaluation.claimset.tune) and both halves' rates are printed at it, best on half A first; choose
on half A only, then set rag/claims.py's constants. The similarity weight is kept at 0.1 or more by design
(the score is similarity plus lexical overlap); with 0 allowed, half A prefers 0 by a hair (AUROC 0.9925
against 0.9920). --cache keeps sentence vectors between runs (pickle in
/tmp, never in the repository).
"""
import itertools
import os
import pickle
import sys

import numpy as np

from rag.evaluation import claimset as cs
from rag.evaluation import metrics
from rag.llm import claims as cl

args = [a for a in sys.argv[1:] if not a.startswith("--")]
folder, n = args[0], int(args[1]) if len(args) > 1 else 400
cache_file = sys.argv[sys.argv.index("--cache") + 1] if "--cache" in sys.argv else None
if cache_file in args:
    args.remove(cache_file)
cache = pickle.load(open(cache_file, "rb")) if cache_file and os.path.exists(cache_file) else {}
model = None


def embed(texts):
    global model
    missing = [t for t in dict.fromkeys(texts) if t not in cache]
    if missing:
        if model is None:
            from rag import Config, assemble
            model = assemble.embedder(Config())
        cache.update(zip(missing, model.encode(missing, progress=False)))
    return np.array([cache[t] for t in texts])


items = cs.build(folder, n)
a, b = cs.halves(items)
print(f"{len(items)} items: half A {len(a)}, half B {len(b)}")
prepared = {}
for it in items:
    parts = [s for s, _ in cl.split_claims(it.sentence)]
    data = [cl.data_only(p) for p in it.passages]
    foreign = any(cl.foreign_keys(s, data, it.question) for s in parts)
    feats = [cl.features(cl.clauses(s), it.passages, embed)[0] for s in parts]
    prepared[id(it)] = (foreign, feats)
if cache_file:
    pickle.dump(cache, open(cache_file, "wb"))


def score(items, w):
    out = []
    for it in items:
        foreign, feats = prepared[id(it)]
        if foreign:
            out.append(-1.0)
            continue
        out.append(min(min(max(float((f @ np.array(w)).max()) if len(f) else 0.0 for f in clause)
                           for clause in claim) for claim in feats))
    return np.array(out)


pa, pb = np.array([i.planted for i in a]), np.array([i.planted for i in b])
rows = []
for w in itertools.product([0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.4, 0.5, 0.6, 0.8], [0.0, 0.2, 0.4, 0.6]):
    sa = score(a, w)
    t = cs.tune(sa, pa)
    ra = cs.rates(sa, pa, t)
    auc = metrics.auroc(sa[~pa], sa[pa])   # tie-break, on half A too: faithful above planted
    rows.append((round(ra["planted_flagged"] + ra["faithful_unflagged"], 6), auc, w, t, ra))
rows.sort(key=lambda r: (-r[0], -r[1]))
for _, auc, w, t, ra in rows[:12]:
    rb = cs.rates(score(b, w), pb, t)
    print(f"weights {w} threshold {t:.3f}: A AUROC {auc:.4f} planted {ra['planted_flagged']:.3f} faithful {ra['faithful_unflagged']:.3f}"
          f" | B planted {rb['planted_flagged']:.3f} faithful {rb['faithful_unflagged']:.3f}")
