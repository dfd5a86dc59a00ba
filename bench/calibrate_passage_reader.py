"""Choose the passage reader's thresholds on the training articles it was not fitted on; write them to its manifest.

bench/train_reader_lora.py holds CALIBRATION_ARTICLES training articles out of fitting (their names
are in the manifest). For their SQuAD v1.1 questions and their SQuAD 2.0 questions, the pipeline as
shipped retrieves (hybrid, the eval index) and the extractive answerer scores the sentences; the
passage reader reads the first READ_PASSAGES passages. Chosen here:

- ``min_prob``: the lowest span probability from which the best spans of the SQuAD v1.1 questions
  are right (F1 > 0 with a gold answer) at least TARGET_PRECISION of the time (85% asked, with a
  margin for unseen articles);
- ``lead_prob``: the span probability from which the span's sentence leads the quote, the one that
  gives the most answers containing a gold answer;
- ``nil_weight``: the weight of (P(answered) - 0.5) added to the evidence score before the one
  not-found threshold (Config.min_score) that gives the best balanced accuracy on the SQuAD 2.0
  questions while at least 90% of the answerable ones stay answered.

Validation articles are never used. Usage (from the repository root):

    PYTHONPATH=. .venv/bin/python bench/calibrate_passage_reader.py ../shared/data/squad-dev ../shared/data/squad2-dev
        [--weights DIR] [--dry-run]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from rag.answer import passage_reader as P  # noqa: E402
from rag.answer import short_answer  # noqa: E402
from rag.text.evidence import answer_type  # noqa: E402
from rag.answer.extractive import passage_reading  # noqa: E402
from rag.evaluation.metrics import auroc, contains_answer, squad_em_f1  # noqa: E402

TARGET_PRECISION = 0.88
MIN_SHOWN = 10
CACHE = HERE / ".cache"


def _rag(folder: Path):
    import train_reader_a

    return train_reader_a._rag(folder)


def records(folder: Path, items: list[tuple[str, str, list[str], bool]], reader) -> list[dict]:
    """Per (query id, question, gold answers, impossible): what the thresholds are chosen from."""
    from rag.answer import span_reader

    rag, _ = _rag(folder)
    ans = rag.answerer
    span = span_reader.get()
    out, t0 = [], time.perf_counter()
    for b in range(0, len(items), 64):
        batch = items[b:b + 64]
        vecs = rag.embedder.encode([q for _, q, _, _ in batch], progress=False)
        for (qid, question, gold, impossible), qvec in zip(batch, vecs):
            passages = rag.search(question, mode="hybrid", qvec=qvec)
            passages = [replace(p, rank=k) for k, p in enumerate(passages[:rag.config.top_k], 1)]
            cands, feats = ans.features(question, qvec, passages, rag.retriever)
            if not cands:
                out.append({"id": qid, "gold": gold, "impossible": impossible, "evidence": 0.0, "none": True})
                continue
            ev, sel = feats @ ans.evidence_weights, feats @ ans.select_weights
            order = np.argsort(-sel, kind="stable")
            rules = [cands[order[0]].sentence.text]
            if len(order) > 1 and sel[order[1]] >= sel[order[0]] - ans.margin:
                rules.append(cands[order[1]].sentence.text)
            got = passage_reading(reader, question, cands, passages)
            r = got.reading
            holder = got.holder.sentence.text if got.holder is not None else None
            lead = [holder] + [t for t in rules if t != holder][:1] if holder else rules
            f1 = max((squad_em_f1(r.text, [g])[1] for g in gold), default=0.0) if r.text else 0.0
            agree = False
            if got.holder is not None and r.text:
                h = got.holder
                a = got.passage.start + r.start - h.sentence.start
                rule = h.short or short_answer.phrase(question, h.sentence.text,
                                                      any_question=answer_type(question) is not None)
                agree = rule is not None and rule.start < a + len(r.text) and a < rule.end
            sp = ans.read(question, cands, ev, sel, reader=span)   # the span reader's best span, for agreement
            sp_text, sp_prob, both = "", 0.0, False
            if sp is not None:
                sp_text, sp_prob = sp[1].text, float(sp[2])
                if r.text and got.holder is not None and sp[0] is got.holder:
                    a = got.passage.start + r.start - got.holder.sentence.start
                    both = sp[1].start < a + len(r.text) and a < sp[1].end
            sp_f1 = max((squad_em_f1(sp_text, [g])[1] for g in gold), default=0.0) if sp_text else 0.0
            out.append({"id": qid, "gold": gold, "impossible": impossible, "evidence": float(ev.max()),
                        "span_text": sp_text, "span_prob": sp_prob, "span_f1": sp_f1, "both": both,
                        "prob": r.prob, "p_answer": got.p_answer, "span": r.text, "f1": f1,
                        "in_holder": holder is not None, "agree": agree, "typed": answer_type(question),
                        "question": question,
                        "rules_contain": bool(gold) and contains_answer(" ".join(rules), gold),
                        "lead_contain": bool(gold) and contains_answer(" ".join(lead), gold)})
        print(f"  {b + len(batch)}/{len(items)} {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    return out


def choose(v1: list[dict], v2: list[dict], min_score: float) -> dict:
    ok = [r for r in v1 if not r.get("none") and r["span"] and r["in_holder"]]
    min_prob, gate_table = 2.0, []
    for t in np.round(np.arange(0.95, 0.0, -0.025), 3):   # the lowest probability whose shown spans are right often enough
        shown = [r for r in ok if r["prob"] >= t]
        right = float(np.mean([r["f1"] > 0 for r in shown])) if shown else 0.0
        gate_table.append({"min_prob": float(t), "shown": len(shown), "right": round(right, 4)})
        if len(shown) >= MIN_SHOWN and right >= TARGET_PRECISION:
            min_prob = float(t)
    from rag.answer import span_reader

    span_min = span_reader.get().min_prob

    def union(t):   # what rag.answer.extractive shows: (right?) per shown short answer
        out = []
        for r in v1:
            if r.get("none"):
                continue
            if r["span"] and r["in_holder"] and (r["prob"] >= min_prob or (r["both"] and r["prob"] >= t)):
                out.append(r["f1"] > 0)
            elif r["span_prob"] >= span_min:
                out.append(r["span_f1"] > 0)
        return out

    agree_prob, agree_table = 2.0, []
    for t in np.round(np.arange(0.95, 0.0, -0.05), 2):
        got = union(t)
        right = float(np.mean(got)) if got else 0.0
        agree_table.append({"agree_prob": float(t), "shown": len(got), "right": round(right, 4)})
        if len(got) >= MIN_SHOWN and right >= TARGET_PRECISION:
            agree_prob = float(t)
    shown = union(agree_prob)
    answerable = [r for r in v1 if not r.get("none")]
    lead_table = []
    for t in np.round(np.arange(0.0, 1.0001, 0.05), 2):
        c = np.mean([(r["lead_contain"] if r["in_holder"] and r["prob"] >= t else r["rules_contain"])
                     for r in answerable])
        lead_table.append((float(c), -float(t)))
    contain, neg_t = max(lead_table)
    y = np.array([0 if r["impossible"] else 1 for r in v2])
    ev = np.array([r["evidence"] for r in v2])
    pa = np.array([r.get("p_answer", 0.0) for r in v2])
    nil_table = []
    for w in np.round(np.arange(0.0, 1.01, 0.05), 2):
        s = ev + w * (pa - 0.5)
        a, f = float((s[y == 1] >= min_score).mean()), float((s[y == 0] < min_score).mean())
        nil_table.append({"w": float(w), "answered": round(a, 4), "refused": round(f, 4),
                          "balanced_accuracy": round((a + f) / 2, 4),
                          "auroc": round(auroc(list(s[y == 1]), list(s[y == 0])), 4)})
    fine = [t for t in nil_table if t["answered"] >= min(0.90, nil_table[0]["answered"] - 0.02)] or nil_table[:1]
    nil = max(fine, key=lambda t: (t["balanced_accuracy"], -t["w"]))
    return {
        "thresholds": {"min_prob": round(float(min_prob), 4), "agree_prob": agree_prob, "lead_prob": -neg_t,
                       "nil_weight": nil["w"]},
        "calibration": {
            "gate": gate_table, "gate_with_agreement": agree_table, "span_reader_min_prob": span_min,
            "squad_questions": len(v1), "best_span_f1": round(float(np.mean([r.get("f1", 0.0) for r in v1])), 4),
            "best_span_em_like_f1_1": round(float(np.mean([r.get("f1", 0.0) >= 0.999 for r in v1])), 4),
            "shown": round(len(shown) / max(1, len(v1)), 4),
            "shown_right": round(float(np.mean(shown)) if shown else 0.0, 4),
            "containment_rules": round(float(np.mean([r["rules_contain"] for r in answerable])), 4),
            "containment_with_lead": round(contain, 4),
            "squad2_questions": len(v2), "squad2_nil": nil,
            "squad2_evidence_alone": nil_table[0],
            "squad2_reader_alone_auroc": round(auroc(list(pa[y == 1]), list(pa[y == 0])), 4),
            "squad2_span_prob_alone_auroc": round(auroc([r.get("prob", 0.0) for r, t in zip(v2, y) if t == 1],
                                                        [r.get("prob", 0.0) for r, t in zip(v2, y) if t == 0]), 4),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("squad")
    ap.add_argument("squad2")
    ap.add_argument("--weights", default=str(P.WEIGHTS_DIR))
    ap.add_argument("--dry-run", action="store_true", help="print, do not write the manifest")
    ap.add_argument("--from-cache", action="store_true", help="choose again from the last run's records")
    args = ap.parse_args()
    folder = Path(args.weights)
    manifest = json.loads((folder / P.MANIFEST_FILE).read_text())
    calib = set(manifest["calibration_articles"])
    reader = P.PassageReader(folder)
    squad1 = json.loads((Path(args.squad) / "dev-v1.1-part.json").read_text(encoding="utf-8"))
    items1 = [(qa["id"], qa["question"], [a["text"] for a in qa["answers"]], False)
              for art in squad1["data"] if art["title"] in calib for p in art["paragraphs"] for qa in p["qas"]]
    s2 = Path(args.squad2)
    texts2 = {json.loads(x)["_id"]: json.loads(x)["text"] for x in (s2 / "queries.jsonl").read_text().splitlines()
              if x.strip()}
    rows2 = [json.loads(x) for x in (s2 / "questions.jsonl").read_text().splitlines() if x.strip()]
    items2 = [(r["query-id"], texts2[r["query-id"]], r["answers"], bool(r["is_impossible"])) for r in rows2
              if r["paragraph-id"].rsplit("_", 1)[0] in calib]
    print(f"calibration articles {sorted(calib)}: {len(items1)} SQuAD questions, {len(items2)} SQuAD 2.0",
          file=sys.stderr)
    cached = CACHE / "passage-reader-calibration.json"
    if args.from_cache:
        v1, v2 = json.loads(cached.read_text())
    else:
        v1 = records(Path(args.squad), items1, reader)
        v2 = records(s2, items2, reader)
        CACHE.mkdir(exist_ok=True)
        cached.write_text(json.dumps([v1, v2]))
    from rag.config import Config

    got = choose(v1, v2, Config().min_score)
    print(json.dumps(got, indent=1))
    if not args.dry_run:
        manifest.update(got)
        manifest["calibration_command"] = ("python bench/calibrate_passage_reader.py ../shared/data/squad-dev "
                                           "../shared/data/squad2-dev")
        (folder / P.MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
