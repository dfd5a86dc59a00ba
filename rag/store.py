"""Save and load an index folder as immutable versions behind a pointer; never pickles.

Layout of an index folder INDEX (all readable without this package):
  CURRENT           {"version": "v-000042", "manifest_sha256": "..."}: the live version
  .lock             the writers' lock file (rag.lock); meaningless unless flock'ed
  v-000042/         one complete index, never modified once written:
    manifest.json     format, versions, model, dimension, chunker settings, corpus,
                      documents (id, title, sha256, counts), totals, build time, and
                      "files": the sha256 of every other file in the version folder
    chunks.jsonl      one chunk a line: doc, ordinal, start, end, text, and its
                      sentences as a range within its document (sent_lo, sent_hi)
    chunks.faiss      FAISS IndexFlatIP over the chunk vectors (FAISS's own format)
    sentences.npy     int64 [S, 3]: document number, start, end of each sentence
    sentence_vecs.npy float32 [S, dim]: the sentence vectors
    bm25/             BM25 over the chunks (bm25s's .npy arrays and JSON files)
    bm25_docs/        BM25 over whole documents, rows in manifest document order
  v-000041/         the previous version, kept for readers still loading it

A save (under the writer lock, see rag.lock) writes ``.tmp-*/``, fsyncs it,
renames it to the next ``v-N/`` and then atomically replaces CURRENT, so a crash
at any moment leaves CURRENT naming a whole version. It then removes leftover
temporary folders and versions other than the new one and its predecessor.
A reader reads CURRENT once, verifies the manifest against it and every file
against the manifest, and retries when a writer removed that version mid-load.
Readers never take the lock and never write. Does not handle network file
systems without flock or atomic rename, nor a forger who rewrites files,
manifest and CURRENT consistently.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import integrity
from .errors import RagError
from .lock import IndexLock, held
from .store_read import (FORMAT, FORMAT_VERSION, POINTER, TMP_PREFIX, VERSION_RE, IndexData,  # noqa: F401
                         check_settings, load, read_manifest, read_pointer)

_OLD_LAYOUT = ("manifest.json", "chunks.jsonl", "chunks.faiss", "sentences.npy", "sentence_vecs.npy",
               "bm25", "bm25_docs")   # format v2 kept these directly in INDEX


def package_version() -> str:
    from . import __version__
    return __version__


# ---------------------------------------------------------------- writing

def save(index_dir: Path, data: IndexData) -> str:
    """Write data as a new version of index_dir and make it current; returns the version.

    Takes the writer lock unless this process already holds it (build_index does)."""
    index_dir = Path(index_dir)
    if held(index_dir):
        return _save(index_dir, data)
    with IndexLock(index_dir):
        return _save(index_dir, data)


def _save(index_dir: Path, data: IndexData) -> str:
    import faiss

    previous = _current_version(index_dir)
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=index_dir))
    try:
        os.chmod(tmp, 0o755)   # mkdtemp makes it private; an index is readable like its files
        flat = faiss.IndexFlatIP(int(data.manifest["dimension"]))
        if len(data.chunk_vecs):
            flat.add(np.ascontiguousarray(data.chunk_vecs, dtype=np.float32))
        faiss.write_index(flat, str(tmp / "chunks.faiss"))
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
            for chunk in data.chunks:
                f.write(json.dumps(chunk, ensure_ascii=False) + "\n")
        np.save(tmp / "sentences.npy", np.asarray(data.sentences, dtype=np.int64), allow_pickle=False)
        np.save(tmp / "sentence_vecs.npy", np.asarray(data.sentence_vecs, dtype=np.float32),
                allow_pickle=False)
        if data.bm25 is not None:
            data.bm25.save(tmp / "bm25")
        if data.doc_bm25 is not None:
            data.doc_bm25.save(tmp / "bm25_docs")
        files = {p.relative_to(tmp).as_posix(): integrity.sha256_file(p)
                 for p in sorted(tmp.rglob("*")) if p.is_file()}
        raw = (json.dumps(dict(data.manifest, files=files), indent=2, ensure_ascii=False) + "\n").encode()
        (tmp / "manifest.json").write_bytes(raw)
        _fsync_tree(tmp)
        version = f"v-{_last_number(index_dir) + 1:06d}"
        os.rename(tmp, index_dir / version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync(index_dir)
    _write_pointer(index_dir, version, integrity.sha256_bytes(raw))
    cleanup(index_dir, keep={version, previous}, old_layout=True)
    return version


def _write_pointer(index_dir: Path, version: str, manifest_sha: str) -> None:
    tmp = index_dir / f"{TMP_PREFIX}{POINTER}-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps({"version": version, "manifest_sha256": manifest_sha}) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / POINTER)
    _fsync(index_dir)


def cleanup(index_dir: Path, keep: set | None = None, *, old_layout: bool = False) -> list[str]:
    """Remove what killed or finished writers left: temporary folders and versions other
    than those in keep (default: the current one and the newest older one), plus, when
    old_layout, the files of a format-2 index and its .NAME.tmp-*/.NAME.old-* siblings.
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


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*"), reverse=True):   # files before their folders
        _fsync(p)
    _fsync(root)


def chunk_vectors(data: IndexData) -> np.ndarray:
    """The chunk vectors, read back from the FAISS index when they were not kept."""
    if data.chunk_vecs is None:
        n, dim = data.faiss_index.ntotal, data.faiss_index.d
        data.chunk_vecs = data.faiss_index.reconstruct_n(0, n) if n else np.zeros((0, dim), np.float32)
    return data.chunk_vecs
