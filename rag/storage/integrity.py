"""Checks an index version folder must pass before use: manifest shape and file checksums.

``check_manifest`` verifies the type of every manifest field the package reads
(so a damaged manifest is an ``IndexCorruptError`` naming the field, never an
AttributeError/TypeError/KeyError later) and the totals that must agree with
each other. ``check_files`` verifies each file's sha256 against the manifest's
``files`` map. Messages carry no rebuild hint: rag.storage.writer adds it. Does not
check what only loading can reveal (array shapes, record counts): rag.storage.writer
does that after loading. Does not defend against a forger who rewrites the
files, the manifest and the CURRENT pointer consistently.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from pathlib import Path, PurePosixPath

from rag.errors import IndexCorruptError

_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHUNK_INTS = ("ordinal", "start", "end", "sent_lo", "sent_hi")


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is(value, kind) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def _need(container: dict, key: str, kind, where: str, *, minimum: int | None = None):
    if key not in container:
        raise IndexCorruptError(f"{where} has no {key!r}")
    value = container[key]
    if not _is(value, kind):
        raise IndexCorruptError(f"{where}: {key!r} should be {kind.__name__}, found "
                                f"{type(value).__name__} {str(value)[:40]!r}")
    if minimum is not None and value < minimum:
        raise IndexCorruptError(f"{where}: {key!r} is {value}, should be at least {minimum}")
    return value


def check_manifest(m: dict) -> None:
    """Raise IndexCorruptError unless m (format already checked) has the documented shape."""
    w = "manifest"
    model = _need(m, "model", str, w)
    _need(m, "dimension", int, w, minimum=1)
    settings = _need(m, "settings", dict, w)
    if settings.get("model") != model:
        raise IndexCorruptError(f"manifest model {model!r} but settings model {settings.get('model')!r}")
    for key in ("corpus", "built_at"):
        if key in m:
            _need(m, key, str, w)
    if "build_seconds" in m:
        _need(m, "build_seconds", float, w)
    if "retrieval" in m:
        weights = _need(_need(m, "retrieval", dict, w), "fusion_weights", list, "manifest retrieval")
        if len(weights) != 4 or not all(_is(x, float) for x in weights):
            raise IndexCorruptError(f"manifest retrieval: fusion_weights should be 4 numbers, found {weights!r}")
    counts = _need(m, "counts", dict, w)
    for key in ("documents", "chunks", "sentences"):
        _need(counts, key, int, "manifest counts", minimum=0)
    segs = _need(m, "segments", dict, w)
    for name, info in segs.items():
        _check_segment(name, info)
    docs = _need(m, "documents", list, w)
    ids = set()
    for n, d in enumerate(docs):
        # the usual entry passes in one test (the exact types JSON gives); any other goes through
        # the checks below, one by one, which accept it or name what is wrong
        if (type(d) is dict and type(d.get("id")) is str and type(d.get("title")) is str
                and type(d.get("sha256")) is str and type(d.get("segment")) is str and d["segment"] in segs
                and type(d.get("chunks")) is int and d["chunks"] >= 0
                and type(d.get("sentences")) is int and d["sentences"] >= 0
                and type(d.get("pending", False)) is bool and d["id"] not in ids):
            ids.add(d["id"])
            continue
        where = f"manifest document {n}"
        if not isinstance(d, dict):
            raise IndexCorruptError(f"{where} should be an object, found {type(d).__name__}")
        for key in ("id", "title", "sha256", "segment"):
            _need(d, key, str, where)
        if d["segment"] not in segs:
            raise IndexCorruptError(f"{where}: segment {d['segment']!r} is not listed in manifest segments")
        for key in ("chunks", "sentences"):
            _need(d, key, int, where, minimum=0)
        if not isinstance(d.get("pending", False), bool):   # vectors not computed yet (a progressive build)
            raise IndexCorruptError(f"{where}: pending should be true or false, found {d['pending']!r}")
        if d["id"] in ids:
            raise IndexCorruptError(f"{where}: id {d['id']!r} is listed twice")
        ids.add(d["id"])
    for key in ("documents", "chunks", "sentences"):
        listed = len(docs) if key == "documents" else sum(d[key] for d in docs)
        if listed != counts[key]:
            raise IndexCorruptError(f"manifest documents hold {listed} {key}, counts say {counts[key]}")
    per_segment = m.get("format_version") != 5   # format 6: BM25 postings live in the segments
    if "bm25" in m:
        bm25 = _need(m, "bm25", dict, w)
        for key in ("rows",) if per_segment else ("rows", "vocabulary"):
            _need(bm25, key, int, "manifest bm25", minimum=0)
        doc_bm25 = _need(bm25, "documents", dict, "manifest bm25")
        for key in ("rows",) if per_segment else ("rows", "vocabulary"):
            _need(doc_bm25, key, int, "manifest bm25 documents", minimum=0)
        if per_segment and (bm25["rows"], doc_bm25["rows"]) != (counts["chunks"], counts["documents"]):
            raise IndexCorruptError(f"manifest bm25 rows {bm25['rows']} and {doc_bm25['rows']}, counts say "
                                    f"{counts['chunks']} and {counts['documents']}")
    files = _need(m, "files", dict, w)
    _check_digests(files, "manifest files")
    if "bm25" in m and not per_segment:
        missing = [d + "/" for d in ("bm25", "bm25_docs") if not any(f.startswith(d + "/") for f in files)]
        if missing:
            raise IndexCorruptError(f"manifest files lists no {', '.join(missing)}")


def _check_segment(name, info) -> None:
    from rag.storage.layout import ANN_FILE, ANN_KIND, SEGMENT_FILES, SEGMENT_FILES_V5, SEGMENT_RE

    where = f"manifest segment {name!r}"
    if not SEGMENT_RE.fullmatch(name):
        raise IndexCorruptError(f"{where} is not a segment name")
    if not isinstance(info, dict):
        raise IndexCorruptError(f"{where} should be an object, found {type(info).__name__}")
    for key in ("documents", "chunks", "sentences"):
        _need(info, key, int, where, minimum=0)
    files = _need(info, "files", dict, where)
    FILES = SEGMENT_FILES_V5 if "chunks.jsonl" in files else SEGMENT_FILES   # format 5 or 6 segment
    expected = sorted(FILES + ((ANN_FILE,) if "ann" in info else ()))
    if sorted(files) != expected:
        raise IndexCorruptError(f"{where} lists files {sorted(files)}, expected {expected}")
    if "ann" in info:
        params = _need(info, "ann", dict, where)
        if params.get("kind") != ANN_KIND:
            raise IndexCorruptError(f"{where}: ann kind should be {ANN_KIND!r}, found {params.get('kind')!r}")
        for key in ("nlist", "nprobe"):
            _need(params, key, int, f"{where} ann", minimum=1)
    _check_digests(files, where)


def _check_digests(files: dict, where: str) -> None:
    for rel, digest in files.items():
        parts = PurePosixPath(rel).parts
        if not parts or rel.startswith("/") or ".." in parts or "\\" in rel:
            raise IndexCorruptError(f"{where}: {rel!r} is not a path inside the index")
        if not (isinstance(digest, str) and _HEX64.fullmatch(digest)):
            raise IndexCorruptError(f"{where}: checksum of {rel!r} is not a sha256 hex digest")


def stamp(path: Path, digest: str) -> list:
    """What says a file is unchanged since it was hashed: inode, size, mtime and ctime (which no
    user can set back), and the sha256 it had."""
    st = os.stat(path)
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest]


def check_files(folder: Path, files: dict, stamps: dict | None = None) -> None:
    """Raise IndexCorruptError unless every listed file exists with its recorded sha256.

    stamps (a writer's, rag.storage.writer): str(path) -> stamp of a file hashed earlier; a file
    whose stamp still matches, with the same expected sha256, is not hashed again (updated in
    place with every file verified). FileNotFoundError passes through: the folder may have been
    removed by a writer while it was read (rag.storage.writer retries then)."""
    from concurrent.futures import ThreadPoolExecutor

    if stamps is not None:
        todo = {}
        for rel, digest in files.items():
            key = str(folder / rel)
            if stamps.get(key) != stamp(folder / rel, digest):
                todo[rel] = digest
        _hash_all(folder, todo)
        stamps.update({str(folder / rel): stamp(folder / rel, digest) for rel, digest in files.items()})
        return
    _hash_all(folder, files)


def _hash_all(folder: Path, files: dict) -> None:
    from concurrent.futures import ThreadPoolExecutor

    items = sorted(files.items(), key=lambda kv: -_size(folder / kv[0]))   # largest first
    if not items:
        return
    workers = min(len(items), os.cpu_count() or 1, 4)
    if workers > 1:   # hashlib releases the GIL on large buffers: the files hash in parallel
        with ThreadPoolExecutor(workers) as pool:
            digests = list(pool.map(lambda kv: sha256_file(folder / kv[0]), items))
    else:
        digests = [sha256_file(folder / rel) for rel, _ in items]
    for (rel, digest), got in zip(items, digests):
        if got != digest:
            raise IndexCorruptError(f"{rel} was changed after the index was built (sha256 mismatch)")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def check_chunks(chunks: list, doc_ids: set) -> None:
    """Raise IndexCorruptError unless every chunk record has the fields rag.retrieve.retriever reads."""
    for n, c in enumerate(chunks):
        where = f"chunks.jsonl record {n}"
        if not isinstance(c, dict):
            raise IndexCorruptError(f"{where} should be an object, found {type(c).__name__}")
        _need(c, "doc", str, where)
        _need(c, "text", str, where)
        for key in _CHUNK_INTS:
            _need(c, key, int, where, minimum=0)
        if c["doc"] not in doc_ids:
            raise IndexCorruptError(f"{where}: document {c['doc']!r} is not in the manifest")


def corpus_hint(manifest, index_dir: Path, corpus=None):
    """The corpus a rebuild command should name: the manifest's if readable (for a
    format-2 folder, its old manifest's), else the configured corpus (None: unknown)."""
    if not isinstance(manifest, dict):
        try:   # an old-layout index keeps its manifest right in the folder
            manifest = json.loads((Path(index_dir) / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = None
    if isinstance(manifest, dict) and isinstance(manifest.get("corpus"), str):
        return manifest["corpus"]
    return corpus


def rebuild_hint(index_dir: Path, corpus=None, settings: dict | None = None, *, rebuild: bool = True) -> str:
    """'rebuild it with: rag index CORPUS --index INDEX [--model M] [--backend B] --rebuild', shell-quoted."""
    from rag.config import DEFAULT_BACKEND, DEFAULT_MODEL

    args = ["rag", "index", str(corpus) if corpus else "CORPUS", "--index", str(index_dir)]
    model, backend = (settings or {}).get("model"), (settings or {}).get("backend")
    if isinstance(model, str) and model != DEFAULT_MODEL:
        args += ["--model", model]
    if isinstance(backend, str) and backend != DEFAULT_BACKEND:
        args += ["--backend", backend]
    command = shlex.join(args + (["--rebuild"] if rebuild else []))
    return f"rebuild it with: {command}" if rebuild else command
