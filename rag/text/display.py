"""Clean a document's indexed text for reading (the UI's document view and passages).

``clean_for_display(text, kind)``: for PDFs, hard-wrapped lines are joined into
paragraphs (a blank line still separates paragraphs; a word hyphenated at a line
end, "exam-\\nple", is joined as "example"; a line that looks like a list item
or a heading keeps its own line); for Markdown, wrapped lines are joined the same way (a blank
line, a list item or a heading still starts a new line; code blocks are kept), and heading markers, emphasis,
inline code ticks, link and image syntax and block quotes are removed, so the
text reads as plain text. Other kinds are returned with only trailing spaces
and runs of blank lines trimmed. The result is for showing only: offsets into
the indexed text (citations) do not apply to it. Does not render tables, nor
tell a real hyphenated compound split at a line end ("well-\\nknown") from a
hyphenated word (both are joined without the hyphen when the next part is
lower-case).
"""
from __future__ import annotations

import re

_ITEM = re.compile(r"^\s*(?:[-*•‣◦]|\d{1,3}[.)]|[a-z][.)])\s+")
_HYPHEN_END = re.compile(r"(\w)-$")


def _join_lines(block: str) -> str:
    out = ""
    for line in (ln.strip() for ln in block.splitlines()):
        if not line:
            continue
        if not out:
            out = line
        elif _ITEM.match(line):
            out += "\n" + line
        elif _HYPHEN_END.search(out) and line[:1].islower():
            out = out[:-1] + line
        else:
            out += " " + line
    return out


def _pdf(text: str) -> str:
    blocks = re.split(r"\n\s*\n", text)
    return "\n\n".join(b for b in (_join_lines(b) for b in blocks) if b)


_MD = [
    (re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.M), r"\1"),          # ATX headings
    (re.compile(r"^\s{0,3}(?:=+|-+)\s*$", re.M), ""),                         # setext underlines
    (re.compile(r"^\s{0,3}>\s?", re.M), ""),                                  # block quotes
    (re.compile(r"^\s*```.*$|^\s*~~~.*$", re.M), ""),                         # code fences
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),                           # images: alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),                            # links: their text
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),                    # bold
    (re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])"), r"\2"),    # italics
    (re.compile(r"`([^`]+)`"), r"\1"),                                        # inline code
    (re.compile(r"^\s*[-*_]{3,}\s*$", re.M), ""),                             # rules
    (re.compile(r"^(\s*)[*+]\s+", re.M), r"\1• "),                            # bullets
]


def _unwrap(text: str) -> str:
    """Hard-wrapped lines joined into the units they belong to (rag.text.chunk.units: a wrapped
    paragraph, a list item), one unit a line, blank lines kept; blocks with code (a fence or an
    indented line) are left as they are."""
    from rag.text.chunk import units

    out = []
    for block in re.split(r"\n[ \t]*\n", text):
        if re.search(r"^\s*(?:```|~~~)|^(?: {4}|\t)\S", block, re.M):
            out.append(block)
            continue
        out.append("\n".join(" ".join(line.strip() for line in block[a:b].split("\n"))
                             for a, b in units(block)))
    return "\n\n".join(out)


def _markdown(text: str) -> str:
    text = _unwrap(text)
    for pattern, repl in _MD:
        text = pattern.sub(repl, text)
    return text


def clean_for_display(text: str, kind: str | None) -> str:
    """text made readable for a document of this kind ("pdf", "md", ...); see the module docstring."""
    kind = (kind or "").lower().lstrip(".")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if kind == "pdf":
        text = _pdf(text)
    elif kind in ("md", "markdown"):
        text = _markdown(text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()
