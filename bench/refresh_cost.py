"""Cost of refreshing one changed document in a large index, next to a full rebuild.

    python bench/refresh_cost.py ../shared/data/scifact [--dim 384] [--out /tmp/rc] [--code DIR]

Indexes the BEIR corpus (SciFact: 5,183 abstracts) with the fake hashing embedder of
tests/conftest.py at the real model's dimension (so vector files have their real size;
embedding itself costs next to nothing, so the figures are the index engine's own
work), then: a full rebuild (--rebuild), a refresh after changing one document, one
after adding one, one after removing one, and, when rag.storage.live exists, a reader's
reload. For each: seconds, bytes of files created in the index folder (new or
replaced files, by size), and bytes passed to write() (/proc/self/io wchar, which
also counts temporary files). Prints one JSON line per step. --code DIR imports rag
from DIR instead of this checkout, to compare with another version's layout (only
build_index and store.load are used).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_code = sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv else str(ROOT)
sys.path[:0] = [_code, str(ROOT / "tests")]

from conftest import FakeEmbedder  # noqa: E402

from rag.build.builder import build_index  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.evaluation.datasets import load_beir  # noqa: E402
from rag.ingest.read import Document, sha256_bytes  # noqa: E402
from rag.storage import writer as store  # noqa: E402


def wchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def files(index_dir: Path) -> dict:
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns, p.stat().st_size)
            for p in index_dir.rglob("*") if p.is_file() and p.name != ".lock"}


def step(name: str, fn, index_dir: Path) -> dict:
    before, w0, t0 = files(index_dir) if index_dir.exists() else {}, wchar(), time.perf_counter()
    extra = fn() or {}
    seconds, w1 = time.perf_counter() - t0, wchar()
    after = files(index_dir)
    created = sum(v[2] for p, v in after.items() if before.get(p) != v)
    row = {"step": name, "seconds": round(seconds, 3), "bytes_created": created, "write_bytes": w1 - w0,
           "index_bytes": sum(v[2] for v in after.values()), **extra}
    print(json.dumps(row), flush=True)
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--out", default="/tmp/refresh-cost")
    ap.add_argument("--code", help="folder holding the rag package to measure (default: this checkout)")
    args = ap.parse_args(argv)

    class Fake(FakeEmbedder):
        name, dim = f"fake-hash-{args.dim}", args.dim

    docs = load_beir(Path(args.dataset), split="train").documents   # title line + text, as rag eval
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    config = Config(index_dir=out / "idx", corpus_dir=out / "corpus", model=Fake.name)
    build = lambda documents, **kw: build_index(config, embedder=Fake(), documents=documents,  # noqa: E731
                                                progress=False, **kw)
    first = step("first build", lambda: {"chunks": build(docs).chunks}, config.index_dir)
    step("full rebuild", lambda: build(docs, rebuild=True) and None, config.index_dir)
    changed = list(docs)
    d = changed[len(changed) // 2]
    text = d.text + " A sentence added to change this document."
    changed[len(changed) // 2] = dataclasses.replace(d, text=text, sha256=sha256_bytes(text.encode()))
    reader = None
    try:
        from rag.storage.live import LiveIndex

        reader = LiveIndex(config.index_dir, lambda data: data)
    except ImportError:
        pass
    step("refresh: 1 document changed", lambda: {"updated": build(changed).updated}, config.index_dir)
    if reader is not None:
        step("reader reload after it", lambda: {"loads": (reader.get(), reader.loads)[1]}, config.index_dir)
        step("reader cold load", lambda: store.load(config.index_dir) and None, config.index_dir)
    added = changed + [Document("new-doc", "New", "New document. It talks about something new.",
                                sha256_bytes(b"new"))]
    step("refresh: 1 document added", lambda: {"added": build(added).added}, config.index_dir)
    step("refresh: 1 document removed", lambda: {"removed": build(changed).removed}, config.index_dir)
    data = store.load(config.index_dir)
    t0 = time.perf_counter()
    try:   # what a refresh cost before segments carried BM25 postings: all of BM25 built again
        from rag.build.builder import _lexical
        _lexical(data.chunks, data.manifest["documents"], config)
    except ImportError:
        from rag.build.builder import document_text, indexed_text
        from rag.storage.lexical import BM25
        chunks, metas = list(data.chunks), data.manifest["documents"]
        titles = {m["id"]: m["title"] for m in metas}
        BM25.build([indexed_text(c, titles[c["doc"]], config) for c in chunks])
        by_doc: dict = {}
        for c in chunks:
            by_doc.setdefault(c["doc"], []).append(c)
        BM25.build([document_text(by_doc.get(m["id"], [])) for m in metas])
    print(json.dumps({"step": "BM25 rebuild alone (chunks + documents; a refresh no longer does it)",
                      "seconds": round(time.perf_counter() - t0, 3)}))
    import rag
    print(json.dumps({"documents": len(docs), "chunks": first["chunks"], "dim": args.dim, "rag": rag.__file__}))


if __name__ == "__main__":
    main()
