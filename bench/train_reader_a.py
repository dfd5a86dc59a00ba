"""Train the shipped span reader (rag.answer.span_reader): logistic regression over candidate spans.

For every question of the TRAINING articles (bench/reader_split.json) of squad-dev, the pipeline
as shipped retrieves its passages (hybrid mode, the eval index), the extractive answerer scores
their sentences, and the top 3 by its select score give the candidate spans (rag.answer.span_reader.spans).
A span is labelled right when its SQuAD F1 with any gold answer is > 0.5. The training articles
are split by article (seed 0) into a fitting part (3/4) and a held-out part (1/4): the model is
fitted on the first, the confidence threshold (min_prob: shown short answers right, F1 > 0, at
least 85% of the time) is chosen on the second, then the model is refitted on all training
articles. Validation articles are only scored, never used to choose anything: their best-span
EM/F1 and the shown share/precision go in the manifest beside the held-out figures.
Retrieval results are cached in bench/.cache. Usage (from the repository root):

    PYTHONPATH=. .venv/bin/python bench/train_reader_a.py ../shared/data/squad-dev ../shared/data/squad2-dev
"""
from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from rag.answer import short_answer, span_reader
from rag.evaluation.metrics import squad_em_f1
from rag.text.evidence import answer_type

SEED = 0
TARGET_PRECISION = 0.87   # 0.85 asked, 2 points of margin for articles never seen
NEG_PER_QUESTION = 80
C = 0.5
N_SQUAD2 = 1600
N_VALID = 600   # validation questions scored by this script (rag eval measures them all)
CACHE = HERE / ".cache"
TEXTS: dict = {}
SENTS: dict = {}   # query id -> texts of its top sentences


def _rag(folder: Path):
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.api import Rag
    from rag.build.builder import build_index
    from rag.config import Config
    from rag.embed.embedder import Embedder
    from rag.evaluation.datasets import load_beir
    from rag.evaluation.runner import _cache_dir

    config = Config()
    ds = load_beir(folder, "test")
    config = replace(config, index_dir=_cache_dir(folder, config))
    embedder = Embedder(config.model, batch_size=config.batch_size, backend=config.backend)
    build_index(config, embedder=embedder, documents=ds.documents)
    return Rag(config, embedder=embedder, answerer=ExtractiveAnswerer(config.min_score, reader=None)), ds


def _resume(path: Path) -> dict:
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                k, v = json.loads(line)
            except ValueError:
                continue   # a line cut by an interrupted run
            out[k] = v
    return out


def _sentences(question, cands, ev, sel):
    order = np.argsort(-sel, kind="stable")[:span_reader.TOP_SENTENCES]
    rows = []
    for k in order:
        c = cands[k]
        ph = short_answer.phrase(question, c.sentence.text, any_question=answer_type(question) is not None)
        rows.append([c.sentence.text, float(ev[k]), float(sel[k]),
                     [c.short.start, c.short.end] if c.short else None, [ph.start, ph.end] if ph else None,
                     c.passage.doc_id])
    return order, rows


def retrieved(folder: Path, qids: list[str], texts: dict) -> dict:
    """query id -> top sentences [(text, evidence, select, rule span, phrase span, doc)] (cached, resumable)."""
    path = CACHE / f"reader-a-{folder.name}.jsonl"
    out = _resume(path)
    todo = [q for q in qids if q not in out]
    if todo:
        rag, _ = _rag(folder)
        CACHE.mkdir(exist_ok=True)
        t0 = time.perf_counter()
        with path.open("a") as f:
            for b in range(0, len(todo), 64):
                batch = todo[b:b + 64]
                vecs = rag.embedder.encode([texts[q] for q in batch], progress=False)
                for q, qvec in zip(batch, vecs):
                    question = texts[q]
                    passages = rag.search(question, mode="hybrid", qvec=qvec)
                    cands, ev, sel = rag.answerer.score(question, qvec, passages, rag.retriever)
                    _, rows = _sentences(question, cands, ev, sel)
                    out[q] = {"sents": rows, "best_evidence": float(ev.max()) if len(cands) else 0.0}
                    f.write(json.dumps([q, out[q]]) + "\n")
                f.flush()
                print(f"  retrieved {b + len(batch)}/{len(todo)} {time.perf_counter() - t0:.0f}s", file=sys.stderr,
                      flush=True)
    return {q: out[q] for q in qids}


def retrieved_squad2(folder: Path, titles: set, n: int) -> tuple[list, dict]:
    """(rows of a seeded sample of n SQuAD 2.0 questions of the titles' articles, query id ->
    top sentences as in retrieved() plus the no-answer inputs) (cached)."""
    rows = [json.loads(x) for x in (folder / "questions.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    rows = [r for r in rows if r["paragraph-id"].rsplit("_", 1)[0] in titles]
    rows = sorted(random.Random(SEED).sample(rows, min(n, len(rows))), key=lambda r: r["query-id"])
    texts = {json.loads(x)["_id"]: json.loads(x)["text"] for x in (folder / "queries.jsonl").read_text().splitlines()}
    path = CACHE / f"reader-a-nil-{folder.name}.jsonl"
    out = _resume(path)
    todo = [r for r in rows if r["query-id"] not in out]
    if todo:
        rag, _ = _rag(folder)
        CACHE.mkdir(exist_ok=True)
        t0 = time.perf_counter()
        with path.open("a") as f:
            for b in range(0, len(todo), 64):
                batch = todo[b:b + 64]
                vecs = rag.embedder.encode([texts[r["query-id"]] for r in batch], progress=False)
                for r, qvec in zip(batch, vecs):
                    q = r["query-id"]
                    question = texts[q]
                    passages = rag.search(question, qvec=qvec)
                    passages = [replace(p, rank=k) for k, p in enumerate(passages[:rag.config.top_k], 1)]
                    cands, feats = rag.answerer.features(question, qvec, passages, rag.retriever)
                    ev, sel = feats @ rag.answerer.evidence_weights, feats @ rag.answerer.select_weights
                    if not len(cands):
                        out[q] = None
                    else:
                        order, sents = _sentences(question, cands, ev, sel)
                        top = cands[order[0]]
                        out[q] = {"question": question, "sents": sents, "passage": top.passage.text,
                                  "title": top.passage.title, "evidence": sorted(map(float, ev), reverse=True)[:5],
                                  "select": float(sel[order[0]]), "cosine": float(feats[order[0], 0]),
                                  "impossible": bool(r["is_impossible"])}
                    f.write(json.dumps([q, out[q]]) + "\n")
                f.flush()
                print(f"  squad2 retrieved {b + len(batch)}/{len(todo)} {time.perf_counter() - t0:.0f}s",
                      file=sys.stderr, flush=True)
    out = {r["query-id"]: out[r["query-id"]] for r in rows}
    return rows, out


def sentences_of(rows) -> list:
    S = short_answer.Span
    return [span_reader.SentenceIn(t, e, s, S("", *r) if r else None, S("", *p) if p else None)
            for t, e, s, r, p, _ in rows]


def featurize(qids, texts, got, answers):
    """Per question: (spans, features, labels F1>0.5, F1 of each span)."""
    out = {}
    for q in qids:
        cands, feats = span_reader.spans(texts[q], sentences_of(got[q]["sents"]))
        SENTS[q] = [r[0] for r in got[q]["sents"]]
        f1 = np.array([squad_em_f1(c.text, answers[q])[1] for c in cands], np.float32)
        out[q] = (cands, feats, f1)
    return out


def fit(data, qids):
    from sklearn.linear_model import LogisticRegression

    rnd = random.Random(SEED)
    X, y = [], []
    for q in qids:
        cands, feats, f1 = data[q]
        pos = [i for i in range(len(cands)) if f1[i] > 0.5]
        neg = [i for i in range(len(cands)) if f1[i] <= 0.5]
        neg = rnd.sample(neg, min(NEG_PER_QUESTION, len(neg)))
        X.append(feats[pos + neg])
        y += [1] * len(pos) + [0] * len(neg)
    X = np.concatenate(X).astype(np.float64)
    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-6] = 1.0
    clf = LogisticRegression(C=C, max_iter=3000).fit((X - mean) / scale, np.array(y))
    return {"weights": clf.coef_[0].astype(np.float32), "bias": clf.intercept_.astype(np.float32),
            "mean": mean.astype(np.float32), "scale": scale.astype(np.float32)}, len(y)


def top_spans(model, data, qids):
    """Per question with candidates: (best span text, its F1, the gate's feature row)."""
    m = span_reader.SpanReader(model, {"min_prob": 0.0})
    out = {}
    for q in qids:
        cands, feats, f1 = data[q]
        if not cands:
            continue
        z = m.logits(feats)
        k = int(np.argmax(z))
        out[q] = (cands[k].text, float(f1[k]), span_reader.gate_features(TEXTS[q], SENTS[q], cands, feats, z))
    return out


def fit_standardized_lr(X, y, prefix: str) -> dict:
    """A logistic regression on standardized features, as the float32 arrays PREFIX_weights, _bias, _mean, _scale."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-6] = 1.0
    clf = LogisticRegression(C=1.0, max_iter=3000).fit((X - mean) / scale, y)
    return {f"{prefix}_weights": clf.coef_[0].astype(np.float32), f"{prefix}_bias": clf.intercept_.astype(np.float32),
            f"{prefix}_mean": mean.astype(np.float32), f"{prefix}_scale": scale.astype(np.float32)}


def fit_gate(rows):
    return fit_standardized_lr(np.array([r[2] for r in rows], np.float64), np.array([r[1] > 0 for r in rows]), "gate")


def gate_prob(gate, row):
    return span_reader.SpanReader.right_prob(type("G", (), {"gate": {k: v.astype(np.float64)
                                                                     for k, v in gate.items()}})(), row)


def predict(model, gate, data, qids):
    """Per question: (best span text, the gate's probability, its F1) or None without candidates."""
    tops = top_spans(model, data, qids)
    return {q: (tops[q][0], gate_prob(gate, tops[q][2]), tops[q][1]) if q in tops else None for q in qids}


def report(pred, answers, min_prob=None):
    """Best-span EM/F1 over the questions; with min_prob, the share shown and their precision (F1 > 0)."""
    ems, f1s, shown, right = [], [], 0, 0
    for q, r in pred.items():
        if r is None:
            ems.append(0.0); f1s.append(0.0)
            continue
        em, f1 = squad_em_f1(r[0], answers[q])
        ems.append(em); f1s.append(f1)
        if min_prob is not None and r[1] >= min_prob:
            shown += 1
            right += f1 > 0
    out = {"questions": len(f1s), "best_span_em": round(float(np.mean(ems)), 4),
           "best_span_f1": round(float(np.mean(f1s)), 4)}
    if min_prob is not None:
        out.update(shown=round(shown / len(f1s), 4), shown_right=round(right / shown, 4) if shown else 0.0,
                   shown_f1=round(float(np.mean([f if r is not None and r[1] >= min_prob else 0.0
                                                 for f, r in zip(f1s, pred.values())])), 4))
    return out


def choose_threshold(pred) -> float:
    """The lowest probability whose shown spans (probability >= it) are right (F1 > 0) >= TARGET_PRECISION."""
    rows = sorted((r[1], r[2] > 0) for r in pred.values() if r is not None)
    best = 1.0
    for i in range(len(rows)):
        tail = rows[i:]
        if len(tail) >= 50 and sum(t for _, t in tail) / len(tail) >= TARGET_PRECISION:
            best = rows[i][0]
            break
    return round(float(best), 4)


def nil_rows(model, gate, got2: dict):
    """(query ids, no-answer feature rows, labels: answerable 1) of the SQuAD 2.0 questions."""
    m = span_reader.SpanReader(dict(model, **gate), {"min_prob": 0.0})
    qs, X, y = [], [], []
    for q, g in got2.items():
        if g is None:
            continue
        b = m.best(g["question"], sentences_of(g["sents"]))
        prob, logit = (b[1], b[2]) if b else (0.0, -5.0)
        X.append(span_reader.nil_features(g["question"], g["sents"][0][0], g["passage"], g["title"], g["evidence"],
                                          g["select"], g["cosine"], prob, logit))
        y.append(0 if g["impossible"] else 1)
        qs.append(q)
    return qs, np.array(X, np.float64), np.array(y)


def fit_nil(X, y):
    return fit_standardized_lr(X, y, "nil")


def nil_prob(nil, X):
    z = ((X - nil["nil_mean"]) / nil["nil_scale"]) @ nil["nil_weights"] + nil["nil_bias"][0]
    return 1.0 / (1.0 + np.exp(-z))


def choose_nil_weight(score, p, y, min_score):
    """The weight w of (P(answered) - 0.5) added to the evidence score that gives the best balanced
    accuracy at the not-found threshold while >= 90% of answerable questions stay answered (or, where
    the evidence alone answers fewer, at most 2 points fewer than it does)."""
    from rag.evaluation.metrics import auroc

    table = []
    for w in np.round(np.arange(0.0, 1.01, 0.05), 2):
        s = score + w * (p - 0.5)
        ans, ref = float((s[y == 1] >= min_score).mean()), float((s[y == 0] < min_score).mean())
        table.append({"w": float(w), "answered": round(ans, 4), "refused": round(ref, 4),
                      "balanced_accuracy": round((ans + ref) / 2, 4),
                      "auroc": round(auroc(list(s[y == 1]), list(s[y == 0])), 4)})
    ok = [t for t in table if t["answered"] >= min(0.90, table[0]["answered"] - 0.02)] or table[:1]
    return max(ok, key=lambda t: (t["balanced_accuracy"], -t["w"])), table


def main(squad_dir: str, squad2_dir: str | None = None) -> None:
    t0 = time.perf_counter()
    folder = Path(squad_dir)
    split = json.loads((HERE / "reader_split.json").read_text())
    answers = {}
    for line in (folder / "answers.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        answers[r["query-id"]] = r["answers"]
    texts = {json.loads(x)["_id"]: json.loads(x)["text"] for x in (folder / "queries.jsonl").read_text().splitlines()}
    TEXTS.update(texts)
    art = {}
    for line in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        q, d, _ = line.split("\t")
        art[q] = d.rsplit("_", 1)[0]
    train = [q for q in texts if art.get(q) in set(split["train"]) and q in answers]
    valid = [q for q in texts if art.get(q) in set(split["validation"]) and q in answers]
    titles = sorted(split["train"])
    random.Random(SEED).shuffle(titles)
    valid = sorted(random.Random(SEED).sample(valid, min(N_VALID, len(valid))))
    got = retrieved(folder, train + valid, texts)
    print(f"retrieved {len(got)} questions, {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    data = featurize(train + valid, texts, got, answers)
    print(f"features, {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    folds = [set(titles[k::4]) for k in range(4)]   # folds[0] == held-out part for the threshold
    held_titles = folds[0]
    oof = {}
    for k, fold in enumerate(folds):   # out-of-fold best spans: the gate learns from spans of unseen articles
        model_k, _ = fit(data, [q for q in train if art[q] not in fold])
        oof.update(top_spans(model_k, data, [q for q in train if art[q] in fold]))
        print(f"fold {k}, {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    gp = {}   # the gate's probability for each training question, from a gate fitted on the other folds
    for fold in folds:
        g = fit_gate([oof[q] for q in train if q in oof and art[q] not in fold])
        gp.update({q: gate_prob(g, oof[q][2]) for q in train if q in oof and art[q] in fold})
    held_pred = {q: (oof[q][0], gp[q], oof[q][1]) if q in oof else None for q in train}
    min_prob = choose_threshold(held_pred)
    held = report(held_pred, answers, min_prob)   # all training articles, out of fold
    gate = fit_gate([oof[q] for q in train if q in oof])
    model, n_all = fit(data, train)
    val = report(predict(model, gate, data, valid), answers, min_prob)
    print(json.dumps({"training_articles_out_of_fold": held, "validation": val, "min_prob": min_prob}))
    nil, nil_report = {}, {}
    if squad2_dir:
        from rag.config import Config

        folder2 = Path(squad2_dir)
        rows2, got2 = retrieved_squad2(folder2, set(split["train"]), N_SQUAD2)
        art2 = {r["query-id"]: r["paragraph-id"].rsplit("_", 1)[0] for r in rows2}
        qs, X2, y2 = nil_rows(model, gate, got2)
        heldm = np.array([art2[q] in held_titles for q in qs])
        nil_fit = fit_nil(X2[~heldm], y2[~heldm])
        chosen, table = choose_nil_weight(X2[heldm, 0], nil_prob(nil_fit, X2[heldm]), y2[heldm], Config().min_score)
        nil = fit_nil(X2, y2)
        nil_report = {"squad2_training_questions": len(qs), "held_out": chosen, "table": table}
        print(json.dumps({"nil": chosen}))
    out = span_reader.WEIGHTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / span_reader.WEIGHTS_FILE, **model, **gate, **nil)
    manifest = {
        "model": "logistic regression over candidate spans (rag.answer.span_reader)",
        "features": span_reader.feature_names(), "min_prob": min_prob,
        "gate_features": span_reader.GATE_NAMES,
        "gate": "logistic regression predicting F1 > 0 of the best span, fitted on out-of-fold best spans "
                "(4 folds of the training articles); min_prob chosen on all training articles' out-of-fold gate "
                "probabilities (each from a gate fitted on the other folds) for precision >= 0.87",
        "nil_features": span_reader.NIL_NAMES, "nil_weight": nil_report.get("held_out", {}).get("w", 0.0),
        "nil_data": "SQuAD 2.0 dev (../shared/data/squad2-dev questions.jsonl, is_impossible; CC BY-SA 4.0): "
                    f"a seeded sample of {N_SQUAD2} questions of the training articles, own retrieval",
        "nil_metrics": nil_report,
        "data": "SQuAD v1.1 dev (../shared/data/squad-dev: queries.jsonl, answers.jsonl, qrels; CC BY-SA 4.0)",
        "setting": "retrieved passages (hybrid), top 3 sentences by the extractive select score",
        "split": {"file": "bench/reader_split.json", "train_articles": split["train"],
                  "validation_articles": split["validation"], "held_out_for_nil_weight": sorted(held_titles)},
        "split_articles": {"train": split["train"], "validation": split["validation"]},
        "command": span_reader.TRAIN_COMMAND, "seed": SEED, "C": C, "negatives_per_question": NEG_PER_QUESTION,
        "label": "SQuAD F1 > 0.5 with any gold answer", "training_questions": len(train),
        "training_spans": n_all, "metrics": {"training_articles_out_of_fold": held, "validation_articles": val},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / span_reader.MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
