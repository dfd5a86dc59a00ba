"""Follow-up figures on the conversation sets (bench/conversations_squad.jsonl, bench/conversations_seed.jsonl).

Each conversation is played turn by turn through Rag.chat with the system's own earlier answers as the
history (bench/make_conversations.py describes the files). Reported, per group (SQuAD validation
articles of bench/reader_split.json, the seed article, SQuAD training articles):

- follow-up accuracy: share of follow-up turns (those that lean on the conversation) whose answer is
  given and holds an expected answer string (SQuAD normalisation; a refusal is a miss);
- written out: the same for the same turns asked as their written-out full question through Rag.query
  (a fresh question, no history); the gap between the two is what reading follow-ups costs;
- follow-up right when the written-out question is answered right (the share of the answerable
  follow-ups that the conversation handling keeps);
- standalone questions left unchanged: standalone turns after the first (a new topic, a question that
  names what it asks about) whose question was read exactly as typed, with no "Read as" notice.

Builds the indexes under bench/.cache on first use (SQuAD-dev half: about 10 minutes on 2 cores). Usage:

    PYTHONPATH=. .venv/bin/python bench/conversation_eval.py [-v] [--squad ../shared/data/squad-dev]

-v prints every turn: the question as typed, as read, right or wrong.
"""
import argparse
import json
from collections import defaultdict
from pathlib import Path

from rag import Config, assemble
from rag.api import Rag
from rag.build.builder import build_index
from rag.evaluation.datasets import load_beir
from rag.evaluation.metrics import contains_answer

HERE = Path(__file__).resolve().parent


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def play(rag: Rag, conv: dict, queries: dict, answers: dict, verbose: bool = False) -> list[dict]:
    """One conversation through rag.chat: a result row per turn."""
    messages, out = [], []
    for i, t in enumerate(conv["turns"]):
        full = t.get("full") or queries[t["qid"]]
        ask = t.get("ask") or full
        gold = t.get("answers") or answers[t["qid"]]
        a = rag.chat(messages + [{"role": "user", "content": ask}])
        right = bool(a.found and contains_answer(a.text, gold))
        row = {"conv": conv["id"], "turn": i, "depends": bool(t["depends"]), "kind": t.get("kind"), "right": right,
               "unchanged": a.question == ask.strip() and "Read as" not in (a.notice or "")}
        if t["depends"]:
            alone = rag.query(full)
            row["full_right"] = bool(alone.found and contains_answer(alone.text, gold))
        out.append(row)
        if verbose:
            mark = "OK " if right else "BAD"
            extra = "" if not t["depends"] else f"  (written out: {'OK' if row['full_right'] else 'BAD'})"
            print(f"{mark} {conv['id']}#{i} {'follow-up ' + t.get('kind', '') if t['depends'] else 'standalone'}"
                  f"{extra}\n    asked: {ask}\n    read:  {a.question}\n    short: {a.short!r}  gold: {gold[:2]}"
                  f"{'' if a.found else '  (refused)'}")
        messages += [{"role": "user", "content": ask}, {"role": "assistant", "content": a.text}]
    return out


def summary(rows: list[dict]) -> dict:
    fol = [r for r in rows if r["depends"]]
    alone = [r for r in rows if not r["depends"] and r["turn"] > 0]
    both = [r for r in fol if r["full_right"]]
    mean = lambda xs: round(sum(xs) / len(xs), 3) if xs else float("nan")
    kinds = defaultdict(list)
    for r in fol:
        kinds[r["kind"]].append(r)
    return {"conversations": len({r["conv"] for r in rows}), "follow-ups": len(fol),
            "follow-up accuracy": mean([r["right"] for r in fol]),
            "written out": mean([r["full_right"] for r in fol]),
            "follow-up right when written out right": mean([r["right"] for r in both]),
            "standalone after turn 1": len(alone),
            "standalone unchanged": mean([r["unchanged"] for r in alone]),
            "standalone accuracy": mean([r["right"] for r in alone]),
            "by kind (follow-up / written out, n)": {
                k: f"{mean([r['right'] for r in v])} / {mean([r['full_right'] for r in v])}, {len(v)}"
                for k, v in sorted(kinds.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-v", action="store_true")
    ap.add_argument("--squad", default=str(HERE.parent.parent / "shared" / "data" / "squad-dev"))
    ap.add_argument("--seed-only", action="store_true", help="only the seed-article conversations")
    ap.add_argument("--split", choices=("train", "validation"), help="only the SQuAD conversations of this split")
    args = ap.parse_args()
    embedder = assemble.embedder(Config())
    groups: dict = defaultdict(list)

    seed_cfg = Config(corpus_dir=HERE.parent / "seeds", index_dir=HERE / ".cache" / "seed-index")
    build_index(seed_cfg, embedder=embedder)
    rag = Rag(seed_cfg, embedder=embedder)
    for c in _rows(HERE / "conversations_seed.jsonl"):
        groups["seed article"] += play(rag, c, {}, {}, args.v)

    if args.seed_only:
        for k, v in summary(groups["seed article"]).items():
            print(f"  {k}: {v}")
        return
    ds = load_beir(Path(args.squad), "test")
    cfg = Config(index_dir=HERE / ".cache" / "squad-dev-index")
    build_index(cfg, embedder=embedder, documents=ds.documents)
    rag = Rag(cfg, embedder=embedder)
    for c in _rows(HERE / "conversations_squad.jsonl"):
        if args.split and c["split"] != args.split:
            continue
        groups[f"SQuAD {c['split']}"] += play(rag, c, ds.queries, ds.answers, args.v)

    groups["reported: SQuAD validation + seed"] = groups["SQuAD validation"] + groups["seed article"]
    for name in ("SQuAD validation", "seed article", "reported: SQuAD validation + seed", "SQuAD train"):
        if not groups[name]:
            continue
        print(f"== {name}")
        for k, v in summary(groups[name]).items():
            print(f"  {k}: {v}")


if __name__ == "__main__":
    main()
