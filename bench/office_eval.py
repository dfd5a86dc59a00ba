"""Answer accuracy on the office-document set (bench/make_office_set.py, bench/office_questions.jsonl).

Generates the 14 files, indexes them with the real model (the default Config: all-MiniLM-L6-v2, hybrid
retrieval, the extractive answerer with the span reader) in a fresh index, and asks each question.

A question is answered **right** when the answer is given (not "not in the documents") and the expected
string (case-insensitive, runs of whitespace as one space) is in the short answer or in a quoted sentence
cited from the expected file. The code measured is the ``rag`` that is imported: run it with
``PYTHONPATH`` at a checkout to measure that checkout. Usage:

    PYTHONPATH=. .venv/bin/python bench/office_eval.py [-v] [--out RESULTS.json]
    .venv/bin/python bench/office_eval.py --compare BEFORE.json AFTER.json    # side by side, by answer place
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def norm(s: str) -> str:
    return " ".join(s.lower().split())


def right(answer, expected: str, file: str) -> tuple[bool, str]:
    """(right, where): where the expected string was found ("short", "quote") or why not."""
    if not answer.found:
        return False, "not found"
    want = norm(expected)
    if answer.short and want in norm(answer.short):
        return True, "short"
    if any(c.doc_id == file and want in norm(c.quote) for c in answer.citations):
        return True, "quote"
    return False, "wrong"


def run(verbose: bool, out: Path | None) -> dict:
    import make_office_set
    import rag
    from rag import Config, assemble
    from rag.api import Rag
    from rag.build.builder import build_index

    rows = [json.loads(line) for line in (HERE / "office_questions.jsonl").read_text().splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        corpus, index = Path(tmp) / "office", Path(tmp) / "index"
        make_office_set.main(corpus)
        config = Config(corpus_dir=corpus, index_dir=index)
        embedder = assemble.embedder(Config())
        build_index(config, embedder=embedder)
        bot = Rag(config, embedder=embedder)
        results = []
        for r in rows:
            a = bot.query(r["question"])
            ok, where = right(a, r["answer"], r["file"])
            results.append({**r, "right": ok, "how": where, "short": a.short,
                            "quotes": [[c.doc_id, c.quote] for c in a.citations]})
            if verbose:
                print(f"{'OK ' if ok else 'BAD'} {r['id']} [{r['where']}] {r['question']} -> want {r['answer']!r}"
                      f" ({where})\n    short={a.short!r}  quotes={[(c.doc_id, c.quote) for c in a.citations]}")
    n = sum(x["right"] for x in results)
    print(f"{n}/{len(results)} right ({100 * n / len(results):.1f}%) with rag from {Path(rag.__file__).parent}")
    report = {"rag": str(Path(rag.__file__).parent), "right": n, "total": len(results), "results": results}
    if out:
        out.write_text(json.dumps(report, indent=1))
    return report


def group(where: str) -> str:
    for key in ("table row", "spreadsheet row", "csv row", "bullet", "label line", "notes"):
        if key in where:
            return key
    return "sentence (" + ("across lines" if "across" in where else "one line") + ")"


def compare(paths: list[Path]) -> None:
    reports = [json.loads(p.read_text()) for p in paths]
    by: list[dict] = []
    for rep in reports:
        d = defaultdict(lambda: [0, 0])
        for x in rep["results"]:
            for key in (group(x["where"]), "all"):
                d[key][0] += x["right"]
                d[key][1] += 1
        by.append(d)
    keys = sorted(k for k in by[0] if k != "all") + ["all"]
    print("| answer sits in | questions | " + " | ".join(p.stem for p in paths) + " |")
    print("|---|---|" + "---|" * len(paths))
    for k in keys:
        cells = [f"{d[k][0]} ({100 * d[k][0] / d[k][1]:.0f}%)" for d in by]
        print(f"| {k} | {by[0][k][1]} | " + " | ".join(cells) + " |")
    files = defaultdict(list)
    for rep in reports:
        for x in rep["results"]:
            files[x["file"].rsplit(".", 1)[-1] + (" (scanned)" if "scan" in x["file"] else "")].append(x)
    print("\n| file type | questions | " + " | ".join(p.stem for p in paths) + " |")
    print("|---|---|" + "---|" * len(paths))
    for kind, xs in sorted(files.items()):
        n = len(xs) // len(reports)
        cells = [str(sum(x["right"] for x in xs[i * n:(i + 1) * n])) for i in range(len(reports))]
        print(f"| {kind} | {n} | " + " | ".join(cells) + " |")
    print("\nright by the short answer (the rest by the quote): "
          + ", ".join(f"{p.stem} {sum(x['how'] == 'short' for x in r['results'])}" for p, r in zip(paths, reports))
          + "; refused: " + ", ".join(f"{p.stem} {sum(x['how'] == 'not found' for x in r['results'])}"
                                     for p, r in zip(paths, reports)))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("-v", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--compare", nargs="+", type=Path)
    args = ap.parse_args()
    if args.compare:
        compare(args.compare)
    else:
        run(args.v, args.out)
