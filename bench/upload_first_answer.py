"""Uploads answerable first: time from an upload to the first keyword answer from it, and to every vector in,
for a batch of small files, the previous way (``Rag.add_files``: returns once every vector is in) and the new
one (``add_files(background=True)``, as the page and the HTTP API call it: returns once the uploads answer by
keywords, the vectors computed after in a thread), side by side in one run.

    PYTHONPATH=. python bench/upload_first_answer.py ../shared/data/scifact [--files 50] [--rounds 1]

The files are SciFact abstracts (title line + text) written as .txt files, uploaded into an index of this
repository's seeds/ (built before the clock starts; each variant gets its own copy); the model is loaded and
warmed before the clock starts (as ``rag serve`` has it). Two ways of uploading:
  batch          one add_files call with every file (the HTTP API's POST /api/documents);
  file by file   one add_files call per file (the page's Documents tab), the next started when one returns;
                 in the background variant, as the page does, all but the last with vectors=False.
Per variant: "answerable" is when the last upload call returns; "first answer" is when a question made of the
last file's title has been answered from it (its top passage is that file; on the partial index, BM25-ranked
with the vectors of the passages shown encoded on demand, and the answer says so); "complete" is when every
vector is in (the previous way: the same moment as answerable) and the same Rag answers without the notice.
Prints a Markdown table and the load average (the machine is shared: compare rows of one run only).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag import Rag  # noqa: E402
from rag.build.builder import build_index  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.embed.embedder import Embedder  # noqa: E402
from rag.evaluation.datasets import load_beir  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def run(base: Path, work: Path, emb, files: list[tuple[str, bytes]], question: str, want: str,
        background: bool, one_by_one: bool) -> dict:
    """Seconds to answerable, first answer and complete for one variant over a fresh copy of the base index."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(base, work)
    config = Config(corpus_dir=work / "corpus", index_dir=work / "idx", model=emb.name, backend=emb.backend)
    rag = Rag(config, embedder=emb)
    rag.query("warm up the answer step")
    kw = {"background": True} if background else {}
    t0 = time.perf_counter()
    if one_by_one:   # as the page: the vectors of all but the last file are left to the last one's build
        for n, f in enumerate(files):
            rag.add_files([f], **kw, **({"vectors": n == len(files) - 1} if background else {}))
    else:
        rag.add_files(files, **kw)
    answerable = time.perf_counter() - t0
    answer = rag.query(question)
    first = time.perf_counter() - t0
    top = answer.passages[0].doc_id if answer.passages else None
    partial = answer.partial is not None
    rag.wait_for_vectors()
    complete = time.perf_counter() - t0 if background else answerable
    after = rag.query(question)
    assert after.partial is None and after.notice is None, after.notice
    return {"answerable": answerable, "first": first, "complete": complete, "top_ok": top == want,
            "partial": partial, "documents": len(rag.documents())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--split", default="train")
    ap.add_argument("--files", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=1, help="rounds, each variant once a round, order reversed each")
    args = ap.parse_args()
    ds = load_beir(Path(args.dataset), args.split)
    docs = ds.documents[:args.files]
    files = [(f"{n:04d}.txt", f"{d.title}\n\n{d.text}\n".encode()) for n, d in enumerate(docs)]
    question, want = docs[-1].title, f"uploads/{files[-1][0]}"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base"
        shutil.copytree(ROOT / "seeds", base / "corpus")
        config = Config(corpus_dir=base / "corpus", index_dir=base / "idx")
        emb = Embedder(config.model, backend=config.backend)
        emb.encode(["warm up"])
        build_index(config, embedder=emb, progress=False)
        variants = [("batch", "previous", False, False), ("batch", "background", True, False),
                    ("file by file", "previous", False, True), ("file by file", "background", True, True)]
        rows = []
        for r in range(args.rounds):
            order = variants if r % 2 == 0 else variants[::-1]
            for way, name, background, one in order:
                got = run(base, tmp / "work", emb, files, question, want, background, one)
                load = os.getloadavg()[0]
                rows.append((way, name, got, load))
                print(f"{way}, {name}: {got} (load {load:.1f})", file=sys.stderr, flush=True)
    print(f"{len(files)} files ({sum(len(d) for _, d in files):,} bytes), backend {emb.backend}\n")
    print("| upload | add_files | all answerable | first answer (from the last file) | every vector in | "
          "answer partial / top passage right | load |")
    print("|---|---|---|---|---|---|---|")
    for way, name, got, load in sorted(rows, key=lambda x: (x[0] != "batch", x[1] != "previous")):
        print(f"| {way} | {name} | {got['answerable']:.1f} s | {got['first']:.1f} s | {got['complete']:.1f} s | "
              f"{'yes' if got['partial'] else 'no'} / {'yes' if got['top_ok'] else 'no'} | {load:.1f} |")


if __name__ == "__main__":
    main()
