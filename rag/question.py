"""Check a question and its options at the edge, before any model or index is touched.

Every entry point (``Rag.query``, ``rag.query``, ``rag ask``, the web UI) passes
its input through ``check``; anything of the wrong type or value raises
``QuestionError`` with a one-line message that names what was wrong, never a
traceback from deeper down. What is accepted:

- question: a ``str`` that encodes as UTF-8 (no lone surrogates, which is what
  invalid UTF-8 on a command line turns into) and is not blank. Whitespace is
  collapsed; a question longer than the limit is cut at a word boundary and the
  answer carries a notice saying so.
- k: ``None`` (the configured default) or an ``int`` (numpy integers too, not
  ``bool``) from 1 to ``MAX_K``. Larger values are refused rather than clamped,
  so a caller never gets fewer passages than asked for without being told.
- mode: ``None`` (the configured default) or one of ``rag.config.MODES``.
"""
from __future__ import annotations

import numbers
import re
from dataclasses import dataclass
from typing import Optional

from rag.config import MODES
from rag.errors import QuestionError

MAX_K = 100   # passages per question; the hybrid retriever draws 100 candidates per method
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Question:
    text: str
    k: int
    mode: str
    notice: Optional[str] = None


def _type(value) -> str:
    return type(value).__name__


def _short(value) -> str:
    """A one-line, ASCII, bounded rendering of a value for an error message."""
    text = " ".join(ascii(value).split())
    return text if len(text) <= 40 else text[:37] + "..."


def clean_question(question, limit: int) -> tuple[str, str | None]:
    """(question with whitespace collapsed and cut to limit characters, notice if cut)."""
    if not isinstance(question, str):
        hint = ": decode it to str first" if isinstance(question, (bytes, bytearray)) else ""
        raise QuestionError(f"the question must be text (str), got {_type(question)}{hint}")
    bad = _SURROGATE.search(question)
    if bad:
        code = ord(bad.group())
        byte = f" (the undecodable byte 0x{code - 0xDC00:02X}: is the input UTF-8?)" if code >= 0xDC80 else ""
        raise QuestionError(f"the question is not valid text: lone surrogate U+{code:04X} at character "
                            f"{bad.start()}{byte}")
    # Cut absurd inputs before splitting them; whitespace runs longer than this are not a question.
    question = " ".join(question[:max(limit * 10, 10_000)].split())
    if not question:
        raise QuestionError("the question is empty: ask something about the documents")
    if len(question) <= limit:
        return question, None
    question = question[:limit].rsplit(" ", 1)[0] or question[:limit]
    return question, f"The question was cut to its first {len(question)} characters (limit {limit})."


def check_k(k, default: int, *, most: int | None = MAX_K) -> int:
    """k as an int from 1 to most (None: no upper bound, for evaluation's deep rankings)."""
    if k is None:
        return default
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise QuestionError(f"k must be a whole number (int) of passages, got {_type(k)} {_short(k)}")
    k = int(k)
    if k < 1:
        raise QuestionError(f"k must be at least 1, got {k}")
    if most is not None and k > most:
        raise QuestionError(f"k must be at most {most}, got {k}")
    return k


def check_mode(mode, default: str) -> str:
    if mode is None:
        return default
    if not isinstance(mode, str):
        raise QuestionError(f"the retrieval mode must be a str, one of {', '.join(MODES)}; got {_type(mode)}")
    if mode not in MODES:
        raise QuestionError(f"unknown retrieval mode {_short(mode)}: choose from {', '.join(MODES)}")
    return mode


def check(question, k=None, mode=None, *, config) -> Question:
    """The validated question, k and mode (defaults from config), or QuestionError."""
    text, notice = clean_question(question, config.max_question_chars)
    return Question(text, check_k(k, config.top_k), check_mode(mode, config.mode), notice)
