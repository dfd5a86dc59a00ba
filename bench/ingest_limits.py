"""Conversion figures: Word documents of many paragraphs, many tiny files, hostile office files.

    python bench/ingest_limits.py docx 10000 100000      # seconds to convert docx of N paragraphs
    python bench/ingest_limits.py tiny 2000 txt|docx     # build (fake embedder) over N tiny files
    python bench/ingest_limits.py hostile                # each generated bomb: reason, seconds, worker peak

Inputs are generated (tests/bombs.py); nothing is downloaded. Run from the repository root with
PYTHONPATH=. ; the same script runs on an older checkout for "before" figures (docx, tiny).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import bombs  # noqa: E402


def docx(sizes):
    from rag.ingest import convert

    for n in map(int, sizes):
        data = bombs.docx_paragraphs(n)
        t0 = time.perf_counter()
        c = convert.docx_text(data)
        print(f"docx {n:,} paragraphs ({len(data):,} bytes): {time.perf_counter() - t0:.2f}s in-process, "
              f"{len(c.text):,} chars", flush=True)


def tiny(n, kind):
    from conftest import FakeEmbedder

    from rag import Config
    from rag.build.builder import build_index

    n = int(n)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        for i in range(n):
            folder = corpus / f"d{i // 500}"
            folder.mkdir(parents=True, exist_ok=True)
            if kind == "docx":
                (folder / f"f{i}.docx").write_bytes(bombs.docx_with_body(
                    b"<w:p><w:r><w:t>Tiny note %d about the harbor.</w:t></w:r></w:p>" % i))
            else:
                (folder / f"f{i}.txt").write_text(f"Tiny note {i} about the harbor.\n")
        t0 = time.perf_counter()
        r = build_index(Config(corpus_dir=corpus, index_dir=Path(tmp) / "idx", model=FakeEmbedder.name),
                        embedder=FakeEmbedder(), progress=False)
        s = time.perf_counter() - t0
        print(f"tiny {kind} x{n:,}: build {s:.1f}s ({s / n * 1000:.1f} ms/file), {r.documents} documents, "
              f"{len(r.skipped)} skipped", flush=True)


def hostile():
    from rag.ingest import sandbox
    from rag.ingest.sandbox import Limits

    cases = [("xml-bomb-390mb.docx", lambda: bombs.docx_xml_bomb(390)),
             ("lying-header.docx", lambda: bombs.docx_lying_header(100)),
             ("lying-two-members.docx", lambda: bombs.zip_lying_header(100)),
             ("dense-8mb.docx", lambda: bombs.docx_dense(8)),
             ("huge-300k-rows.xlsx", lambda: bombs.xlsx_huge(300_000)),
             ("nested-100k.xlsx", lambda: bombs.xlsx_nested(100_000)),
             ("long-10k.docx", lambda: bombs.docx_paragraphs(10_000))]
    for name, make in cases:
        data = make()
        t0 = time.perf_counter()
        try:
            c = sandbox.convert(Path(name).suffix, data, name, Limits())
            result = f"read, {len(c.text):,} chars"
        except ValueError as exc:
            result = f"skipped: {exc}"
        print(f"{name} ({len(data):,} bytes): {result} | {time.perf_counter() - t0:.1f}s, "
              f"worker peak {sandbox.LAST_PEAK_KB.get(name, 0) / 1000:.0f} MB", flush=True)


if __name__ == "__main__":
    what, *rest = sys.argv[1:]
    {"docx": lambda: docx(rest), "tiny": lambda: tiny(*rest), "hostile": hostile}[what]()
