"""Clean a model's text before it is checked, returned or printed.

``plain(text)`` removes what a terminal would act on: escape sequences (CSI
``ESC [ ... letter``, OSC ``ESC ] ... BEL|ESC \\``, other ``ESC x``), C0 control
characters except newline and tab, DEL, and the C1 controls U+0080-U+009F (U+009B
is an 8-bit CSI). ``bad_markers(text)`` removes bracketed numbers that cannot be
passage markers (``[-1]``, ``[+2]``, ``[1000000000000]``: negative, signed or over
three digits), keeping the valid numbers of a mixed group; rag.llm.claims then drops
the in-range-looking ones that name no passage (``[0]``, ``[999]``). ``cut(text,
limit)`` shortens text to at most limit characters at the last sentence end (or
word break) before it. ``complete(text)`` tells whether text ends a sentence.
"""
from __future__ import annotations

import re

from rag.text.clean import plain  # noqa: F401  (the llm answerer cleans with it)

_GROUP = re.compile(r"\s*\[\s*[-+]?\d+(?:\s*,\s*[-+]?\d+)*\s*\]")
_GOOD = re.compile(r"\s*\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")   # rag.llm.claims.MARKERS
_END = re.compile(r"[.!?…][\"'”’)\]]*$")
_TRAILING_MARKS = re.compile(r"(?:\s*\[[^\]]{0,40}\])+\s*$")


def bad_markers(text: str) -> str:
    def fix(m: re.Match) -> str:
        if _GOOD.fullmatch(m.group()):
            return m.group()
        good = [n for n in re.findall(r"[-+]?\d+", m.group()) if n.isdigit() and len(n) <= 3]
        return f" [{', '.join(good)}]" if good else ""
    return _GROUP.sub(fix, text)


def complete(text: str) -> bool:
    """Whether text (markers at its end ignored) ends with a sentence end."""
    body = _TRAILING_MARKS.sub("", text.rstrip())
    return bool(_END.search(body)) if body else True


def cut(text: str, limit: int) -> str:
    """text shortened to at most limit characters, at the last sentence end (with its markers)
    before the limit, else at the last space."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in re.finditer(r"[.!?…](?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])*(?=\s)", head)]
    if ends and ends[-1] > limit // 4:
        return head[:ends[-1]]
    space = head.rfind(" ")
    return head[:space] if space > 0 else head
