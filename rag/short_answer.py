"""Find the short answer a question asks for inside a chosen sentence, with its span.

For a DATE question the candidates are dates (``February 7, 2016``, ``March
1997``, ``1870s``, ``last fall``, weekdays); for NUMBER, numbers with their unit
(``12,000``, ``a third``, ``$5 million``, ``45%``); for PERSON, ENTITY ("which
team...") and PLACE, runs of capitalised words (``Vladimir Putin``,
``Gen. Valery Gerasimov``, ``Kursk``), PLACE preferring those after in/at/from.
Candidates made only of question words are dropped; the one nearest the
question's words in the sentence wins. Returns None for other questions
("what", "why", "how") or when no candidate is found: a missing short answer
is better than a wrong one. Rules, not a parser: English only.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .lexical import tokenize

MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
         r"Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)")
DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
NUMBER_WORD = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
               r"forty|fifty|hundred|hundreds|thousand|thousands|million|millions|billion|dozen|dozens|"
               r"half|third|quarter|a third|a quarter|a half|two-thirds|three-quarters)")
DATE = re.compile(
    rf"\b(?:{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}\s+{MONTH}\s+\d{{4}}|{MONTH}\s+\d{{4}}|"
    rf"{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?|(?:early|mid|late)[- ]\d{{4}}s?|\d{{3,4}}s\b|"
    rf"(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)\s+century|\d{{4}}(?:\s*[-–]\s*\d{{2,4}})?|"
    rf"(?:last|this|next|early|late)\s+(?:fall|autumn|spring|summer|winter|year|month|week|{MONTH})|"
    rf"{DAY}|{MONTH})\b")
NUMBER = re.compile(
    rf"(?:[$£€]\s?)?(?:\d[\d,]*(?:\.\d+)?|\b{NUMBER_WORD}(?:[- ]{NUMBER_WORD})*\b)"
    rf"(?:\s?(?:%|percent|per cent|million|billion|thousand|trillion))?", re.I)
CAP_RUN = re.compile(r"\b(?:[A-Z][\w'’.-]*|\d+)(?:\s+(?:of|the|de|von|van|al|bin|and|for|du|la|le)?\s*"
                     r"(?:[A-Z][\w'’.-]*|\d+))*")
_NOT_NAMES = {"The", "A", "An", "In", "On", "At", "It", "He", "She", "They", "This", "That", "These",
              "Those", "But", "And", "However", "Meanwhile", "According", "Until", "Despite", "For",
              "After", "Before", "During", "When", "While", "If", "As", "Several", "Some", "About",
              "I", "We", "You", "His", "Her", "Their", "Its", "Our", "Until", "Although", "Since", "By"}
DEMONYM = re.compile(r"(?:ian|ean|ese|ish|ans|ians|eans)$|^(?:American|German|French|Dutch|Russian|Korean|Thai)$")
_PLACE_PREP = re.compile(r"\b(?:in|at|from|to|near|into|across|outside|inside)\s+(?:the\s+)?$", re.I)


def common_word(word: str) -> bool:
    """A frequent English word (Zipf >= 4), capitalised only because it opens the sentence."""
    from .evidence import rarity

    return rarity(word) <= 3.0


@dataclass(frozen=True)
class Span:
    text: str
    start: int   # offsets within the sentence
    end: int


BYLINE = re.compile(r"^\s*(?i:by|write to|written by|reporting by|author:|text by)\s+"
                    r"([A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,3})")


@functools.lru_cache(maxsize=100_000)
def _candidates(sentence: str, kind: str) -> tuple[Span, ...]:
    return tuple(_find_candidates(sentence, kind))


@functools.lru_cache(maxsize=100_000)
def _word_stems(text: str) -> tuple[tuple[int, str], ...]:
    """(offset, stem) of each word of text (stopwords left out)."""
    words = [(m.start(), m.group()) for m in re.finditer(r"\w+", text)]
    stems = [(a, tokenize(w)) for a, w in words]
    return tuple((a, t[0]) for a, t in stems if t)


def _find_candidates(sentence: str, kind: str) -> list[Span]:
    if kind == "AUTHOR":
        m = BYLINE.match(sentence)
        return [Span(m.group(1), m.start(1), m.end(1))] if m else []
    if kind == "DATE":
        found = [Span(m.group(), m.start(), m.end()) for m in DATE.finditer(sentence)]
        return [s for s in found if not re.fullmatch(r"\d{4}", s.text) or 1000 <= int(s.text) <= 2100]
    if kind == "NUMBER":
        found = [Span(m.group().strip(), m.start(), m.start() + len(m.group().rstrip()))
                 for m in NUMBER.finditer(sentence) if re.search(r"\d|[a-z]", m.group(), re.I)]
        return [s for s in found if not DATE.fullmatch(s.text.split()[0])
                or not re.fullmatch(r"1\d{3}|20\d{2}", s.text.split()[0])]
    out = []
    for m in CAP_RUN.finditer(sentence):
        text, a = m.group(), m.start()
        words = text.split()
        while words and (words[0] in _NOT_NAMES or re.fullmatch(MONTH + "|" + DAY, words[0])):
            a += len(words[0]) + 1
            words = words[1:]
        while words and words[-1].lower() in {"of", "the", "and", "for", "de", "la", "le", "du"}:
            words = words[:-1]
        if not words or re.fullmatch(r"\d+", words[0]):
            continue
        text = " ".join(words)
        if kind == "PLACE" and not _PLACE_PREP.search(sentence[:a]):
            out.append(Span(text, a, a + len(text)))   # kept, but ranked after prepositional ones
            continue
        out.append(Span(text, a, a + len(text)))
    return out


def find(question: str, sentence: str, kind: str | None) -> Span | None:
    """The short answer of the given kind in sentence (offsets within it), or None."""
    if kind is None:
        return None
    q_stems = {t for _, t in _word_stems(question)}
    # a name the question already gives is not its answer ("Putin" in the question, "Vladimir Putin" here)
    q_names = {t for a, t in _word_stems(question) if a > 0 and question[a].isupper()}
    spans = []
    for s in _candidates(sentence, kind):
        stems = {t for _, t in _word_stems(s.text)}
        if (stems and stems <= q_stems) or (kind in ("PERSON", "PLACE", "AUTHOR", "ENTITY") and stems & q_names):
            continue
        if kind == "PERSON" and (DEMONYM.search(s.text) or s.text.isupper()):   # "North Korean", "SEOUL"
            continue
        if s.start == 0 and " " not in s.text and common_word(s.text.lower()):   # "Cooperation between..."
            continue
        spans.append(s)
    if not spans:
        return None
    anchors = [a for a, t in _word_stems(sentence) if t in q_stems]

    def rank(s: Span):
        near = min((min(abs(x - s.start), abs(x - s.end)) for x in anchors), default=0)
        prep = 0 if kind != "PLACE" or _PLACE_PREP.search(sentence[:s.start]) else 1
        # a fuller date (month, day and year) beats a bare year or weekday
        detail = -len(re.findall(r"\d+|" + MONTH, s.text)) if kind == "DATE" else 0
        return (prep, detail, near, s.start)

    return min(spans, key=rank)
