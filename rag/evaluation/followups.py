"""Follow-up accuracy on a file of two-turn conversations (``rag eval --conversations``).

Each line of the file is {"id", "corpus", "depends", "turn1" or "turn1_qid",
"followup" (null: the context question itself), "context" or "context_qid",
"answers" (or the gold answers of context_qid)}; ``*_qid`` fields name questions
of the evaluated data set, so no data-set text needs to live in the file. For
each conversation the system answers turn 1, then the follow-up through
``Rag.chat`` with turn 1 and its answer as history, and, for comparison, the
same question with its context written out through ``Rag.query``. Reports
answer containment of both, and how often the follow-up was resolved when it
depended on turn 1 and left alone when it did not. Conversations for another
corpus (``corpus`` not the data set's name) are skipped.
"""
from __future__ import annotations

import json
from pathlib import Path

from rag.answer.followup import resolve
from rag.evaluation import metrics


def load(path, corpus: str, queries: dict, answers: dict) -> list[dict]:
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        c = json.loads(line)
        if c.get("corpus") != corpus:
            continue
        context = c.get("context") or queries.get(c.get("context_qid"))
        turn1 = c.get("turn1") or queries.get(c.get("turn1_qid"))
        gold = c.get("answers") or answers.get(c.get("context_qid"), [])
        if turn1 and context and gold:
            out.append({"id": c["id"], "turn1": turn1, "followup": c.get("followup") or context,
                        "context": context, "answers": gold, "depends": bool(c.get("depends", True))})
    return out


def evaluate(rag, conversations: list[dict]) -> dict:
    rows = []
    for c in conversations:
        first = rag.query(c["turn1"])
        history = [{"role": "user", "content": c["turn1"]}, {"role": "assistant", "content": first.text}]
        follow = rag.chat(history + [{"role": "user", "content": c["followup"]}])
        alone = rag.query(c["context"])
        resolved = resolve(c["followup"], c["turn1"], first.text)
        rows.append({"followup": float(metrics.contains_answer(follow.text, c["answers"])),
                     "context_written_out": float(metrics.contains_answer(alone.text, c["answers"])),
                     "resolution_right": float(resolved.depends == c["depends"])})
    out = {k: round(v, 4) for k, v in metrics.summarize(rows).items()}
    out["conversations"] = len(rows)
    return out
