"""Progress of a long build: phase names, counts, rate and ETA on stderr.

In a terminal (the stream is a tty) one line is redrawn in place, at most ten
times a second: ``embedding  [######......]  5,120/13,110  39%  61.2/s  ETA 2m10s``;
each phase ends with its own finished line. In logs (not a tty) it prints plain
lines instead, one when a phase starts, one every ``every`` seconds while it
runs, one when it ends: ``embedding: 5120/13110 (39%), 84s, ETA 2m10s``.
``LogHandler`` lets warnings logged meanwhile print on their own line, not
through the bar. Does not handle several bars at once or nested phases, and
does not guess a total it is not given (a phase without one shows counts only).
"""
from __future__ import annotations

import logging
import sys
import threading
import time

_ACTIVE: "Progress | None" = None   # the bar now drawn, cleared by LogHandler before a log line
WIDTH = 24


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Phases of work with optional totals; writes to stream (default stderr)."""

    def __init__(self, stream=None, *, tty: bool | None = None, every: float = 10.0):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.every = every
        self.name = None
        self._lock = threading.Lock()

    def phase(self, name: str, total: int | None = None, unit: str = "") -> None:
        """End the current phase (if any) and start the next."""
        global _ACTIVE
        self.end()
        with self._lock:
            self.name, self.total, self.unit, self.done = name, total, unit, 0
            self.t0 = self._last = time.monotonic()
            if self.tty:
                _ACTIVE = self
                self._draw()
            else:
                self._line(f"{name}: started" + (f", {total} {unit}".rstrip() if total is not None else ""))

    def advance(self, n: int = 1) -> None:
        with self._lock:
            if self.name is None:
                return
            self.done += n
            now = time.monotonic()
            if now - self._last >= (0.1 if self.tty else self.every):
                self._last = now
                self._draw() if self.tty else self._line(self._status())

    def end(self) -> None:
        """Finish the current phase with its elapsed time."""
        global _ACTIVE
        with self._lock:
            if self.name is None:
                return
            took = duration(time.monotonic() - self.t0)
            counts = f"{self.done}/{self.total} {self.unit}".rstrip() if self.total is not None else ""
            text = f"{self.name}: done" + (f", {counts}" if counts else "") + f" in {took}"
            if self.tty:
                self.stream.write("\r\033[K" + text + "\n")
                self.stream.flush()
                _ACTIVE = None
            else:
                self._line(text)
            self.name = None

    def clear(self) -> None:
        """Erase the bar (before another line is printed); redraw() puts it back."""
        if self.tty and self.name is not None:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def redraw(self) -> None:
        if self.tty and self.name is not None:
            self._draw()

    def _eta(self) -> tuple[float, str]:
        spent = time.monotonic() - self.t0
        rate = self.done / spent if spent > 0 else 0.0
        if not self.total or not rate or self.done >= self.total:
            return rate, ""
        return rate, duration((self.total - self.done) / rate)

    def _status(self) -> str:
        rate, eta = self._eta()
        if self.total is None:
            return f"{self.name}: {self.done} {self.unit}".rstrip() + f", {duration(time.monotonic() - self.t0)}"
        pct = 100 * self.done // max(self.total, 1)
        return (f"{self.name}: {self.done}/{self.total} {self.unit}".rstrip()
                + f" ({pct}%), {duration(time.monotonic() - self.t0)}" + (f", ETA {eta}" if eta else ""))

    def _draw(self) -> None:
        rate, eta = self._eta()
        if self.total:
            filled = WIDTH * min(self.done, self.total) // self.total
            bar = f"[{'#' * filled}{'.' * (WIDTH - filled)}]  {self.done:,}/{self.total:,} {self.unit}"
            bar += f"  {100 * self.done // self.total}%  {rate:.1f}/s" + (f"  ETA {eta}" if eta else "")
        else:
            bar = f"{self.done:,} {self.unit}  {duration(time.monotonic() - self.t0)}" if self.done else "..."
        self.stream.write(f"\r\033[K{self.name:<10} {bar}")
        self.stream.flush()

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class LogHandler(logging.StreamHandler):
    """A stderr handler that clears the progress bar before a record and redraws it after."""

    def emit(self, record):
        bar = _ACTIVE
        if bar is not None:
            bar.clear()
        super().emit(record)
        if bar is not None:
            bar.redraw()


class Silent(Progress):
    """Progress that prints nothing (library callers that asked for no output)."""

    def __init__(self):
        super().__init__(stream=None, tty=False)

    def _line(self, text: str) -> None:
        pass
