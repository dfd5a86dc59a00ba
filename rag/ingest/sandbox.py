"""Convert office files, e-books and PDFs in worker processes with a memory and a time limit.

``convert(suffix, data, doc_id, limits)`` hands a file's bytes to a long-lived
worker process (``python -m rag.ingest.sandbox``; at most ``WORKERS`` of them, started
on first use and reused, so 10,000 small files do not pay a process start each)
and returns its ``Converted`` text. The protocol is framed JSON over the
worker's stdin/stdout (a 4-byte length, a JSON header, then the raw bytes; the
reply is one JSON frame): no pickle. The worker never opens the file: it gets
the bytes the reader already checked. Before each file the worker sets its
address-space limit (``RLIMIT_AS``) to its current size plus
``limits.memory_mb`` and the zip caps (rag.ingest.zipcheck) to ``limits``; the parent
waits at most ``limits.timeout_s`` for the reply. A file that runs out of
memory, takes too long, or kills its worker raises ValueError with the reason
(the worker is killed and replaced on the next file); the run goes on. Log
lines the converter writes (a PDF reader's warnings) are sent back and logged
here. Each reply carries the worker's peak resident memory during that file
(VmHWM, reset before each file), kept in ``LAST_PEAK_KB`` for measurements.
Does not limit CPU share or disk; the time limit is wall-clock.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rag.ingest.zipcheck import ZipLimits

log = logging.getLogger("rag")
WORKERS = 2
START_TIMEOUT = 120.0        # seconds a new worker may take to load its libraries
RETIRE_GROWTH_KB = 150_000   # a worker that stays this much bigger than at start is replaced after its file
WORKER_PIDS: set[int] = set()      # every worker started by this process
LAST_PEAK_KB: dict[str, int] = {}   # doc id -> peak resident kB of the worker while converting it (last 1,000)
_HEADER = struct.Struct(">I")


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def env_flag(name: str) -> bool:
    return (os.environ.get(name) or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Limits:
    """How a file is read and converted (Config fields convert_memory_mb, convert_timeout and
    allow_hard_links, whose defaults come from $RAG_CONVERT_MEMORY_MB, $RAG_CONVERT_TIMEOUT and
    $RAG_ALLOW_HARD_LINKS, as here)."""
    # address space in MB a conversion may add to its worker
    memory_mb: float = field(default_factory=lambda: env_float("RAG_CONVERT_MEMORY_MB", 1000.0))
    # wall-clock seconds per file
    timeout_s: float = field(default_factory=lambda: env_float("RAG_CONVERT_TIMEOUT", 60.0))
    zip: ZipLimits = field(default_factory=ZipLimits)
    isolate: bool = True           # False: convert in this process, without limits (tests, debugging)
    allow_hard_links: bool = field(default_factory=lambda: env_flag("RAG_ALLOW_HARD_LINKS"))

    @classmethod
    def from_config(cls, config) -> "Limits":
        return cls(memory_mb=float(config.convert_memory_mb), timeout_s=float(config.convert_timeout),
                   allow_hard_links=bool(config.allow_hard_links))


def _status(pid: int | str) -> dict[str, int]:
    """The kB figures of /proc/PID/status (VmSize, VmPeak, VmRSS, VmHWM...); {} where there is none."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Vm") and line.endswith(" kB"):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    except (OSError, ValueError):
        pass
    return out


def _status_kb(pid: int | str, key: str) -> int:
    return _status(pid).get(key, 0)


# ---------------------------------------------------------------- parent side

class _Worker:
    def __init__(self):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(Path(__file__).resolve().parent.parent)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
            OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
        self.proc = subprocess.Popen([sys.executable, "-m", "rag.ingest.sandbox"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=None if os.environ.get("RAG_DEBUG")
                                     else subprocess.DEVNULL, env=env, close_fds=True)
        try:   # the worker says when its libraries are loaded: a file's time limit starts after that
            self.pid = self.receive(START_TIMEOUT)["ready"]
            WORKER_PIDS.add(self.pid)
        except (TimeoutError, EOFError, OSError, ValueError, KeyError):
            self.kill()
            raise ValueError("the converter process could not be started; not read") from None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass

    def close(self) -> None:
        try:
            self.proc.stdin.close()   # the worker exits at end of input
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def _read(self, n: int, deadline: float) -> bytes:
        fd, parts, got = self.proc.stdout.fileno(), [], 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            part = os.read(fd, min(n - got, 1 << 20))
            if not part:
                raise EOFError
            parts.append(part)
            got += len(part)
        return b"".join(parts)

    def send(self, header: dict, data: bytes) -> None:
        raw = json.dumps(header).encode()
        self.proc.stdin.write(_HEADER.pack(len(raw)) + raw)
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        n = _HEADER.unpack(self._read(_HEADER.size, deadline))[0]
        return json.loads(self._read(n, deadline))


_COND = threading.Condition()
_IDLE: list[_Worker] = []
_STARTED = 0


def _take() -> _Worker:
    global _STARTED
    with _COND:
        while not _IDLE and _STARTED >= WORKERS:
            _COND.wait()
        if _IDLE:
            return _IDLE.pop()
        _STARTED += 1
    try:
        return _Worker()
    except BaseException:
        _give(None)
        raise


def _give(worker: _Worker | None) -> None:
    global _STARTED
    with _COND:
        if worker is not None and worker.alive():
            _IDLE.append(worker)
        else:
            _STARTED -= 1
        _COND.notify()


@atexit.register
def shutdown() -> None:
    """Stop the idle workers (they also exit by themselves when this process ends)."""
    with _COND:
        idle = list(_IDLE)
        _IDLE.clear()
    for w in idle:
        w.close()
        _give(None)


def convert(suffix: str, data: bytes, doc_id: str, limits: Limits):
    """The Converted of one file's bytes, made in a worker; ValueError with a reason when over a limit."""
    from rag.ingest.convert import Converted

    header = {"suffix": suffix, "doc_id": doc_id, "size": len(data), "memory_mb": limits.memory_mb,
              "timeout_s": limits.timeout_s, "zip": [limits.zip.total, limits.zip.member, limits.zip.ratio]}
    for attempt in (1, 2):
        reply = None
        worker = _take()
        try:
            try:
                worker.send(header, data)
            except OSError:   # an idle worker that has gone away: start another, once
                worker.kill()
                if attempt == 1:
                    continue
                raise ValueError("converter could not be started; not read") from None
            reply = worker.receive(limits.timeout_s)
        except TimeoutError:
            peak = _status_kb(worker.proc.pid, "VmHWM")
            worker.kill()
            _note(doc_id, peak)
            raise ValueError(f"conversion took longer than {limits.timeout_s:g} s (limit; raise it with "
                             "--convert-timeout); not read") from None
        except (EOFError, OSError, ValueError) as exc:   # the worker died (killed, crashed) or spoke nonsense
            worker.kill()
            code = worker.proc.returncode
            how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
            raise ValueError(f"converter stopped ({how}; {type(exc).__name__}); not read") from None
        except BaseException:
            worker.kill()
            raise
        finally:
            if reply_retires(reply):
                worker.kill()
            _give(worker)
        break
    _note(doc_id, reply.get("peak_kb", 0))
    for level, message in reply.get("logs", []):
        log.log(level, "%s", message)
    if "error" in reply:
        raise ValueError(reply["error"])
    return Converted(reply["text"], reply["title"], tuple(reply["page_starts"]))


def reply_retires(reply) -> bool:
    return isinstance(reply, dict) and bool(reply.get("retire"))


def _note(doc_id: str, peak_kb: int) -> None:
    LAST_PEAK_KB[doc_id] = peak_kb
    if len(LAST_PEAK_KB) > 1000:
        LAST_PEAK_KB.pop(next(iter(LAST_PEAK_KB)))


# ---------------------------------------------------------------- worker side

class _Keep(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.records: list = []

    def emit(self, record):
        self.records.append([record.levelno, record.getMessage()])


def _read_exact(f, n: int) -> bytes | None:
    parts, got = [], 0
    while got < n:
        part = f.read(n - got)
        if not part:
            return None
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _convert_here(header: dict, data: bytes) -> dict:
    import resource

    from rag.ingest import convert as convert_mod
    from rag.ingest.converters import convert_binary

    convert_mod.ZIP_LIMITS = ZipLimits(*header["zip"])
    memory = int(header["memory_mb"] * 1_000_000)
    before = _status("self")
    base_kb, peak_before = before.get("VmSize", 0), before.get("VmPeak", 0)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    try:
        Path("/proc/self/clear_refs").write_text("5")   # resets VmHWM: the peak of this file alone
    except OSError:
        pass
    limit_kb = base_kb + memory // 1024
    keep = _Keep()
    rag_log = logging.getLogger("rag")
    rag_log.addHandler(keep)
    signal.alarm(int(header["timeout_s"]) + 5)   # a backstop if the parent is gone: SIGALRM ends the worker
    out: dict
    try:
        soft = base_kb * 1024 + memory
        resource.setrlimit(resource.RLIMIT_AS, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
        try:
            c = convert_binary(header["suffix"], data, header["doc_id"])
            out = {"text": c.text, "title": c.title, "page_starts": list(c.page_starts)}
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    except MemoryError:
        out = {"error": _over_memory(header), "retire": True}
    except RecursionError:
        out = {"error": "nested too deeply to convert; not read", "retire": True}
    except ValueError as exc:
        out = {"error": str(exc)}
    except Exception as exc:   # a converter bug: reported, and this worker replaced
        out = {"error": f"converter failed ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); not read",
               "retire": True}
    finally:
        signal.alarm(0)
        rag_log.removeHandler(keep)
    after = _status("self")
    peak_after = after.get("VmPeak", 0)
    if "error" in out and peak_after > peak_before and peak_after >= limit_kb - 32_000:
        # a C library (lxml) that ran out of memory reports it as a parse error
        out = {"error": _over_memory(header), "retire": True}
    out["logs"] = keep.records
    out["peak_kb"] = after.get("VmHWM", 0)
    if after.get("VmRSS", 0) > _START_KB + RETIRE_GROWTH_KB:
        out["retire"] = True
    return out


_START_KB = 0


def _over_memory(header: dict) -> str:
    return (f"needs more than {header['memory_mb']:g} MB of memory to convert (limit; raise it with "
            "--convert-memory-mb); not read")


def main() -> int:
    global _START_KB
    inp = sys.stdin.buffer
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)   # stray prints of a library go to stderr, never into the replies
    logging.getLogger("rag").setLevel(logging.INFO)
    logging.getLogger("rag").propagate = False
    for name in ("docx", "openpyxl", "pptx", "pypdf"):   # loaded once, before the first file
        try:
            __import__(name)
        except ImportError:
            pass   # the file that needs it says so
    _START_KB = _status_kb("self", "VmRSS")
    ready = json.dumps({"ready": os.getpid()}).encode()
    out.write(_HEADER.pack(len(ready)) + ready)
    out.flush()
    while True:
        raw = _read_exact(inp, _HEADER.size)
        if raw is None:
            return 0
        header = json.loads(_read_exact(inp, _HEADER.unpack(raw)[0]) or b"null")
        data = _read_exact(inp, header["size"]) if header["size"] else b""
        if data is None:
            return 0
        reply = _convert_here(header, data)
        body = json.dumps(reply).encode()
        out.write(_HEADER.pack(len(body)) + body)
        out.flush()
        if reply.get("retire"):
            return 0


if __name__ == "__main__":
    sys.exit(main())
