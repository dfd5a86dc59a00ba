"""Text safe to show: what a terminal would act on removed.

``plain(text)`` removes escape sequences (CSI ``ESC [ ... letter``, OSC ``ESC ] ... BEL|ESC \\``,
other ``ESC x``), C0 control characters except newline and tab, DEL, and the C1 controls
U+0080-U+009F (U+009B is an 8-bit CSI). Does not change anything else (no HTML escaping:
the web page escapes on its own).
"""
from __future__ import annotations

import re

_ESC = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: str) -> str:
    """text without escape sequences and control characters (newline and tab kept; CR dropped)."""
    return _CONTROL.sub("", _ESC.sub("", text))
