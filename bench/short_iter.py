"""Short-answer figures on the candidates dumped by bench/dump_candidates.py, without retrieval, so rules in
rag/short_answer.py can be judged on the whole SQuAD-dev half in seconds (in-sample). Mirrors the extractive
answerer: the type feature is recomputed, the sentence picked by SELECT_WEIGHTS, the short answer taken by
rag.answer.extractive.short_answer_of; refused questions (evidence under min_score) get none. Does not handle
"summarize"/"compare" questions, so its containment differs a little from `rag eval`.
Usage: PYTHONPATH=. python bench/short_iter.py CANDS.pkl [N examples to print] (ONLY=kind:firstword filters them)"""
import collections
import os
import pickle
import random
import sys

import numpy as np

from rag.answer import multi_sentence as multi
from rag.answer import short_answer
from rag.answer.extractive import EVIDENCE_WEIGHTS, SECOND_SENTENCE_MARGIN, SELECT_WEIGHTS, Candidate, short_answer_of
from rag.config import Config
from rag.evaluation.metrics import contains_answer, squad_em_f1
from rag.retrieve.retriever import Passage, Sentence
from rag.text.evidence import answer_type

data = pickle.load(open(sys.argv[1], "rb"))
show = int(sys.argv[2]) if len(sys.argv) > 2 else 0
ew, sw = np.array(EVIDENCE_WEIGHTS, np.float32), np.array(SELECT_WEIGHTS, np.float32)
min_score = Config().min_score
tot = collections.defaultdict(lambda: np.zeros(5))
examples = []
for d in data:
    if not d["sents"]:
        continue
    kind = answer_type(d["q"])
    f = d["feats"].copy()
    spans = [short_answer.find(d["q"], s, kind) for s in d["sents"]]
    f[:, 3] = [s is not None for s in spans]
    ev, sel = f @ ew, f @ sw
    found = ev.max() >= min_score
    o = np.argsort(-sel, kind="stable")
    keep = [o[0]] + ([o[1]] if len(o) > 1 and sel[o[1]] >= sel[o[0]] - SECOND_SENTENCE_MARGIN else [])
    picked = [Candidate(Passage(1, 0, "d", "", s, 0, 0, 0.0, 0.0), Sentence(int(i), 0, 0, s), spans[i])
              for i in keep for s in [d["sents"][i]]]
    _, sp = short_answer_of(d["q"], picked, multi.intent(d["q"]))
    short = sp.text if found and sp else None
    em, f1 = squad_em_f1(short, d["gold"])
    key = (kind or "None") + ":" + d["q"].split()[0].lower()
    row = np.array([1, short is not None, em, f1, found and contains_answer(" ".join(c.sentence.text for c in picked),
                                                                            d["gold"])])
    tot[key] += row
    tot["ALL"] += row
    examples.append((key, d["q"], short, d["gold"][0], picked[0].sentence.text, f1))
n = tot["ALL"][0]
print(f"ALL n={n:.0f} given {tot['ALL'][1]/n:.3f} EM {tot['ALL'][2]/n:.3f} F1 {tot['ALL'][3]/n:.3f} "
      f"contain {tot['ALL'][4]/n:.3f}")
for k, v in sorted(tot.items(), key=lambda kv: -kv[1][0])[:25]:
    print(f"  {k:22s} n={v[0]:5.0f} given {v[1]/v[0]:.2f} EM {v[2]/v[0]:.2f} F1 {v[3]/v[0]:.2f}")
random.seed(0)
ex = [e for e in examples if not os.environ.get("ONLY") or e[0] == os.environ["ONLY"]]
for e in random.sample(ex, min(show, len(ex))):
    print("\n", e[0], "|", e[1], "\n   short:", e[2], "| gold:", e[3], f"| f1 {e[5]:.2f}\n   sent:", e[4][:300])
