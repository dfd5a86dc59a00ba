"""Tune the answer-sentence weights and calibrate the not-found threshold (in-sample, on SQuAD dev).

Computes every candidate sentence's features once (rag.answer.extractive: cosine,
rarity-weighted term share in the sentence and in its passage, answer-type
match, 1/rank) in three settings:
  removed     SQuAD-dev half, each question with its article present (answerable)
              and with its article's passages removed from the results (not)
  single-doc  each article indexed alone, its own questions (answerable) and as
              many from other articles (not)                 [rag.evaluation.notfound]
  squad2      SQuAD 2.0 dev questions, answerable vs written-to-look-answerable
then grids the evidence weights (for each, the threshold that maximises the
worse balanced accuracy of the two abstention settings, and the SQuAD 2.0
AUROC; the chosen weighting has the best AUROC among those with both balanced
accuracies >= 0.92) and the sentence-selection weights (answer containment,
short-answer F1, answer words). All in-sample. Caches question vectors and indexes
under bench/.cache. Usage (from the repository root):

    PYTHONPATH=. .venv/bin/python bench/calibrate_threshold.py ../shared/data/squad-dev ../shared/data/squad2-dev

(``--reuse`` re-grids the features saved by the previous run.)
"""
import hashlib
import itertools
import pickle
import random
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag import Config, assemble
from rag.answer.extractive import ExtractiveAnswerer
from rag.api import Rag
from rag.build.builder import build_index
from rag.evaluation.datasets import load_beir
from rag.evaluation.metrics import auroc, contains_answer, squad_em_f1
from rag.evaluation.notfound import article_documents, load_questions, single_doc_config
from rag.evaluation.runner import _cache_dir

CACHE = Path(__file__).resolve().parent / ".cache"
FULL = 0.5   # evidence weight of full coverage (all question words in one sentence): kept fixed


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
    return feats, hits, shorts, np.array([len(c.sentence.text.split()) for c in cands])


def collect(squad: Path, squad2: Path | None):
    config = Config()
    embedder = assemble.embedder(config)
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
        one = single_doc_config(config, doc, _cache_dir(squad, config).parent / "single")
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
    return np.array([float((f @ w).max()) if len(f) else 0.0 for f, *_ in data])


def evidence_grid(present, absent, sp, sn, s2p, s2n):
    """Per evidence weighting: the threshold maximising the worse balanced accuracy of the two
    abstention settings, both accuracies there, and the SQuAD 2.0 AUROC."""
    results = []
    for wt, wc, wy, wn in itertools.product([0.1, 0.25, 0.5, 1.0], [0.0, 0.1, 0.25, 0.5], [0.0, 0.1],
                                            [0.0, -0.3, -0.5]):
        w = np.array([1.0, wt, wc, wy, 0.0, wn, FULL], np.float32)
        pa, na, p1, n1 = (best_evidence(d, w) for d in (present, absent, sp, sn))
        best = (-1, 0, 0, 0)
        for t in np.arange(0.4, 2.6, 0.02):
            ba = ((pa >= t).mean() + (na < t).mean()) / 2
            b1 = ((p1 >= t).mean() + (n1 < t).mean()) / 2
            best = max(best, (min(ba, b1), ba, b1, round(float(t), 2)))
        s2 = auroc(best_evidence(s2p, w), best_evidence(s2n, w)) if s2p else float("nan")
        results.append((wt, wc, wy, wn, *best, s2))
    print("evidence weights (cosine = 1)        worse-balanced removed single threshold squad2-AUROC")
    for r in sorted(results, key=lambda r: -r[4])[:6] + sorted(results, key=lambda r: -r[8])[:10]:
        print(f"  terms {r[0]:.2f} context {r[1]:.2f} type {r[2]:.1f} negation {r[3]:+.1f}:  {r[4]:.4f}  "
              f"{r[5]:.4f}  {r[6]:.4f}  {r[7]:.2f}  {r[8]:.4f}")
    ok = [r for r in results if r[4] >= 0.92]
    pick = max(ok or results, key=lambda r: r[8])
    print(f"chosen (best SQuAD 2.0 AUROC with both balanced accuracies >= 0.92): {pick}")


def select_grid(present):
    """Per selection weighting and second-sentence margin: containment (sentences or short
    answer), short-answer EM/F1 and answer words, article present, ignoring the threshold."""
    results = []
    for wt, wc, wy, wr, wn in itertools.product([0.5, 1.0, 1.5], [0.0, 0.5], [0.0, 0.2, 0.4],
                                                [0.0, 0.15, 0.3], [0.0, -0.3]):
        w = np.array([1.0, wt, wc, wy, wr, wn, 0.0], np.float32)
        for margin in (None, 0.05, 0.1):
            got, f1, words = [], [], []
            for f, hits, shorts, nwords, gold in present:
                if not len(f):
                    got.append(False); f1.append(0.0); words.append(0)
                    continue
                sel = f @ w
                order = np.argsort(-sel, kind="stable")
                pick = [order[0]] + ([order[1]] if margin is not None and len(order) > 1
                                     and sel[order[1]] >= sel[order[0]] - margin else [])
                short = shorts[order[0]]
                got.append(bool(hits[pick].any()) or (short is not None and contains_answer(short, gold)))
                f1.append(squad_em_f1(short, gold)[1])
                words.append(int(nwords[pick].sum()) + (len(short.split()) if short else 0))
            results.append((float(np.mean(got)), float(np.mean(f1)), float(np.mean(words)), wt, wc, wy, wr, wn,
                            margin))
    print("containment  short-F1  words   terms context type rank negation margin")
    for r in sorted(results, reverse=True)[:12]:
        print(f"  {r[0]:.4f}     {r[1]:.4f}   {r[2]:.1f}   {r[3]:.2f}  {r[4]:.2f}  {r[5]:.1f}  {r[6]:.2f}  "
              f"{r[7]:+.1f}  {r[8]}")


def main(squad: str, squad2: str | None = None) -> None:
    path = CACHE / "calibration-rows.pkl"
    if path.exists() and "--reuse" in sys.argv:
        data = pickle.loads(path.read_bytes())
    else:
        data = collect(Path(squad), Path(squad2) if squad2 else None)
        path.write_bytes(pickle.dumps(data))
    present, absent, sp, sn, s2p, s2n = data
    print(f"removed: {len(present)} + {len(absent)}; single-doc: {len(sp)} + {len(sn)}; "
          f"squad2: {len(s2p)} answerable + {len(s2n)} unanswerable")
    evidence_grid(present, absent, sp, sn, s2p, s2n)
    select_grid(present)


if __name__ == "__main__":
    main(*[a for a in sys.argv[1:] if not a.startswith("--")])
