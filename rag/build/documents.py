"""Documents of an index: list them and the skipped files, view one, add (upload) and remove.

``Rag.documents/skipped/document/add_files/remove_document`` call these. The
list comes from the current version's manifest (rag.build.builder records kind, size,
indexed_at and page starts per document, and the files skipped with reasons).
Uploads are checked before anything is written: the name is made safe
(``safe_upload_name``: the last path part only, no control characters, hidden,
reserved or over-long names), the type must be in Config.upload_types and the
size under Config.upload_max_mb, and the content must convert to text. Accepted
files are staged in the index folder (rag.build.corpus_state), never in the corpus, and
indexed from there under the id ``uploads/NAME`` (a different file of the same name
gets " (2)") by an incremental refresh (rag.build.builder) under the index's writer lock,
held from before the first file is written; only once that version is current are
they moved into ``CORPUS/uploads/`` and recorded as uploads. A failed upload
leaves the corpus and the index as they were; a killed one leaves the index as
before or as after and no file in the corpus that the index does not know (the
next writer moves in or deletes, with a warning, what it left staged). Questions asked meanwhile are answered
from the previous version until the new one is swapped in (rag.storage.live).

``background=True`` (the page and the HTTP API): the same build, progressive (rag.build.builder), in a thread
that holds the writer locks; the call returns once the version holding the uploads ``pending`` is current
(they are moved into the corpus then: the index knows them) and the thread fills in their vectors. Any later
writer of this process (``_write``: an upload, a removal, ``refresh``) stops that thread after the batch under
way and its own build embeds what is pending, the uploads' converted text kept in memory (``_PARSED``) so
they are chunked again, not converted again. ``vectors=False``: answerable, no thread; the next writer embeds.

Removing takes a document out of the index and records it as excluded, so later
refreshes leave it out; its file is kept. Only an upload the application stored
is deleted, and only when asked (``delete_upload``). Giving ``add_files`` the path
of an excluded corpus file includes it again. The corpus is the folder the index
was built from when its manifest names an existing absolute one, else
Config.corpus_dir. Does not handle uploads into sub-folders, renames, or documents
whose source file lies outside the corpus folder.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from rag.build import corpus_state
from rag.build.builder import BuildStopped, build_index
from rag.build.progress import Silent
from rag.errors import CorpusError, DocumentError
from rag.ingest.read import parse_document, read_bounded
from rag.ingest.walk import safe_text
from rag.storage import writer as store
from rag.storage.lock import IndexLock

UPLOADS = "uploads"   # the corpus sub-folder uploads are stored in
MAX_NAME = 120        # characters of a stored file name, extension included
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
log = logging.getLogger("rag")
_WRITERS: dict[str, threading.Lock] = {}   # one writer per index in this process; others wait
_WRITERS_LOCK = threading.Lock()


@dataclass(frozen=True)
class DocumentInfo:
    id: str            # the document id in the index (path relative to the corpus folder)
    title: str
    kind: str          # file type, lower-case extension without dot: "pdf", "docx", "md", ...
    size: int          # bytes of the source file when indexed
    indexed_at: str    # ISO-8601 UTC time the document's current content was indexed
    chunks: int
    pages: int | None  # page count for paged formats (pdf, pptx slides), else None


@dataclass(frozen=True)
class SkippedFile:
    path: str          # relative to the corpus folder
    reason: str        # one line


@dataclass(frozen=True)
class AddResult:
    added: list[str]            # document ids now indexed (new or replaced)
    skipped: list[SkippedFile]  # uploaded files refused or not indexable, with the reason


@dataclass(frozen=True)
class DocumentView:
    info: DocumentInfo
    text: str                   # the document's whole indexed text (as chunk offsets refer to it)
    passages: list              # rag.retrieve.retriever.Passage of every chunk in order


def _info(d: dict, built_at: str) -> DocumentInfo:
    starts = d.get("page_starts") or None
    return DocumentInfo(d["id"], d["title"], d.get("kind") or PurePosixPath(d["id"]).suffix.lower().lstrip("."),
                        int(d.get("size", 0)), d.get("indexed_at") or built_at, int(d["chunks"]),
                        len(starts) if starts else None)


def documents(rag) -> list[DocumentInfo]:
    m = rag.retriever.manifest
    return [_info(d, m.get("built_at", "")) for d in m["documents"]]


def skipped(rag) -> list[SkippedFile]:
    return [SkippedFile(s["path"], s["reason"]) for s in rag.retriever.manifest.get("skipped", [])]


def document(rag, doc_id: str) -> DocumentView:
    retriever = rag.retriever   # one version for the whole view
    m = retriever.manifest
    meta = next((d for d in m["documents"] if d["id"] == doc_id), None)
    if meta is None:
        raise DocumentError(f"no document {safe_text(str(doc_id))!r} in the index")
    passages = retriever.document_passages(doc_id)
    return DocumentView(_info(meta, m.get("built_at", "")), _text(passages), passages)


def _text(passages) -> str:
    """The document text the chunk offsets refer to, laid out from its (overlapping) chunks;
    the whitespace between chunks, which chunking drops, becomes a space (one character) or a
    blank line (two or more), so a paragraph break at a chunk boundary is kept."""
    out, pos = [], 0
    for p in sorted(passages, key=lambda p: p.start):
        if p.end <= pos:
            continue
        if p.start > pos:
            gap = p.start - pos   # a gap of two or more (a paragraph break, mostly) stays a paragraph break
            out.append(" " if gap == 1 else "\n\n" + " " * (gap - 2))
        out.append(p.text[max(0, pos - p.start):])
        pos = p.end
    return "".join(out)


# ---------------------------------------------------------------- names

def safe_upload_name(name: str) -> str:
    """The file name an upload is stored under; ValueError when nothing usable is left.

    Only the last part of a path counts (either separator, a Windows drive too); control
    characters are dropped, characters other than letters, digits, space and -_.,()+&@
    become "_"; leading dots and spaces (hidden files) and trailing dots and spaces go; a
    reserved Windows device name gets a "_" prefix; the stem is cut so the name has at
    most MAX_NAME characters. The extension is lower-cased."""
    if not isinstance(name, str):
        raise ValueError("file name is not text")
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = re.sub(r"^[A-Za-z]:", "", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"[^\w\s\-.,()+&@]", "_", name)
    name = " ".join(name.split()).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem, ext = stem.strip(" ."), ext.lower()
    if not stem or stem.strip("_") == "":
        raise ValueError("no usable file name")
    if stem.split(".")[0].lower() in _RESERVED:
        stem = "_" + stem
    if not ext:
        raise ValueError(f"no file extension in {stem!r}; cannot tell its type")
    stem = stem[:max(1, MAX_NAME - len(ext) - 1)].rstrip(" .") or "_"
    return f"{stem}.{ext}"


def _mb(n: float) -> str:
    """Bytes as MB for a message: "31.2", "20", "0.005"."""
    mb = n / 1_000_000
    return f"{mb:.1f}".removesuffix(".0") if mb >= 0.1 else f"{mb:.3g}"


def _take(item, limit: int) -> tuple[str, bytes]:
    """(name, bytes) of one upload: a (name, data) pair or a path to read (at most limit bytes)."""
    if isinstance(item, (tuple, list)) and len(item) == 2:
        name, data = item
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ValueError("upload content is not bytes")
        return str(name), bytes(data)
    if isinstance(item, (str, os.PathLike)):
        try:
            data = read_bounded(Path(item), limit)
        except ValueError as exc:
            if str(exc).startswith("too large"):
                size = os.stat(item).st_size
                raise ValueError(f"too large ({_mb(size)} MB > {_mb(limit)} MB)") from None
            raise
        return Path(item).name, data
    raise ValueError(f"cannot upload a {type(item).__name__}: give (name, bytes) or a path")


def _shown(item) -> str:
    raw = item[0] if isinstance(item, (tuple, list)) and item else item
    return safe_text(re.split(r"[/\\]", str(raw))[-1])[:MAX_NAME] or "(unnamed)"


# ---------------------------------------------------------------- writing

def _corpus(rag) -> Path:
    """The folder the index was built from (see the module docstring)."""
    named = rag.retriever.manifest.get("corpus")
    if isinstance(named, str) and os.path.isabs(named) and os.path.isdir(named):
        return Path(named)
    if not rag.config.corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {safe_text(str(rag.config.corpus_dir))}")
    return rag.config.corpus_dir


def _writer(index_dir: Path) -> threading.Lock:
    with _WRITERS_LOCK:
        return _WRITERS.setdefault(os.path.realpath(index_dir), threading.Lock())


class _Callback(Silent):
    """A rag.build.progress.Progress that reports (phase, done, total) to a function."""

    def __init__(self, report):
        super().__init__()
        self.report = report

    def phase(self, name, total=None, unit=""):
        super().phase(name, total, unit)
        self.report(name, 0, total or 0)

    def advance(self, n=1):
        super().advance(n)
        if self.name is not None:
            self.report(self.name, self.done, self.total or 0)


def _free_name(folder: Path, name: str, data: bytes, taken: set) -> tuple[str, bool]:
    """(name to store data under, whether that file already holds exactly data)."""
    stem, ext = name.rsplit(".", 1)
    for n in range(1, 10_000):
        candidate = name if n == 1 else f"{stem[:MAX_NAME - len(ext) - 8]} ({n}).{ext}"
        if candidate in taken:
            continue
        path = folder / candidate
        if not os.path.lexists(path):
            return candidate, False
        if path.is_file() and not path.is_symlink() and path.stat().st_size == len(data) \
                and path.read_bytes() == data:
            return candidate, True
    raise ValueError("too many files of this name")


def _reinclude(rag, files) -> tuple[list, list[str]]:
    """(items still to upload, ids of removed corpus documents to include again): a path given
    that lies in the corpus and names an excluded document is included again, not copied."""
    excluded = set(corpus_state.load(rag.config.index_dir).excluded)
    if not excluded:
        return list(files), []
    try:
        root = os.path.realpath(_corpus(rag))
    except CorpusError:
        return list(files), []
    rest, back = [], []
    for item in files:
        if isinstance(item, (str, os.PathLike)):
            rel = os.path.relpath(os.path.realpath(item), root)
            doc_id = safe_text(rel.replace(os.sep, "/"))
            if not rel.startswith("..") and doc_id in excluded:
                back.append(doc_id)
                continue
        rest.append(item)
    return rest, back


def add_files(rag, files, *, progress=None, background: bool = False, vectors: bool = True) -> "AddResult":
    config = rag.config
    files, back = _reinclude(rag, files)
    limit = int(config.upload_max_mb * 1_000_000)
    read_limit = min(limit, int(config.max_file_mb * 1_000_000))
    refused, accepted = [], []
    for item in files:
        try:
            name, data = _take(item, limit)
            name = safe_upload_name(name)
            kind = name.rsplit(".", 1)[1]
            if kind not in config.upload_types:
                raise ValueError(f"file type .{kind} is not accepted (accepted: {', '.join(config.upload_types)})")
            if len(data) > read_limit:
                raise ValueError(f"too large ({_mb(len(data))} MB > {_mb(read_limit)} MB)")
            accepted.append((name, data))
        except (ValueError, OSError) as exc:
            refused.append(SkippedFile(_shown(item), " ".join(str(exc).split())))
    if not accepted and not back:
        return AddResult([], refused)
    corpus = _corpus(rag)
    folder = corpus / UPLOADS
    build_config = replace(config, corpus_dir=corpus)
    index_dir = config.index_dir

    def job(answer, stop) -> None:   # under the writer locks; answer(AddResult) once it is current
        if accepted and (folder.is_symlink() or (os.path.lexists(folder) and not folder.is_dir())):
            raise CorpusError(f"{safe_text(str(folder))} is not a folder; uploads cannot be stored")
        build_index_recover(build_config)   # what a killed upload left staged, before names are chosen
        state = corpus_state.load(index_dir)
        before = corpus_state.State(list(state.excluded), list(state.uploads))
        staged, ids, docs, taken = [], [], [], set()
        done = []

        def publish(skipped) -> None:
            """The version that knows the uploads is current: move them into the corpus (a refused
            one is dropped) and answer."""
            if done:
                return
            failed = {s["path"]: s["reason"] for s in skipped if s["path"] in ids}
            for path, doc_id in staged:
                if doc_id in failed:
                    corpus_state.discard(path)
            corpus_state.publish(index_dir, corpus, [(p, i) for p, i in staged if i not in failed], state)
            done.append(True)
            answer(AddResult([i for i in ids if i not in failed],
                             refused + [SkippedFile(i, failed[i]) for i in ids if i in failed]))

        try:
            for name, data in accepted:
                stored, same = _free_name(folder, name, data, taken)
                doc_id = f"{UPLOADS}/{stored}"
                try:
                    doc = parse_document(data, doc_id)   # converts once; the refresh reuses it
                except ValueError as exc:
                    refused.append(SkippedFile(name, " ".join(str(exc).split())))
                    continue
                taken.add(stored)
                if not same:   # indexed from the staging folder; moved into the corpus once indexed
                    staged.append((corpus_state.stage(index_dir, stored, data), doc_id))
                ids.append(doc_id)
                docs.append(doc)
            ids += back
            if not ids:
                done.append(True)
                answer(AddResult([], refused))
                return
            if back or any(i in state.excluded for i in ids):
                state.excluded = sorted(set(state.excluded) - set(ids))
                corpus_state.save(index_dir, state)
            key = os.path.realpath(index_dir)
            parsed = _PARSED.setdefault(key, {})
            parsed.update({d.id: d for d in docs})   # converted once, even if chunked again while pending
            report = build_index(build_config, embedder=rag.embedder, preread=list(parsed.values()), staged=staged,
                                 progress=_Callback(progress) if progress else False,
                                 progressive=stop is not None, stop=stop,
                                 on_lexical=lambda counts: publish(store.read_manifest(index_dir).get("skipped")
                                                                   or []))
        except BaseException:
            if not done:
                for path, _ in staged:
                    corpus_state.discard(path)
                if before.excluded != state.excluded:
                    corpus_state.save(index_dir, before)
            raise
        publish([{"path": s.path, "reason": s.reason} for s in report.skipped])

    return _write(index_dir, job, background, vectors)


def refresh(rag, *, background: bool = False):
    """Index what changed in the corpus folder and compute the vectors still pending (as ``rag index``,
    under this process's writer lock: it stops a background writer of the index first); the BuildReport,
    or with background (see _write) None once the version answerable by keywords is current."""
    config = replace(rag.config, corpus_dir=_corpus(rag))

    def job(answer, stop) -> None:
        answered = []

        def lexical(counts):
            answered.append(True)
            answer(None)
        report = build_index(config, embedder=rag.embedder, progress=False, preread=_parsed(config.index_dir),
                             progressive=stop is not None, stop=stop, on_lexical=lexical)
        if not answered:
            answer(report)

    return _write(config.index_dir, job, background)


class _Fill:
    """A writer of an index running in a thread of this process (_write's background): its documents
    answerable, their vectors being computed. stop: set to make it stop after the batch under way."""

    def __init__(self):
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None


_FILLS: dict[str, _Fill] = {}   # index folder -> its background writer in this process
_PARSED: dict[str, dict] = {}   # index folder -> doc id -> Document of an upload whose vectors may be pending


def _parsed(index_dir) -> list:
    """The converted uploads of index_dir whose vectors may be pending (used when their file is unchanged)."""
    return list(_PARSED.get(os.path.realpath(index_dir), {}).values())


def _write(index_dir: Path, job, background: bool, vectors: bool = True):
    """Run job(answer, stop) holding index_dir's writer locks (this process's and the IndexLock) and
    return what it answers. A background writer of the same index in this process is asked to stop
    first (after the batch of vectors under way; what it left pending is embedded by this job's build).

    background False: job runs here with stop None (its build writes one version at the end).
    background True: job runs in a thread that keeps the locks until its build ends, with a stop
    event (its build progressive: rag.build.builder); this returns as soon as job answers, i.e. once
    the version that holds the change is current and answerable by keywords, or raises what job
    raised before it answered. An error after that (computing the vectors) is logged; the index is
    then left whole with documents pending, and the next build embeds them.
    vectors False: job runs here with a stop already set (its build returns once the version answerable
    by keywords is current; the vectors are left pending for the next writer)."""
    key = os.path.realpath(index_dir)
    writer = _writer(index_dir)
    while not writer.acquire(timeout=0.05):
        fill = _FILLS.get(key)
        if fill is not None:
            fill.stop.set()
    try:
        lock = IndexLock(index_dir).acquire()
    except BaseException:
        writer.release()
        raise
    if not background or not vectors:
        box, stop = {}, None
        if not vectors:
            stop = threading.Event()
            stop.set()
        try:
            job(lambda value: box.setdefault("value", value), stop)
            if vectors:   # every vector in: the uploads' parsed text is no longer needed
                _PARSED.pop(key, None)
        except BuildStopped:
            pass   # answerable by keywords; vectors left pending
        finally:
            lock.release()
            writer.release()
        return box["value"]
    fill, box, ready = _Fill(), {}, threading.Event()

    def answer(value):
        box["value"] = value
        ready.set()

    def run():
        try:
            job(answer, fill.stop)
        except BuildStopped:
            log.info("%s: computing vectors stopped for the next change; it embeds what is pending",
                     safe_text(str(index_dir)))
        except BaseException as exc:   # noqa: BLE001 - told to the caller, or logged once answered
            if ready.is_set():
                log.warning("computing the vectors of %s stopped: %s (the next change or refresh embeds "
                            "what is pending)", safe_text(str(index_dir)), exc)
            else:
                box["error"] = exc
        else:   # every vector in: the uploads' parsed text is no longer needed
            _PARSED.pop(key, None)
        finally:
            if _FILLS.get(key) is fill:
                del _FILLS[key]
            lock.release()
            writer.release()
            ready.set()

    _FILLS[key] = fill
    fill.thread = threading.Thread(target=run, name="rag-fill", daemon=True)
    try:
        fill.thread.start()
    except BaseException:
        del _FILLS[key]
        lock.release()
        writer.release()
        raise
    ready.wait()
    if "error" in box:
        raise box["error"]
    return box["value"]


def filling(index_dir) -> bool:
    """Whether a background writer of index_dir runs in this process (its vectors being computed)."""
    fill = _FILLS.get(os.path.realpath(index_dir))
    return fill is not None and fill.thread is not None and fill.thread.is_alive()


def wait(index_dir, timeout: float | None = None) -> bool:
    """Wait for the background writer of index_dir in this process, if any, to end; whether none runs."""
    fill = _FILLS.get(os.path.realpath(index_dir))
    if fill is not None and fill.thread is not None:
        fill.thread.join(timeout)
    return not filling(index_dir)


def build_index_recover(config) -> None:
    from rag.build.builder import _recover_uploads
    _recover_uploads(config)


@dataclass(frozen=True)
class RemoveResult:
    removed: str             # the document id, no longer in the index
    file_deleted: bool       # True only for an uploaded copy deleted on request
    message: str             # one line for the person


def is_upload(rag, doc_id: str) -> bool:
    """Whether doc_id's file was stored by the application (an upload), so it may be deleted on request."""
    return doc_id in corpus_state.load(rag.config.index_dir).uploads


def remove_document(rag, doc_id: str, *, delete_upload: bool = False, background: bool = False) -> RemoveResult:
    """Take doc_id out of the index and keep it out of later refreshes. Its file is never
    deleted, except an upload the application stored, and then only when delete_upload.
    background: as add_files' (returns once the version without it is current; documents left
    pending by a stopped background writer get their vectors after)."""
    if not any(d["id"] == doc_id for d in rag.retriever.manifest["documents"]):
        raise DocumentError(f"no document {safe_text(str(doc_id))!r} in the index")
    corpus = _corpus(rag)
    parts = PurePosixPath(doc_id).parts
    if not parts or PurePosixPath(doc_id).is_absolute() or any(p in ("..", ".", "") for p in parts):
        raise DocumentError(f"document id {safe_text(doc_id)!r} does not name a file in the corpus")
    path = corpus.joinpath(*parts)
    index_dir = rag.config.index_dir
    shown = safe_text(doc_id)

    def job(answer, stop) -> None:
        state = corpus_state.load(index_dir)
        before = corpus_state.State(list(state.excluded), list(state.uploads))
        delete = delete_upload and doc_id in state.uploads and os.path.lexists(path)
        state.excluded = sorted(set(state.excluded) | {doc_id})
        corpus_state.save(index_dir, state)
        done = []

        def finish() -> None:   # the version without it is current
            if done:
                return
            done.append(True)
            if delete:   # an upload the application stored, and asked for in words: its copy goes
                path.unlink(missing_ok=True)
                state.uploads = sorted(set(state.uploads) - {doc_id})
                state.excluded = sorted(set(state.excluded) - {doc_id})   # nothing left to keep out
                corpus_state.save(index_dir, state)
                answer(RemoveResult(doc_id, True, f"removed {shown} from the index and deleted the uploaded copy"))
                return
            why = " (it is not an upload stored by rag)" if delete_upload else ""
            answer(RemoveResult(doc_id, False, f"removed {shown} from the index; the file in your folder is kept{why}"))

        try:   # the exclusion takes it out; the file is not needed gone for that
            build_index(replace(rag.config, corpus_dir=corpus), embedder=rag.embedder, progress=False,
                        preread=_parsed(index_dir), progressive=stop is not None, stop=stop,
                        on_lexical=lambda counts: finish())
        except BaseException:
            if not done:
                corpus_state.save(index_dir, before)
            raise
        finish()

    return _write(index_dir, job, background)
