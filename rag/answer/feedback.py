"""The feedback log: one JSON line per thumbs up/down on an answer.

Each line holds the time (UTC, ISO-8601), the rating ("up" or "down"), the
question as asked, the answer text, and the passages the answer was built on
(document id, character span, chunk row of that index version). Lines are
appended with one write each under a lock, so concurrent sessions do not
interleave. The log lives at Config.feedback_log (default: beside the index
folder, INDEX-feedback.jsonl). Does not read or aggregate the log.
"""
from __future__ import annotations

import datetime
import json
import os
import threading
from pathlib import Path

RATINGS = ("up", "down")
_LOCK = threading.Lock()


def default_path(index_dir) -> Path:
    index_dir = Path(index_dir)
    return index_dir.parent / f"{index_dir.name}-feedback.jsonl"


def record(path, *, rating: str, question: str, answer: str, passages: list[dict]) -> dict:
    """Append one feedback line to path and return it; passages: [{"doc", "start", "end", ...}]."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {RATINGS}, got {rating!r}")
    entry = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
             "rating": rating, "question": str(question), "answer": str(answer),
             "passages": [{k: p.get(k) for k in ("doc", "start", "end", "chunk")} for p in passages]}
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8", "replace")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    return entry
