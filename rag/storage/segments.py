"""Immutable segment folders: the chunks, vectors and sentences of a set of documents.

A segment (INDEX/segments/s-000007/) holds, for the documents it was written
with, in id order and contiguous per document:
  documents.json     [{"id", "chunks", "sentences"}, ...]: the storage order
  chunks.npy, chunk_text.npy, chunk_text.bin: the chunk records (ordinal, span, sentence range
                     as int64 columns, texts as UTF-8 with offsets), read memory-mapped
                     (rag.storage.records); format 5 kept them as chunks.jsonl (still read)
  bm25/, bm25_docs/  BM25 postings of its chunks and of its whole documents (rag.storage.lexical)
  chunk_vecs.npy     float16 [C, dim]
  sentences.npy      int64 [S, 2]: start, end of each sentence in its document
  sentence_vecs.npy  float16 [S, dim]
  ann.faiss          only with at least ann_threshold chunks: rag.storage.dense's index of chunk_vecs
Vectors are stored as float16 (half the bytes; unit vectors lose about 1e-3 of
each cosine) and read memory-mapped. A version's manifest names the segments it uses with the sha256 of each of their
files, and says which segment holds each live document: documents of a segment
the manifest does not point at are deleted (tombstones). ``write`` makes one
(under a temporary name, fsynced, then renamed); ``read`` verifies and parses
one; ``assemble`` lays out the positional records of a version and views
(rag.storage.vector_rows) over the segments' vectors, and ``dense`` its dense search (rag.storage.dense).
Does not decide which documents go into a new segment (rag.storage.writer does) and never
modifies a segment once written.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import IndexCorruptError
from rag.storage import dense as ann
from rag.storage import integrity, records
from rag.storage.manifest import collector_paused
from rag.storage.layout import SEGMENT_FILES, SEGMENT_RE  # noqa: F401  (SEGMENT_RE: callers read it here)
from rag.storage.lexical import Postings, SegmentedBM25, document_text, indexed_text
from rag.storage.vector_rows import FileArray, Rows, runs_of

FOLDER = "segments"
FILES = SEGMENT_FILES
VECTOR_DTYPE = np.float16


@dataclass
class Segment:
    docs: dict          # doc id -> (chunk lo, chunk hi, sentence lo, sentence hi) rows in this segment
    chunks: records.Part        # the chunk records (memory-mapped; in memory for a format-5 segment)
    chunk_vecs: FileArray       # float16 [C, dim], rows read from the file
    spans: np.ndarray   # int64 [S, 2], memory-mapped
    sentence_vecs: FileArray    # float16 [S, dim], rows read from the file
    ann: object = None  # rag.storage.dense's index of chunk_vecs, for large segments
    postings: Postings | None = None       # BM25 postings of the chunks (None: format 5)
    doc_postings: Postings | None = None   # BM25 postings of whole documents, rows in documents.json order
    order: tuple = ()   # document ids in storage order


def names(index_dir: Path) -> list[str]:
    folder = Path(index_dir) / FOLDER
    return sorted(p.name for p in folder.iterdir() if SEGMENT_RE.fullmatch(p.name)) if folder.is_dir() else []


def unused(index_dir: Path, versions, known: dict | None = None) -> list[Path]:
    """Segments that none of the given versions references; none when one of their
    manifests is unreadable (better to keep a segment than lose one in use). known: version ->
    the segment names of its manifest, when the caller holds it; a version's manifest is read
    only while some segment folder is not yet accounted for (a refresh's cleanup reads none)."""
    index_dir, known = Path(index_dir), known or {}
    left = set(names(index_dir))
    versions = [v for v in versions if v]
    for version in sorted(versions, key=lambda v: v not in known):   # those in hand first
        if not left:
            return []
        if version in known:
            left -= set(known[version])
            continue
        try:
            with collector_paused():
                left -= set(json.loads((index_dir / version / "manifest.json").read_bytes())["segments"])
        except FileNotFoundError:
            continue
        except (OSError, ValueError, KeyError, TypeError):
            return []
    return [index_dir / FOLDER / n for n in sorted(left)]


def write(index_dir: Path, docs: list[dict], chunks: list[dict], chunk_vecs, spans, sentence_vecs,
          tmp_prefix: str, fsync_tree, *, ann_threshold: int | None = None, titles: dict | None = None,
          title_in_chunks: bool = True) -> tuple[str, dict]:
    """Write one segment from rows ordered as docs ([{"id", "chunks", "sentences"}]), with an
    approximate index when it has at least ann_threshold chunks (None: never) and the BM25
    postings of its chunks (each after its document's title in titles, as embedded: see
    rag.storage.lexical.indexed_text) and of its whole documents; returns
    (its name, its manifest entry: counts, ANN parameters and the sha256 of every file)."""
    import shutil

    index_dir = Path(index_dir)
    (index_dir / FOLDER).mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=tmp_prefix, dir=index_dir))
    try:
        os.chmod(tmp, 0o755)
        (tmp / "documents.json").write_text(json.dumps(docs, ensure_ascii=False) + "\n", encoding="utf-8")
        records.write(tmp, chunks)
        titles = titles or {}
        Postings.build(indexed_text(c, titles.get(c["doc"], ""), title_in_chunks) for c in chunks
                       ).save(tmp / "bm25")
        at = np.concatenate([[0], np.cumsum([d["chunks"] for d in docs])]).astype(int)
        Postings.build(document_text(chunks[at[n]:at[n + 1]]) for n in range(len(docs))).save(tmp / "bm25_docs")
        np.save(tmp / "chunk_vecs.npy", np.asarray(chunk_vecs, dtype=VECTOR_DTYPE), allow_pickle=False)
        np.save(tmp / "sentences.npy", np.asarray(spans, dtype=np.int64).reshape(-1, 2), allow_pickle=False)
        np.save(tmp / "sentence_vecs.npy", np.asarray(sentence_vecs, dtype=VECTOR_DTYPE), allow_pickle=False)
        extra = {}
        if ann_threshold is not None and len(chunks) >= max(1, ann_threshold):
            index, extra["ann"] = ann.build(np.load(tmp / "chunk_vecs.npy", mmap_mode="r"))
            ann.write(index, tmp / ann.FILE)
            del index
        files = {name: integrity.sha256_file(tmp / name) for name in FILES + ((ann.FILE,) if extra else ())}
        fsync_tree(tmp)
        taken = [int(SEGMENT_RE.fullmatch(n).group(1)) for n in names(index_dir)]
        name = f"s-{max(taken, default=0) + 1:06d}"
        os.rename(tmp, index_dir / FOLDER / name)
        fd = os.open(index_dir / FOLDER, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    info = {"documents": len(docs), "chunks": len(chunks), "sentences": int(len(spans)), **extra, "files": files}
    return name, info


def read(folder: Path, info: dict, dim: int, *, search: bool = True, stamps: dict | None = None) -> Segment:
    """One segment, every file checked against info["files"], shapes against its counts.
    FileNotFoundError passes through (a writer may have removed it: rag.storage.reader retries)."""
    integrity.check_files(folder, info["files"], stamps)
    where = f"segment {folder.name}"
    old = "chunks.jsonl" in info["files"]   # format 5: records as JSON lines, no postings
    postings = doc_postings = None
    try:
        docs = json.loads((folder / "documents.json").read_text(encoding="utf-8"))
        if not (isinstance(docs, list) and all(type(d) is dict and type(d.get("id")) is str
                                               and type(d.get("chunks")) is int
                                               and type(d.get("sentences")) is int for d in docs)):
            raise IndexCorruptError(f"{where}: documents.json does not list documents")
        if old:
            with open(folder / "chunks.jsonl", encoding="utf-8") as f:
                chunk_list = [json.loads(line) for line in f if line.strip()]
            integrity.check_chunks(chunk_list, {d["id"] for d in docs})
            if len(chunk_list) != sum(d["chunks"] for d in docs):
                raise IndexCorruptError(f"{where}: {len(chunk_list)} chunk records, documents.json says "
                                        f"{sum(d['chunks'] for d in docs)}")
            if any(c["doc"] != d["id"] for d, c in zip(
                    (d for d in docs for _ in range(d["chunks"])), chunk_list)):
                raise IndexCorruptError(f"{where}: chunk records are out of place")
            chunks = records.from_records(docs, chunk_list)
        else:
            chunks = records.read_part(folder, docs)
            postings = Postings.load(folder / "bm25", len(chunks))
            doc_postings = Postings.load(folder / "bm25_docs", len(docs))
        cvecs = FileArray(folder / "chunk_vecs.npy")   # rows read with pread: see rag.storage.vector_rows
        spans = np.load(folder / "sentences.npy", allow_pickle=False, mmap_mode="r")
        svecs = FileArray(folder / "sentence_vecs.npy")
        index = ann.read(folder / ann.FILE, info["ann"], info["chunks"], dim) if "ann" in info and search else None
    except FileNotFoundError:
        raise
    except IndexCorruptError as exc:
        msg = str(exc)
        raise IndexCorruptError(msg if msg.startswith(where) else f"{where}: {msg}") from None
    except Exception as exc:
        raise IndexCorruptError(f"{where} is damaged ({type(exc).__name__}: {exc})") from None
    problems = []
    if len(docs) != info["documents"] or len(chunks) != info["chunks"] or len(spans) != info["sentences"]:
        problems.append(f"{len(docs)} documents, {len(chunks)} chunks, {len(spans)} sentences, "
                        f"manifest says {info['documents']}, {info['chunks']}, {info['sentences']}")
    for name, arr, rows in (("chunk_vecs", cvecs, len(chunks)), ("sentence_vecs", svecs, len(spans))):
        if arr.dtype != VECTOR_DTYPE or arr.ndim != 2 or arr.shape != (rows, dim):
            problems.append(f"{name}.npy is {arr.dtype} {arr.shape}, expected float16 [{rows}, {dim}]")
    if spans.dtype != np.int64 or spans.ndim != 2 or spans.shape[1:] != (2,):
        problems.append(f"sentences.npy is {spans.dtype} {spans.shape}, expected int64 [S, 2]")
    ids = [d["id"] for d in docs]
    n_c = np.array([d["chunks"] for d in docs], dtype=np.int64).reshape(-1)
    n_s = np.array([d["sentences"] for d in docs], dtype=np.int64).reshape(-1)
    c_at = np.concatenate([[0], np.cumsum(n_c)]).astype(np.int64)
    s_at = np.concatenate([[0], np.cumsum(n_s)]).astype(np.int64)
    out = dict(zip(ids, zip(c_at[:-1].tolist(), c_at[1:].tolist(), s_at[:-1].tolist(), s_at[1:].tolist())))
    c, s = int(c_at[-1]), int(s_at[-1])
    if (c, s) != (len(chunks), len(spans)) or len(out) != len(docs) or (len(docs) and min(n_c.min(), n_s.min()) < 0):
        problems.append("documents.json counts disagree with the records")
    if problems:
        raise IndexCorruptError(f"{where} disagrees with the manifest ({'; '.join(problems)})")
    return Segment(out, chunks, cvecs, spans, svecs, index, postings, doc_postings, tuple(ids))


def assemble(manifest: dict, segs: dict[str, Segment]):
    """The positional layout of a version: documents in manifest order, each from its segment.
    Returns (chunks, chunk vectors, sentences [S, 3] with document numbers, sentence vectors):
    the records as rag.storage.records.Chunks and the vectors as rag.storage.vector_rows.Rows
    over the segments' files (parts in sorted segment order)."""
    names = sorted(segs)
    part = {name: n for n, name in enumerate(names)}
    sp, c_ranges, s_ranges = [], [], []
    for n, d in enumerate(manifest["documents"]):
        c0, c1, s0, s1 = _placed(d, segs)
        c_ranges.append((part[d["segment"]], c0, c1))
        s_ranges.append((part[d["segment"]], s0, s1))
        sp.append(s1 - s0)
    dim = manifest["dimension"]
    s_runs = runs_of(s_ranges)
    spans = Rows([segs[n].spans for n in names], s_runs, 2, np.int64)[np.arange(sum(sp), dtype=np.int64)]
    sentences = np.column_stack([np.repeat(np.arange(len(sp), dtype=np.int64), sp), spans]
                                ).astype(np.int64).reshape(-1, 3)
    chunks = records.Chunks([segs[n].chunks for n in names], runs_of(c_ranges))
    cv = Rows([segs[n].chunk_vecs for n in names], runs_of(c_ranges), dim)
    sv = Rows([segs[n].sentence_vecs for n in names], s_runs, dim)
    return chunks, cv, sentences, sv


def _placed(d: dict, segs: dict[str, Segment]) -> tuple[int, int, int, int]:
    """The rows (chunk lo, hi, sentence lo, hi) of manifest document d in its segment, which must
    hold it with the manifest's counts."""
    rows = segs[d["segment"]].docs.get(d["id"])
    if rows is None:
        raise IndexCorruptError(f"manifest puts {d['id']!r} in segment {d['segment']}, which lacks it")
    c0, c1, s0, s1 = rows
    if c1 - c0 != d["chunks"] or s1 - s0 != d["sentences"]:
        raise IndexCorruptError(f"segment {d['segment']} holds {c1 - c0} chunks and {s1 - s0} sentences "
                                f"of {d['id']!r}, manifest says {d['chunks']} and {d['sentences']}")
    return rows


def check_placement(manifest: dict, segs: dict[str, Segment]) -> None:
    """What assemble checks, without laying anything out: every manifest document is in its
    segment with the manifest's counts (a writer's base: rag.storage.reader.load(search=False))."""
    for d in manifest["documents"]:
        _placed(d, segs)


def dense(segs: dict[str, Segment], chunk_vecs: Rows) -> ann.Dense:
    """The dense search of a version (chunk_vecs from assemble): each segment's ANN index
    when it has one, else an exact index over its live rows."""
    parts = []
    for n, name in enumerate(sorted(segs)):
        to_version = chunk_vecs.global_rows(n)
        if segs[name].ann is not None:
            parts.append((segs[name].ann, to_version))
        else:
            live = np.flatnonzero(to_version >= 0)
            parts.append((ann.exact(segs[name].chunk_vecs, live), to_version[live]))
    return ann.Dense(parts, chunk_vecs.dim)


def lexical(manifest: dict, segs: dict[str, Segment], chunk_vecs: Rows):
    """(BM25 over the version's chunks, BM25 over its documents) from the segments' postings,
    or (None, None) when a segment has none (format 5: the version folder holds BM25)."""
    names = sorted(segs)
    if not names or any(segs[n].postings is None for n in names):
        return None, None
    doc_no = {d["id"]: n for n, d in enumerate(manifest["documents"])}
    chunk_parts, doc_parts = [], []
    for n, name in enumerate(names):
        seg = segs[name]
        chunk_parts.append((seg.postings, chunk_vecs.global_rows(n)))
        here = np.array([doc_no[i] if i in doc_no and manifest["documents"][doc_no[i]]["segment"] == name
                         else -1 for i in seg.order], dtype=np.int64).reshape(-1)
        doc_parts.append((seg.doc_postings, here))
    return SegmentedBM25(chunk_parts, len(chunk_vecs)), SegmentedBM25(doc_parts, len(manifest["documents"]))
