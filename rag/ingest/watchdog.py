"""A watchdog that names the file being worked on when it takes long.

``slow(action, name)`` is a context manager: while its block runs longer than
``SLOW_AFTER`` seconds, a background thread logs "still ACTION NAME (Ns)" on the
"rag" logger, then again every ``SLOW_EVERY`` seconds. One watcher thread serves
every block in the process (started on first use), so entering a block costs a
dictionary insert, not a thread: it runs once per file read and chunked. Does
not interrupt, time out or cancel the work; it only says what is taking the time.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time

log = logging.getLogger("rag")
SLOW_AFTER = 5.0
SLOW_EVERY = 30.0
_WATCHED: dict[int, list] = {}   # id -> [action, name, start, next report time, every]
_COND = threading.Condition()
_IDS = itertools.count()
_THREAD: threading.Thread | None = None


def _watch() -> None:
    with _COND:
        while True:
            now = time.monotonic()
            for item in _WATCHED.values():
                if now >= item[3]:
                    log.warning("still %s %s (%.0fs)", item[0], item[1], now - item[2])
                    item[3] = now + item[4]
            wait = min((item[3] for item in _WATCHED.values()), default=now + 3600) - now
            _COND.wait(max(wait, 0.01))


@contextlib.contextmanager
def slow(action: str, name: str, *, after: float | None = None, every: float | None = None):
    global _THREAD
    after = SLOW_AFTER if after is None else after
    every = SLOW_EVERY if every is None else every
    key, t0 = next(_IDS), time.monotonic()
    with _COND:
        if _THREAD is None:
            _THREAD = threading.Thread(target=_watch, name="rag-watchdog", daemon=True)
            _THREAD.start()
        _WATCHED[key] = [action, name, t0, t0 + after, every]
        _COND.notify()   # the watcher may be sleeping past this block's first deadline
    try:
        yield
    finally:
        with _COND:
            _WATCHED.pop(key, None)
