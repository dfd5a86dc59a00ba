"""Route (a) of the reader, measured for comparison only (not shipped): logistic regression over
candidate spans (1-5 words of the two sentences sharing most words with the question) with
simple features: length, shape (capitalised, digits, year), the question's answer type and wh-word
crossed with the shape, distance to and count of the question's words nearby, whether the
neighbouring words are question words, and the sentence's rank. Trained on the answerable
questions of a sample of training articles' own paragraphs, scored on validation articles'
answerable ones (paragraph level: the right paragraph given), SQuAD EM/F1 of the top span.
Usage: PYTHONPATH=. .venv/bin/python bench/reader_route_a.py ../shared/data/squad-dev [N]
"""
from __future__ import annotations

import json
import math
import random
import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from rag.evaluation.metrics import squad_em_f1  # noqa: E402
from rag.text.evidence import answer_type  # noqa: E402

STOP = set("the a an of in on at to for and or by with from as is was were be that which this it its".split())
WH = ("what", "which", "who", "when", "where", "how many", "how much", "how", "why")
TYPES = ("DATE", "NUMBER", "PERSON", "PLACE", "ENTITY", None)


def toks(text):
    return [(m.start(), m.end(), m.group()) for m in re.finditer(r"\w[\w'.,%-]*\w|\w", text)]


def norm(w):
    return w.lower().strip(".,")


def candidates(question, para):
    qw = {norm(w) for _, _, w in toks(question) if norm(w) not in STOP}
    sents = [(m.start(), m.group()) for m in re.finditer(r"[^.!?]+[.!?]?", para)]
    ranked = sorted(range(len(sents)), key=lambda i: -len(qw & {norm(w) for _, _, w in toks(sents[i][1])}))
    ql = question.lower()
    wh = next((k for k, w in enumerate(WH) if w in ql), len(WH))
    kind = TYPES.index(answer_type(question)) if answer_type(question) in TYPES else len(TYPES) - 1
    for rank, si in enumerate(ranked[:2]):
        base, sent = sents[si]
        ts = toks(sent)
        isq = [norm(w) in qw for _, _, w in ts]
        for i in range(len(ts)):
            for j in range(i, min(i + 5, len(ts))):
                words = [w for _, _, w in ts[i:j + 1]]
                if norm(words[0]) in STOP or norm(words[-1]) in STOP or any(isq[i:j + 1]):
                    continue
                qpos = [k for k, q in enumerate(isq) if q]
                dist = min((min(abs(k - i), abs(k - j)) for k in qpos), default=30)
                near = sum(isq[max(0, i - 5):i]) + sum(isq[j + 1:j + 6])
                shape = [float(words[0][0].isupper()), float(any(c.isdigit() for c in "".join(words))),
                         float(bool(re.fullmatch(r"1\d{3}|20\d{2}", words[-1])))]
                f = [0.0] * 5
                f[j - i] = 1.0
                f += shape + [math.log1p(dist), near, float(i > 0 and isq[i - 1]),
                              float(j + 1 < len(ts) and isq[j + 1]), float(rank == 0)]
                cross = np.zeros((len(WH) + 1 + len(TYPES), 4))
                cross[wh, :3], cross[wh, 3] = shape, 1 - max(shape)
                cross[len(WH) + 1 + kind, :3], cross[len(WH) + 1 + kind, 3] = shape, 1 - max(shape)
                yield para[base + ts[i][0]:base + ts[j][1]], np.array(f + list(cross.ravel()), np.float32)


def rows(squad, titles, n, seed):
    out = [(qa["question"], p["context"], [a["text"] for a in qa["answers"]])
           for art in squad["data"] if art["title"] in titles for p in art["paragraphs"] for qa in p["qas"]]
    return random.Random(seed).sample(out, min(n, len(out)))


def main(folder: str, n: int = 1500) -> None:
    from sklearn.linear_model import LogisticRegression

    squad = json.loads((Path(folder) / "dev-v1.1-part.json").read_text(encoding="utf-8"))
    split = json.loads((HERE / "reader_split.json").read_text())
    X, y = [], []
    for q, para, gold in rows(squad, set(split["train"]), n, 0):
        for text, f in candidates(q, para):
            X.append(f)
            y.append(float(squad_em_f1(text, gold)[0] == 1.0))
    clf = LogisticRegression(max_iter=2000, C=1.0).fit(np.array(X), np.array(y))
    ems, f1s = [], []
    for q, para, gold in rows(squad, set(split["validation"]), 600, 0):
        cs = list(candidates(q, para))
        if not cs:
            ems.append(0.0); f1s.append(0.0)
            continue
        p = clf.predict_proba(np.array([f for _, f in cs]))[:, 1]
        em, f1 = squad_em_f1(cs[int(np.argmax(p))][0], gold)
        ems.append(em); f1s.append(f1)
    print(json.dumps({"route": "a (logistic regression)", "train_questions": n, "train_spans": len(X),
                      "validation_questions": len(f1s), "em": round(float(np.mean(ems)), 4),
                      "f1": round(float(np.mean(f1s)), 4)}))


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
