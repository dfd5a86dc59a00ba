"""How `rag ask` finds a `rag serve` already running over the same index, so it need not load the model.

The server writes ``serve.json`` into its index folder (readable by its owner only: 0600): its pid, the
port it answers on over loopback, the index folder's real path, whether the span reader is on, and a
random token. It removes the file when it stops (only if the file is still its own). ``find(index_dir)``
returns that record when the pid is alive and the index named in it is this folder (a copied index
folder carries a stale file), else None. The token is the credential: the server's Gate accepts it, from a
loopback address only, in the ``X-Rag-Local-Token`` header, and a client that can read the file can read
the index anyway. Nothing here imports more than the standard library, so `rag ask` stays quick.
"""
from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path

FILE = "serve.json"
HEADER = "X-Rag-Local-Token"


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write(index_dir, port: int, **extra) -> dict:
    """Write this process's record into index_dir (atomically, 0600); the record (with its token)."""
    index_dir = Path(index_dir)
    record = dict(extra, pid=os.getpid(), port=int(port), index=os.path.realpath(index_dir),
                  token=secrets.token_urlsafe(32))
    fd, tmp = tempfile.mkstemp(prefix=".serve-", dir=index_dir)   # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(tmp, index_dir / FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return record


def read(index_dir) -> dict | None:
    try:
        record = json.loads((Path(index_dir) / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def remove(index_dir, token: str) -> None:
    """Remove the record if it is still the one holding token (another server may have replaced it)."""
    record = read(index_dir)
    if record is not None and record.get("token") == token:
        try:
            (Path(index_dir) / FILE).unlink()
        except OSError:
            pass


def find(index_dir) -> dict | None:
    """The running server's record for index_dir, or None (no file, a dead pid, another index, malformed)."""
    record = read(index_dir)
    if record is None or not isinstance(record.get("token"), str) or not isinstance(record.get("port"), int):
        return None
    if record.get("index") != os.path.realpath(index_dir) or not _alive(record.get("pid")):
        return None
    return record
