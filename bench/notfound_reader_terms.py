"""Would a passage-reader term make "not in the documents" better? The three not-found settings, side by side.

For the SQuAD questions of some articles, in the three settings of rag.evaluation.notfound (own article
removed from the results; each article a one-document corpus, asked its own questions and as many drawn
from other articles; SQuAD 2.0 questions of those articles), the answer step as shipped scores each
question, and the passage reader reads its first passages even where the not-found rule already refused
(the reader's own no-answer weight is 0, so the score is the shipped one). Recorded per question: the
shipped not-found score and three reader terms: the chooser's probability that its span is right
(``conf``), 1 - the least no-answer probability of the passages read (``p_answer``) and the chosen
span's probability (``prob``). Then, for each term and weight w, the score + w * (term - 0.5) is
thresholded at the value that keeps both SQuAD settings at balanced accuracy >= 0.90 and gives the best
SQuAD 2.0 balanced accuracy; printed with each setting's answered / refused / balanced accuracy / AUROC.
Choose weights on the held-out training articles (``calibration``) and look at ``validation`` once.

    PYTHONPATH=. .venv/bin/python bench/notfound_reader_terms.py ../shared/data/squad-dev ../shared/data/squad2-dev \
        --articles calibration --out /tmp/nf-cal.json     # or validation; --records FILE re-prints a saved run

Builds nothing new but the one-document indexes (cached under index/eval/single, as rag eval does).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

CALIBRATION = {"Intergovernmental_Panel_on_Climate_Change", "Private_school", "Yuan_dynasty"}
TERMS = ("conf", "p_answer", "prob")
WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)


def record(folder: Path, squad2: Path, articles: set[str], limit: int | None = None) -> dict:
    import rag.answer.extractive as X
    from rag import assemble
    from rag.api import Rag
    from rag.build.builder import build_index
    from rag.config import Config
    from rag.evaluation import notfound as abst
    from rag.evaluation.datasets import load_beir
    from rag.evaluation.runner import _cache_dir, _read_jsonl, article_of

    seen = {}
    shipped = X.passage_reading

    def reading(*args, **kwargs):   # the answer step's own call, remembered
        seen["r"] = shipped(*args, **kwargs)
        return seen["r"]

    X.passage_reading = reading

    def scored(rag, question, qvec, passages, label) -> dict:
        seen.clear()
        score = abst._score(rag, question, qvec, passages)   # as rag eval scores it
        r = seen.get("r")
        return {"score": score, "label": label,
                "conf": None if r is None or r.confidence is None else float(r.confidence),
                "p_answer": None if r is None else float(r.p_answer), "prob": None if r is None else float(r.reading.prob)}

    config = replace(Config(), index_dir=_cache_dir(folder, Config()))
    emb = assemble.embedder(config)
    rag = Rag(config, embedder=emb, answerer=assemble.extractive_answerer(config))
    rag.answerer.reader.nil_weight = 1e-9   # read every question; the score moves by at most 5e-10
    ds = load_beir(folder, "test")
    title = {d.id: d.title for d in ds.documents}
    qids = [q for q in ds.queries if any(article_of(d) in articles for d in ds.qrels[q])][:limit]
    qvec = dict(zip(qids, emb.encode([ds.queries[q] for q in qids], progress=False)))
    out = {"removed": [], "single": [], "squad2": []}
    for q in qids:
        own = {title[d] for d in ds.qrels[q]}
        passages = rag.search(ds.queries[q], k=100, qvec=qvec[q])   # as abst.removed_scores
        out["removed"].append(scored(rag, ds.queries[q], qvec[q], passages, 1))
        out["removed"].append(scored(rag, ds.queries[q], qvec[q], [p for p in passages if title[p.doc_id] not in own], 0))
    docs, rng, by = abst.article_documents(ds), random.Random(0), {}
    for q in qids:
        by.setdefault(title[next(iter(ds.qrels[q]))], []).append(q)
    for name, own in sorted(by.items()):   # negatives drawn from every other article (3 articles are too few)
        one = abst.single_doc_config(config, docs[name], config.index_dir.parent / "single")
        build_index(one, embedder=emb, documents=[docs[name]])
        alone = Rag(one, embedder=emb, answerer=rag.answerer)
        others = rng.sample([q for q in ds.queries if title[next(iter(ds.qrels[q]))] != name], len(own))
        for q, label in [(q, 1) for q in own] + [(q, 0) for q in others]:
            v = qvec[q] if q in qvec else emb.encode([ds.queries[q]], progress=False)[0]
            out["single"].append(scored(alone, ds.queries[q], v, alone.search(ds.queries[q], qvec=v), label))
    c2 = replace(Config(), index_dir=_cache_dir(squad2, Config()))
    build_index(c2, embedder=emb, documents=load_beir(squad2, "test").documents, progress=False)   # as rag eval
    rag2 = Rag(c2, embedder=emb, answerer=rag.answerer)
    rows = [r for r in abst.load_questions(squad2) if article_of(r["paragraph-id"]) in articles][:limit]
    texts = {str(r["_id"]): r["text"] for r in _read_jsonl(squad2 / "queries.jsonl")}
    vecs = emb.encode([texts[r["query-id"]] for r in rows], progress=False)
    for r, v in zip(rows, vecs):
        q = texts[r["query-id"]]
        out["squad2"].append(scored(rag2, q, v, rag2.search(q, qvec=v), 0 if r["is_impossible"] else 1))
    return out


def report(records: dict, min_score: float) -> None:
    from rag.evaluation.metrics import auroc

    def setting(rows, w, term, threshold):
        s = np.array([r["score"] + w * ((r[term] or 0.0) - 0.5) for r in rows])
        y = np.array([r["label"] for r in rows], bool)
        answered, refused = float((s[y] >= threshold).mean()), float((s[~y] < threshold).mean())
        return answered, refused, (answered + refused) / 2, auroc(s[y], s[~y])

    def line(w, term, t):
        cells = {k: setting(rows, w, term, t) for k, rows in records.items()}
        return cells, " | ".join(f"{k} {a:.3f} / {r:.3f} / {b:.3f} ({u:.3f})" for k, (a, r, b, u) in cells.items())

    print(f"setting: answered / refused / balanced accuracy (AUROC); shipped threshold {min_score}")
    print("shipped:", line(0.0, "conf", min_score)[1])
    for term in TERMS:
        for w in WEIGHTS[1:]:
            best = None
            for t in np.arange(min_score - 0.3, min_score + 0.3, 0.005):
                cells, text = line(w, term, t)
                ok = cells["removed"][2] >= 0.90 and cells["single"][2] >= 0.90
                if ok and (best is None or cells["squad2"][2] > best[0]):
                    best = (cells["squad2"][2], t, text)
            if best:
                print(f"{term} w={w} threshold {best[1]:.3f}:", best[2])


def main() -> None:
    from rag.config import Config
    from rag.evaluation import split_articles

    ap = argparse.ArgumentParser()
    ap.add_argument("squad")
    ap.add_argument("squad2")
    ap.add_argument("--articles", choices=("calibration", "validation"), default="calibration")
    ap.add_argument("--limit", type=int, help="the first N questions of each setting (a quick check)")
    ap.add_argument("--out", help="save the records (JSON)")
    ap.add_argument("--records", help="print the table of a saved run")
    args = ap.parse_args()
    if args.records:
        records = json.loads(Path(args.records).read_text())
    else:
        articles = CALIBRATION if args.articles == "calibration" else split_articles("validation")
        records = record(Path(args.squad), Path(args.squad2), articles, args.limit)
        if args.out:
            Path(args.out).write_text(json.dumps(records))
    report(records, Config().min_score)


if __name__ == "__main__":
    main()
