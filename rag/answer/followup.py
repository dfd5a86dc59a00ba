"""Read a follow-up question against the conversation before it, with rules (no model).

First decide whether the question depends on the conversation at all; a question
that does not is returned exactly as typed. It depends when it has
- a reference with nothing in the question to point to: he/she/him/his/her before any
  name of the question, it/its/they/them/their before any name or noun phrase, "there"
  (not "there is/was..."), "then", "that day/year/time", or a demonstrative "that/this/
  those/these + noun" ("that mission"; "this article/document..." means the document);
- an ellipsis: "And this year?", "What about Apollo 12?", "And according to Seoul?",
  "And another one?", "and how many were killed?" (how many of what is not said), a bare
  question word or phrase ("When?", "From what country?"),
  or a question about the source of the last answer ("What is the source?", "Who said
  that?");
- a return to an earlier topic ("Back to Kennedy: what was he put off by?").
A leading "and"/"but"/"also" alone does not make a question depend on the conversation.

References are bound to an entity of the right type tracked over the whole
conversation (each earlier turn as it was read, newest first): a date for "then"/"that
day"/"that year", a place for "there", a person for "he/his", a thing for "it/its"
(the previous answer when the previous question asked "which/what <noun>", else the
first thing named by the previous question). The previous answer is used only through
the short answer that led the assistant's message ("Kursk\\n\\n<quote> [1]"), which the
answer step shows only when it is confident (the learned reader's gate); when it shows
none, "then"/"that year", "there" and "he/his" may take the one date, place or person
name of the message's first quoted sentence (the reader's, when it leads), else of all its
quoted sentences, that its question does not name; a span the reader was not confident enough to show
is never put in. Otherwise "he", "it" or "they" pointing at an answer that was not shown reads as what
the previous question asked for, in that question's own words (rag.answer.description: "What position
does the Super Bowl 50 MVP play?", "When was the theorem that states ... proven?"; a possessive takes the
"of" form, "the spring meetings of those who voted ..."); a question of another shape leaves it as typed.
"they/their" after a "who" question are those answered when the answer is plural ("NFL owners"). Each kind of pronoun is put in once ("when Luther refused to
retract his writings"); "it" is never the person "he/his" of the same question is, and keeps
what the previous question's "it" was read as; "that year" after a full date takes its year;
a one-word name that a quoted sentence gives a role ("the Viking ruler Rollo") is a person;
"it" after "Where/When did <singular subject> ...?" is that subject, not the place answered;
a name keeps a common noun before it ("the word Norman"). Entity types come from the question that was
answered (rag.text.evidence.answer_type) and, for names in questions, from their
form (a date, "in/at/from X", an acronym or an organisation word, two or more
capitalised words). An ellipsis is rewritten into a whole question from the previous
one ("How many North Korean soldiers were sent to Russia this year?"; "According to
whom, how many ...?"; "From what country was the first person in space?"); "When?"
after a question whose subject was asked for reads "When was it that <answer> <rest>?".

Resolved.question is the question as read; Resolved.depends is True only when it
differs from the question as typed (the caller shows "Read as: ..." then). English
only; a reference that finds no entity of its type is left as typed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.answer.description import described
from rag.answer.short_answer import _NOT_NAMES, _PLACE_PREP, CAP_RUN, DATE, DEMONYM, MONTH, _candidates
from rag.text.evidence import answer_type, rarity

LEADING = re.compile(r"^\s*(?:and|but|also|so|ok(?:ay)?|then)\b[\s,]*", re.I)
ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+", re.I)
RETURN = re.compile(r"^\s*(?:and\s+)?(?:(?:going|coming|getting|turning)\s+)?back\s+to\s+(?P<x>[^:,;]+?)\s*[:,;-]\s*"
                    r"(?P<rest>.+)$|^\s*(?:returning|to\s+return)\s+to\s+(?P<x2>[^:,;]+?)\s*[:,;-]\s*(?P<rest2>.+)$",
                    re.I)
SOURCE = re.compile(r"^\s*(?:and\s+)?(?:what\s+is\s+(?:the|your|its)\s+source|what'?s\s+the\s+source|source\??|"
                    r"says\s+who|who\s+says(?:\s+(?:so|that))?|who\s+said\s+(?:so|that|this)|according\s+to\s+"
                    r"whom|where\s+(?:does|did)\s+(?:that|this)\s+come\s+from|who\s+is\s+the\s+source|"
                    r"how\s+do\s+(?:you|we)\s+know(?:\s+that)?)\s*\??\s*$", re.I)
BARE_HOW_MANY = re.compile(r"^\s*(?:(?:and|but|also|so)\s+)?how\s+(?:many|much)\s+(?:of\s+(?:them|those|these)\s+)?"
                           r"(?=(?:is|was|are|were|did|does|do|has|have|had|will|would|can|could)\b)", re.I)
WH_FRAGMENT = re.compile(r"^\s*(?:and\s+)?(?P<f>(?:(?:in|on|at|from|to|for|by|with|since|until)\s+)?"
                         r"(?:(?:what|which|whose)(?:\s+\w+){1,2}|who|whom|when|where|why|how(?:\s+(?:many|much|long|"
                         r"often|far|old|big))?)(?:\s+exactly)?)\s*\?\s*$", re.I)
AUX = {"is", "was", "are", "were", "did", "does", "do", "has", "have", "had", "can", "could", "will", "would",
       "should", "may", "might", "must"}
PERSONAL = {"he": "", "she": "", "him": "", "his": "'s", "her": "'s", "hers": "'s"}
NEUTER = {"it": "", "its": "'s", "they": "", "them": "", "their": "'s", "theirs": "'s"}
PRONOUN = re.compile(r"\b(?:he|she|him|his|her|hers|it|its|they|them|their|theirs)\b", re.I)
TIME_NOUNS = r"(?:day|date|year|time|month|week|period|season|night|morning|evening|decade|century|era)"
THEN = re.compile(rf"\b(?:(?:(?:on|in|at|during|by|since|from)\s+)?that\s+{TIME_NOUNS}|then)\b", re.I)
THERE = re.compile(r"(?<!\bis )(?<!\bare )(?<!\bwas )(?<!\bwere )(?<!\bbe )\bthere\b"   # not "is there", "there is"
                   r"(?!\s+(?:is|was|are|were|be|been|being|'s|’s|will|would|has|have|had|remain|"
                   r"remained|exist|existed|seem|seemed|appear|appeared)\b)", re.I)
DOC_NOUNS = {"article", "document", "text", "report", "story", "page", "file", "book", "paper", "passage", "site",
             "question", "answer", "chat", "conversation"}
DEMONSTRATIVE = re.compile(r"\b(?P<d>that|this|those|these)\s+(?:(?:type|kind|sort)\s+of\s+)?(?P<n>[a-z][\w-]*)",
                           re.I)
_NOT_AFTER_THAT = {"so", "such", "than", "now", "said", "says", "say", "believe", "believed", "claim", "claimed",
                   "know", "knew", "show", "shows", "showed", "mean", "means", "meant", "think", "thought",
                   "found", "find", "reported", "stated", "announced", "argued", "suggest",
                   "suggested", "decided", "felt", "hoped", "hope", "like", "see", "saw"}
FUNCTION = set("""a an the of in on at to for by with from as and or but is was were are be been being do does
did has have had not no this that these those it its they them their he him his she her who whom whose what
which when where why how many much can could will would should may might must there then than so some any
each every other another one ones about into onto over under after before during since until up down out off
own same such very just also only more most less least first last""".split())
ORG_WORDS = {"company", "corporation", "center", "centre", "parliament", "program", "programme", "project",
             "group", "council", "party", "university", "institute", "office", "bank", "network", "station",
             "agency", "union", "committee", "module", "assembly", "government", "church", "bible", "act", "bowl",
             "commission", "army", "navy", "force", "forces", "department", "ministry", "court", "team", "club",
             "school", "college", "museum", "hospital", "house", "senate", "congress", "kremlin", "board",
             "services", "service", "system", "theorem", "test", "hypothesis", "problem", "machine", "series",
             "show", "film", "mission", "apollo", "saturn", "lab", "tower", "bridge", "river", "island", "city",
             "state", "county", "region", "republic", "kingdom", "empire", "dynasty", "war", "treaty", "pact",
             "agreement", "convention", "award", "prize", "media", "broadcasting", "television", "radio", "duchy",
             "bureau", "executive", "cabinet", "authority", "police", "secretariat", "tribunal"}
_WH = {"What", "Which", "Who", "Whom", "Whose", "When", "Where", "Why", "How", "Is", "Are", "Was", "Were", "Did",
       "Do", "Does", "Can", "Could", "Name", "In", "On", "At", "After", "Before", "During", "Since", "From", "To",
       "For", "By", "With", "Of", "And", "But", "Also", "Back", "Going", "Besides", "According", "If", "Against",
       "Among", "Between", "Along", "Under", "Over", "Through", "Within", "Without", "Upon", "Into", "About",
       "Around", "Near", "Like", "Unlike", "Despite", "Following", "Prior", "Apart", "Aside", "Toward", "Towards"}


ROLES = ("leader", "ruler", "king", "queen", "emperor", "empress", "president", "chancellor", "minister", "general",
         "commander", "captain", "admiral", "duke", "duchess", "count", "prince", "princess", "bishop", "pope",
         "cardinal", "priest", "monk", "governor", "mayor", "senator", "founder", "chief", "chieftain", "warlord",
         "explorer", "writer", "author", "poet", "composer", "painter", "scientist", "philosopher", "theologian",
         "player", "coach", "singer", "actor", "actress", "director", "father", "mother", "son", "daughter", "wife",
         "husband", "brother", "sister", "uncle", "nephew")
ROLE_BEFORE = re.compile(rf"\b(?:{'|'.join(ROLES)})\s+$")   # "the famed Viking ruler Rollo": a person


def _called_a_person(name: str, texts) -> bool:
    """Whether a one-word name ("Rollo") follows a person's role in one of texts ("under their leader Rollo")."""
    return any(ROLE_BEFORE.search(t[:m.start()]) for t in texts for m in re.finditer(rf"\b{re.escape(name)}\b", t))


PLACE_NOUNS = {"region", "city", "country", "town", "state", "area", "place", "island", "county", "province",
               "village", "site", "location", "building", "venue", "stadium", "continent", "territory", "capital",
               "district", "port", "planet", "nation", "river", "sea", "ocean", "land", "street", "neighborhood"}
_PLACE_FIRST = {"North", "South", "East", "West", "New", "San", "Los", "Las", "Saint", "St.", "Great", "Upper",
                "Lower", "Central", "Northern", "Southern", "Eastern", "Western", "Fort", "Mount", "Lake", "Cape"}


@dataclass(frozen=True)
class Resolved:
    question: str        # the question to retrieve and answer with
    depends: bool        # whether it was read against the conversation (then question differs from the typed one)
    antecedent: str | None = None
    thing: str | None = None   # what "it"/"its" was bound to, if the question had one (the next turn keeps it)


@dataclass
class Entity:
    text: str
    kind: str            # "person", "place", "date", "thing", "name" (a name of unknown kind), "number"
    turn: int            # the turn it comes from (0 = the first)
    from_answer: bool = False


@dataclass
class Turn:
    question: str                       # as read
    short: str | None                   # the short answer shown with its answer, if any
    kind: str | None                    # answer_type(question)
    entities: list[Entity] = field(default_factory=list)
    quoted: tuple[str, ...] = ()        # the sentences its answer quoted, without the short answer and markers
    thing: Entity | None = None         # what its "it"/"its" was bound to when it was read, if it had one


def names(question: str) -> list[str]:
    """Capitalised runs of a question, without its opening question word."""
    out = []
    for m in CAP_RUN.finditer(question):
        words = m.group().split()
        while words and (words[0] in _WH or words[0] in _NOT_NAMES):
            words = words[1:]
        while words and words[-1].lower() in {"of", "the", "and", "for", "de", "la", "le"}:
            words = words[:-1]
        if words and not (len(words) == 1 and words[0].isdigit()):
            out.append(" ".join(words).removesuffix("'s").removesuffix("’s"))
    return out


def previous_short(answer_text: str | None) -> str | None:
    """The short answer leading an assistant message ("February 7, 2016\\n\\n<quote> [1]"), if any: the answer
    step puts one there only when it is confident of it."""
    if not answer_text or "\n\n" not in answer_text:
        return None
    first = answer_text.split("\n\n", 1)[0].strip().strip("*").strip()
    if not first or "[" in first or len(first.split()) > 8 or first.startswith(("⚠", "(")) or first.endswith(
            (".", ":")):
        return None
    return first


def quoted_sentences(answer_text: str | None) -> tuple[str, ...]:
    """The sentences an assistant message quoted ("<short>\\n\\n<sentence> [1] <sentence> [2]"), each without
    its citation marker; none for a message that quotes nothing (a refusal)."""
    if not answer_text or not re.search(r"\[\d+\]", answer_text):
        return ()
    body = answer_text.split("\n\n", 1)[1] if previous_short(answer_text) else answer_text
    return tuple(p.strip() for p in re.split(r"\s*\[\d+\]", body) if p.strip())


def single_candidate(turn: Turn, kind: str) -> Entity | None:
    """The one entity of kind ("date", "place", "person") in the turn's quoted sentences that its question does
    not name; None when there is none or more than one (then the reference is left as typed)."""
    asked = turn.question.lower()
    for texts in (turn.quoted[:1], turn.quoted):   # the sentence quoted first (the reader's, when it leads)
        found: list[str] = []
        for text in texts:
            found += _candidates_of(text, kind)
        found = [f for f in dict.fromkeys(found) if f.lower() not in asked]
        if kind == "person":   # "Neil Armstrong ... Armstrong": one person
            found = [f for f in found if not any(f != g and f in g for g in found)]
        if len(found) == 1:
            return Entity(found[0], kind, -1, from_answer=True)
    return None


PLACE_BEFORE = re.compile(rf"\b(?:in|at|from|to|near|into|across|outside|inside)\s+(?:the\s+)?"
                          rf"(?:(?:{'|'.join(sorted(PLACE_NOUNS))})\s+(?:of\s+)?)?$", re.I)   # "from the planet"


def _candidates_of(text: str, kind: str) -> list[str]:
    found: list[str] = []
    if kind == "date":
        for span in _candidates(text, "DATE"):
            d = span.text
            if (re.fullmatch(MONTH, d) or re.fullmatch(r"\d{4}", d) and not 1000 <= int(d) <= 2100
                    or re.match(r"(?:last|this|next|early|late)\s", d, re.I)):
                continue
            found.append(d)
        # a year of three digits after a preposition ("began in 911 as a fiefdom"), not a count ("of 500 men")
        found += re.findall(r"\b(?:in|by|since|until|from|around|about)\s+(\d{3})\b"
                            r"(?![\d,.%]|\s*(?:percent|[a-z]{2,}s\b|men|people))", text)
    else:
        for span in _candidates(text, "PLACE"):
            n = re.sub(r"['’]s$", "", span.text.rstrip("."))
            if span.start == 0 and " " in n and rarity(n.split()[0]) <= 1.5:   # "Under Webb's": an opening word
                n = n.split(" ", 1)[1]
            n_kind = _name_kind(n, text)
            if kind == "person" and any(rarity(w) <= 1.0 for w in n.split()):
                continue   # "Time Lord": a name made of common words is not a person's
            if kind == "place" and PLACE_BEFORE.search(text[:span.start]) and n_kind in ("place", "name", "thing") \
                    and not any(w.lower() in ORG_WORDS - PLACE_NOUNS for w in n.split()) \
                    and not any(ch.isdigit() for ch in n):
                found.append(n)
            elif kind == "person" and (n_kind == "person" or n_kind == "name" and ROLE_BEFORE.search(
                    text[:span.start])) and not _PLACE_PREP.search(text[:span.start]):
                found.append(n)
    return found


def _name_kind(name: str, question: str) -> str | None:
    """The kind of a name found in a question, from its form and what precedes it; None: not an entity
    (an adjective such as "North Korean")."""
    if DATE.fullmatch(name) or re.fullmatch(r"\d{3,4}s?", name):
        return "date"
    words = name.split()
    if DEMONYM.search(words[-1]) and not any(w.lower() in ORG_WORDS for w in words):
        return None
    if words[0] in _PLACE_FIRST:
        return "place"
    if any(w in ("of", "for", "and", "the") for w in words[1:-1]):
        return "thing"   # "Wide World of Sports", "Korea Institute for National Unification"
    if any(w.lower() in ORG_WORDS for w in words) or any(ch.isdigit() for ch in name) or any(
            w.isupper() and len(w) > 1 for w in words):
        return "thing"
    before = question[:question.find(name)] if name in question else ""
    if re.search(r"\b(?:in|at|near|into|across|from|to)\s+(?:the\s+)?$", before, re.I):
        return "place"
    if re.search(r"\bthe\s+$", before):
        return "thing"
    if len(words) >= 2:
        return "person"
    return "name"


def _kind_of_answer(question: str, short: str) -> str:
    kind = answer_type(question)
    if kind in ("PERSON", "AUTHOR"):   # "Who sets the agenda?" -> "Parliamentary Bureau": a body, not a person
        return "thing" if any(w.lower() in ORG_WORDS for w in short.split()) else "person"
    if kind == "PLACE":
        return "place"
    if kind == "DATE" or DATE.fullmatch(short):
        return "date"
    if kind == "NUMBER":
        return "number"
    return "thing"


def _asks_for_noun(question: str) -> set[str]:
    """The words that may be the noun of "which/what <noun> ..." ("Which Russian region was ..." -> {"russian",
    "region"}); empty when the question does not ask for a "<noun>"."""
    m = re.search(r"\b(?:which|what)\s+(?:kind\s+of\s+|type\s+of\s+|sort\s+of\s+)?((?:[\w-]+\s+){0,2}[\w-]+)",
                  question, re.I)
    out: set[str] = set()
    for w in (m.group(1).split() if m else []):
        if w.lower() in AUX | FUNCTION:
            break
        out.add(w.lower())
    return out


def turn_of(question: str, answer_text: str | None, index: int, thing: str | None = None) -> Turn:
    short = previous_short(answer_text)
    t = Turn(question, short, answer_type(question), quoted=quoted_sentences(answer_text),
             thing=Entity(thing, "thing", index) if thing else None)
    for d in DATE.finditer(question):
        t.entities.append(Entity(d.group(), "date", index))
    for n in names(question):
        kind = _name_kind(n, question)
        if kind and kind != "date":
            # "the Apollo 11 mission": the name with the noun it modifies
            m = re.search(rf"\bthe\s+{re.escape(n)}\s+([a-z]+)\b", question)
            text = f"the {n} {m.group(1)}" if m and m.group(1) in ORG_WORDS else n
            # "the word Norman", "the ship Aurora": the name with the common noun it stands beside
            m = re.search(rf"\bthe\s+([a-z]{{3,}})\s+{re.escape(n)}\b", question)
            if text == n and m and m.group(1) not in FUNCTION | AUX and m.group(1) not in ROLES:
                text = f"the {m.group(1)} {n}"
            t.entities.append(Entity(text, "thing" if text != n else kind, index))
    if short:
        t.entities.insert(0, Entity(short, _kind_of_answer(question, short), index, from_answer=True))
    return t


def _name_before(question: str, pos: int, kinds: tuple[str, ...] = ("person", "name", "thing", "place")) -> bool:
    return any(_name_kind(n, question) in kinds for n in names(question[:pos]))


def _plural_np(text: str) -> str | None:
    """The first plural noun phrase of text ("Ukrainian officials", "customers"), if any."""
    for m in re.finditer(r"((?:[A-Z][\w-]+\s+){0,3})((?:[a-z][\w-]*?(?:s|men)|people|children))\b", text):
        word = m.group(2).lower()
        if len(word) < 4 or word in FUNCTION or word in AUX or word.endswith(("ss", "us", "is", "ous")) or word in (
                "does", "was", "has", "its", "this", "thus", "always", "perhaps", "sometimes", "less", "across"):
            continue
        if m.group(1).split() and m.group(1).split()[-1] in _WH:   # "Who assembles ...": a verb after "who"
            continue
        return (m.group(1) + m.group(2)).strip()
    return None


def _np_before(question: str, pos: int) -> bool:
    """A plural noun phrase before pos that "they"/"them"/"their" can point to ("the customers ... they")."""
    return _plural_np(question[:pos]) is not None


def references(question: str) -> list[re.Match]:
    """Pronouns of the question with nothing before them in the question to point to."""
    out = []
    for m in PRONOUN.finditer(question):
        w = m.group().lower()
        if w == "it" and (re.match(r"\s+(?:is|was)\s+(?!able\b)(?:\w+\s+){0,3}(?:to|that)\b", question[m.end():],
                                   re.I)
                          or re.search(r"\b(?:make|makes|made|making)\s+$", question[:m.start()], re.I)
                          or re.match(r"\s+(?:mean|take|took)\s+(?:\w+\s+){0,3}to\b", question[m.end():], re.I)):
            continue   # "is it true that", "make it to", "what does it mean to": no referent needed
        if _name_before(question, m.start(), ("person", "name") if w in PERSONAL else
                        ("person", "name", "thing", "place")) and not (w == "him" and _same_clause_name(question, m)):
            continue
        if w in ("they", "them", "their", "theirs") and _np_before(question, m.start()):
            continue
        if w == "its" and re.search(r"\b(?:a|an|the)\s+\w+", question[:m.start()], re.I):
            continue   # "... that a number n is prime is inversely proportional to its logarithm"
        out.append(m)
    return out


def _same_clause_name(question: str, m: re.Match) -> bool:
    """Whether every person name before "him" is in its clause ("When was Luther called by him?", "How long
    did it take Johnson to respond to him?"): "him" is then someone else, as in English it cannot be the
    clause's own subject (that would be "himself")."""
    before = question[:m.start()]
    if re.search(r"[,;:]|\b(?:and|but|that|who|which|when|because|after|before|while|if)\b", before.split(" ", 1)[-1]):
        return False
    return bool(names(before))


def _demonstratives(question: str) -> list[re.Match]:
    out = []
    for m in DEMONSTRATIVE.finditer(question):
        noun = m.group("n").lower()
        before = question[:m.start()].split()
        if noun in DOC_NOUNS or noun in FUNCTION or noun in AUX or re.fullmatch(TIME_NOUNS, noun):
            continue
        if m.group("d").lower() == "that" and before and before[-1].lower().strip(",") in _NOT_AFTER_THAT:
            continue
        if m.group("d").lower() == "that" and before and before[-1].lower() not in FUNCTION | AUX and any(
                w.lower() in ("the", "a", "an", "its", "their", "his", "her") for w in before[-3:-1]):
            continue   # "the property that designates ...": a relative clause after a noun phrase
        if noun.endswith("ly") or (noun.endswith("ed") and len(noun) > 4):
            continue
        out.append(m)
    return out


def depends(question: str) -> bool:
    """Whether the question leans on the conversation (see the module docstring)."""
    q = question.strip()
    return bool(ABOUT.match(q) or RETURN.match(q) or SOURCE.match(q) or WH_FRAGMENT.match(q) or _elliptical(q)
                or BARE_HOW_MANY.match(q)
                or references(q) or THEN.search(q) or THERE.search(q) or _demonstratives(q))


def _elliptical(question: str) -> str | None:
    """The fragment X of "And X?" / "What about X?" (no question word or verb of its own), else None."""
    m = ABOUT.match(question)
    if m:
        return question[m.end():].strip().rstrip("?").strip() or None
    m = LEADING.match(question)
    if not m or m.end() == 0:
        return None
    rest = question[m.end():].strip().rstrip("?").strip()
    if not rest or len(rest.split()) > 6:
        return None
    first = rest.split()[0].lower()
    if first in {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"} | AUX:
        return None
    if re.search(r"\b(?:is|was|are|were|did|does|do|has|have|had)\b", rest, re.I) and not rest.lower().startswith(
            "according"):
        return None
    return rest


# --- binding -------------------------------------------------------------------------------------------------

def _find(history: list[Turn], kinds: tuple[str, ...], *, answer_first: bool = True) -> Entity | None:
    """The newest entity of one of kinds (in order of preference within a turn)."""
    for t in reversed(history):
        ents = sorted(t.entities, key=lambda e: (not e.from_answer) if answer_first else e.from_answer)
        for kind in kinds:
            for e in ents:
                if e.kind == kind:
                    return e
    return None


def _the(text: str) -> str:
    """A noun phrase ready to stand in a sentence: "committee" -> "the committee", "Scottish Parliament" ->
    "the Scottish Parliament" (a name of two or more words with an organisation word); other names unchanged."""
    t = text.strip()
    if re.match(r"(?:the|a|an|this|that|his|her|its|their)\s", t):
        return t
    if t[:1].islower():
        return f"the {t}"
    words = t.split()
    if (len(words) >= 2 and any(w.lower() in ORG_WORDS for w in words) and not any(c.isdigit() for c in t)
            and words[0] not in ("The", "A", "An") and not words[0].endswith(("'s", "’s"))):
        return f"the {t}"
    if re.match(r"(?:The|A|An)\b", t):
        return t[0].lower() + t[1:]
    return t


def _possessive(text: str) -> str:
    return text + ("'" if text.endswith("s") and not text.endswith("ss") else "'s")


def _bind_thing(history: list[Turn]) -> Entity | None:
    """What "it"/"its" points to: the previous answer when the previous question asked "which/what <noun>"
    (and the answer is not a number or date), else the first thing the previous question names, else the
    newest thing of the conversation."""
    if not history:
        return None
    last = history[-1]
    ans = next((e for e in last.entities if e.from_answer), None)
    if ans and ans.kind == "thing" and _asks_for_noun(last.question):
        return ans
    if last.thing and last.thing.text in last.question:   # "it" again: what the last "it" was read as
        return last.thing
    asked = _asks_for_noun(last.question)
    for kinds in (("thing", "name"), ("place",)):
        for e in last.entities:   # not a name inside what was asked for ("Which Florida city ...?": not Florida)
            if not e.from_answer and e.kind in kinds and not set(e.text.lower().split()) <= asked:
                return e
    if ans and ans.kind == "thing":
        return ans
    if re.match(r"\s*(?:where|when|how|why)\s+(?:\w+\s+)?(?:is|was|are|were|did|does|do|has|have|had)\b",
                last.question, re.I):
        np = _subject_np(last.question)   # "Where did the black death originate?" -> "the black death", not
        if np and not _plural(np.split()[-1]):   # the place answered ("there" is that); "it" is not "the troops"
            return Entity(np, "thing", len(history) - 1)
    if ans and ans.kind == "place":
        return ans
    for e in last.entities:   # a name taken for a person by its form ("Doctor Who") may be a thing; a one-word
        if not e.from_answer and e.kind == "person" and " " in e.text:   # name an answer called a person is not
            return e
    if _asks_for(last) and not ans and not (last.kind in ("PERSON", "AUTHOR") or re.match(
            r"\s*(?:\w+\s+)?whom?\b", last.question, re.I)):
        # "it" is most likely the thing the previous question asked for, which the answer did not show: that
        # question's own description of it ("the theorem that states ..."), else left as typed
        return _description(history, "thing")
    return _find(history[:-1], ("thing", "name")) or _description(history, "thing")


def _plural(word: str) -> bool:
    w = word.lower()
    return w.endswith("s") and not w.endswith(("ss", "us", "is", "ous")) or w in ("people", "men", "women", "children")


def _asks_for(turn: Turn) -> bool:
    """Whether the question asked for a person or thing ("Who sets ...?", "What network ...?"), not a date,
    number, place or description."""
    return turn.kind in ("PERSON", "AUTHOR", "ENTITY") or bool(re.search(r"\bwhom?\b", turn.question, re.I))


def _subject_np(question: str) -> str | None:
    """The first "the <noun phrase>" of a question that names nothing ("Where did the black death
    originate?" -> "the black death"); the question's last word (its verb) is left out."""
    words = question.rstrip("?").split()
    for i, w in enumerate(words):
        if w.lower() == "the":
            j = i + 1
            while j < len(words) - 1 and j - i <= 3 and words[j].lower() not in FUNCTION | AUX:
                j += 1
            if j > i + 1:
                return " ".join(words[i:j])
    return None


def _bind_plural(history: list[Turn], *, things: bool = True) -> str | None:
    """What "they"/"them"/"their" points to: the plural noun phrase of a "how many X ..." question, the
    previous answer when it was asked for by "which/what <noun>", else the previous question's thing."""
    if not history:
        return None
    last = history[-1]
    m = re.match(r"\s*how\s+many\s+(?:of\s+the\s+)?((?:[\w-]+\s+){0,3}?[\w-]+s)\b", last.question, re.I)
    if m:
        return "the " + m.group(1)
    ans = next((e for e in last.entities if e.from_answer), None)
    who = last.kind in ("PERSON", "AUTHOR") or bool(re.match(r"\s*(?:\w+\s+)?whom?\b", last.question, re.I))
    if who and ans and _plural(ans.text.split()[-1]):   # "they" after "Who voted ...?": those answered
        return _the(ans.text)
    np = _plural_np(last.question)
    if np:
        return "the " + np
    if who and not ans:   # most likely those asked for, whom the answer did not show: the question's description
        d = _description(history, "plural")
        return d.text if d else None
    if not things:
        return None
    if ans and ans.kind in ("thing", "place") and ans.text[:1].islower() and len(ans.text.split()) <= 3:
        text = ans.text if ans.text.endswith("s") else ans.text + "s"   # "committee" -> "the committees"
        return _the(text)
    e = _bind_thing(history)
    return _the(e.text) if e else None


def _noun_phrase(question: str, noun: str) -> str | None:
    """The noun phrase of question that ends with noun ("the Apollo 1 cabin fire" for "fire")."""
    words = question.rstrip("?").split()
    for i, w in enumerate(words):
        if w.lower().strip(",.'’s") == noun or w.lower().strip(",.") == noun + "s":
            j = i
            while j > 0 and words[j - 1].lower() not in FUNCTION - {"first", "last"} and i - j < 4:
                j -= 1
            the = "the " if j > 0 and words[j - 1].lower() == "the" else ""
            return the + " ".join(words[j:i + 1]).strip(",")
    return None


def _date_phrase(date: str, matched: str) -> str:
    """The date put in place of "then"/"that day"/"that year", with the preposition the sentence needs."""
    lead = re.match(r"(on|in|at|during|by|since|from)\s+", matched, re.I)
    if re.match(r"(?:last|this|next|early|late)\b", date, re.I):
        keep = lead and lead.group(1).lower() in ("since", "by", "from", "until")   # "since last June"
        return (lead.group(1) + " " if keep else "") + date
    if lead:
        return f"{lead.group(1)} {date}"
    if re.match(r"\d", date) or re.fullmatch(r"(?:the\s+)?\d{1,2}(?:st|nd|rd|th)\s+century", date):
        return f"in {date}"
    if re.match(r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b", date) or re.search(r"\d{1,2}$",
                                                                                                       date):
        return f"on {date}"
    return f"in {date}"


def _substitute(question: str, history: list[Turn], topic: Entity | None = None):
    """Replace the references of the question by their entities (each kind of pronoun once); returns
    (question, what was put in, what "it"/"its" was read as or None)."""
    bound: list[str] = []
    refs = {m.start() for m in references(question)}
    if topic and topic.kind in ("person", "name"):
        person = topic
    elif history and (history[-1].kind in ("PERSON", "AUTHOR") or re.search(r"\bwhom?\b", history[-1].question, re.I)) \
            and not history[-1].short:
        # "he" is most likely the person just asked for, whom the answer did not name: the one person its
        # quoted sentences name, if only one
        person = _quoted(history, "person") or _description(history, "person")
    else:   # a known person first; else the person an earlier "who" question asked for (two turns back at most)
        person = (_find(history, ("person",)) or _find(history, ("name",)) or _quoted(history, "person")
                  or _description(history[:-1], "person"))
    thing = topic if topic and topic.kind != "person" else _bind_thing(history)
    plural = _the(topic.text) if topic and topic.kind != "person" else _bind_plural(history)

    if thing and person and thing.text == person.text and any(
            m.group().lower() in PERSONAL for m in references(question)):
        thing = None   # "his translation of it": "it" is not the person "his" is
    done: set[str] = set()   # the pronoun classes already replaced: a later one stays ("when Luther refused
    #                          to retract his writings")

    def pronoun(m):
        if m.start() not in refs:
            return m.group()
        w = m.group().lower()
        if w in PERSONAL:
            target, suffix, cls = (person.text if person else None), PERSONAL[w], "person"
        elif w in ("it", "its"):
            target, suffix, cls = (_the(thing.text) if thing else None), NEUTER[w], "thing"
        else:
            target, suffix, cls = plural, NEUTER[w], "plural"
        if not target or cls in done:
            return m.group()
        done.add(cls)
        bound.append(target)
        if cls == "thing":
            things.append(thing.text)
        if suffix and CLAUSE.search(target):   # "his team" -> "the team of the person who ...", below
            owners.append((target, m.group()))
            return f"\x00{len(owners) - 1}\x00"
        return _possessive(target) if suffix else target

    things: list[str] = []
    owners: list[tuple[str, str]] = []
    q = _owned_by(PRONOUN.sub(pronoun, question), owners)

    def then(m):
        if topic and topic.kind == "date":
            date = topic
        elif history and history[-1].kind == "DATE" and not history[-1].short:   # the date just asked for
            date = _quoted(history, "date") or _find(history, ("date",))
        else:
            date = _find(history, ("date",)) or _quoted(history, "date")
        if not date:
            return m.group()
        bound.append(date.text)
        year = re.search(r"\b(\d{3,4})$", date.text)
        text = date.text
        if re.search(r"\byear\b", m.group(), re.I) and year and year.group() != date.text:
            text = year.group(1)   # "that year" after "February 7, 2016": 2016
        if re.search(r"\b(?:of|in|on|at|during|by|since|from|until|before|after)\s+$", q[:m.start()], re.I) \
                and not re.match(r"(?:on|in|at|during|by|since|from)\s", m.group(), re.I):
            return text   # "in March of that year": "in March of 2007", not "of in 2007"
        return _date_phrase(text, m.group())

    q = THEN.sub(then, q)

    def there(m):
        if topic and topic.kind == "place":
            place = topic
        elif history and history[-1].kind == "PLACE" and not history[-1].short:   # the place just asked for
            place = _quoted(history, "place") or _find(history, ("place",))
        else:
            place = _find(history, ("place",))
        if not place and history:
            ans = next((e for e in history[-1].entities if e.from_answer), None)
            if ans and ans.kind == "thing" and _asks_for_noun(history[-1].question) & PLACE_NOUNS:
                place = ans
        if not place:
            place = _find(history, ("name",)) or _quoted(history, "place")
        if not place:
            return m.group()
        bound.append(place.text)
        before = q[:m.start()].rstrip().split()
        prep = before and before[-1].lower() in {"from", "in", "at", "to", "near", "into", "of", "across", "around",
                                                 "inside", "outside", "through", "toward", "towards"}
        return _the(place.text) if prep else f"in {_the(place.text)}"

    q = THERE.sub(there, q)

    for m in reversed(_demonstratives(q)):
        target = _demonstrative_target(m, history, topic)
        if target:
            bound.append(target)
            q = q[:m.start()] + target + q[m.end():]
    return q, bound, (things[0] if things else None)


CLAUSE = re.compile(r"^(?:the|those)\s.*\b(?:who|that)\b|^the\s+person\s")   # a description with a clause
# verbs that can follow a possessed noun ("their spring meetings take place", "its crew read")
_OWNED_STOP = {"take", "takes", "took", "read", "reads", "play", "plays", "played", "make", "makes", "made", "come",
               "came", "go", "went", "get", "got", "mean", "means", "meant", "begin", "began", "live", "lived", "work",
               "worked", "say", "said", "win", "won", "lose", "lost", "hold", "held", "use", "used", "cost", "last"}


def _owned_by(question: str, owners: list[tuple[str, str]]) -> str:
    """Put each possessive of a description (marked "\\x00N\\x00" by _substitute) in the "of" form: "\\x000\\x00
    spring meetings take place" -> "the spring meetings of those who voted ... take place"."""
    def of(m):
        owner, typed = owners[int(m.group(1))]
        words, owned = m.group(2).split(), []
        for w in words:
            if w.lower() in FUNCTION or w.lower() in AUX or w.lower() in _OWNED_STOP or len(owned) == 2:
                break
            owned.append(w)
        if not owned:
            return _possessive(owner) + " " + m.group(2)
        if re.match(rf"the\s+{re.escape(owned[-1])}\b", owner, re.I):
            return f"{typed} {m.group(2)}"   # "its crew" after "What crew ...?": not "the crew of the crew that ..."
        rest = m.group(2)[len(" ".join(owned)):]
        return f"the {' '.join(owned)} of {owner}{rest}"
    question = re.sub(r"\x00(\d+)\x00\s+((?:[A-Za-z][\w-]*\s*){1,3})", of, question)
    return re.sub(r"\x00(\d+)\x00", lambda m: owners[int(m.group(1))][1], question)   # no noun after: as typed


def _quoted(history: list[Turn], kind: str) -> Entity | None:
    """The single entity of kind in the previous answer's quoted sentences, when that answer showed no short
    answer (see single_candidate)."""
    if not history or history[-1].short:
        return None
    return single_candidate(history[-1], kind)


def _description(history: list[Turn], kind: str) -> Entity | None:
    """What the previous question asked for, described in its own words (rag.answer.description), for a
    reference to its answer when that answer showed no short answer; kind "person", "thing" or "plural"."""
    if not history or history[-1].short or kind in ("person", "plural") and not re.match(
            r"\s*whom?\b", history[-1].question, re.I):
        return None
    text = described(history[-1].question, plural=kind == "plural")
    return Entity(text, "description", len(history) - 1) if text else None


def _demonstrative_target(m: re.Match, history: list[Turn], topic: Entity | None) -> str | None:
    """What "that <noun>" stands for: the previous answer when the previous question asked for a "<noun>"
    or the answer holds the noun; else the noun phrase of an earlier question ending in it; else the noun
    after the newest thing's name ("that revival" -> "the Doctor Who revival")."""
    noun = m.group("n").lower()
    if topic:
        return _the(topic.text) if topic.kind != "person" else None
    for t in reversed(history):
        ans = next((e for e in t.entities if e.from_answer), None)
        asked = _asks_for_noun(t.question)
        if ans and ans.kind not in ("number", "date") and (noun in asked or noun in ans.text.lower().split()
                                                           or noun + "s" in ans.text.lower().split()):
            return _the(ans.text)
        np = _noun_phrase(t.question, noun)
        if np and len(np.split()) > 1:
            return np if np.lower().startswith("the ") else _the(np)
    thing = _find(history, ("thing", "name"))
    if thing:
        return f"the {thing.text} {noun}"
    return None


def _rest_after_wh(question: str) -> tuple[str, bool] | None:
    """(the question without its question phrase, whether the rest starts with an auxiliary)."""
    aux = "|".join(sorted(AUX))
    m = re.match(rf"\s*(?:(?:in|on|at|from|to|for|by|with|since|until|of)\s+)?"
                 rf"(?:(?:what|which|whose)(?:\s+(?!(?:{aux})\b)(?:\w+\s+of\s+)?\w+)?|who|whom|when|where|why|"
                 rf"how(?:\s+(?:many|much)\s+\w+|\s+(?!(?:{aux})\b)\w+)?)\s+(.+?)\??$", question, re.I)
    if not m:
        return None
    rest = m.group(1)
    return rest, rest.split()[0].lower() in AUX


def _ellipsis(question: str, history: list[Turn]) -> str | None:
    """The whole question an elliptical follow-up stands for, built from the previous question."""
    if not history:
        return None
    prev = history[-1].question.strip()
    body = prev.rstrip("?").rstrip()
    if SOURCE.match(question):
        return f"According to whom, {body[0].lower() + body[1:] if not _starts_with_name(body) else body}?"
    m = BARE_HOW_MANY.match(question)
    if m:   # "and how many were killed?" -> "How many of the North Korean soldiers were killed?"
        what = _bind_plural(history, things=False)
        if not what:
            return None
        many = re.search(r"how\s+(many|much)", question, re.I).group(1).lower()
        return f"How {many} of {what} {question[m.end():].strip()}"
    m = WH_FRAGMENT.match(question)
    if m:
        frag = m.group("f").strip()
        frag = frag[0].upper() + frag[1:]
        split = _rest_after_wh(prev)
        if not split:
            return f"{frag}: {prev}"
        rest, aux = split
        prep = frag.split()[0].lower()
        if rest.split()[-1].lower() == prep and len(frag.split()) > 1:
            frag = _capital(frag.split(" ", 1)[1])   # "In what city" + "did it take place in" -> "What city ..."
        if aux:
            return f"{frag} {rest}?"
        short = history[-1].short
        subject = _the(short) if short and history[-1].kind in ("PERSON", "AUTHOR", "ENTITY", None) else None
        if subject:
            return f"{frag} was it that {subject} {rest}?"
        return f"{frag}: {prev}"
    x = _elliptical(question)
    if not x:
        return None
    return _swap(prev, x)


def _starts_with_name(text: str) -> bool:
    w = text.split()[0] if text.split() else ""
    return bool(w[:1].isupper() and w not in _WH and w not in _NOT_NAMES and w.lower() not in FUNCTION)


def _swap(prev: str, x: str) -> str:
    """prev with its slot of x's kind replaced by x ("... last fall?" + "this year" -> "... this year?")."""
    body = prev.rstrip("?").rstrip()
    acc = re.match(r"according\s+to\s+(.+)$", x, re.I)
    if acc:
        m = re.search(r"\baccording\s+to\s+[^,?]+", body, re.I)
        if m:
            return body[:m.start()] + x + body[m.end():] + "?"
        return f"{x[0].upper() + x[1:]}, {body[0].lower() + body[1:] if not _starts_with_name(body) else body}?"
    if DATE.fullmatch(x) or re.fullmatch(rf"(?:in|on|during|since)\s+(?:{DATE.pattern})", x, re.I):
        dates = list(DATE.finditer(body))
        if dates:
            d = dates[-1]
            return body[:d.start()] + re.sub(r"^(?:in|on|during|since)\s+", "", x, flags=re.I) + body[d.end():] + "?"
        return f"{body} {x}?"
    if re.fullmatch(r"(?:the\s+)?(?:an)?other(?:\s+one)?|another(?:\s+one)?|the\s+(?:second|next)(?:\s+one)?", x,
                    re.I):
        m = re.search(r"\b(?:one|a|an|the\s+first)\b", body, re.I)
        if m:
            return body[:m.start()] + "another" + body[m.end():] + "?"
        return f"{body}, another one?"
    words = x.split()
    # a noun phrase with a lowercase head ("the AFC champion"): it replaces the phrase with that head
    head = words[-1].lower()
    if head not in FUNCTION and head[:1].isalpha() and (words[0].lower() in ("the", "a", "an") or x[:1].islower()):
        m = re.search(rf"\b(?:the|a|an)\s+(?:\S+\s+){{0,3}}?{re.escape(head)}s?\b", body, re.I)
        if m:
            return body[:m.start()] + x + body[m.end():] + "?"
    # a name, maybe with a lowercase tail ("Mersenne primes", "Apollo 12"): replace the previous name of its kind
    xnames = names(x) or [x]
    tail = x[len(xnames[0]):].strip() if x.startswith(xnames[0]) else ""
    prev_names = [n for n in names(body) if _name_kind(n, body) is not None]
    if prev_names:
        target = _closest(prev_names, xnames[0])
        start = body.find(target)
        end = start + len(target)
        if tail:
            after = body[end:].split()
            k = len(tail.split())
            if len(after) >= k and all(w[:1].islower() for w in after[:k]):
                end = body.find(after[k - 1], end) + len(after[k - 1])
        return body[:start] + x + body[end:] + "?"
    return f"{body}, for {x}?"


def _closest(candidates: list[str], name: str) -> str:
    """The candidate most like name in form (shared words, digits, length)."""
    def score(c):
        shared = len(set(c.lower().split()) & set(name.lower().split()))
        digits = any(ch.isdigit() for ch in c) == any(ch.isdigit() for ch in name)
        return (shared, digits, -abs(len(c.split()) - len(name.split())))
    return max(candidates, key=score)


def _topic(x: str, history: list[Turn]) -> Entity | None:
    """The earlier entity that "back to X" names (the one sharing most words with X), else X itself."""
    xw = {w.lower() for w in re.findall(r"\w+", x)} - FUNCTION
    best, best_score = None, 0
    for t in history:
        for e in t.entities:
            score = len(xw & {w.lower() for w in re.findall(r"\w+", e.text)})
            if score > best_score or (score == best_score and score and best and e.turn >= best.turn):
                best, best_score = e, score
    if best:
        return best
    kind = _name_kind(x, x) or "thing"
    return Entity(re.sub(r"^(?:the)\s+", "", x.strip(), flags=re.I) if not x[:1].isupper() else x.strip(),
                  kind, -1)


def _capital(q: str) -> str:
    q = q.strip()
    return q[:1].upper() + q[1:]


def _tidy(q: str) -> str:
    q = re.sub(r"\s+", " ", q).strip()
    q = re.sub(r"\s+([?,.;:])", r"\1", q)
    return _capital(q)


def resolve_with(question: str, history: list[Turn]) -> Resolved:
    """Read question against the turns before it (oldest first, each as read); see the module docstring."""
    typed = question
    q = question.strip()
    if not history or not q or not depends(q):
        return Resolved(typed, False)
    quoted = [text for t in history for text in t.quoted]
    for t in history:   # a one-word name that an answer called a person ("the Viking ruler Rollo") is one
        for e in t.entities:
            if e.kind == "name" and " " not in e.text and _called_a_person(e.text, quoted):
                e.kind = "person"
    topic = None
    m = RETURN.match(q)
    if m:
        x, rest = (m.group("x"), m.group("rest")) if m.group("x") else (m.group("x2"), m.group("rest2"))
        topic = _topic(x, history)
        q = rest.strip()
    whole = None if topic else _ellipsis(q, history)
    if whole:
        return Resolved(_tidy(whole), True, history[-1].short)
    stripped = LEADING.sub("", q) if LEADING.match(q) else q
    out, bound, thing = _substitute(stripped, history, topic)
    out = _tidy(out)
    if not bound:   # nothing found to bind (or "back to X: <a question that names what it asks about>")
        return Resolved(typed, False)
    return Resolved(out, out != typed.strip(), bound[0], thing)


def resolve(question: str, previous_question: str | None, previous_answer: str | None = None) -> Resolved:
    """Read question against one previous turn (its question as read and the assistant's message)."""
    if not previous_question:
        return Resolved(question, False)
    return resolve_with(question, [turn_of(previous_question, previous_answer, 0)])


def resolve_conversation(messages: list[dict]) -> Resolved:
    """Resolve the last user message of [{"role", "content"}, ...] against every turn before it (each
    earlier question read the same way first)."""
    history: list[Turn] = []
    pending: str | None = None
    thing: str | None = None
    resolved = None
    for m in messages:
        if m.get("role") == "user":
            if pending is not None:
                history.append(turn_of(pending, None, len(history), thing))
            resolved = resolve_with(str(m.get("content", "")), history)
            pending, thing = resolved.question, resolved.thing
        elif m.get("role") == "assistant" and pending is not None:
            history.append(turn_of(pending, str(m.get("content", "")), len(history), thing))
            pending = None
    if resolved is None:
        return Resolved("", False)
    return resolved
