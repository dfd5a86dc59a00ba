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
``build_background`` (`rag serve` over a folder with no index) is such a writer too.

``queue=True`` (the page and the HTTP API): the files are checked, then put in this process's upload queue of
the index (``enqueue``, at most QUEUE_FILES files and QUEUE_MB) and an ``Upload`` returned at once; one thread
per index indexes them one call at a time, in order, as with ``background=True``, when this process's writer is
free (a background writer answerable is stopped and taken over, as above) and no other program holds the
IndexLock (tried again every RETRY_S for OTHER_WRITER_WAIT_S). The Upload says what it waits for, then
"indexing", then its AddResult or error. A queued upload's files are written to ``INDEX/queued/`` before the
Upload is returned and read back when it is indexed (rag.build.corpus_state.queue_save), and deleted there once
it has an outcome; a server stopped or killed before then leaves them, and ``resume`` (the next ``rag serve``)
queues them again.

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
import time
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from rag.build import corpus_state
from rag.build.builder import BuildStopped, build_index
from rag.build.progress import Silent
from rag.errors import CorpusError, DocumentError, IndexLockedError, QueueFullError, RagError
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


def add_files(rag, files, *, progress=None, background: bool = False, vectors: bool = True,
              queue: bool = False):
    """Rag.add_files (see the module docstring): the AddResult, or with queue the Upload (see enqueue)."""
    accepted, refused, back = _check(rag, files)
    if queue:
        return enqueue(rag, accepted, refused, back, progress=progress, vectors=vectors)
    return _index(rag, accepted, refused, back, progress=progress, background=background, vectors=vectors)


def _check(rag, files) -> tuple[list, list, list]:
    """(accepted (name, bytes), refused SkippedFile, removed corpus documents to include again): the checks
    made before anything is written or queued (name, type, size)."""
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
    return accepted, refused, back


def _index(rag, accepted, refused, back, *, progress=None, background: bool = False, vectors: bool = True,
           on_wait=None, on_start=None) -> "AddResult":
    """Index the checked uploads (add_files); on_wait/on_start: as _write's."""
    config = rag.config
    refused = list(refused)
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

    return _write(index_dir, job, background, vectors, what="an upload", on_wait=on_wait,
                  on_start=on_start)


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
    answerable, their vectors being computed. stop: set to make it stop after the batch under way (or,
    asked before it is answerable, once it is). what: what it is, for whoever waits ("the index build")."""

    def __init__(self, what: str = "a change"):
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.what = what
        self.answered = False


_FILLS: dict[str, _Fill] = {}   # index folder -> its background writer in this process
_PARSED: dict[str, dict] = {}   # index folder -> doc id -> Document of an upload whose vectors may be pending
OTHER_WRITER_WAIT_S = 600.0     # how long a queued upload waits for another program's writer before failing
RETRY_S = 0.5                   # how often it tries that program's lock again


def _parsed(index_dir) -> list:
    """The converted uploads of index_dir whose vectors may be pending (used when their file is unchanged)."""
    return list(_PARSED.get(os.path.realpath(index_dir), {}).values())


def _locks(index_dir: Path, on_wait=None):
    """(this process's writer lock, the IndexLock), both held. A background writer of the same index in this
    process is asked to stop first (after the batch of vectors under way, or once it is answerable). on_wait
    (a queued upload): called with one line when this has to wait, and for what (this process's build or upload
    still reading files or finishing its batch of vectors, or another program: then retried every RETRY_S for up
    to OTHER_WRITER_WAIT_S before its IndexLockedError is raised); without it another program's lock is refused
    at once."""
    key = os.path.realpath(index_dir)
    writer = _writer(index_dir)
    told, since = None, None
    while True:
        if writer.acquire(timeout=0.05):
            try:
                return writer, IndexLock(index_dir).acquire()
            except IndexLockedError:
                writer.release()
                if on_wait is None:
                    raise
                since = since if since is not None else time.monotonic()
                if time.monotonic() - since > OTHER_WRITER_WAIT_S:
                    raise
                why = "another program is updating the index; indexed when it finishes"
                if told != why:
                    on_wait(why)
                    told = why
                time.sleep(RETRY_S)
                continue
            except BaseException:
                writer.release()
                raise
        fill = _FILLS.get(key)
        if fill is not None:
            fill.stop.set()
        if on_wait is not None:
            why = ("waiting for another change to the index; indexed right after" if fill is None else
                   f"waiting for {fill.what} to finish the batch of vectors under way; indexed right after"
                   if fill.answered else f"waiting for {fill.what} to become answerable; indexed right after")
            if told != why:
                on_wait(why)
                told = why


def _write(index_dir: Path, job, background: bool, vectors: bool = True, *, what: str = "a change",
           on_wait=None, on_start=None):
    """Run job(answer, stop) holding index_dir's writer locks (this process's and the IndexLock: _locks, with
    on_wait) and return what it answers; on_start() once the locks are held.

    background False: job runs here with stop None (its build writes one version at the end).
    background True: job runs in a thread that keeps the locks until its build ends, with a stop
    event (its build progressive: rag.build.builder); this returns as soon as job answers, i.e. once
    the version that holds the change is current and answerable by keywords, or raises what job
    raised before it answered. An error after that (computing the vectors) is logged; the index is
    then left whole with documents pending, and the next build embeds them. what: what it is, told
    to a queued upload waiting for it ("the index build").
    vectors False: job runs here with a stop already set (its build returns once the version answerable
    by keywords is current; the vectors are left pending for the next writer)."""
    key = os.path.realpath(index_dir)
    writer, lock = _locks(index_dir, on_wait)
    if on_start is not None:
        on_start()
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
    fill, box, ready = _Fill(what), {}, threading.Event()

    def answer(value):
        box["value"] = value
        fill.answered = True
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


def build_background(config, embedder, *, progress=None) -> threading.Thread | None:
    """Build or refresh config's index progressively as this process's writer of it (`rag serve` over a
    folder with no index, or a partial one): returns once it is answerable (its lexical version current), the
    vectors computed in a thread (returned) that an upload or removal of this process stops and takes over, as
    _write's background. Raises the build's error when it failed before that."""
    def job(answer, stop) -> None:
        answered = []

        def lexical(counts):
            answered.append(True)
            answer(None)
        build_index(config, embedder=embedder, progress=progress, progressive=True, stop=stop, on_lexical=lexical)
        if not answered:
            answer(None)

    _write(config.index_dir, job, True, what="the index build")
    fill = _FILLS.get(os.path.realpath(config.index_dir))
    return fill.thread if fill is not None else None


# ---------------------------------------------------------------- the upload queue

QUEUE_FILES = 32      # files waiting in an index's upload queue in this process, at most
QUEUE_MB = 200.0      # and their bytes (MB of 1,000,000), so a burst of uploads cannot fill the memory
RECENT = 50           # finished uploads remembered (for /api/uploads)


class Upload:
    """One add_files call in this process's upload queue of an index (add_files(queue=True)).

    state: "queued" (waiting: ``waiting`` says for what, ``position`` how many are ahead), "indexing",
    "done" (``result``: the AddResult) or "failed" (``error``: the exception, a RagError's message one line)."""

    def __init__(self, number: int, names: list[str], size: int, queue: "_Queue"):
        self.id, self.names, self.size, self._queue = number, names, size, queue
        self.state, self.waiting = "queued", ""
        self.result: AddResult | None = None
        self.error: BaseException | None = None
        self._changed = threading.Condition()
        self._job = None

    @property
    def position(self) -> int:
        """Uploads ahead of this one in the queue (0 once it runs or has run)."""
        return self._queue.ahead(self)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def _set(self, **changes) -> None:
        with self._changed:
            for k, v in changes.items():
                setattr(self, k, v)
            self._changed.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until it is finished; whether it is."""
        with self._changed:
            return self._changed.wait_for(lambda: self.finished, timeout)

    def settled(self, timeout: float | None = None) -> bool:
        """Wait until it is finished or known to wait for another writer; whether it is finished."""
        with self._changed:
            self._changed.wait_for(lambda: self.finished or (self.state == "queued" and self.waiting), timeout)
            return self.finished

    def outcome(self) -> "AddResult":
        """The AddResult once finished (raises what the upload raised); waits for it."""
        self.wait()
        if self.error is not None:
            raise self.error
        return self.result

    def to_json(self) -> dict:
        out = {"id": self.id, "files": list(self.names), "state": self.state}
        if self.state == "queued":
            out.update(position=self.position, waiting=self.waiting)
        if self.result is not None:
            out.update(added=list(self.result.added),
                       skipped=[{"path": s.path, "reason": s.reason} for s in self.result.skipped])
        if self.error is not None:
            out["error"] = " ".join(str(self.error).split())
        return out


class _Queue:
    """The uploads of one index waiting in this process, run one at a time, in order, by one thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items: list[Upload] = []          # waiting, in order
        self.current: Upload | None = None     # the one running
        self.recent: list[Upload] = []          # finished, newest last (at most RECENT)
        self.thread: threading.Thread | None = None
        self.count = 0
        self.kept: set[Path] = set()            # INDEX/queued/ folders of the uploads queued or running

    def ahead(self, upload: Upload) -> int:
        with self.lock:
            if upload not in self.items:
                return 0
            return self.items.index(upload) + (self.current is not None)

    def all(self) -> list[Upload]:
        with self.lock:
            return self.recent + ([self.current] if self.current else []) + self.items


_QUEUES: dict[str, _Queue] = {}


def _queue_of(index_dir) -> _Queue:
    with _WRITERS_LOCK:
        return _QUEUES.setdefault(os.path.realpath(index_dir), _Queue())


def enqueue(rag, accepted, refused, back, *, progress=None, vectors: bool = True) -> Upload:
    """Queue checked uploads (add_files(queue=True)): an Upload returned at once, indexed as add_files(
    background=True) by the index's queue thread when this process's writer is free (its own build or an earlier
    upload answerable; their vectors are then taken over) and when no other program holds the index's lock
    (retried for OTHER_WRITER_WAIT_S). QueueFullError past QUEUE_FILES files or QUEUE_MB waiting; nothing to index
    (every file refused by the checks): an Upload already done."""
    queue = _queue_of(rag.config.index_dir)
    names = [n for n, _ in accepted] + list(back)
    size = sum(len(d) for _, d in accepted)
    with queue.lock:
        queue.count += 1
        upload = Upload(queue.count, names or [s.path for s in refused], size, queue)
        if not accepted and not back:
            upload._set(state="done", result=AddResult([], list(refused)))
            return upload
        files = sum(len(u.names) for u in queue.items) + len(names)
        held = sum(u.size for u in queue.items) + size
        if files > QUEUE_FILES or held > QUEUE_MB * 1_000_000:
            raise QueueFullError(
                f"upload queue full: {len(queue.items)} upload(s) of {files - len(names)} file(s), "
                f"{_mb(held - size)} MB, are waiting to be indexed (at most {QUEUE_FILES} files, {_mb(QUEUE_MB * 1e6)}"
                " MB); try again when they are in")
        try:   # on disk before it is reported queued: a server stopped now finds it again (resume)
            kept = corpus_state.queue_save(rag.config.index_dir, accepted, back)
        except OSError as exc:
            raise RagError(f"{safe_text(str(rag.config.index_dir))}: cannot keep the upload until it is indexed "
                           f"({' '.join(str(exc).split())})") from None
        _add(queue, upload, (rag, kept, refused, progress, vectors))
    return upload


def _add(queue: "_Queue", upload: Upload, job) -> None:
    """Append upload (its job: rag, QueuedUpload, refused, progress, vectors) to queue and start its thread
    if none runs (call under queue.lock)."""
    busy = queue.current is not None or bool(queue.items)
    upload._job = job
    queue.kept.add(job[1].path)
    queue.items.append(upload)
    if busy:
        ahead = queue.items.index(upload) + (queue.current is not None)
        upload.waiting = f"{ahead} upload(s) ahead; indexed after them"
    if queue.thread is None:
        queue.thread = threading.Thread(target=_drain, args=(queue,), name="rag-uploads", daemon=True)
        queue.thread.start()


def resume(rag) -> list[Upload]:
    """Queue again the uploads a stopped or killed server left in INDEX/queued/ (``rag serve`` calls it when it
    starts), oldest first, whatever the queue's cap (they were accepted); the Uploads, [] when none was left.
    One already queued in this process is not queued twice."""
    queue = _queue_of(rag.config.index_dir)
    out = []
    for kept in corpus_state.queued_uploads(rag.config.index_dir):
        with queue.lock:
            if kept.path in queue.kept:
                continue
            queue.count += 1
            upload = Upload(queue.count, list(kept.names or kept.back), 0, queue)
            _add(queue, upload, (rag, kept, [], None, True))
        out.append(upload)
    return out


def _drain(queue: _Queue) -> None:
    """The queue thread: run the waiting uploads one by one; ends when none is left."""
    while True:
        with queue.lock:
            if not queue.items:
                queue.thread = None
                return
            upload = queue.current = queue.items.pop(0)
        rag, kept, refused, progress, vectors = upload._job
        upload._job = None
        read = False
        try:
            accepted, more, back = _kept_files(rag, kept)
            read = True
            result = _index(rag, accepted, refused + more, back, progress=progress, background=True,
                            vectors=vectors, on_wait=lambda why: upload._set(waiting=why),
                            on_start=lambda: upload._set(state="indexing", waiting=""))
            outcome = {"state": "done", "result": result}
        except BaseException as exc:   # noqa: BLE001 - the upload's caller gets it
            if not isinstance(exc, RagError):
                log.exception("upload of %s failed", ", ".join(upload.names))
            outcome = {"state": "failed", "error": exc}
        accepted = rag = None
        try:   # it has its outcome: its copy goes before it is reported (one that could not be read back stays)
            if read:
                corpus_state.queue_drop(kept)
        except OSError as exc:   # left there: the next server queues it again, which adds nothing twice
            log.warning("%s: cannot delete the queued copy (%s)", safe_text(str(kept.path)), exc)
        with queue.lock:
            queue.kept.discard(kept.path)
            queue.current = None
            queue.recent = (queue.recent + [upload])[-RECENT:]
        upload._set(**outcome)


def _kept_files(rag, kept) -> tuple[list, list, list]:
    """(accepted (name, bytes), refused, removed documents to include again) of a queued upload kept on disk,
    checked again as add_files checks an upload (a kept file changed or gone: refused, naming it)."""
    try:
        files = kept.files(int(rag.config.upload_max_mb * 1_000_000) + 1)
    except (OSError, ValueError) as exc:
        raise RagError(f"{safe_text(str(kept.path))}: the queued upload cannot be read back "
                       f"({' '.join(str(exc).split())})") from None
    accepted, refused, back = _check(rag, files)
    return accepted, refused, sorted(set(back) | set(kept.back))


def uploads(index_dir) -> list[Upload]:
    """This process's uploads of index_dir: the last RECENT finished, the one running, those waiting."""
    queue = _QUEUES.get(os.path.realpath(index_dir))
    return queue.all() if queue is not None else []


def queue_status(index_dir) -> dict | None:
    """{"queued": [file names], "indexing": [file names]} while uploads wait or run in this process, else None
    (an upload waiting for the writer is queued; it is indexing once it holds the writer's locks)."""
    queue = _QUEUES.get(os.path.realpath(index_dir))
    if queue is None:
        return None
    with queue.lock:
        current = [queue.current] if queue.current is not None else []
        queued = [n for u in current + queue.items if u.state == "queued" for n in u.names]
        running = [n for u in current if u.state == "indexing" for n in u.names]
    if not queued and not running:
        return None
    return {"queued": queued, "indexing": running}


def filling(index_dir) -> bool:
    """Whether a background writer of index_dir runs in this process (its vectors being computed)."""
    fill = _FILLS.get(os.path.realpath(index_dir))
    return fill is not None and fill.thread is not None and fill.thread.is_alive()


def wait(index_dir, timeout: float | None = None) -> bool:
    """Wait for the background writer of index_dir in this process, if any, and for its upload queue to be empty,
    to end; whether none runs."""
    key = os.path.realpath(index_dir)
    end = None if timeout is None else time.monotonic() + timeout
    while True:
        queue = _QUEUES.get(key)
        threads = [queue.thread if queue is not None else None,
                   getattr(_FILLS.get(key), "thread", None)]
        threads = [t for t in threads if t is not None and t.is_alive()]
        if not threads:
            return True
        left = None if end is None else end - time.monotonic()
        if left is not None and left <= 0:
            return False
        threads[0].join(left if left is None else min(left, 0.5))


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
