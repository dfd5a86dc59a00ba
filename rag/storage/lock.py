"""One writer at a time per index folder: an exclusive ``flock`` on ``INDEX/.lock``.

The kernel releases the lock when its process dies (even by kill -9), so a dead
writer never leaves it stuck; the file itself may stay behind and means nothing
unless locked. A second writer is refused at once (``IndexLockedError``) rather
than queued (a server's uploads queue in its own process: rag.build.documents, which
tries the lock again). Readers never take the lock. Does not handle file systems without
working ``flock`` (some network mounts) nor Windows (no ``fcntl``).
"""
from __future__ import annotations

import datetime
import fcntl
import os
from pathlib import Path

from rag.errors import IndexLockedError

LOCK_NAME = ".lock"
_HELD: set[str] = set()   # index folders whose lock this process holds


def held(index_dir: Path) -> bool:
    """Whether this process holds the writer lock of index_dir (flock is per open file,
    so a second IndexLock in the same process would refuse itself)."""
    return os.path.realpath(index_dir) in _HELD


class IndexLock:
    """Context manager holding the writer lock of index_dir (created if missing).

    On release, an index folder this lock created that still holds nothing but the
    lock file (a first build that failed) is removed again, leaving no trace.
    """

    def __init__(self, index_dir: Path):
        self.index_dir = Path(index_dir)
        self.path = self.index_dir / LOCK_NAME
        self.fd: int | None = None
        self._created = False

    def acquire(self) -> "IndexLock":
        for _ in range(10):
            self._created = not self.index_dir.exists()
            self.index_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise IndexLockedError(f"another writer is updating {self.index_dir} ({holder}); "
                                       "try again when it finishes") from None
            # The previous holder may have removed the folder (see release) after we opened
            # the file: then our lock is on a deleted file and protects nothing. Start over.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                self._key = os.path.realpath(self.index_dir)
                _HELD.add(self._key)
                stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"pid {os.getpid()} since {stamp}\n".encode(), 0)
                return self
            os.close(fd)
        raise IndexLockedError(f"could not lock {self.path}: it keeps being replaced; try again")

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            if self._created and {p.name for p in self.index_dir.iterdir()} == {LOCK_NAME}:
                self.path.unlink()
                self.index_dir.rmdir()
        except OSError:
            pass
        finally:
            _HELD.discard(self._key)
            os.close(self.fd)   # closing the last descriptor releases the flock
            self.fd = None

    def __enter__(self) -> "IndexLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    """'pid N since TIME' as the holder wrote it, or a placeholder while it is still writing."""
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text if text.startswith("pid ") else "pid unknown"
