"""Other passage choosers, side by side with the shipped one's model (not shipped; a measurement).

Fits, on the records of the held-out training articles (bench/passage_records.py; the shipped chooser is fitted
on the same ones by bench/fit_chooser.py), three models of P(the passage's best span is right): the shipped
logistic regression over rag.answer.chooser.FEATURES; the same with six more features (products of the reader's
log probabilities with each other, with the holder's select score and with the passage's rank and the span
reader's agreement, the span's length in words, whether it is over 5 words); and gradient-boosted trees
(scikit-learn) over FEATURES. For the records of other articles it prints, per model, the best-span F1 of the
passage the model picks and how many short answers could be shown at 87% right with the best threshold for those
records (an upper bound that shows how well each model ranks, not a threshold anyone could choose without those
records). Usage:

    PYTHONPATH=. .venv/bin/python bench/chooser_models.py CALIBRATION_RECORDS OTHER_RECORDS
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from fit_chooser import fit_raw  # noqa: E402
from rag.answer.chooser import row  # noqa: E402
from rag.answer.extractive import MAX_SHORT_WORDS, READ_PASSAGES  # noqa: E402

PRECISION = 0.87


def more(p: dict) -> list[float]:
    r = row(p)
    words = len((p.get("span") or "").split())
    return r + [r[1] * r[2], r[2] * r[5], float(words), float(words > 5), r[3] * r[2],
                r[2] * float(p.get("agree_span", False))]


def table(records: list[dict], features) -> tuple[np.ndarray, np.ndarray]:
    x, y = [], []
    for r in records:
        for p in r.get("passages", [])[:READ_PASSAGES]:
            x.append(features(p))
            y.append(float(p["f1"] > 0 and p["holder"]))
    return np.array(x), np.array(y)


def measure(records: list[dict], features, predict) -> tuple[float, float]:
    """(best-span F1 of the picked passages, share shown at PRECISION right with the best threshold)."""
    f1s, picked = [], []
    for r in records:
        ps = r.get("passages", [])[:READ_PASSAGES]
        if not ps:
            f1s.append(0.0)
            continue
        prob = predict(np.array([features(p) for p in ps]))
        k = int(np.argmax(prob))
        f1s.append(ps[k]["f1"])
        if ps[k]["holder"] and ps[k]["span"] and len(ps[k]["span"].split()) <= MAX_SHORT_WORDS:
            picked.append((prob[k], ps[k]["f1"] > 0))
    picked.sort(key=lambda t: -t[0])
    right = best = 0
    for n, (_, ok) in enumerate(picked, 1):
        right += ok
        if right / n >= PRECISION:
            best = n
    return float(np.mean(f1s)), best / len(records)


def main() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    ap = argparse.ArgumentParser()
    ap.add_argument("calibration")
    ap.add_argument("other")
    args = ap.parse_args()
    cal = json.loads(Path(args.calibration).read_text())["squad"]
    other = json.loads(Path(args.other).read_text())["squad"]
    for name, features in (("logistic regression, FEATURES (shipped)", row), ("logistic regression, more", more)):
        w = fit_raw(*table(cal, features))
        f1, shown = measure(other, features, lambda x, w=w: 1 / (1 + np.exp(-x @ w)))
        print(f"{name}: best-span F1 {f1:.4f}; shown at {PRECISION:.0%} right, best threshold {shown:.3f}")
    trees = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.05, max_depth=3, random_state=0)
    trees.fit(*table(cal, row))
    f1, shown = measure(other, row, lambda x: trees.predict_proba(x)[:, 1])
    print(f"gradient-boosted trees, FEATURES: best-span F1 {f1:.4f}; shown at {PRECISION:.0%} right, best threshold "
          f"{shown:.3f}")


if __name__ == "__main__":
    main()
