"""Score the 20 hand-written seed-article questions (bench/seed_questions.jsonl) and the
10 seed-article conversations of bench/conversations.jsonl.

An answerable question is answered correctly when the answer is given and its
text contains one of the accepted strings (case-insensitive); an unanswerable
one when the answer is "not in the documents". Builds the seed index under
bench/.cache on first use. Usage:

    PYTHONPATH=. .venv/bin/python bench/seed_questions.py [-v] [QUESTIONS.jsonl]

(bench/seed_questions_reader.jsonl: 20 more, written before the reader was trained; the
count of shown short answers that hold an accepted string is printed too.)
"""
import json
import sys
from pathlib import Path

from rag import Config, assemble
from rag.api import Rag
from rag.build.builder import build_index
from rag.evaluation import followups as conversations

HERE = Path(__file__).resolve().parent


def main(verbose: bool = False, questions: Path = HERE / "seed_questions.jsonl") -> None:
    config = Config(corpus_dir=HERE.parent / "seeds", index_dir=HERE / ".cache" / "seed-index")
    embedder = assemble.embedder(Config())
    build_index(config, embedder=embedder)
    rag = Rag(config, embedder=embedder)
    rows = [json.loads(line) for line in Path(questions).read_text().splitlines()]
    right = shown = short_right = 0
    for r in rows:
        a = rag.query(r["question"])
        ok = (a.found and any(s.lower() in a.text.lower() for s in r["answers"])) if r["answerable"] \
            else not a.found
        right += ok
        shown += a.short is not None
        short_right += a.short is not None and any(s.lower() in a.short.lower() or a.short.lower() in s.lower()
                                                   for s in r["answers"])
        if verbose:
            print(f"{'OK ' if ok else 'BAD'} {r['id']} {r['question']}\n    short={a.short!r} ({a.short_prob}) "
                  f"score={a.score:.2f}\n"
                  f"    {a.text[:300]!r}")
    print(f"{right}/{len(rows)} seed questions answered correctly; {shown} short answers shown, "
          f"{short_right} of them right")
    convs = conversations.load(HERE / "conversations.jsonl", "seeds", {}, {})
    print(f"seed conversations: {conversations.evaluate(rag, convs)}")


if __name__ == "__main__":
    files = [a for a in sys.argv[1:] if not a.startswith("-")]
    main("-v" in sys.argv, *(Path(f) for f in files[:1]))
