"""Check that the passage reader leaves the not-found score as the span reader had it (same score, same decision).

With the passage reader's own no-answer weight at 0 (bench/calibrate_passage_reader.py chose it), the
not-found score is the evidence score plus the span reader's "no answer" term, as when the span
reader was the reader. This script answers SQuAD 2.0 questions of the validation articles both ways over
the same retrieved passages and counts the questions whose score or decision differ. Usage:

    PYTHONPATH=. .venv/bin/python bench/notfound_same.py ../shared/data/squad2-dev [--limit 300]
"""
import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("squad2")
    ap.add_argument("--limit", type=int, default=300)
    args = ap.parse_args()
    import train_reader_a
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.config import Config
    from rag.evaluation import split_articles

    folder = Path(args.squad2)
    rag, _ = train_reader_a._rag(folder)
    val = split_articles("validation")
    texts = {json.loads(x)["_id"]: json.loads(x)["text"] for x in (folder / "queries.jsonl").read_text().splitlines()
             if x.strip()}
    rows = [json.loads(x) for x in (folder / "questions.jsonl").read_text().splitlines() if x.strip()]
    rows = [r for r in rows if r["paragraph-id"].rsplit("_", 1)[0] in val]
    rows = rows[::max(1, len(rows) // args.limit)][:args.limit]
    new = ExtractiveAnswerer(Config().min_score)
    old = ExtractiveAnswerer(Config().min_score, reader="span")
    same = found_same = 0
    for r in rows:
        q = texts[r["query-id"]]
        qvec = rag.embed(q)
        passages = rag.search(q, qvec=qvec)
        a, b = new.answer(q, qvec, passages, rag.retriever), old.answer(q, qvec, passages, rag.retriever)
        same += abs(a.score - b.score) < 1e-6
        found_same += a.found == b.found
    print(json.dumps({"questions": len(rows), "same_score": same, "same_decision": found_same}))


if __name__ == "__main__":
    main()
