"""Tune the answer-sentence weights and calibrate the not-found threshold (in-sample, on SQuAD dev).

Computes every candidate sentence's features once (rag.extractive: cosine,
rarity-weighted term share in the sentence and in its passage, answer-type
match, 1/rank) in three settings:
  removed     SQuAD-dev half, each question with its article present (answerable)
              and with its article's passages removed from the results (not)
  single-doc  each article indexed alone, its own questions (answerable) and as
              many from other articles (not)                 [rag.abstention]
  squad2      SQuAD 2.0 dev questions, answerable vs written-to-look-answerable
then, for a grid of evidence weights, prints answer containment (article
present) and for each threshold the balanced accuracy in both abstention
settings; the chosen threshold maximises the worse of the two. Also prints the
SQuAD 2.0 AUROC of each weight setting. Caches question vectors and indexes
under bench/.cache. Usage (from the repository root):

    PYTHONPATH=. .venv/bin/python bench/calibrate_threshold.py ../shared/data/squad-dev ../shared/data/squad2-dev
"""
import hashlib
import itertools
import random
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag import Config
from rag.abstention import article_documents, load_questions
from rag.api import Rag
from rag.build import build_index
from rag.datasets import load_beir
from rag.embed import Embedder
from rag.evaluate import _cache_dir
from rag.extractive import ExtractiveAnswerer
from rag.metrics import contains_answer, squad_em_f1

CACHE = Path(__file__).resolve().parent / ".cache"


def qvecs_for(embedder, texts: dict) -> dict:
    keys = sorted(texts)
    h = hashlib.sha256("\n".join(texts[k] for k in keys).encode()).hexdigest()[:16]
    path = CACHE / f"qvecs-{h}.npy"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(path, embedder.encode([texts[k] for k in keys]))
    return dict(zip(keys, np.load(path)))


def rows(rag, question, qvec, passages, gold=()):
    passages = [replace(p, rank=r) for r, p in enumerate(passages[:rag.config.top_k], 1)]
    cands, feats = ExtractiveAnswerer.features(question, qvec, passages, rag.retriever)
    hits = np.array([contains_answer(c.sentence.text, gold) for c in cands], bool)
    shorts = [c.short.text if c.short else None for c in cands]
    return feats, hits, shorts


def collect(squad: Path, squad2: Path | None):
    config, embedder = Config(), Embedder()
    ds = load_beir(squad, "test")
    qids = list(ds.queries)
    qv = qvecs_for(embedder, ds.queries)
    rag = Rag(replace(config, index_dir=_cache_dir(squad, config)), embedder=embedder)
    article = {d.id: d.title for d in ds.documents}
    present, absent = [], []
    for q in qids:
        own = {article[d] for d in ds.qrels[q]}
        ps = rag.search(ds.queries[q], k=100, qvec=qv[q])
        present.append(rows(rag, ds.queries[q], qv[q], ps, ds.answers.get(q, ())) + (ds.answers.get(q, ()),))
        absent.append(rows(rag, ds.queries[q], qv[q], [p for p in ps if article[p.doc_id] not in own]))
    single_pos, single_neg = [], []
    by_article = {}
    for q in qids:
        by_article.setdefault(article[next(iter(ds.qrels[q]))], []).append(q)
    rng = random.Random(0)
    for title, doc in sorted(article_documents(ds).items()):
        one = replace(config, index_dir=CACHE / f"single-{doc.sha256[:16]}")
        build_index(one, embedder=embedder, documents=[doc])
        r1 = Rag(one, embedder=embedder)
        own = by_article.get(title, [])
        for q in own:
            single_pos.append(rows(r1, ds.queries[q], qv[q], r1.search(ds.queries[q], qvec=qv[q])))
        for q in rng.sample([q for q in qids if article[next(iter(ds.qrels[q]))] != title], len(own)):
            single_neg.append(rows(r1, ds.queries[q], qv[q], r1.search(ds.queries[q], qvec=qv[q])))
    s2_pos, s2_neg = [], []
    if squad2:
        ds2 = load_beir(squad2, "test")
        import json

        texts = {json.loads(l)["_id"]: json.loads(l)["text"]
                 for l in (squad2 / "queries.jsonl").read_text().splitlines() if l.strip()}
        c2 = replace(config, index_dir=_cache_dir(squad2, config))
        build_index(c2, embedder=embedder, documents=ds2.documents)
        r2 = Rag(c2, embedder=embedder)
        qv2 = qvecs_for(embedder, texts)
        for r in load_questions(squad2):
            q = r["query-id"]
            (s2_neg if r["is_impossible"] else s2_pos).append(
                rows(r2, texts[q], qv2[q], r2.search(texts[q], qvec=qv2[q])))
    return present, absent, single_pos, single_neg, s2_pos, s2_neg


def best_evidence(data, w):
    return np.array([float((f[:, :4] @ w).max()) if len(f) else 0.0 for f, *_ in data])


def auroc(pos, neg):
    from rag.metrics import auroc as a
    return a(pos, neg)


def main(squad: str, squad2: str | None = None) -> None:
    present, absent, sp, sn, s2p, s2n = collect(Path(squad), Path(squad2) if squad2 else None)
    print(f"removed: {len(present)} + {len(absent)}; single-doc: {len(sp)} + {len(sn)}; "
          f"squad2: {len(s2p)} answerable + {len(s2n)} unanswerable")
    results = []
    for wt, wc, wy in itertools.product([0.5, 1.0, 1.5], [0.0, 0.5, 1.0], [0.0, 0.2, 0.4]):
        w = np.array([1.0, wt, wc, wy], np.float32)
        pa, na, p1, n1 = (best_evidence(d, w) for d in (present, absent, sp, sn))
        best = (-1, 0, 0, 0)
        for t in np.arange(0.6, 2.6, 0.02):
            ba = ((pa >= t).mean() + (na < t).mean()) / 2
            b1 = ((p1 >= t).mean() + (n1 < t).mean()) / 2
            best = max(best, (min(ba, b1), ba, b1, round(float(t), 2)))
        s2 = auroc(best_evidence(s2p, w), best_evidence(s2n, w)) if s2p else float("nan")
        results.append((best[0], wt, wc, wy, best[1], best[2], best[3], s2))
    results.sort(reverse=True)
    print("min-balanced  w_terms w_context w_type  removed single  threshold  squad2-AUROC")
    for r in results[:12]:
        print(f"  {r[0]:.4f}      {r[1]:.1f}     {r[2]:.1f}       {r[3]:.1f}    {r[4]:.4f}  {r[5]:.4f}   {r[6]:.2f}"
              f"      {r[7]:.4f}")
    w = np.array([1.0, *results[0][1:4]], np.float32)
    for rw, margin in itertools.product([0.0, 0.15, 0.3, 0.5], [None, 0.05, 0.1]):
        got, em, f1, words = [], [], [], []
        for f, hits, shorts, gold in present:
            if not len(f):
                got.append(False); em.append(0); f1.append(0)
                continue
            sel = f[:, :4] @ w + rw * f[:, 4]
            order = np.argsort(-sel, kind="stable")
            pick = [order[0]] + ([order[1]] if margin is not None and len(order) > 1
                                 and sel[order[1]] >= sel[order[0]] - margin else [])
            short = shorts[order[0]]
            got.append(bool(hits[pick].any()) or (short is not None and contains_answer(short, gold)))
            e, f_ = squad_em_f1(short, gold)
            em.append(e); f1.append(f_)
        print(f"rank weight {rw:.2f} margin {margin!s:5}: containment {np.mean(got):.4f}  "
              f"short EM {np.mean(em):.4f} F1 {np.mean(f1):.4f} (ignoring the threshold)")


if __name__ == "__main__":
    main(*sys.argv[1:])
