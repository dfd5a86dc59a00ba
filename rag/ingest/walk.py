"""List the files of a corpus folder that are safe to read, each under a safe id.

Walks the folder without following links into folders. A link to a file is used
only when it resolves to a regular file inside the corpus folder; links that
leave the folder, links to folders, symlink loops and broken links are skipped
with a reason, and so are devices, FIFOs and sockets. A file's id is its path
relative to the corpus folder; bytes that are not valid UTF-8 and control
characters (a newline in a name) are percent-encoded (``%E9``, ``%0A``), so an
id always prints and JSON-encodes; two names that map to the same id keep the
one spelled as-is and skip the other. Hidden files and folders (names starting
with ".") are ignored silently.

Each file's device and inode number are recorded (of the link's target for a
link), so the reader (rag.ingest.read.read_bounded with ``expect``) can check that
the file it opens, without following links, is the one the walk saw: a file
swapped for a link or another file between the walk and the read is skipped.
Hard links are not judged here (the reader refuses files with more than one link
unless allowed). Does not handle mounts inside the folder.
"""
from __future__ import annotations

import codecs
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from rag.errors import CorpusError

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _percent(exc: UnicodeDecodeError):
    return "".join(f"%{b:02X}" for b in exc.object[exc.start:exc.end]), exc.end


codecs.register_error("rag-percent", _percent)


@dataclass(frozen=True)
class Entry:
    path: Path     # what to open: the file, or the in-corpus target of a link
    doc_id: str    # safe id: path relative to the corpus folder, "/" separators
    dev: int = 0   # st_dev and st_ino the walk saw (0, 0: unknown, not checked)
    ino: int = 0


def safe_text(name: str | bytes) -> str:
    """name (str from the OS, possibly with surrogate escapes, or bytes) as printable UTF-8 text:
    undecodable bytes and control characters percent-encoded."""
    raw = name if isinstance(name, bytes) else os.fsencode(name)
    text = raw.decode("utf-8", errors="rag-percent")
    return _CONTROL.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISDIR, "folder")):
        if test(mode):
            return name
    return "special file"


def _link_target(path: Path, root: Path) -> tuple[Path | None, os.stat_result | None, str | None]:
    """(resolved regular-file target inside root, its stat, None) or (None, None, why it is skipped)."""
    try:
        target = path.resolve(strict=True)
    except RuntimeError:                       # Python < 3.13 reports loops this way
        return None, None, "symlink loop (not followed)"
    except OSError as exc:
        if exc.errno == 40:                    # ELOOP
            return None, None, "symlink loop (not followed)"
        return None, None, f"unreadable (broken link: {exc.strerror or exc})"
    if not target.is_relative_to(root):
        return None, None, f"link leads outside the corpus folder (to {safe_text(str(target))}); not followed"
    try:
        st = target.stat(follow_symlinks=False)   # resolved: the target itself is no link
    except OSError as exc:
        return None, None, f"unreadable ({exc.strerror or exc})"
    if stat.S_ISDIR(st.st_mode):
        return None, None, "link to a folder (not followed)"
    if not stat.S_ISREG(st.st_mode):
        return None, None, f"link to a {_kind(st.st_mode)}, not a regular file"
    return target, st, None


def walk(corpus_dir: Path) -> tuple[list[Entry], list[tuple[str, str]]]:
    """(files to read, sorted by id; [(id, reason)] for entries skipped)."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {safe_text(str(corpus_dir))} (pass an existing folder of documents)")
    root = corpus_dir.resolve()
    found: dict[str, list[tuple[bool, Entry]]] = {}
    skipped: list[tuple[str, str]] = []
    stack = [(corpus_dir, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            skipped.append((prefix.rstrip("/") or ".", f"unreadable folder ({exc.strerror or exc})"))
            continue
        for e in entries:
            if e.name.startswith("."):
                continue
            rel = prefix + e.name
            doc_id = safe_text(rel)
            path = Path(e.path)
            try:
                if e.is_symlink():
                    target, st, why = _link_target(path, root)
                    if why:
                        skipped.append((doc_id, why))
                        continue
                    path = target
                elif e.is_dir(follow_symlinks=False):
                    stack.append((path, rel + "/"))
                    continue
                else:
                    st = e.stat(follow_symlinks=False)
                    if not stat.S_ISREG(st.st_mode):
                        skipped.append((doc_id, f"not a regular file ({_kind(st.st_mode)})"))
                        continue
            except OSError as exc:
                skipped.append((doc_id, f"unreadable ({exc.strerror or exc})"))
                continue
            found.setdefault(doc_id, []).append((doc_id == rel, Entry(path, doc_id, st.st_dev, st.st_ino)))
    files = []
    for doc_id, options in found.items():
        options.sort(key=lambda o: (not o[0], os.fsencode(str(o[1].path))))   # the as-is spelling first
        files.append(options[0][1])
        for _, other in options[1:]:
            skipped.append((doc_id + " [duplicate]", f"name collides with another file once made safe "
                                    f"({safe_text(other.path.name)}); rename one of them"))
    return sorted(files, key=lambda f: f.doc_id), sorted(skipped)
