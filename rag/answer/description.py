"""What an earlier question asked for, as a noun phrase made of that question's own words.

A follow-up's "he", "it" or "they" often points at the answer to the question before it. When the
assistant showed no short answer (the reader was not confident of one), rag.answer.followup reads the
reference as the description this module builds from that question, so the follow-up names what the
person meant without the system guessing what the answer is:

    "Who was the Super Bowl 50 MVP?"                  -> "the Super Bowl 50 MVP"
    "Who voted on the venue?"                         -> "the person who voted on the venue"
                                                         ("those who voted on the venue" for they/their)
    "Who was appointed to head the team?"             -> "the person who was appointed to head the team"
    "Who had Kublai wanted to succeed him?"           -> "the person Kublai had wanted to succeed him"
    "What theorem states that X?"                     -> "the theorem that states that X"
    "Which law was passed in 1832?"                   -> "the law that was passed in 1832"
    "What is the name of the property that ...?"      -> "the property that ..."

Does not handle (returns None, and the reference stays as typed): questions with "did/does/do" (the
verb would need another form), "where/when/why/how" and "whose" questions, "what" asked alone ("What
causes X?"), a subject that is not a capitalised name ("What title was the king given?"), questions of
more than MAX_WORDS words, and anything not in English.
"""
from __future__ import annotations

import re

MAX_WORDS = 22
AUX = {"is", "was", "are", "were", "has", "have", "had", "can", "could", "will", "would", "should", "may",
       "might", "must"}
DO = {"did", "does", "do"}
COPULA = {"is", "was", "are", "were"}
DETERMINER = {"the", "a", "an"}
PARTICIPLE_END = re.compile(r"(?:called|named|known|termed|considered|used|made|given|found|seen|said)$", re.I)
# past forms without -ed that commonly follow "What <noun>" ("What crew sent ...")
IRREGULAR_PAST = set("""began became brought built bought caught chose came drew drove ate fell felt fought found
flew forgot froze got gave went grew heard hid held kept knew laid led left lent lost made meant met paid put
read rode rose ran said saw sold sent set shook shot showed sang sank sat slept spoke spent stood stole struck swore
swam took taught tore told thought threw understood won wrote""".split())


def _verb_like(word: str, previous: str) -> bool:
    """Whether word, after the noun words of "What <noun> ...", starts the verb phrase (a guess from its form:
    an auxiliary, -ed, a common irregular past, or -s after a noun that does not end in s)."""
    if not word[:1].islower():
        return False
    w = _bare(word).lower()
    if w in AUX or w in DO or w in IRREGULAR_PAST:
        return True
    if len(w) > 4 and w.endswith("ed"):
        return True
    return (w.endswith("s") and not w.endswith(("ss", "us", "is", "'s", "’s")) and len(w) > 3
            and not previous.lower().endswith("s"))


def _bare(word: str) -> str:
    return word.strip(",;:\"“”()")


def _name_run(words: list[str]) -> int:
    """How many words at the start of words form a capitalised name ("Kublai", "Doctor Who")."""
    n = 0
    while n < len(words) and words[n][:1].isupper() and _bare(words[n]).lower() not in AUX | DO:
        n += 1
    return n


def _copular_np(rest: list[str]) -> str | None:
    """"the Super Bowl 50 MVP" of "... is/was the Super Bowl 50 MVP": a noun phrase with a determiner that
    does not end in a participle ("the Doctor's space ship called" is not one)."""
    if not rest or _bare(rest[0]).lower() not in DETERMINER or PARTICIPLE_END.search(rest[-1]) or len(rest) < 2:
        return None
    np = " ".join(rest)
    # "the name of the property that ...", "the term for a mathematical model that ...": what is named
    m = re.match(r"the\s+(?:name|term|word)\s+(?:of|for)\s+((?:the|a|an)\s+.+)$", np, re.I)
    return m.group(1) if m else np[0].lower() + np[1:]


def described(question: str, *, plural: bool = False) -> str | None:
    """The noun phrase for what question asked for (see the module docstring); plural: for "they/them/their"
    ("those who ..."), only after a "who" question. None when the question has another shape."""
    q = question.strip().rstrip("?").strip()
    words = q.split()
    if len(words) < 3 or len(words) > MAX_WORDS:
        return None
    first = words[0].lower()
    if first in ("who", "whom"):
        return _who(words[1:], plural=plural)
    if first in ("what", "which") and not plural:
        return _what(words[1:])
    return None


def _who(rest: list[str], *, plural: bool) -> str | None:
    head = _bare(rest[0]).lower()
    if head in DO:
        return None
    if head in AUX:
        after = rest[1:]
        if head in COPULA and not plural:
            np = _copular_np(after)
            if np:
                return np
        n = _name_run(after)
        if n:   # "Who had Kublai wanted to succeed him?": the person Kublai had wanted ...
            if n == len(after) or plural:
                return None   # "Who is Hong Min?" asks about the name: the name itself is bound elsewhere
            return f"the person {' '.join(after[:n])} {head} {' '.join(after[n:])}"
        if after and _bare(after[0]).lower() in DETERMINER:
            return None   # "Who was the king that ...": only the copular noun phrase above is read
    text = " ".join(rest)
    if plural:
        if not (head in ("were", "are", "have", "had") or head in IRREGULAR_PAST
                or (len(head) > 4 and head.endswith("ed"))):
            return None   # "those who sets ...": the verb is singular
        return f"those who {text}"
    return f"the person who {text}"


def _what(rest: list[str]) -> str | None:
    head = _bare(rest[0]).lower()
    if head in COPULA:   # "What is the capital of France?"
        return _copular_np(rest[1:])
    if head in AUX or head in DO:
        return None   # "What has ...", "What did ...": what alone is asked for
    i = 1
    while i < len(rest) and i <= 4 and not _verb_like(rest[i], rest[i - 1]):
        if not rest[i][:1].isalnum():
            return None
        i += 1
    if i >= len(rest) or i > 4:
        return None
    noun = " ".join(rest[:i])
    verb = _bare(rest[i]).lower()
    tail = rest[i + 1:]
    if verb in DO:
        return None
    if verb in AUX and tail and (tail[0][:1].isupper() or _bare(tail[0]).lower() in DETERMINER):
        n = _name_run(tail)
        if not n and not PARTICIPLE_END.search(tail[-1]) and not tail[-1].endswith(("ed", "en")):
            return f"the {noun} that {' '.join(rest[i:])}"   # "What city has the biggest population?"
        if not n or n == len(tail):
            return None   # "What type of Lord is Doctor Who?", "What title was the king given?"
        return f"the {noun} {' '.join(tail[:n])} {verb} {' '.join(tail[n:])}"
    return f"the {noun} that {' '.join(rest[i:])}"
