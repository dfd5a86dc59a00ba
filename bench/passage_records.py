"""Per-passage records of the passage reader on the calibration articles: what a passage chooser is fitted on.

For each SQuAD v1.1 and SQuAD 2.0 question of the passage reader's calibration articles (its
manifest names them; never the validation articles), the pipeline as shipped retrieves (hybrid,
the eval index), the extractive answerer scores the sentences, the span reader gives its best
span, and the passage reader reads the first READ passages. Stored per passage: its rank, the
reader's best span, span and no-answer probabilities, the sentence holding the span (its select
and evidence scores, whether it is the rules' top sentence), agreement with the span reader and
the rules, and the gold-answer labels (span F1, passage and sentence containment).

    PYTHONPATH=. .venv/bin/python bench/passage_records.py ../shared/data/squad-dev ../shared/data/squad2-dev
        [--weights DIR] [--read 5] [--out bench/.cache/passage-records.json]
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
from rag.answer.extractive import holder_of, reading_facts  # noqa: E402
from rag.evaluation.metrics import contains_answer, squad_em_f1  # noqa: E402


def f1_of(text: str, gold: list[str]) -> float:
    return max((squad_em_f1(text, [g])[1] for g in gold), default=0.0) if text else 0.0


def question_record(rag, span, reader, question, qvec, gold, read: int) -> dict | None:
    ans = rag.answerer
    passages = rag.search(question, mode="hybrid", qvec=qvec)
    passages = [replace(p, rank=k) for k, p in enumerate(passages[:rag.config.top_k], 1)]
    cands, feats = ans.features(question, qvec, passages, rag.retriever)
    if not cands:
        return None
    ev, sel = feats @ ans.evidence_weights, feats @ ans.select_weights
    order = np.argsort(-sel, kind="stable")
    top = cands[order[0]]
    second = cands[order[1]] if len(order) > 1 and sel[order[1]] >= sel[order[0]] - ans.margin else None
    sp = ans.read(question, cands, ev, sel, reader=span)
    out = {"evidence": float(ev.max()), "select_top": float(sel[order[0]]),
           "rules_contain": bool(gold) and contains_answer(top.sentence.text + (" " + second.sentence.text
                                                                              if second else ""), gold),
           "top_contain": bool(gold) and contains_answer(top.sentence.text, gold),
           "span_text": sp[1].text if sp else "", "span_prob": float(sp[2]) if sp else 0.0,
           "span_f1": f1_of(sp[1].text, gold) if sp else 0.0, "passages": []}
    if sp is not None and ans.nil_reader is not None:
        out["span_has_answer"] = float(ans.has_answer(question, cands, feats, ev, sel, sp, reader=span))
    top_p = list(passages[:read])
    for p, r in zip(top_p, reader.read(question, [p.text for p in top_p])):
        holder = holder_of(cands, p, r)
        facts = reading_facts(question, p, r, holder, cands, (feats, ev, sel), sp)
        in_p = [k for k, c in enumerate(cands) if c.passage is p]
        facts.update({"score": float(p.score), "similarity": float(p.similarity),
                      "max_select": float(max((sel[k] for k in in_p), default=0.0)),
                      "f1": f1_of(r.text, gold), "has_gold": bool(gold) and contains_answer(p.text, gold),
                      "h_is_second": holder is not None and holder is second,
                      "h_contain": holder is not None and bool(gold) and contains_answer(holder.sentence.text, gold)})
        out["passages"].append(facts)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("squad")
    ap.add_argument("squad2")
    ap.add_argument("--weights", default=str(P.WEIGHTS_DIR))
    ap.add_argument("--read", type=int, default=5)
    ap.add_argument("--out", default=str(HERE / ".cache" / "passage-records.json"))
    ap.add_argument("--articles", choices=["calibration", "validation"], default="calibration")
    ap.add_argument("--parts", default="squad,squad2", help="which datasets (comma-separated)")
    args = ap.parse_args()
    from rag.answer import span_reader
    from train_reader_a import _rag

    manifest = json.loads((Path(args.weights) / P.MANIFEST_FILE).read_text())
    arts = set(manifest["calibration_articles"] if args.articles == "calibration" else manifest["validation_articles"])
    reader = P.PassageReader(args.weights)
    span = span_reader.get()
    squad1 = json.loads((Path(args.squad) / "dev-v1.1-part.json").read_text(encoding="utf-8"))
    items1 = [(qa["id"], qa["question"], [a["text"] for a in qa["answers"]], False, art["title"])
              for art in squad1["data"] if art["title"] in arts for p in art["paragraphs"] for qa in p["qas"]]
    s2 = Path(args.squad2)
    texts2 = {json.loads(x)["_id"]: json.loads(x)["text"] for x in (s2 / "queries.jsonl").read_text().splitlines()
              if x.strip()}
    rows2 = [json.loads(x) for x in (s2 / "questions.jsonl").read_text().splitlines() if x.strip()]
    seen = {qid for qid, *_ in items1}   # SQuAD 2.0's answerable questions are SQuAD v1.1's: read once
    items2 = [(r["query-id"], texts2[r["query-id"]], r["answers"], bool(r["is_impossible"]),
               r["paragraph-id"].rsplit("_", 1)[0]) for r in rows2
              if r["paragraph-id"].rsplit("_", 1)[0] in arts and r["query-id"] not in seen]
    out = {}
    for name, folder, items in (("squad", Path(args.squad), items1), ("squad2", s2, items2)):
        if name not in args.parts.split(","):
            continue
        rag, _ = _rag(folder)
        recs, t0 = [], time.perf_counter()
        for b in range(0, len(items), 64):
            batch = items[b:b + 64]
            vecs = rag.embedder.encode([q for _, q, _, _, _ in batch], progress=False)
            for (qid, question, gold, impossible, article), qvec in zip(batch, vecs):
                rec = question_record(rag, span, reader, question, qvec, gold, args.read)
                recs.append({"id": qid, "article": article, "gold": gold, "impossible": impossible,
                             "question": question, **(rec or {"none": True})})
            print(f"  {name} {b + len(batch)}/{len(items)} {time.perf_counter() - t0:.0f}s", file=sys.stderr,
                  flush=True)
        out[name] = recs
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
