"""Save an index folder as immutable segments and versions behind a pointer; never pickles.

Layout of an index folder INDEX (all readable without this package):
  CURRENT           {"version": "v-000042", "manifest_sha256": "..."}: the live version
  .lock             the writers' lock file (rag.storage.lock); meaningless unless flock'ed
  segments/s-000007/  immutable chunks, vectors and sentences of some documents (rag.storage.segments)
  v-000042/         one version, never modified once written:
    manifest.json     format, versions, model, dimension, settings (chunker, backend,
                      fusion weights), corpus, documents (id, title, sha256, counts and
                      the segment holding each), totals, build time, "segments": the
                      segments used, with the sha256 of each of their files, and "files":
                      the sha256 of every other file in the version folder
    bm25/             BM25 over the live chunks (bm25s's .npy arrays and JSON files)
    bm25_docs/        BM25 over whole documents, rows in manifest document order
  v-000041/         the previous version, kept for readers still loading it

A save (under the writer lock, rag.storage.lock) writes the documents new or changed since
its base version as one segment (rag.storage.plan decides, and folds small or
mostly-deleted segments in), then the version folder (manifest, BM25 rebuilt
from the live chunks), each as ``.tmp-*/``, fsynced and renamed, then atomically
replaces CURRENT: a crash at any moment leaves CURRENT naming a whole version
whose segments all exist. It then removes temporary folders, versions other than
the new one and its predecessor, and segments neither references. Row numbers
exist only in memory: on disk a chunk is (document id, ordinal). Readers: see
rag.storage.reader and rag.storage.live. Does not handle network file systems without flock
or atomic rename, nor a forger who rewrites files, manifest and CURRENT alike.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from rag.config import Config
from rag.errors import RagError
from rag.storage import integrity, segments
from rag.storage import plan as store_plan
from rag.storage.lexical import PARAMS
from rag.storage.lock import IndexLock, held
from rag.storage.manifest import collector_paused
from rag.storage.reader import (  # noqa: F401
    FORMAT,
    FORMAT_VERSION,
    POINTER,
    TMP_PREFIX,
    VERSION_RE,
    IndexData,
    check_settings,
    chunk_vectors,
    load,
    read_manifest,
    read_pointer,
)
from rag.version import package_version  # noqa: F401  (recorded in manifests)

STAMPS = ".verified"   # a writer's cache of segment files already hashed (see read_stamps)
_OLD_LAYOUT = ("manifest.json", "chunks.jsonl", "chunks.faiss", "sentences.npy", "sentence_vecs.npy",
               "bm25", "bm25_docs")   # format v2 kept these directly in INDEX




# ---------------------------------------------------------------- writing

def save(index_dir: Path, data: IndexData, *, base: IndexData | None = None) -> str:
    """Write data (the whole logical index, documents in manifest order) as a new version of
    index_dir and make it current; returns the version. base: the verified version data was
    built from (its unchanged documents are referenced, not rewritten); None writes all.
    data.fresh: when given, data's rows are only those of these documents (in manifest order);
    every other document must be in base with the same counts, and is read from there when a
    segment holding it is rewritten. A base in format 5 is rewritten whole (from its rows).

    Takes the writer lock unless this process already holds it (build_index does)."""
    index_dir = Path(index_dir)
    if held(index_dir):
        return _save(index_dir, data, base)
    with IndexLock(index_dir):
        return _save(index_dir, data, base)


def _save(index_dir: Path, data: IndexData, base: IndexData | None) -> str:
    previous = _current_version(index_dir)
    docs = data.manifest["documents"]   # a "segment" key they may carry is not read: replaced below
    reuse = base if base is not None and base.manifest.get("format_version") == FORMAT_VERSION else None
    with collector_paused():
        keep, todo = store_plan.plan(docs, reuse.manifest if reuse is not None else None)
    segs = {s: reuse.manifest["segments"][s] for s in set(keep.values())}
    written = tmp = None
    try:
        if todo:
            written, info = _write_segment(index_dir, data, docs, todo, base)
            segs[written] = info
            keep.update({docs[n]["id"]: written for n in todo})
        with collector_paused():
            counts = {"documents": len(docs), "chunks": sum(d["chunks"] for d in docs),
                      "sentences": sum(d["sentences"] for d in docs)}
            bm25 = {k: v for k, v in (data.manifest.get("bm25") or {}).items() if k not in ("vocabulary",)}
            manifest = dict(data.manifest, format_version=FORMAT_VERSION, counts=counts,
                            bm25=dict(bm25, **PARAMS, rows=counts["chunks"], documents={"rows": counts["documents"]}),
                            documents=[{**d, "segment": keep[d["id"]]} for d in docs],
                            segments=dict(sorted(segs.items())))
            tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=index_dir))
            os.chmod(tmp, 0o755)   # mkdtemp makes it private; an index is readable like its files
            files = {p.relative_to(tmp).as_posix(): integrity.sha256_file(p)
                     for p in sorted(tmp.rglob("*")) if p.is_file()}
            raw = (json.dumps(dict(manifest, files=files), ensure_ascii=False,   # one line: the C encoder,
                              separators=(",", ":")) + "\n").encode()          # 10x faster at 100k documents
        (tmp / "manifest.json").write_bytes(raw)
        _fsync_tree(tmp)
        version = f"v-{_last_number(index_dir) + 1:06d}"
        os.rename(tmp, index_dir / version)
    except BaseException:   # leave the folder as it was (a kill -9 leaves this to the next writer)
        for path in (tmp, written and index_dir / segments.FOLDER / written):
            if path:
                shutil.rmtree(path, ignore_errors=True)
        raise
    fsync_path(index_dir)
    _write_pointer(index_dir, version, integrity.sha256_bytes(raw))
    known = {version: set(manifest["segments"])}   # so the cleanup reads no manifest it has in hand
    if base is not None and base.pointer is not None and base.pointer[0] == previous:
        known[previous] = set(base.manifest["segments"])
    cleanup(index_dir, keep={version, previous}, old_layout=True, known=known)
    _write_stamps(index_dir, manifest["segments"], (base.stamps if base is not None else None) or {}, written)
    return version


def read_stamps(index_dir: Path) -> dict:
    """The stamps of segment files the last writer hashed (INDEX/.verified; {} when absent or
    unreadable): a writer's next load hashes only files changed since (rag.storage.integrity)."""
    try:
        stamps = json.loads((Path(index_dir) / STAMPS).read_text(encoding="utf-8"))
        return stamps if isinstance(stamps, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_stamps(index_dir: Path, segs: dict, known: dict, written: str | None) -> None:
    """Stamps of the segments the new version uses: those its base verified (known), plus the
    files of the segment written now (hashed as they were written). A cache only: losing it
    costs one full check."""
    out = {}
    for name, info in segs.items():
        folder = index_dir / segments.FOLDER / name
        for rel, digest in info["files"].items():
            key = str(folder / rel)
            if name == written:
                try:
                    out[key] = integrity.stamp(folder / rel, digest)
                except OSError:
                    continue
            elif key in known and known[key][-1] == digest:
                out[key] = known[key]
    tmp = index_dir / f"{TMP_PREFIX}verified-{os.getpid()}"
    try:
        tmp.write_text(json.dumps(out), encoding="utf-8")
        os.replace(tmp, index_dir / STAMPS)
    except OSError:
        tmp.unlink(missing_ok=True)


def _row_starts(docs: list[dict]) -> dict[str, tuple[int, int]]:
    """doc id -> (first chunk row, first sentence row) in rows laid out as docs."""
    c_at = np.concatenate([[0], np.cumsum([d["chunks"] for d in docs])]).astype(np.int64)
    s_at = np.concatenate([[0], np.cumsum([d["sentences"] for d in docs])]).astype(np.int64)
    return dict(zip((d["id"] for d in docs), zip(c_at.tolist(), s_at.tolist())))


def _write_segment(index_dir: Path, data: IndexData, docs: list[dict], rows: list[int],
                   base: IndexData | None) -> tuple[str, dict]:
    """The documents at positions rows of docs, as one new segment: each from data's rows, or
    (data.fresh given and the document not in it) from base's: from the segment holding it when
    base was loaded as a writer's base (base.segments), else from base's rows."""
    if data.fresh is None:
        own_docs = docs
    else:
        by_id = {d["id"]: d for d in docs}
        own_docs = [by_id[i] for i in data.fresh]
    own = _row_starts(own_docs)
    if sum(d["chunks"] for d in own_docs) != len(data.chunks) or \
            sum(d["sentences"] for d in own_docs) != len(data.sentences):
        raise ValueError("index data rows do not follow its manifest documents")
    where: dict = {}   # base: doc id -> its segment's name, or its (chunk, sentence) row in base
    pieces: list[list] = []   # [source, chunk lo, chunk hi, sentence lo, sentence hi], adjacent ones merged
    for n in rows:
        d = docs[n]
        if d["id"] in own:
            src, (c0, s0) = data, own[d["id"]]
        elif base.segments is not None:
            if not where:
                where.update((b["id"], b["segment"]) for b in base.manifest["documents"])
            src = base.segments[where[d["id"]]]
            c0, _, s0, _ = src.docs[d["id"]]
        else:
            if not where:
                where.update(_row_starts(base.manifest["documents"]))
            src, (c0, s0) = base, where[d["id"]]
        if pieces and pieces[-1][0] is src and pieces[-1][2] == c0 and pieces[-1][4] == s0:
            pieces[-1][2] += d["chunks"]
            pieces[-1][4] += d["sentences"]
        else:
            pieces.append([src, c0, c0 + d["chunks"], s0, s0 + d["sentences"]])
    chunks, cvecs, spans, svecs = [], [], [], []
    for src, c0, c1, s0, s1 in pieces:   # arrays are sliced (views), Rows gathered (float32 copies)
        if isinstance(src, segments.Segment):   # a base segment's files: records built, rows read
            chunks += [src.chunks.record(j) for j in range(c0, c1)]
            cvecs.append(np.asarray(src.chunk_vecs[c0:c1], np.float16))
            spans.append(np.asarray(src.spans[s0:s1], np.int64))
            svecs.append(np.asarray(src.sentence_vecs[s0:s1], np.float16))
            continue
        chunks += src.chunks[c0:c1]
        cv, sv = chunk_vectors(src), src.sentence_vecs
        cvecs.append(cv[c0:c1] if isinstance(cv, np.ndarray) else np.asarray(cv[np.arange(c0, c1)], np.float16))
        spans.append(np.asarray(src.sentences[s0:s1])[:, 1:])
        svecs.append(sv[s0:s1] if isinstance(sv, np.ndarray) else np.asarray(sv[np.arange(s0, s1)], np.float16))
    dim = data.manifest["dimension"]
    if len(pieces) == 1:   # no concatenated copy of a whole build's vectors
        cvecs, svecs = cvecs[0], svecs[0]
    seg_docs = [{"id": docs[n]["id"], "chunks": docs[n]["chunks"], "sentences": docs[n]["sentences"]}
                for n in rows]
    settings = data.manifest.get("settings", {})
    threshold = settings.get("ann_threshold", Config.ann_threshold)
    if all(docs[n].get("pending") for n in rows):   # zero vectors until computed: nothing to search
        threshold = None

    def joined(parts, width, dtype):
        if isinstance(parts, np.ndarray):
            return parts
        return np.concatenate(parts) if parts else np.zeros((0, width), dtype)
    return segments.write(index_dir, seg_docs, chunks, joined(cvecs, dim, segments.VECTOR_DTYPE),
                          joined(spans, 2, np.int64), joined(svecs, dim, segments.VECTOR_DTYPE),
                          TMP_PREFIX, _fsync_tree,
                          ann_threshold=threshold,
                          titles={docs[n]["id"]: docs[n]["title"] for n in rows},
                          title_in_chunks=settings.get("title_in_chunks", True))


def _write_pointer(index_dir: Path, version: str, manifest_sha: str) -> None:
    tmp = index_dir / f"{TMP_PREFIX}{POINTER}-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps({"version": version, "manifest_sha256": manifest_sha}) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / POINTER)
    fsync_path(index_dir)


def cleanup(index_dir: Path, keep: set | None = None, *, old_layout: bool = False,
            known: dict | None = None, unused_segments: bool = True) -> list[str]:
    """Remove what killed or finished writers left: temporary folders, versions other than
    those in keep (default: the current one and the newest older one) and segments that
    no kept version references, plus, when
    old_layout, the files of a format-2 index and its .NAME.tmp-*/.NAME.old-* siblings.
    known: version -> the segments its manifest names, for manifests the caller holds (the
    others are read only when a segment folder is not accounted for; rag.storage.segments.unused).
    unused_segments=False leaves segment folders alone (no manifest read at all).
    Call only under the writer lock. Returns the names removed."""
    index_dir = Path(index_dir)
    if not index_dir.is_dir():
        return []
    if keep is None:
        current = _current_version(index_dir)
        older = [v for v in _versions(index_dir) if current and v < current]
        keep = {current, max(older) if older else None}
    doomed = [p for p in index_dir.iterdir()
              if p.name.startswith(TMP_PREFIX) or (VERSION_RE.fullmatch(p.name) and p.name not in keep)
              or (old_layout and p.name in _OLD_LAYOUT)]
    if old_layout and index_dir.parent.is_dir():
        doomed += [p for p in index_dir.parent.iterdir()
                   if p.name.startswith((f".{index_dir.name}.tmp-", f".{index_dir.name}.old-"))]
    if unused_segments:
        doomed += segments.unused(index_dir, keep, known)
    for p in doomed:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return sorted(p.name for p in doomed)


def _versions(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if VERSION_RE.fullmatch(p.name))


def _last_number(index_dir: Path) -> int:
    names = _versions(index_dir) + [_current_version(index_dir) or "v-000000"]
    return max(int(VERSION_RE.fullmatch(n).group(1)) for n in names)


def _current_version(index_dir: Path) -> str | None:
    try:
        return read_pointer(index_dir)[0]
    except RagError:
        return None


def fsync_path(path: Path) -> None:
    """fsync a file or folder (a folder: so a rename or a new name in it survives a crash)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*"), reverse=True):   # files before their folders
        fsync_path(p)
    fsync_path(root)
