"""Choose the reader's thresholds on its TRAINING articles (bench/reader_split.json), never on validation.

Route (b) only (rag.reader), kept for the record: the ExtractiveAnswerer settings it tunes were
removed when the span reader (rag.span_reader, bench/train_reader_a.py) replaced route (b) in the
query path; run it at commit 3565627.

For a sample of training-article questions it records, through the real retrieval and
rag.answer.extractive: the evidence score and the reader's has-answer probability (question with
its article present, with its article's passages removed, and in one-document corpora of a
few training articles against as many questions of other articles), the reader's best
span probability and whether that span is right (SQuAD F1 > 0), and, for SQuAD 2.0
training-article questions, both scores for answerable and unanswerable ones. Then:
  - SHORT_MIN_PROB: the least span probability (grid 0.05) at which the shown spans are
    right at least TARGET of the time (with a 2-point margin);
  - AGREE_MIN_PROB: the same for the rules' short answers the reader's best span (in their
    passage) overlaps;
  - SENTENCE_MIN_PROB: the span probability from which the reader's sentence is quoted that
    gives the best containment (1.0: never);
  - READER_WEIGHT and min_score: per weight, the threshold that maximises the worse balanced
    accuracy of the removed and one-document settings; the weight with the best SQuAD 2.0
    balanced accuracy among those keeping both >= 0.92.
Caches rows in bench/.cache/reader-calibration.json. Usage (from the repository root):

    PYTHONPATH=. .venv/bin/python bench/calibrate_reader.py ../shared/data/squad-dev ../shared/data/squad2-dev [-n 300]
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

from rag import Config  # noqa: E402
from rag.answer.extractive import ExtractiveAnswerer, short_answer_of  # noqa: E402
from rag.answer.multi_sentence import intent  # noqa: E402
from rag.api import Rag  # noqa: E402
from rag.build.builder import build_index  # noqa: E402
from rag.embed.embedder import Embedder  # noqa: E402
from rag.evaluation.datasets import load_beir  # noqa: E402
from rag.evaluation.metrics import contains_answer, squad_em_f1  # noqa: E402
from rag.evaluation.notfound import article_documents, load_questions, single_doc_config  # noqa: E402
from rag.evaluation.runner import _cache_dir, article_of  # noqa: E402

TARGET = 0.85
OUT = HERE / ".cache" / "reader-calibration.json"


def record(ans: ExtractiveAnswerer, rag, question, qvec, passages, gold=()):
    passages = [replace(p, rank=r) for r, p in enumerate(passages[:rag.config.top_k], 1)]
    cands, evidence, select = ans.score(question, qvec, passages, rag.retriever)
    if not cands:
        return {"evidence": 0.0, "has": 0.0, "prob": 0.0, "right": False, "contains": False, "rules": False}
    has, read = ans.read(question, passages)
    order = np.argsort(-select, kind="stable")
    rules = [cands[order[0]]] + ([cands[order[1]]] if len(order) > 1
                                 and select[order[1]] >= select[order[0]] - ans.margin else [])
    picked, short = ans._with_reading(cands, select, rules, read)
    r = read[1]
    top, span = short_answer_of(question, rules, intent(question))
    agree, rule_right = False, False
    if span is not None:   # the gate reads the short answer's passage only
        _, (p1, r) = ans.read(question, [top.passage])
        a = top.sentence.start + span.start
        ra = p1.start + r.start
        agree = a < ra + len(r.text) and ra < a + len(span.text)
        rule_right = bool(gold) and squad_em_f1(span.text, gold)[1] > 0
    return {"evidence": float(evidence.max()), "has": has, "prob": read[1].prob, "rule_short": span is not None,
            "rule_right": rule_right, "agree": bool(agree), "agree_prob": r.prob if span is not None else 0.0,
            "right": bool(gold) and squad_em_f1(read[1].text.strip().rstrip(".,;:"), gold)[1] > 0,
            "contains": bool(gold) and any(contains_answer(c.sentence.text, gold) for c in picked),
            "rules": bool(gold) and any(contains_answer(c.sentence.text, gold) for c in rules)}


def collect(squad: Path, squad2: Path, n: int) -> dict:
    split = json.loads((HERE / "reader_split.json").read_text())
    train = set(split["train"])
    config, embedder = Config(), Embedder()
    ans = ExtractiveAnswerer(config.min_score, reader="default", sentence_min_prob=0.0, short_min_prob=0.0)
    rng = random.Random(0)
    ds = load_beir(squad, "test")
    qids = [q for q in ds.queries if any(article_of(d) in train for d in ds.qrels[q])]
    qids = sorted(rng.sample(qids, min(n, len(qids))))
    rag = Rag(replace(config, index_dir=_cache_dir(squad, config)), embedder=embedder, answerer=ans)
    out = {"present": [], "absent": [], "single_pos": [], "single_neg": [], "s2_pos": [], "s2_neg": []}
    for k, q in enumerate(qids):
        qv = embedder.encode([ds.queries[q]], progress=False)[0]
        own = {article_of(d) for d in ds.qrels[q]}
        ps = rag.search(ds.queries[q], k=100, qvec=qv)
        out["present"].append(record(ans, rag, ds.queries[q], qv, ps, ds.answers.get(q, ())))
        out["absent"].append(record(ans, rag, ds.queries[q], qv, [p for p in ps if article_of(p.doc_id) not in own]))
        if k % 50 == 0:
            print(f"  squad-dev {k}/{len(qids)}", flush=True)
    docs = article_documents(ds)
    by_title = {}
    for d in ds.documents:
        by_title.setdefault(d.title, article_of(d.id))
    titles = sorted(t for t, a in by_title.items() if a in train)
    for title in rng.sample(titles, min(4, len(titles))):
        one = single_doc_config(config, docs[title], _cache_dir(squad, config).parent / "single")
        build_index(one, embedder=embedder, documents=[docs[title]])
        r1 = Rag(one, embedder=embedder, answerer=ans)
        own = [q for q in ds.queries if any(article_of(d) == by_title[title] for d in ds.qrels[q])]
        others = [q for q in ds.queries if q not in set(own)]
        for bucket, qs in (("single_pos", rng.sample(own, min(40, len(own)))), ("single_neg", rng.sample(others, 40))):
            for q in qs:
                qv = embedder.encode([ds.queries[q]], progress=False)[0]
                out[bucket].append(record(ans, r1, ds.queries[q], qv, r1.search(ds.queries[q], qvec=qv)))
        print(f"  single-doc {title}", flush=True)
    ds2 = load_beir(squad2, "test")
    texts = {}
    for line in (squad2 / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            texts[str(r["_id"])] = r["text"]
    c2 = replace(config, index_dir=_cache_dir(squad2, config))
    build_index(c2, embedder=embedder, documents=ds2.documents)
    r2 = Rag(c2, embedder=embedder, answerer=ans)
    rows = [r for r in load_questions(squad2) if article_of(r["paragraph-id"]) in train]
    for k, r in enumerate(sorted(rng.sample(rows, min(n, len(rows))), key=lambda r: r["query-id"])):
        q = r["query-id"]
        qv = embedder.encode([texts[q]], progress=False)[0]
        out["s2_neg" if r["is_impossible"] else "s2_pos"].append(
            record(ans, r2, texts[q], qv, r2.search(texts[q], qvec=qv), r["answers"]))
        if k % 50 == 0:
            print(f"  squad2-dev {k}", flush=True)
    return out


def choose(data: dict) -> dict:
    present = data["present"] + data["s2_pos"]
    prob = np.array([r["prob"] for r in present])
    right = np.array([r["right"] for r in present])
    print("span probability >= t: share shown, shown right, containment (reader sentence from t)")
    short, sentence = None, (-1.0, 1.0)
    for t in np.arange(0.05, 1.0, 0.05):
        m = prob >= t
        prec = right[m].mean() if m.any() else 0.0
        cont = np.mean([r["contains"] if r["prob"] >= t else r["rules"] for r in data["present"]])
        print(f"  {t:.2f}: {m.mean():.3f} {prec:.3f} {cont:.3f}")
        if short is None and prec >= TARGET + 0.02 and m.sum() >= 10:
            short = round(float(t), 2)
        sentence = max(sentence, (round(float(cont), 4), -round(float(t), 2)))
    print(f"rules' sentence only: containment {np.mean([r['rules'] for r in data['present']]):.3f}")
    rs = [r for r in present if r.get("rule_short")]
    ag = [r for r in rs if r["agree"]]
    print(f"rules' short answers: shown {len(rs) / len(present):.3f}, right {np.mean([r['rule_right'] for r in rs]):.3f}; "
          f"where the reader's span overlaps them: shown {len(ag) / len(present):.3f}, "
          f"right {np.mean([r['rule_right'] for r in ag]) if ag else 0:.3f}")
    agree = None
    for t in np.arange(0.05, 1.0, 0.05):
        g = [r for r in ag if r.get("agree_prob", r["prob"]) >= t]
        prec = float(np.mean([r['rule_right'] for r in g])) if g else 0.0
        print(f"  overlap and span probability >= {t:.2f}: shown {len(g) / len(present):.3f}, right {prec:.3f}")
        if agree is None and prec >= TARGET + 0.02 and len(g) >= 10:
            agree = round(float(t), 2)

    def score(rows, w):
        return np.array([r["evidence"] + w * (r["has"] - 0.5) for r in rows])

    results = []
    for w in np.arange(0.0, 2.01, 0.2):
        pa, na, p1, n1 = (score(data[k], w) for k in ("present", "absent", "single_pos", "single_neg"))
        s2p, s2n = score(data["s2_pos"], w), score(data["s2_neg"], w)
        best = None
        for t in np.arange(0.0, 2.5, 0.01):
            ba = ((pa >= t).mean() + (na < t).mean()) / 2
            b1 = ((p1 >= t).mean() + (n1 < t).mean()) / 2
            b2 = ((s2p >= t).mean() + (s2n < t).mean()) / 2
            key = (min(ba, b1) >= 0.92, b2 if min(ba, b1) >= 0.92 else min(ba, b1))
            if best is None or key > best[0]:
                best = (key, round(float(t), 2), ba, b1, b2, float((s2p >= t).mean()), float((s2n < t).mean()))
        results.append((round(float(w), 2),) + best[1:])
        print(f"weight {w:.1f}: threshold {best[1]:.2f} removed {best[2]:.3f} single {best[3]:.3f} "
              f"squad2 {best[4]:.3f} (answered {best[5]:.3f}, refused {best[6]:.3f})")
    ok = [r for r in results if min(r[2], r[3]) >= 0.92] or results
    pick = max(ok, key=lambda r: r[4])
    return {"short_min_prob": short, "agree_min_prob": agree, "sentence_min_prob": -sentence[1],
            "reader_weight": pick[0],
            "min_score": pick[1]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("squad")
    ap.add_argument("squad2")
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    if args.reuse and OUT.exists():
        data = json.loads(OUT.read_text())
    else:
        data = collect(Path(args.squad), Path(args.squad2), args.n)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(data))
    print({k: len(v) for k, v in data.items()})
    print("chosen:", choose(data))


if __name__ == "__main__":
    main()
