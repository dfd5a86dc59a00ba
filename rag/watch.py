"""A watchdog that names the file being worked on when it takes long.

``slow(action, name)`` is a context manager: while its block runs longer than
``SLOW_AFTER`` seconds, a background thread logs "still ACTION NAME (Ns)" on the
"rag" logger, then again every ``SLOW_EVERY`` seconds. Does not interrupt,
time out or cancel the work; it only says what is taking the time.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time

log = logging.getLogger("rag")
SLOW_AFTER = 5.0
SLOW_EVERY = 30.0


@contextlib.contextmanager
def slow(action: str, name: str, *, after: float | None = None, every: float | None = None):
    after = SLOW_AFTER if after is None else after
    every = SLOW_EVERY if every is None else every
    done, t0 = threading.Event(), time.monotonic()

    def watch():
        wait = after
        while not done.wait(wait):
            log.warning("still %s %s (%.0fs)", action, name, time.monotonic() - t0)
            wait = every

    thread = threading.Thread(target=watch, name="rag-watchdog", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
