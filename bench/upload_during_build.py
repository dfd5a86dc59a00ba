"""An upload made while `rag serve`'s own first build of a new folder is still computing vectors: time from the
upload to the first answer from that file, against the same upload once that build is complete, in one run.

    PYTHONPATH=. python bench/upload_during_build.py ../shared/data/scifact [--docs 400] [--split train]

The folder is --docs SciFact abstracts (title line + text) as .txt files; one more abstract is the upload. The
model is loaded and warmed before the clock starts (as `rag serve` has it). "during": open_default(background=True)
(what `rag serve` calls) returns once the folder answers by keywords, then the file is uploaded at once as the page
and the HTTP API do (Rag.add_files(queue=True)): it waits in the upload queue for the build's batch of vectors
under way (one encoder batch), then takes over the vectors left; "after": a fresh copy, the build waited for, then the
same upload. Columns: seconds from the upload to answerable (the upload's result), to the first answer from it (a
question made of its title, whose top passage must be the file), and to every vector in. Before the queue, the
"during" upload was refused ("another writer is updating ..."). Prints a Markdown table and the load average (the
machine is shared: compare rows of one run only).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.api import open_default  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.embed.embedder import Embedder  # noqa: E402
from rag.evaluation.datasets import load_beir  # noqa: E402


def run(work: Path, emb, docs, upload: tuple[str, bytes], question: str, during: bool) -> dict:
    corpus = work / "corpus"
    corpus.mkdir(parents=True)
    for n, d in enumerate(docs):
        (corpus / f"{n:04d}.txt").write_text(f"{d.title}\n\n{d.text}\n", encoding="utf-8")
    config = Config(corpus_dir=corpus, index_dir=work / "idx", model=emb.name, backend=emb.backend)
    t_build = time.perf_counter()
    rag = open_default(config, embedder=emb, background=True)
    answerable_build = time.perf_counter() - t_build
    status = rag.status["vectors"]
    if not during:
        rag.wait_for_vectors()
    t0 = time.perf_counter()
    ticket = rag.add_files([upload], queue=True)
    waited = not ticket.settled()   # as the HTTP API: 202 "queued" when it has to wait, else answered at once
    result = ticket.outcome()
    answerable = time.perf_counter() - t0
    answer = rag.query(question)
    first = time.perf_counter() - t0
    rag.wait_for_vectors()
    complete = time.perf_counter() - t0
    after = rag.query(question)
    assert after.partial is None, after.notice
    return {"build_answerable": answerable_build, "pending_at_upload": status["documents_pending"] if during else 0,
            "queued": waited, "answerable": answerable, "first": first, "complete": complete,
            "top_ok": bool(answer.passages) and answer.passages[0].doc_id == result.added[0],
            "partial": answer.partial is not None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--split", default="train")
    ap.add_argument("--docs", type=int, default=400)
    args = ap.parse_args()
    ds = load_beir(Path(args.dataset), args.split)
    docs, extra = ds.documents[:args.docs], ds.documents[args.docs]
    upload = ("upload.txt", f"{extra.title}\n\n{extra.text}\n".encode())
    config = Config()
    emb = Embedder(config.model, backend=config.backend)
    emb.encode(["warm up"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, during in (("during the first build", True), ("after the first build", False)):
            got = run(Path(tmp) / name.replace(" ", "-"), emb, docs, upload, extra.title, during)
            load = os.getloadavg()[0]
            rows.append((name, got, load))
            print(f"{name}: {got} (load {load:.1f})", file=sys.stderr, flush=True)
    print(f"{len(docs)} files + 1 upload, backend {emb.backend}\n")
    print("| upload | build answerable | pending at upload | queued | upload answerable | first answer from it | "
          "every vector in | partial / top passage right | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, got, load in rows:
        print(f"| {name} | {got['build_answerable']:.1f} s | {got['pending_at_upload']} | "
              f"{'yes' if got['queued'] else 'no'} | {got['answerable']:.1f} s | {got['first']:.1f} s | "
              f"{got['complete']:.1f} s | {'yes' if got['partial'] else 'no'} / {'yes' if got['top_ok'] else 'no'} | "
              f"{load:.1f} |")


if __name__ == "__main__":
    main()
