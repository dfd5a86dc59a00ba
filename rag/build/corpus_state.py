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
Does not handle an index folder shared by two corpus folders.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from rag.ingest.walk import safe_text
from rag.storage.writer import fsync_path

log = logging.getLogger("rag")
STATE = "documents.json"
STAGING = "staging"
UPLOADS = "uploads"        # the corpus sub-folder uploads are stored in (rag.build.documents.UPLOADS)
MAX_STATE = 64 * 1024 * 1024
_PART = ".part-"


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
