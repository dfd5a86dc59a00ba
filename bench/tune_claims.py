"""Tune the claim checker (rag.claims weights and threshold) on half A of the labelled set; show half B.

Usage: PYTHONPATH=. python bench/tune_claims.py ../shared/data/squad-dev [N]
The set is generated from the data at run time (rag.claimset). Prints, per weight setting, the threshold
tuned on half A and both halves' rates at it; choose on half A only, then set rag/claims.py's constants.
"""
import itertools
import sys

import numpy as np

from rag import claims as cl
from rag import claimset as cs
from rag.embed import Embedder

folder, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 400
emb = Embedder()
cache: dict = {}


def embed(texts):
    missing = [t for t in dict.fromkeys(texts) if t not in cache]
    if missing:
        cache.update(zip(missing, emb.encode(missing, progress=False)))
    return np.array([cache[t] for t in texts])


items = cs.build(folder, n)
a, b = cs.halves(items)
print(f"{len(items)} items: half A {len(a)}, half B {len(b)}")
feats = {id(it): cl.features([s for s, _ in cl.split_claims(it.sentence)], it.passages, embed)[0] for it in items}
pa, pb = np.array([i.planted for i in a]), np.array([i.planted for i in b])
rows = []
for w in itertools.product([0.1, 0.2, 0.3, 0.4, 0.5], [0.2, 0.3, 0.4, 0.5], [0.2, 0.3, 0.4, 0.5, 0.6]):
    def score(items):
        return np.array([float(cl.scores(feats[id(it)], w)[0].max(axis=1).min()) for it in items])
    sa = score(a)
    t = cs.tune(sa, pa)
    ra = cs.rates(sa, pa, t)
    rows.append((ra["planted_flagged"] + ra["faithful_unflagged"], w, t, ra))
rows.sort(key=lambda r: -r[0])
for _, w, t, ra in rows[:8]:
    sb = np.array([float(cl.scores(feats[id(it)], w)[0].max(axis=1).min()) for it in b])
    rb = cs.rates(sb, pb, t)
    print(f"weights {w} threshold {t:.3f}: A planted {ra['planted_flagged']:.3f} faithful {ra['faithful_unflagged']:.3f}"
          f" | B planted {rb['planted_flagged']:.3f} faithful {rb['faithful_unflagged']:.3f}")
