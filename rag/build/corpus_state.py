"""What the application knows about the corpus beyond the index: removed documents and its own uploads.

The corpus folder is the person's. Two records, kept in ``INDEX/documents.json``
(written to a temporary name, fsynced and renamed, under the writer lock)::

    {"excluded": ["notes/old.md", ...],   # removed from the index; a refresh does not add them again
     "uploads":  ["uploads/report.pdf"]}  # files the application itself stored in the corpus

Removing a document (rag.documents) excludes it: its file stays where it is. Only a
file listed under "uploads" may be deleted, and only when asked for in words.
The record survives rebuilds (``rag index --rebuild``) since it is not part of a
version. A path given to ``rag add`` that lies in the corpus and is excluded is
included again instead of copied.

Uploads are staged in ``INDEX/staging/`` (never in the corpus), indexed from there
under their corpus id (``uploads/NAME``), and moved into ``CORPUS/uploads/`` only
after the version that contains them is current (``publish``). A writer killed
before that leaves a staged file that the next writer (``recover``, run by
rag.build.builder under the lock) either moves in, when the current version knows it, or
deletes with a warning naming it, when it does not: a killed upload never leaves a
file in the corpus that the index does not know. The move is a hard link plus an
unlink (never overwrites), or a copy when the index lies on another file system.
Uploads put in a server's upload queue (rag.build.documents.enqueue) are kept in
``INDEX/queued/ID/`` until they are indexed: their checked files (``0``, ``1``, ...) and
``upload.json`` (``{"files": [names], "back": [ids of removed documents to include again]}``),
written under a temporary name, fsynced and renamed before the upload is reported queued, and
deleted once it has an outcome. A server stopped or killed before then leaves them there, and the
next ``rag serve`` of the index queues them again (``queued_uploads``); indexing one twice adds
nothing twice (the same bytes under the same name are the file already stored).
Does not handle an index folder shared by two corpus folders.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from rag.ingest.walk import safe_text
from rag.storage.writer import fsync_path

log = logging.getLogger("rag")
STATE = "documents.json"
STAGING = "staging"
QUEUED = "queued"          # INDEX/queued/: uploads in a server's queue, kept until they are indexed
ENTRY = "upload.json"
MAX_ENTRY = 1024 * 1024
UPLOADS = "uploads"        # the corpus sub-folder uploads are stored in (rag.build.documents.UPLOADS)
MAX_STATE = 64 * 1024 * 1024
_PART = ".part-"
_DONE = ".done-"


@dataclass
class State:
    excluded: list[str] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)


def _ids(value) -> list[str]:
    return sorted({v for v in value if isinstance(v, str)}) if isinstance(value, list) else []


def load(index_dir: Path) -> State:
    """The record of index_dir; empty when there is none. A damaged one is reported and read as
    empty for uploads (so nothing is deleted on its word) and for exclusions."""
    path = Path(index_dir) / STATE
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_STATE + 1)
        if len(raw) > MAX_STATE:
            raise ValueError("too large")
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        return State()
    except (OSError, ValueError, RecursionError) as exc:
        log.warning("%s: unreadable (%s); removed documents may be indexed again",
                    safe_text(str(path)), " ".join(str(exc).split())[:200])
        return State()
    return State(_ids(data.get("excluded")), _ids(data.get("uploads")))


def save(index_dir: Path, state: State) -> None:
    """Write the record crash-safely (call under the writer lock)."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = index_dir / f".tmp-{STATE}-{os.getpid()}-{secrets.token_hex(4)}"   # store.cleanup removes strays
    body = {"excluded": sorted(set(state.excluded)), "uploads": sorted(set(state.uploads))}
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(body, ensure_ascii=False, indent=1) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, index_dir / STATE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(index_dir)


# ---------------------------------------------------------------- staging

def staging_dir(index_dir: Path) -> Path:
    return Path(index_dir) / STAGING


def staged(index_dir: Path) -> list[tuple[Path, str]]:
    """(staged file, corpus id) of every finished staged upload, by name."""
    folder = staging_dir(index_dir)
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted((p, f"{UPLOADS}/{p.name}") for p in folder.iterdir()
                  if not p.name.startswith(".") and p.is_file() and not p.is_symlink())


def stage(index_dir: Path, name: str, data: bytes) -> Path:
    """Write data as staging/NAME (temporary name, fsync, rename); NAME must be free there."""
    folder = staging_dir(index_dir)
    folder.mkdir(exist_ok=True)
    tmp = folder / f"{_PART}{secrets.token_hex(8)}"
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, folder / name)   # refuses to replace an existing file
    finally:
        tmp.unlink(missing_ok=True)
    fsync_path(folder)
    return folder / name


def discard(path: Path) -> None:
    Path(path).unlink(missing_ok=True)


def _same(a: Path, b: Path) -> bool:
    try:
        if a.stat().st_size != b.stat().st_size:
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                x, y = fa.read(1 << 20), fb.read(1 << 20)
                if x != y:
                    return False
                if not x:
                    return True
    except OSError:
        return False


def _move_in(src: Path, target: Path) -> bool:
    """Move a staged file to target without ever replacing a file there; False if target exists."""
    target.parent.mkdir(exist_ok=True)
    if target.parent.is_symlink() or not target.parent.is_dir():
        raise OSError(f"{safe_text(str(target.parent))} is not a folder")
    try:
        os.link(src, target)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (18, 1, 95):   # EXDEV, EPERM, EOPNOTSUPP: copy instead
            raise
        tmp = target.parent / f".upload-{secrets.token_hex(8)}"
        try:
            with open(src, "rb") as fi, open(tmp, "xb") as fo:
                shutil.copyfileobj(fi, fo)
                fo.flush()
                os.fsync(fo.fileno())
            os.link(tmp, target)
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
    fsync_path(target.parent)
    src.unlink()
    return True


def publish(index_dir: Path, corpus_dir: Path, files: list[tuple[Path, str]], state: State | None = None) -> list[str]:
    """Move staged files, now indexed, into the corpus and record them as uploads; returns the ids
    moved. A file the person put at the same place meanwhile is kept, the staged copy dropped."""
    state = state or load(index_dir)
    moved = []
    for path, doc_id in files:
        target = Path(corpus_dir) / doc_id
        if _move_in(path, target):
            moved.append(doc_id)
        else:
            if not _same(path, target):
                log.warning("%s: a file of this name appeared in the corpus while it was uploaded; "
                            "the corpus file is kept and indexed at the next refresh", safe_text(doc_id))
            else:
                moved.append(doc_id)
            path.unlink(missing_ok=True)
    if moved:
        state.uploads = sorted(set(state.uploads) | set(moved))
        state.excluded = sorted(set(state.excluded) - set(moved))
        save(index_dir, state)
    return moved


def recover(index_dir: Path, corpus_dir: Path, known: set[str]) -> list[str]:
    """Finish or undo what a killed upload left in staging (call under the writer lock): a staged
    file the current version knows (known ids) is moved into the corpus, any other is deleted
    with a warning. Returns one line per file handled."""
    folder = staging_dir(index_dir)
    if not folder.is_dir() or folder.is_symlink():
        return []
    lines = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(_PART):
            p.unlink(missing_ok=True)
            continue
    for path, doc_id in staged(index_dir):
        if doc_id in known:
            publish(index_dir, corpus_dir, [(path, doc_id)])
            line = f"{safe_text(doc_id)}: an interrupted upload was indexed; its file is now in the corpus"
        else:
            path.unlink(missing_ok=True)
            line = f"{safe_text(doc_id)}: an interrupted upload was never indexed; its staged copy was deleted"
        log.warning("%s", line)
        lines.append(line)
    return lines


# ---------------------------------------------------------------- uploads waiting in a server's queue

@dataclass(frozen=True)
class QueuedUpload:
    """One upload kept in INDEX/queued/ (see the module docstring): its folder, file names and the removed
    documents it includes again; ``files`` reads its bytes."""
    path: Path
    names: tuple[str, ...]
    back: tuple[str, ...]

    def files(self, limit: int) -> list[tuple[str, bytes]]:
        """(name, bytes) of each file, each read bounded by limit bytes; OSError or ValueError if one is
        missing, not a regular file or larger."""
        from rag.ingest.read import read_bounded

        return [(name, read_bounded(self.path / str(k), limit)) for k, name in enumerate(self.names)]


def queue_save(index_dir: Path, files: list[tuple[str, bytes]], back: list[str]) -> QueuedUpload:
    """Keep a queued upload (checked (name, bytes) files, removed document ids to include again) in
    INDEX/queued/: written in a temporary folder, each file fsynced, then renamed into place."""
    root = Path(index_dir) / QUEUED
    root.mkdir(exist_ok=True)
    if root.is_symlink() or not root.is_dir():
        raise OSError(f"{safe_text(str(root))} is not a folder")
    tmp = root / f"{_PART}{secrets.token_hex(8)}"
    tmp.mkdir()
    try:
        entry = json.dumps({"files": [n for n, _ in files], "back": list(back)}).encode()
        for k, data in [(str(k), d) for k, (_, d) in enumerate(files)] + [(ENTRY, entry)]:
            with open(tmp / k, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        fsync_path(tmp)
        final = root / f"{time.time_ns():020d}-{secrets.token_hex(4)}"
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_path(root)
    return QueuedUpload(final, tuple(n for n, _ in files), tuple(back))


def queued_uploads(index_dir: Path) -> list[QueuedUpload]:
    """The uploads kept in INDEX/queued/, oldest first. One whose upload.json cannot be read is left
    where it is, with a warning naming its folder (its files are the person's upload); a folder a
    killed queue_save left half written (never reported queued, an hour old) or queue_drop left half deleted
    is deleted."""
    root = Path(index_dir) / QUEUED
    if not root.is_dir() or root.is_symlink():
        return []
    out = []
    for p in sorted(root.iterdir()):
        if p.name.startswith(_DONE):   # dropped (queue_drop), the process killed while deleting it
            shutil.rmtree(p, ignore_errors=True)
            continue
        if p.name.startswith(_PART):
            if time.time() - p.stat().st_mtime > 3600:   # not one being written right now
                shutil.rmtree(p, ignore_errors=True)
            continue
        try:
            if p.is_symlink() or not p.is_dir():
                raise ValueError("not a folder")
            with open(p / ENTRY, "rb") as f:
                raw = f.read(MAX_ENTRY + 1)
            if len(raw) > MAX_ENTRY:
                raise ValueError(f"{ENTRY} over {MAX_ENTRY} bytes")
            entry = json.loads(raw)
            names, back = entry.get("files"), entry.get("back", [])
            if not (isinstance(names, list) and isinstance(back, list)
                    and all(isinstance(x, str) for x in names + back)):
                raise ValueError(f"{ENTRY} does not list files")
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("%s: a queued upload cannot be read (%s); left where it is", safe_text(str(p)),
                        " ".join(str(exc).split()))
            continue
        out.append(QueuedUpload(p, tuple(names), tuple(back)))
    return out


def queue_drop(upload: QueuedUpload) -> None:
    """Delete a queued upload's folder once the upload has an outcome (indexed, refused or failed): renamed
    away first (atomic), so a process killed while deleting never leaves a part of it that looks queued."""
    gone = upload.path.parent / f"{_DONE}{upload.path.name}"
    try:
        os.rename(upload.path, gone)
    except FileNotFoundError:   # dropped already (another server queued it again and indexed it first)
        return
    fsync_path(upload.path.parent)
    shutil.rmtree(gone, ignore_errors=True)
