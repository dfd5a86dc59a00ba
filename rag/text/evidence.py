"""Read a question and a candidate sentence: content terms, answer type, sentence kind.

``question_terms`` weighs each content word of a question by how rare it is in
general English (the wordfreq package's Zipf frequency list), not by statistics
of the indexed corpus, so the same question gets the same weights over one
short document or thousands. ``answer_type`` says what kind of answer a
question asks for (DATE, NUMBER, PERSON, ENTITY, PLACE, AUTHOR or None) from its wording.
``sentence_kind`` tells statements from headings, title lines, captions and
fragments, from the sentence and the line it sits on; a "Label: value" line (a
table or spreadsheet row, a form field, a slide bullet) is a statement.
``headings``/``heading_before`` give the heading a sentence sits under (context
for ranking it: a slide title over its bullets, a sheet name over its rows);
``with_context`` leads list items and "Label: value" lines with it, for embedding. Does not parse syntax:
these are tested rules, and English only.
"""
from __future__ import annotations

import bisect
import functools
import re

from rag.text.chunk import field_line
from rag.text.terms import tokenize

# Words that shape a question but are not evidence in a sentence (after stemming).
QUESTION_WORDS = set("""how mani much what which who whom whose when where whi did doe do were
been has have had can could would should name call type kind year date
he she it they him her his hers its their them we our us you your i my me""".split())
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][a-z]+)?")
MIN_RARITY, MAX_RARITY = 0.5, 6.0

_TYPES = [
    ("AUTHOR", re.compile(r"\bwho\s+(?:wrote|authored|is the author of|reported)\b|\bwritten by whom\b|"
                          r"\bauthor of (?:this|the)\b", re.I)),
    (None, re.compile(r"^\s*(?i:and\s+)?(?i:who|what)\s+(?i:is|was|are|were)\s+(?:[A-Z][\w.]*\s*)+\W*$")),
    ("DATE", re.compile(r"^\s*(?:and\s+)?when\b|\b(?:what|which|in what|what)\s+(?:year|date|day|month|"
                        r"century|decade|era|time period)\b|\bhow long ago\b", re.I)),
    ("NUMBER", re.compile(r"\bhow (?:many|much|long|old|far|big|large|tall|high|often|fast|deep|wide)\b|"
                          r"\bwhat (?:percentage|percent|number|amount|proportion|share|fraction|size|"
                          r"population)\b", re.I)),
    ("PERSON", re.compile(r"^\s*(?:and\s+)?(?:who|whom|whose)\b|\b(?:by whom|who\s+(?:is|was|were|did|"
                          r"wrote|said|led))\b", re.I)),
    ("ENTITY", re.compile(r"^\s*(?:and\s+)?(?:which|what)\s+(?:[a-z]+\s+){0,2}(?:team|company|group|"
                          r"organi[sz]ation|university|college|school|party|band|club|agency|firm|network|"
                          r"newspaper|magazine|ship|church|museum|league|station|channel|brand|book|film|"
                          r"movie|novel|song|album|show|series|award|prize|treaty|act|law|dynasty|empire|"
                          r"tribe|language|religion)s?\b|\bwhat (?:is|was) the name of\b", re.I)),
    ("PLACE", re.compile(r"^\s*(?:and\s+)?where\b|\b(?:what|which|in what|in which)\s+(?:country|city|"
                         r"state|region|place|town|continent|county|province|location|area|island)\b",
                         re.I)),
]
CAPTION = re.compile(r"\b(?:photo|photograph|image|picture|credit|illustration|source|figure|fig\.|table|"
                     r"caption)\s*\d*\s*[:|]", re.I)
_BULLET = re.compile(r"^\s*(?:[-*•–]|\d+[.)])\s+")
_TERMINAL = re.compile(r"[.!?…:;]['\"”’)\]]*\s*$")


# irregular verb forms -> base form (after stemming), so "won" meets "win" and "sent" meets "send"
IRREGULAR = dict(pair.split(":") for pair in """won:win wrote:write written:write sent:send sold:sell bought:buy
built:build began:begin begun:begin came:come went:go gone:go gave:give given:give took:take taken:take made:make
said:say told:tell found:find held:hold led:lead left:leav kept:keep met:meet paid:pay ran:run saw:see seen:see
spoke:speak spoken:speak stood:stand thought:think brought:bring caught:catch fought:fight taught:teach
knew:know known:know grew:grow grown:grow drew:draw drawn:draw flew:fli flown:fli chose:choos chosen:choos
rose:rise risen:rise fell:fall fallen:fall struck:strike lost:lose felt:feel becam:becom became:becom
wore:wear worn:wear spent:spend lent:lend sought:seek shot:shoot hid:hide hidden:hide froze:freez
broke:break broken:break ate:eat eaten:eat drove:drive driven:drive rode:ride ridden:ride""".split())


@functools.lru_cache(maxsize=100_000)
def terms(text: str) -> frozenset[str]:
    """Stemmed content terms of a text, irregular verb forms mapped to their base."""
    return frozenset(IRREGULAR.get(t, t) for t in tokenize(text))


@functools.lru_cache(maxsize=50_000)
def rarity(word: str) -> float:
    """Weight of a word as evidence: 7 - its Zipf frequency in English, clipped to [0.5, 6]."""
    from wordfreq import zipf_frequency

    return min(MAX_RARITY, max(MIN_RARITY, 7.0 - zipf_frequency(word, "en")))


@functools.lru_cache(maxsize=1_000)
def _question_terms(question: str) -> tuple:
    return tuple(_weigh(question).items())


def question_terms(question: str) -> dict[str, float]:
    return dict(_question_terms(question))


def _weigh(question: str) -> dict[str, float]:
    """Stemmed content terms of the question -> rarity weight (the rarest surface form wins)."""
    out: dict[str, float] = {}
    for word in _WORD.findall(question):
        for stem in terms(word):
            if stem not in QUESTION_WORDS:
                out[stem] = max(out.get(stem, 0.0), rarity(word.lower()))
    return out


def answer_type(question: str) -> str | None:
    """DATE, NUMBER, PERSON, ENTITY (which team, what company...), PLACE, AUTHOR (who wrote this),
    or None ("who is <Name>?" asks for a description)."""
    for name, pattern in _TYPES:
        if pattern.search(question):
            return name
    return None


def line_of(text: str, a: int, b: int) -> str:
    """The whole line of text around [a, b)."""
    lo = text.rfind("\n", 0, a) + 1
    hi = text.find("\n", b)
    return text[lo:hi if hi >= 0 else len(text)]


@functools.lru_cache(maxsize=100_000)
def sentence_kind(sentence: str, line: str, *, first_line: bool = False) -> str:
    """'statement', or why not: 'heading', 'title', 'caption' or 'fragment'."""
    s = sentence.strip()
    words = _WORD.findall(s)
    if line.lstrip().startswith("#"):
        return "heading"
    if CAPTION.search(line) or CAPTION.match(s):
        return "caption"
    body = _BULLET.sub("", line, count=1)
    if len(words) >= 2 and field_line(body) and s.rstrip(".;").find(":") > 0:
        return "statement"   # "Label: value": a table or spreadsheet row, a form field, a slide bullet
    lower = [w for w in words if w[0].islower()]
    line_words = _WORD.findall(line) or words
    if not _TERMINAL.search(line) and not _BULLET.match(line) and line_words:
        capitalised = sum(w[0].isupper() or w[0].isdigit() for w in line_words) / len(line_words)
        if first_line and (len(line_words) <= 12 or capitalised >= 0.6):
            return "title"
        if len(line_words) <= 8 or capitalised >= 0.6:
            return "heading"
    if len(words) < 4 or len(lower) < 2:
        return "fragment"
    return "statement"


def headings(text: str) -> list[tuple[int, str]]:
    """(offset, text) of the heading and title lines of a text (a Markdown heading, a slide or section
    title, a sheet name: a line sentence_kind calls a heading or title), in order."""
    out, pos = [], 0
    for line in text.split("\n"):
        s = line.strip()
        if s and sentence_kind(s, line, first_line=pos == 0) in ("heading", "title"):
            out.append((pos, s.lstrip("#").strip()))
        pos += len(line) + 1
    return out


def heading_before(heads: list[tuple[int, str]], offset: int) -> str:
    """The last of heads (from headings) that starts before offset, or ""."""
    k = bisect.bisect_left(heads, (offset, ""))
    return heads[k - 1][1] if k else ""


def with_context(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """The text of each span, a list item or "Label: value" line (a slide bullet, a table or spreadsheet
    row) led by the heading it sits under ("Workstream owners — Data migration: Priya Raman"), so that
    what is embedded for it says what it is about; other sentences as they are."""
    heads = None
    out = []
    for a, b in spans:
        s = text[a:b]
        line = line_of(text, a, b)
        if _BULLET.match(line) or field_line(_BULLET.sub("", line, count=1)):
            heads = headings(text) if heads is None else heads
            head = " ".join(heading_before(heads, a).split()[:12])   # a short lead: the unit still fits
            if head and head != s:
                s = f"{head} — {s}"
        out.append(s)
    return out
