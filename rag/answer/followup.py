"""Resolve a follow-up question against the previous question and answer of a conversation.

A question depends on the conversation when it opens with "and", "but", "also",
"what about"..., or uses a pronoun or a demonstrative that points outside it
(he, his, it, its, they, their, there, then, that X, those X...; "this
article/document" means the document and does not count). Such a question is
rewritten before retrieval: a personal pronoun becomes the previous short
answer when that was a person (a place for "there", a date for "then"), else
the first name in the previous question ("his" -> "Shi Tianze's", "its" ->
"Scottish Parliament's"); "it", "they" and "them" stay, and the previous
question's content words are added after the question; when nothing was
replaced, the names of the previous question (or its content words) are. A question that names nothing but says "the X"
("What was the paper about?") is taken to depend on the conversation too. A question that does not depend on the conversation
is returned unchanged. Works on the text of the messages only (no model, no
coreference parser): English, and only the last turn is looked back to (the
previous turn having been resolved the same way first).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answer.short_answer import _NOT_NAMES, CAP_RUN
from rag.text.evidence import QUESTION_WORDS, answer_type

LEADING = re.compile(r"^\s*(?:and|but|also|so|then|what about|how about)\b[\s,]*", re.I)
PERSONAL = {"he": "", "she": "", "him": "", "his": "'s", "her": "'s", "hers": "'s"}
NEUTER = {"it": "", "its": "'s", "they": "", "them": "", "their": "'s", "theirs": "'s"}
DEMONSTRATIVE = re.compile(r"\b(?:that|those|these|this|the same)\s+(?!article|document|text|report|story|page|"
                           r"file|book|paper\b(?=\s*\?))\w+", re.I)
_WH = {"What", "Which", "Who", "Whom", "Whose", "When", "Where", "Why", "How", "Is", "Are", "Was", "Were", "Did",
       "Do", "Does", "Can", "Could", "Name", "In", "On", "At", "After", "Before", "During", "Since"}


@dataclass(frozen=True)
class Resolved:
    question: str        # the question to retrieve and answer with
    depends: bool        # whether it leaned on the previous turn
    antecedent: str | None = None


def names(question: str) -> list[str]:
    """Capitalised runs of a question, without its opening question word."""
    out = []
    for m in CAP_RUN.finditer(question):
        words = m.group().split()
        while words and (words[0] in _WH or words[0] in _NOT_NAMES):
            words = words[1:]
        if words and not words[0].isdigit():
            out.append(" ".join(words).removesuffix("'s").removesuffix("’s"))
    return out


def previous_short(answer_text: str | None) -> str | None:
    """The short answer leading an assistant message ("February 7, 2016\\n\\n<quote> [1]"), if any."""
    if not answer_text or "\n\n" not in answer_text:
        return None
    first = answer_text.split("\n\n", 1)[0].strip().strip("*").strip()
    return first if first and "[" not in first and len(first.split()) <= 8 else None


def depends(question: str) -> bool:
    """Whether the question leans on an earlier turn (see the module docstring); "the X" in a
    question that names nothing ("What was the paper about?") counts too."""
    words = re.findall(r"[a-z']+", question.lower())
    return bool(LEADING.match(question) or set(words) & (set(PERSONAL) | set(NEUTER) | {"there"})
                or DEMONSTRATIVE.search(question) or (not names(question) and "the" in words))


def resolve(question: str, previous_question: str | None, previous_answer: str | None = None) -> Resolved:
    if not previous_question or not depends(question):
        return Resolved(question, False)
    q = LEADING.sub("", question).strip()
    q = q[:1].upper() + q[1:]
    short, kind = previous_short(previous_answer), answer_type(previous_question)
    found = names(previous_question)
    person = short if short and kind in ("PERSON", "AUTHOR") else (found[0] if found else None)
    thing = found[0] if found else None
    place = short if short and kind == "PLACE" else (found[-1] if found else None)
    when = short if short and kind == "DATE" else None
    replaced = []

    def sub(m):
        w = m.group()
        low = w.lower()
        # "it", "they", "them" are left in place (the context is added after the question below):
        # the thing they stand for is rarely a name of the previous question
        target = {**{k: person for k in PERSONAL}, **{k: thing for k in NEUTER if k.endswith("s")},
                  "there": place, "then": when}.get(low)
        if not target:
            return w
        replaced.append(target)
        return target + PERSONAL.get(low, NEUTER.get(low, ""))

    q = re.sub(r"\b(?:he|she|him|his|her|hers|it|its|they|them|their|theirs|there|then)\b", sub, q,
               flags=re.I)
    if replaced and not re.search(r"\b(?:it|they|them)\b", q, re.I):
        return Resolved(q, True, replaced[0])
    extra = [n for n in found if n.lower() not in q.lower()]
    if not extra or re.search(r"\b(?:it|they|them)\b", q, re.I):
        extra = [w for w in re.findall(r"[A-Za-z][\w-]+", previous_question)
                 if w.lower() not in q.lower() and w.lower() not in QUESTION_WORDS
                 and w.lower() not in {"the", "was", "is", "are", "did", "does", "of", "in", "to", "a", "an",
                                       "and", "for", "on", "by", "with", "at", "from", "that", "this"}]
    return Resolved(f"{q} ({' '.join(extra)})" if extra else q, True,
                    replaced[0] if replaced else extra[0] if extra else None)


def resolve_conversation(messages: list[dict]) -> Resolved:
    """Resolve the last user message of [{"role", "content"}, ...] against the turns before it."""
    prev_q = prev_a = None
    resolved = None
    for m in messages:
        if m.get("role") == "user":
            resolved = resolve(str(m.get("content", "")), prev_q, prev_a)
            prev_q, prev_a = resolved.question, None
        elif m.get("role") == "assistant":
            prev_a = str(m.get("content", ""))
    if resolved is None:
        return Resolved("", False)
    return resolved
