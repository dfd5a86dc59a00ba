"""Time to first answer: a new folder indexed progressively (rag index's default), the first question
answered from the partial (lexical) version, then, with --complete, the time until every vector is in.

    PYTHONPATH=. python bench/first_answer.py ../shared/data/scifact [--limit N] [--complete]

The documents are written to a temporary folder of .txt files first (as a person's folder), the
model is loaded before the clock starts (as `rag serve` does before it serves); then one process:
  answerable   build_index(progressive=True) reads, chunks, builds BM25 and makes the lexical version
               current (its on_lexical callback);
  first answer a Rag opened on that version answers one question (its vectors encoded on demand);
  complete     (--complete) the build returns with every vector computed, and the same Rag switches
               to the complete version on its next question.
Prints the seconds of each and the load average (the machine is shared: compare runs side by side).
"""
from __future__ import annotations

import argparse
import os
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


class Stop(Exception):
    pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--split", default="train")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--complete", action="store_true", help="also wait for every vector")
    ap.add_argument("--question", default="What reduces the risk of breast cancer?")
    args = ap.parse_args()
    ds = load_beir(Path(args.dataset), args.split)
    docs = ds.documents[:args.limit] if args.limit else ds.documents
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for n, d in enumerate(docs):
            (corpus / f"{n:06d}.txt").write_text(f"{d.title}\n\n{d.text}", encoding="utf-8")
        config = Config(corpus_dir=corpus, index_dir=Path(tmp) / "idx")
        emb = Embedder(config.model, backend=config.backend)
        emb.encode(["warm up"])   # model loaded (and the int8 file cached) before the clock starts
        times, held = {}, {}
        t0 = time.perf_counter()

        def answerable(counts):
            times["answerable"] = time.perf_counter() - t0
            held["rag"] = rag = Rag(config, embedder=emb)
            answer = rag.query(args.question)
            times["first answer"] = time.perf_counter() - t0
            held["answer"] = answer
            print(f"{counts[0]} documents, {counts[1]} chunks: answerable after {times['answerable']:.1f}s, "
                  f"first answer after {times['first answer']:.1f}s (load {os.getloadavg()[0]:.1f}); "
                  f"found {answer.found}, notice: {answer.notice}", flush=True)
            if not args.complete:
                raise Stop

        try:
            build_index(config, embedder=emb, progressive=True, on_lexical=answerable, progress=False)
        except Stop:
            return
        times["complete"] = time.perf_counter() - t0
        after = held["rag"].query(args.question)
        print(f"complete after {times['complete']:.1f}s (load {os.getloadavg()[0]:.1f}); the same Rag now: "
              f"partial {after.partial}, loads {held['rag'].live.loads}", flush=True)


if __name__ == "__main__":
    main()
