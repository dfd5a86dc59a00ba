"""Find the short answer a question asks for inside a chosen sentence, with its span.

For a DATE question the candidates are dates (``February 7, 2016``, ``March
1997``, ``1870s``, ``last fall``, weekdays); for NUMBER, numbers with their unit
(``12,000``, ``a third``, ``$5 million``, ``45%``); for PERSON, ENTITY ("which
team...") and PLACE, runs of capitalised words (``Vladimir Putin``,
``Gen. Valery Gerasimov``, ``Kursk``), PLACE preferring those after in/at/from.
Candidates made only of question words are dropped; the one nearest the
question's words in the sentence (summed over all of them) wins, and for PERSON
the agent of a passive ("founded by X") first. ``find`` returns None for other
questions or when no candidate is found. ``phrase`` answers "what/which X"
questions (and typed ones whose sentence has no span of their type) with the
run of words next to the question's words; "why" and "how" (manner) questions
get none. Rules, not a parser: English only.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from rag.text.terms import tokenize

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


_AGENT = re.compile(r"\b\w+(?:ed|en|wn|ght|lt)\s+by\s+(?:the\s+)?$", re.I)


def common_word(word: str) -> bool:
    """A frequent English word (Zipf >= 4), capitalised only because it opens the sentence."""
    from rag.text.evidence import rarity

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
        if re.fullmatch(r"[A-Z][a-z]{3,}\.", words[-1]):   # "the Scottish Government." ends the sentence
            words[-1] = words[-1][:-1]
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
        if (s.start == 0 and " " not in s.text and s.text.isalpha()   # "Cooperation between...", not "71%"
                and common_word(s.text.lower())):
            continue
        spans.append(s)
    if not spans:
        return None
    anchors = [a for a, t in _word_stems(sentence) if t in q_stems]

    def rank(s: Span):
        # closeness to the question's words, all of them: each counts 1 / (1 + distance / 10 characters)
        near = -sum(1.0 / (1 + min(abs(x - s.start), abs(x - s.end)) / 10) for x in anchors)
        prep = 0 if kind != "PLACE" or _PLACE_PREP.search(sentence[:s.start]) else 1
        # a fuller date (month, day and year) beats a bare year or weekday
        detail = -len(re.findall(r"\d+|" + MONTH, s.text)) if kind == "DATE" else 0
        # the agent of a passive ("founded by Zhu Yuanzhang") answers "who founded..."
        agent = 0 if kind == "PERSON" and _AGENT.search(sentence[:s.start]) else 1
        return (prep, detail, agent, near, s.start)

    return min(spans, key=rank)


# "what/which X" questions (and typed ones with no span of their type): the phrase next to the question's words
# (a number's thousands separators stay inside it: "12,000" is one word, never "12")
_TOKEN = re.compile(r"[$£€]?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?|[$£€]?\w[\w'’.%-]*\w%?|\w|[^\w\s]")
# function words: a phrase is cut at them and never starts or ends with one ("of", "the", "a", "and" may sit inside)
_FUNCTION = set("""the a an is was were are be been being by of in on at to for as and or but that which who whom
whose with from into onto its their his her this these those it they he she also has have had not than then when
where while after before during about over under between through per via called named known such both either
may might can could will would should must do does did there if because since so no only however more most very
what why how all some any each other one""".split())
_INSIDE = {"of", "the", "a", "an", "and"}
_VERBISH = re.compile(r"[a-z]+(?:ed|ing|ly)$")   # "collapsed", "relocating", "dramatically": not the thing asked
_NEGATED = re.compile(r"n[’']t$", re.I)   # "didn't", "won’t": never the thing asked for
PHRASE_MAX_WORDS = 6
WHAT = re.compile(r"\b(?:what|which)\b", re.I)


def phrase(question: str, sentence: str, *, any_question: bool = False) -> Span | None:
    """The answer to a "what/which X" question (any question with any_question) in sentence: a run of
    words that holds none of the question's words, cut at punctuation and function words, with a
    matched question word right before it (over function words only: the object of the matched verb,
    the phrase after "is/called") or else right after it (the modifier: "Spanish architect"), at most
    PHRASE_MAX_WORDS words from the matched side; lowercase -ed/-ing/-ly words are trimmed from its
    edges. None when the question is not a what/which one or no run sits next to its words."""
    if not any_question and not WHAT.search(question):
        return None
    from rag.text.evidence import terms

    q_terms = terms(question)
    toks = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(sentence)]
    anchor = [bool(terms(w) & q_terms) for _, _, w in toks]
    if not any(anchor):
        return None
    punct = [not (w[-1].isalnum() or w[-1] == "%") for _, _, w in toks]
    cut = [p or (w.lower() in _FUNCTION and w.lower() not in _INSIDE) or bool(_NEGATED.search(w))
           for p, (_, _, w) in zip(punct, toks)]
    best, key, i = None, None, 0
    while i < len(toks):
        if anchor[i] or cut[i]:
            i += 1
            continue
        j = i
        while j < len(toks) and not anchor[j] and not cut[j]:
            j += 1
        # the nearest word on each side, over at most two function words (punctuation stops the look)
        lgap = next((n for n in range(1, 4) if i - n >= 0 and (anchor[i - n] or not cut[i - n] or punct[i - n])), None)
        rgap = next((n for n in range(0, 3) if j + n < len(toks) and (anchor[j + n] or not cut[j + n] or punct[j + n])),
                    None)
        after = lgap is not None and anchor[i - lgap]
        before = rgap is not None and anchor[j + rgap]
        seg = list(range(i, j))
        while seg and (toks[seg[0]][2].lower() in _FUNCTION or _VERBISH.fullmatch(toks[seg[0]][2])):
            seg = seg[1:]
        while seg and (toks[seg[-1]][2].lower() in _FUNCTION or _VERBISH.fullmatch(toks[seg[-1]][2])):
            seg = seg[:-1]
        if seg and (after or before):
            if len(seg) > PHRASE_MAX_WORDS:
                seg = seg[:PHRASE_MAX_WORDS] if after else seg[-PHRASE_MAX_WORDS:]
            near = sum(anchor[max(0, i - 3):i]) + sum(anchor[j:j + 3])
            k = (0 if after else 1, lgap - 1 if after else rgap, -near, seg[0])
            if key is None or k < key:
                best, key = seg, k
        i = j
    if best is None or _cuts_a_name(toks, best[0], best[-1]):
        return None
    a, b = toks[best[0]][0], toks[best[-1]][1]
    return Span(sentence[a:b], a, b)


def _cuts_a_name(toks, first: int, last: int) -> bool:
    """Whether the words first..last stop inside a run of capitalised words ("Ukrainian President
    Volodymyr" out of "... Volodymyr Zelensky"): half a name reads as a wrong answer, so none is given."""
    def cap(n):
        return 0 <= n < len(toks) and toks[n][2][:1].isupper()
    return (cap(last) and cap(last + 1)) or (cap(first) and cap(first - 1) and first - 1 > 0)


# "Label: value" pairs of a table or spreadsheet row, a form field or a slide bullet ("• Region: Europe; Q3: 905")
_FIELD_PAIR = re.compile(r"(?:^|;)\s*(?:[-*•‣◦–]\s+)?([^:;]{1,60}?):\s+([^;]+?)\s*(?=;|$)")
_TYPED = {"NUMBER": re.compile(r"\d|" + NUMBER_WORD, re.I), "DATE": re.compile(r"\d|" + MONTH + "|" + DAY),
          "PERSON": re.compile(r"^[A-Z]"), "PLACE": re.compile(r"^[A-Z]"), "ENTITY": re.compile(r"^[A-Z]")}


def field_value(question: str, sentence: str) -> Span | None:
    """The value of a "Label: value" sentence (a row "Office: Lisbon; Employees: 42", a bullet "Data
    migration: Priya Raman") that the question asks for: the pair whose label holds the most of the
    question's words, leaving out pairs whose value the question already gives (the row's key, "Lisbon")
    and values not of the asked type (a number for "how many"); None when no label holds a question word."""
    return field_match(question, sentence)[0]


def field_match(question: str, sentence: str) -> tuple[Span | None, bool]:
    """(field_value's span, whether the question also names another pair's value: the row's key). Both
    together are a cell lookup: the question names the row ("Lisbon") and the column ("employees")."""
    from rag.text.chunk import field_line
    from rag.text.evidence import answer_type, question_terms, terms

    if not field_line(re.sub(r"^\s*[-*•‣◦–]\s+", "", sentence)):   # prose with a colon is not a row
        return None, False
    pairs = [(m.group(1).strip(), m.start(2), m.end(2)) for m in _FIELD_PAIR.finditer(sentence)]
    if not pairs:
        return None, False
    weights, kind = question_terms(question), answer_type(question)
    best, best_score, keyed = None, 0.0, False
    for label, a, b in pairs:
        value = sentence[a:b].rstrip(".")
        v_terms = terms(value)
        if v_terms and v_terms <= set(weights):   # the question names it: the row's key, not its answer
            keyed = True
            continue
        if kind in _TYPED and not _TYPED[kind].search(value):
            continue
        score = sum(w for t, w in weights.items() if t in terms(label))
        if score > best_score:
            best, best_score = Span(value, a, a + len(value)), score
    return best, keyed and best is not None
