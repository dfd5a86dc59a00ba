"""Read an index folder (layout: see rag.storage.writer): CURRENT, then one verified version.

A reader reads CURRENT once, checks the manifest against CURRENT's sha256, its
format and the shape of every field (rag.storage.integrity), every file of the version
and of its segments against the manifest's sha256, then arrays and records
against the manifest's counts (rag.storage.segments), and assembles the positional
records over the live documents, in manifest order, with views over the
segments' memory-mapped float16 vectors (rag.storage.vector_rows: no vector is copied at
load) and a dense search over the segments (rag.storage.dense: exact, or the approximate
index large segments carry). When
a load fails and CURRENT changed meanwhile (a writer swapped versions and
removed the one being read), it starts over, up to 5 times. Damage and mismatch
errors end with the exact rebuild command (--index and the corpus). Never takes
the writer lock and never writes. Does not handle a forger who rewrites files,
manifest and CURRENT consistently.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    RagError,
)
from rag.storage import integrity, segments
from rag.storage.integrity import corpus_hint, rebuild_hint
from rag.storage.layout import (  # noqa: F401
    FORMAT,
    FORMAT_VERSION,
    POINTER,
    READ_VERSIONS,
    TMP_PREFIX,
    VERSION_RE,
)
from rag.storage.manifest import Manifest, collector_paused

_ATTEMPTS = 5   # loads restarted because a writer swapped versions meanwhile


@dataclass
class IndexData:
    manifest: dict
    chunks: list[dict]         # records by row: a list, or rag.storage.records.Chunks once loaded
    chunk_vecs: np.ndarray | None  # [C, dim]: float32 rows (an array, or rag.storage.vector_rows.Rows once loaded)
    sentences: np.ndarray      # int64 [S, 3]
    sentence_vecs: np.ndarray  # [S, dim]: float32 rows (an array, or rag.storage.vector_rows.Rows once loaded)
    faiss_index: object = None     # dense search once loaded: rag.storage.dense.Dense (FAISS-like search(q, k))
    bm25: object = None            # rag.storage.lexical.BM25, rows aligned with chunks
    doc_bm25: object = None        # rag.storage.lexical.BM25, rows aligned with manifest documents
    pointer: tuple | None = None   # (version, manifest sha256) of CURRENT when loaded
    stamps: dict | None = None     # a writer's base: stamps of the segment files it verified (writer.STAMPS)
    fresh: list | None = None      # for save: ids of the documents whose rows chunks/vectors hold (in
    #                                manifest order); None: they hold every document's rows
    segments: dict | None = None   # a writer's base (load(search=False)): name -> rag.storage.segments.Segment,
    #                                verified; its rows are read from there, and chunks and vectors stay None


def read_pointer(index_dir: Path) -> tuple[str, str]:
    """(version, manifest sha256) from CURRENT; IndexMissingError / IndexMismatchError (old
    layout) / IndexCorruptError, all without a rebuild hint."""
    path = index_dir / POINTER
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if (index_dir / "manifest.json").is_file():
            raise IndexMismatchError(f"{index_dir} holds an index in an older layout (format v2 or "
                                     f"earlier); this version reads {FORMAT!r} v{FORMAT_VERSION}") from None
        raise IndexMissingError(f"no index at {index_dir}") from None
    except OSError as exc:
        raise IndexCorruptError(f"{path} is unreadable ({exc})") from None
    try:
        pointer = json.loads(raw)
        version, sha = pointer["version"], pointer["manifest_sha256"]
        if not (isinstance(version, str) and VERSION_RE.fullmatch(version)
                and isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
            raise ValueError("bad version name or checksum")
    except (ValueError, TypeError, KeyError) as exc:
        raise IndexCorruptError(f"{path} is damaged ({type(exc).__name__}: {exc})") from None
    return version, sha


def _read_version_manifest(index_dir: Path, version: str, sha: str, seen: dict) -> dict:
    """The manifest of one version, checked against CURRENT's checksum, format and shape
    (seen["manifest"] holds it as soon as it parses, for the corpus in error hints)."""
    raw = (index_dir / version / "manifest.json").read_bytes()   # FileNotFoundError: see load
    try:
        manifest = seen["manifest"] = json.loads(raw)   # even when damaged: it may name the corpus
    except ValueError as exc:
        manifest, problem = None, f"{version}/manifest.json is not JSON ({exc})"
    if integrity.sha256_bytes(raw) != sha:
        raise IndexCorruptError(f"{version}/manifest.json was changed after the index was built "
                                f"(sha256 differs from {POINTER})")
    if manifest is None:
        raise IndexCorruptError(problem)
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"{version}/manifest.json should hold an object, "
                                f"found {type(manifest).__name__}")
    fmt, fv = manifest.get("format"), manifest.get("format_version")
    if fmt != FORMAT or (isinstance(fv, int) and fv not in READ_VERSIONS):
        raise IndexMismatchError(f"{index_dir} has index format {fmt!r} v{fv}, "
                                 f"this version reads {FORMAT!r} v{FORMAT_VERSION}")
    if fv not in READ_VERSIONS or isinstance(fv, bool):
        raise IndexCorruptError(f"manifest format_version should be {FORMAT_VERSION}, found {fv!r}")
    Manifest.check(manifest)
    return manifest


def _attempts(index_dir: Path, work, corpus, settings):
    """Run work(version, sha) on the current version; retry when a writer swapped versions
    under it; add the exact rebuild command to damage and mismatch errors."""
    index_dir = Path(index_dir)
    for attempt in range(_ATTEMPTS):
        seen: dict = {}
        pointer = None
        try:
            pointer = read_pointer(index_dir)
            return work(*pointer, seen)
        except IndexMissingError:
            raise IndexMissingError(f"no index at {index_dir}: build one with: "
                                    f"{rebuild_hint(index_dir, corpus, settings, rebuild=False)}") from None
        except Exception as exc:
            if pointer is not None and attempt + 1 < _ATTEMPTS and _swapped(index_dir, pointer):
                continue   # the version was replaced (and maybe removed) while we read it
            if isinstance(exc, (IndexCorruptError, IndexMismatchError)):
                kind = type(exc)
            elif isinstance(exc, RagError):
                raise
            else:
                kind, exc = IndexCorruptError, f"index at {index_dir} is damaged ({type(exc).__name__}: {exc})"
            hint = rebuild_hint(index_dir, corpus_hint(seen.get("manifest"), index_dir, corpus), settings)
            raise kind(f"{exc}; {hint}") from None


def _swapped(index_dir: Path, pointer: tuple) -> bool:
    try:
        return read_pointer(index_dir) != pointer
    except RagError:
        return True


def read_manifest(index_dir: Path, *, corpus=None) -> dict:
    """The current version's manifest, checked (checksum, format, shape)."""
    def work(version, sha, seen):
        with collector_paused():
            return _read_version_manifest(Path(index_dir), version, sha, seen)
    return _attempts(index_dir, work, corpus, None)


def check_settings(manifest: dict, settings: dict, index_dir: Path) -> None:
    """Refuse an index built with other settings than the configured ones (no hint added),
    except build-only ones (config.BUILD_ONLY_KEYS: rag.build.builder rebuilds over those)."""
    from rag.config import BUILD_ONLY_KEYS, SEGMENT_KEYS

    found = Manifest.differences(manifest, settings, skip=BUILD_ONLY_KEYS + SEGMENT_KEYS)
    diffs = [f"{k}: index has {have!r}, config has {want!r}" for k, have, want in found]
    if any(k == "backend" for k, _, _ in found):
        diffs.append(f"query it as built with --backend {Manifest.settings(manifest).get('backend')}")
    if diffs:
        raise IndexMismatchError(f"index at {index_dir} does not match the configuration "
                                 f"({'; '.join(diffs)})")


def load(index_dir: Path, settings: dict | None = None, *, corpus=None, cache: dict | None = None,
         search: bool = True, stamps: dict | None = None) -> IndexData:
    """Load and verify the current version of an index folder; settings (if given) must
    match its manifest. corpus (the configured one) names the rebuild command in errors
    when the manifest does not. cache: a dict kept between loads by one reader, holding
    verified segments (immutable) so a reload reads only the segments it has not seen.
    search=False (a writer's base): every file is still verified and every document found in
    its segment, but nothing is laid out or built: chunks, vectors, faiss_index, bm25 and
    doc_bm25 stay None and segments holds the verified segments (rag.storage.writer reads a
    document's rows from there when it rewrites them). stamps: see
    rag.storage.integrity.check_files (segment files unchanged since a writer hashed them)."""
    index_dir = Path(index_dir)

    def work(version, sha, seen):
        with collector_paused():   # the manifest's documents: parsed, checked, placed
            manifest = _read_version_manifest(index_dir, version, sha, seen)
            if settings is not None:
                check_settings(manifest, settings, index_dir)
            data = _load_version(index_dir, version, manifest, cache, search, stamps)
        data.pointer, data.stamps = (version, sha), stamps
        return data
    return _attempts(index_dir, work, corpus, settings)


def _load_version(index_dir: Path, version: str, manifest: dict, cache: dict | None,
                  search: bool = True, stamps: dict | None = None) -> IndexData:
    """The segments and BM25 files of one version, checked against the (checked) manifest."""
    folder, dim = index_dir / version, manifest["dimension"]
    integrity.check_files(folder, manifest["files"])
    segs = {}
    for name, info in manifest["segments"].items():
        key = (name, json.dumps(info, sort_keys=True))
        if cache is not None and key in cache:
            segs[name] = cache[key]
            continue
        segs[name] = segments.read(index_dir / segments.FOLDER / name, info, dim, search=search, stamps=stamps)
    if cache is not None and search:
        cache.clear()
        cache.update({(n, json.dumps(i, sort_keys=True)): segs[n] for n, i in manifest["segments"].items()})
    if not search:   # a writer's base: checked like any load, but nothing laid out (a refresh reads
        segments.check_placement(manifest, segs)   # rows only of the segments it rewrites)
        return IndexData(manifest, None, None, None, None, segments=segs)
    chunks, chunk_vecs, sentences, sentence_vecs = segments.assemble(manifest, segs)
    dense = segments.dense(segs, chunk_vecs)
    bm25 = doc_bm25 = None
    if "bm25" in manifest and manifest["format_version"] != 5:
        bm25, doc_bm25 = segments.lexical(manifest, segs, chunk_vecs)
        if bm25 is None:
            raise IndexCorruptError(f"{version} uses format-5 segments without BM25 postings")
    elif "bm25" in manifest:
        from rag.storage.lexical import BM25

        info, docs = manifest["bm25"], manifest["documents"]
        bm25 = BM25.load(folder / "bm25", expect_docs=len(chunks), expect_vocab=info["vocabulary"])
        doc_bm25 = BM25.load(folder / "bm25_docs", expect_docs=len(docs),
                             expect_vocab=info["documents"]["vocabulary"])
    return IndexData(manifest, chunks, chunk_vecs, sentences, sentence_vecs, dense, bm25, doc_bm25)


def chunk_vectors(data: IndexData):
    """The chunk vectors: float32 rows by position (an array, or rag.storage.vector_rows.Rows for a loaded index)."""
    if data.chunk_vecs is None:
        raise ValueError("index data without chunk vectors")
    return data.chunk_vecs
