"""Fit the passage chooser (rag/answer/chooser.py) on bench/passage_records.py's records; write it to the manifest.

Records are of the passage reader's calibration articles only (held out of its training; the
validation articles are never used). Rows: every passage the answerer reads (the first
READ_PASSAGES); label: its best span is right (F1 > 0 against a gold answer). SQuAD v1.1 questions
and SQuAD 2.0's unanswerable ones (every span wrong) are both rows. A logistic regression (Newton's
method, L2 on standardized features) is fitted with each calibration article held out in turn;
the thresholds are chosen on those out-of-fold probabilities:

- ``show``: the lowest probability from which the shown short answers (the chooser's, at most
  MAX_SHORT_WORDS words, plus the span reader's own gated span when the chooser's is not shown, as
  rag.answer.extractive does) are right
  TARGET of the time on the SQuAD v1.1 questions (85% asked, a margin for unseen articles);
- ``lead``: the probability from which the span's sentence leads the quote that gives the most
  answers whose first two quoted sentences hold a gold answer.

The final weights are fitted on all calibration articles. Prints the out-of-fold figures beside
today's choice (the least no-answer probability; the span's probability as the gate).

    PYTHONPATH=. .venv/bin/python bench/passage_records.py ../shared/data/squad-dev ../shared/data/squad2-dev
    PYTHONPATH=. .venv/bin/python bench/fit_chooser.py [RECORDS] [--weights DIR] [--dry-run]
    PYTHONPATH=. .venv/bin/python bench/fit_chooser.py RECORDS --evaluate   # records of other articles: report only
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from rag.answer import passage_reader as P  # noqa: E402
from rag.answer.chooser import FEATURES, row  # noqa: E402
from rag.answer.extractive import MAX_SHORT_WORDS, READ_PASSAGES  # noqa: E402

TARGET = 0.88
MIN_SHOWN = 10
L2 = 1.0


def fit_lr(x: np.ndarray, y: np.ndarray, l2: float = L2, iters: int = 100) -> np.ndarray:
    """Logistic regression by Newton's method; x's first column is the bias (not penalised)."""
    w = np.zeros(x.shape[1])
    reg = np.full(x.shape[1], l2)
    reg[0] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -50, 50)))
        g = x.T @ (p - y) + reg * w
        h = (x * (p * (1 - p))[:, None]).T @ x + np.diag(reg + 1e-9)
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


def fit_raw(rows: np.ndarray, y: np.ndarray, l2: float = L2) -> np.ndarray:
    """Weights per raw feature unit (standardized for the fit; the bias absorbs the means)."""
    mu, sd = rows.mean(0), rows.std(0)
    mu[0], sd[0] = 0.0, 1.0
    sd[sd < 1e-9] = 1.0
    w = fit_lr((rows - mu) / sd, y, l2)
    raw = w / sd
    raw[0] = w[0] - float((w[1:] * mu[1:] / sd[1:]).sum())
    return raw


def probs(w: np.ndarray, passages: list[dict]) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(np.array([row(p) for p in passages]) @ w, -50, 50)))


def evaluate(v1: list[dict], pick, conf, span_min: float, lead_at: float | None = None):
    """Per SQuAD question: (F1 of the chosen span, its confidence, right?, span reader's fallback right or None,
    containment with the lead at lead_at)."""
    out = []
    for r in v1:
        ps = r["passages"]
        k = pick(r)
        p = ps[k]
        c = conf(r, k)
        fall = (r["span_f1"] > 0) if r["span_prob"] >= span_min else None
        led = p["holder"] and lead_at is not None and c >= lead_at
        contain = (p["h_contain"] or (r["top_contain"] if not p["h_is_top"] else r["rules_contain"])) if led \
            else r["rules_contain"]
        ok = bool(p["holder"] and p["span"]) and len(p["span"].split()) <= MAX_SHORT_WORDS
        out.append((p["f1"], c, p["f1"] > 0 and p["holder"], fall, contain, ok))
    return out


def gate(rows, target=TARGET):
    """[(threshold, shown share, right share)] and the lowest threshold meeting target (2.0 if none)."""
    table, best = [], 2.0
    for t in np.round(np.arange(0.99, 0.0, -0.01), 2):
        got = [(right if (ok and c >= t) else fall) for _, c, right, fall, _, ok in rows]
        shown = [g for g in got if g is not None]
        rate = float(np.mean(shown)) if shown else 0.0
        table.append((float(t), round(len(shown) / len(rows), 4), round(rate, 4)))
        if len(shown) >= MIN_SHOWN and rate >= target:
            best = float(t)
    return table, best


FIRST_SURE = (0.5, 0.7)   # evaluate_shipped: the first passage alone when the chooser gives it at least this


def evaluate_shipped(records: Path, folder: Path, read: int) -> None:
    """Best-span F1 over every SQuAD v1.1 question of records (no span counts 0): the passage the manifest's chooser
    picks, the one with the least no-answer probability, and the best of the passages read; and, reading the
    other passages only when the chooser gives the first less than t (FIRST_SURE), the F1 and passages read."""
    from rag.answer.chooser import Chooser

    chooser = Chooser.from_manifest(json.loads((folder / P.MANIFEST_FILE).read_text())["chooser"])
    got = {"chooser": [], "least_no_answer": [], "best_passage": []}
    sure = {t: [] for t in FIRST_SURE}   # (F1, passages read) reading the others only when the first is unsure
    for r in json.loads(records.read_text())["squad"]:
        ps = r.get("passages", [])[:read]
        if not ps:
            for v in got.values():
                v.append(0.0)
            for v in sure.values():
                v.append((0.0, 0))
            continue
        probs = chooser.probabilities(ps)
        got["chooser"].append(ps[int(np.argmax(probs))]["f1"])
        got["least_no_answer"].append(min(ps, key=lambda p: p["null"])["f1"])
        got["best_passage"].append(max(p["f1"] for p in ps))
        for t, v in sure.items():
            v.append((ps[0]["f1"], 1) if probs[0] >= t else (ps[int(np.argmax(probs))]["f1"], len(ps)))
    print(json.dumps({"questions": len(got["chooser"]), "read": read,
                      "best_span_f1": {k: round(float(np.mean(v)), 4) for k, v in got.items()},
                      "first_sure_at": {str(t): {"best_span_f1": round(float(np.mean([f for f, _ in v])), 4),
                                                 "passages_read": round(float(np.mean([n for _, n in v])), 2)}
                                        for t, v in sure.items()}}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("records", nargs="?", default=str(HERE / ".cache" / "passage-records.json"))
    ap.add_argument("--weights", default=str(P.WEIGHTS_DIR))
    ap.add_argument("--dry-run", action="store_true", help="print, do not write the manifest")
    ap.add_argument("--read", type=int, default=READ_PASSAGES, help="passages read (the answerer reads READ_PASSAGES)")
    ap.add_argument("--evaluate", action="store_true",
                    help="fit nothing: the best-span F1 of the manifest's chooser on RECORDS (e.g. validation articles)")
    args = ap.parse_args()
    if args.evaluate:
        return evaluate_shipped(Path(args.records), Path(args.weights), args.read)
    from rag.answer import span_reader

    span_min = span_reader.get().min_prob
    data = json.loads(Path(args.records).read_text())
    read = args.read
    v1 = [r for r in data["squad"] if not r.get("none")]
    for r in data["squad"] + data["squad2"]:
        r["passages"] = r.get("passages", [])[:read]
    seen = {r["id"] for r in data["squad"]}
    v2 = [r for r in data["squad2"] if not r.get("none") and r["impossible"] and r["id"] not in seen]
    recs = v1 + v2
    arts = sorted({r["article"] for r in recs})
    print(f"{len(v1)} answerable, {len(v2)} unanswerable questions; articles {arts}; reading {read} passages")
    oof = {}
    for held in arts:
        tr = [r for r in recs if r["article"] != held]
        x = np.array([row(p) for r in tr for p in r["passages"]])
        y = np.array([float(p["f1"] > 0) for r in tr for p in r["passages"]])
        w = fit_raw(x, y)
        for r in recs:
            if r["article"] == held:
                oof[(r["id"], r["impossible"])] = probs(w, r["passages"])
    x = np.array([row(p) for r in recs for p in r["passages"]])
    y = np.array([float(p["f1"] > 0) for r in recs for p in r["passages"]])
    weights = fit_raw(x, y)

    least_null = lambda r: min(range(len(r["passages"])), key=lambda i: (r["passages"][i]["null"], i))  # noqa: E731
    chosen = lambda r: int(np.argmax(oof[(r["id"], False)]))  # noqa: E731
    conf = lambda r, k: float(oof[(r["id"], False)][k])  # noqa: E731
    today = evaluate(v1, least_null, lambda r, k: r["passages"][k]["prob"], span_min)
    mine = evaluate(v1, chosen, conf, span_min)
    t_today, show_today = gate(today)
    t_mine, show = gate(mine)
    leads = []
    for t in np.round(np.arange(0.0, 1.0001, 0.05), 2):
        rows = evaluate(v1, chosen, conf, span_min, lead_at=float(t))
        leads.append((round(float(np.mean([x[4] for x in rows])), 4), -float(t)))
    contain, neg = max(leads)
    lead = -neg
    report = {
        "questions": {"squad": len(v1), "squad2_unanswerable": len(v2)}, "articles": arts, "read": read,
        "best_span_f1": {"least_no_answer": round(float(np.mean([x[0] for x in today])), 4),
                         "chooser_out_of_fold": round(float(np.mean([x[0] for x in mine])), 4),
                         "best_passage": round(float(np.mean([max(p["f1"] for p in r["passages"]) for r in v1])), 4)},
        "gate_least_no_answer_span_prob": {"at": show_today,
                                           "shown_right": next((t[1:] for t in t_today if t[0] == show_today), None)},
        "gate_chooser": {"at": show, "shown_right": next((t[1:] for t in t_mine if t[0] == show), None)},
        "containment": {"rules": round(float(np.mean([r["rules_contain"] for r in v1])), 4),
                        "chooser_lead": contain, "lead_table": sorted((-n, c) for c, n in leads)},
        "target": TARGET,
    }
    # "not in the documents" (SQuAD 2.0: its answerable questions are the SQuAD v1.1 ones): the evidence score
    # with the span reader's term (today), and with the chooser's or the reader's P(answer) added
    from rag.evaluation.metrics import auroc

    both = v1 + v2
    y2 = np.array([0 if r["impossible"] else 1 for r in both])
    base = np.array([r["evidence"] + 0.4 * (r.get("span_has_answer", 0.5) - 0.5) for r in both])
    top = np.array([float(oof[(r["id"], r["impossible"])].max()) for r in both])
    p_ans = np.array([max((1 - p["null"] for p in r["passages"]), default=0.0) for r in both])

    def roc(extra):
        return round(auroc(list((base + extra)[y2 == 1]), list((base + extra)[y2 == 0])), 4)

    from rag.config import Config

    passing = [r for r, b in zip(v2, base[len(v1):]) if b >= Config().min_score]   # not refused by the not-found rule

    def shows(r):
        ps, pr = r["passages"], oof[(r["id"], True)]
        p = ps[int(np.argmax(pr))]
        return bool(p["holder"] and p["span"]) and len(p["span"].split()) <= MAX_SHORT_WORDS and pr.max() >= show

    report["squad2_unanswerable_answered_with_a_short_answer"] = {
        "answered": len(passing), "short_shown": int(sum(shows(r) for r in passing))}
    report["squad2_auroc"] = {"evidence (today)": roc(0.0)}
    report["squad2_auroc"].update({f"+ {w:g} * (chooser - 0.5)": roc(w * (top - .5)) for w in (0.1, 0.2, 0.4)})
    report["squad2_auroc"].update({f"+ {w:g} * (reader P(answer) - 0.5)": roc(w * (p_ans - .5))
                                   for w in (0.1, 0.2, 0.4)})
    report["containment"]["lead_table"] = report["containment"]["lead_table"][:6]
    print(json.dumps(report))
    print("weights:", {n: round(float(v), 3) for n, v in zip(FEATURES, weights)})
    if not args.dry_run:
        folder = Path(args.weights)
        manifest = json.loads((folder / P.MANIFEST_FILE).read_text())
        manifest["chooser"] = {"features": list(FEATURES), "weights": [round(float(v), 6) for v in weights],
                               "show": show, "lead": lead, "fit": report,
                               "command": "python bench/passage_records.py ../shared/data/squad-dev "
                                          "../shared/data/squad2-dev && python bench/fit_chooser.py"}
        (folder / P.MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n")
        print(f"wrote the chooser to {folder / P.MANIFEST_FILE}")


if __name__ == "__main__":
    main()
