"""Check every sentence of a generated answer against the passages it cites, and the others.

``check(text, passages, embed)`` splits the answer into sentences and reads
the ``[n]`` markers after each (``[n]`` is passage n, 1-based). A marker that
names no passage is removed. Each sentence (a *claim*) gets a support score
against every passage: the best, over windows of 1 to 3 consecutive passage
sentences, of

    W_SIM * similarity + W_TERMS * term share + W_KEYS * key share

where similarity is the best cosine between the claim's and the window's
sentence vectors (``embed``: the project's embedder), term share is the share of
the claim's content terms found in the window, each weighted by its rarity in
English (rag.text.evidence), and key share is the share of its *keys* found there:
numbers (digits, "2,000" = "2000"; number words), dates' months, and names
(capitalised words that are not common English words). Words that only frame an
answer ("the answer to the question ... is") are not terms. A sentence is scored
clause by clause (split at ", and", ", but", ";", dashes: rag.llm.claims.clauses), and
its weakest clause counts, so an added clause cannot hide behind a faithful one. A
claim is supported when that score reaches ``THRESHOLD`` (weights and threshold
tuned on half A of a labelled SQuAD set: rag.evaluation.claimset, bench/tune_claims.py) and
it has no *foreign* key: a number, name or date that no passage (nor the
question) states makes a claim unsupported whatever its score. Each clause must
moreover be backed by one passage alone: its score there reaches the threshold
and that passage (or the question) states every number, name and date of the
clause, so "Kestrick is 359 m [1]" is unsupported when [1] says 285 m and only
another passage says 359. A supported claim keeps the cited passages that back
one of its clauses; when none does, those markers are removed and the marker of
the passage that backs the whole sentence (else of each clause's best backer) is
added. An unsupported claim
keeps its valid markers and is marked ``[unsupported]`` in the checked text. The
fixed "not in the documents" sentence is no claim, and a passage sentence that
gives the model instructions is never evidence (``data_only``).
Does not judge whether the answer answers the question, and reads English only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from rag.answer.base import NOT_FOUND
from rag.text.chunk import split_sentences
from rag.text.evidence import rarity, terms

W_SIM, W_TERMS, W_KEYS = 0.1, 0.5, 0.6
THRESHOLD = 0.715        # tuned on half A of the labelled set (bench/tune_claims.py; README "LLM answers")
WINDOW = 3
UNSUPPORTED = "[unsupported]"
MARKERS = re.compile(r"\s*\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d[\d,.]*\d|\d")
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
MONTHS = set("january february march april may june july august september october november december".split())
NUMBER_WORDS = set("""zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand
million billion trillion first second third fourth fifth sixth seventh eighth ninth tenth twice thrice
dozen half""".split())
# Words that frame an answer ("the answer to the question ... is", "according to the passage") and state no fact.
FRAME = set("answer answers question questions passage passages document documents text context according "
            "mention mentions mentioned state states stated say says said".split())
COMMON_CAPS = set("i the a an this that these those it he she they we you in on at of for and but or as by "
                  "according however also".split())


@dataclass(frozen=True)
class Claim:
    text: str                   # the sentence, markers removed
    citations: tuple[int, ...]  # markers after checking
    supported: bool
    score: float                # best support score over the passages
    best: int | None            # marker of the passage that supports it best
    added: tuple[int, ...] = ()     # markers added (a supporting passage it did not cite)
    removed: tuple[int, ...] = ()   # markers removed: no such passage, or (for a supported claim)
                                    # a cited passage that does not support it
    quote: tuple[int, int] | None = None   # span of the best window in passage `best`'s text
    foreign: tuple[str, ...] = ()   # its numbers, names and dates that no passage states

    def to_dict(self) -> dict:
        return {"text": self.text, "citations": list(self.citations), "supported": self.supported,
                "score": round(self.score, 4), "best": self.best, "added": list(self.added),
                "removed": list(self.removed), "foreign": list(self.foreign)}


@dataclass(frozen=True)
class Checked:
    text: str                   # the answer with citations fixed and unsupported sentences marked
    claims: tuple[Claim, ...]
    not_found: bool             # the answer is (only) the fixed not-found sentence

    @property
    def supported_share(self) -> float | None:
        return sum(c.supported for c in self.claims) / len(self.claims) if self.claims else None


def _num(tok: str) -> str:
    return tok.replace(",", "").rstrip(".")


def keys(sentence: str) -> set[str]:
    """Numbers, number words, months and names of a sentence, normalised."""
    out = set()
    for i, m in enumerate(_WORD.finditer(sentence)):
        w = m.group()
        if w[0].isdigit():
            out.add(_num(w))
        elif w.lower() in NUMBER_WORDS or w.lower() in MONTHS:
            out.add(w.lower())
        elif w[0].isupper() and w.lower() not in COMMON_CAPS:
            at_start = i == 0 or sentence[:m.start()].rstrip().endswith((".", "!", "?", ":", '"'))
            if not at_start or rarity(w.lower()) >= 3.0:   # a common word capitalised to start a sentence
                out.add(w.lower())
    return out


def foreign_keys(sentence: str, passages: Sequence[str], question: str = "") -> tuple[str, ...]:
    """The keys of a sentence that no passage (nor the question it answers) states."""
    present = set().union(*(_window_keys(p) for p in passages), _window_keys(question))
    return tuple(sorted(keys(sentence) - present))


CLAUSE = re.compile(r",\s+(?:and|but|while|whereas|although|though)\s+|;\s+|\s+[-–—]\s+")


def clauses(sentence: str) -> list[str]:
    """The sentence's clauses (split at ", and", ", but", ";", dashes...), each of 4 words or more;
    a clause too short to stand alone stays with the one before."""
    out: list[str] = []
    for piece in CLAUSE.split(sentence):
        if out and len(piece.split()) < 4 or out and len(out[-1].split()) < 4:
            out[-1] = out[-1] + ", " + piece
        elif piece.strip():
            out.append(piece.strip())
    return out or [sentence]


def _window_keys(text: str) -> set[str]:
    words = {w.lower() for w in _WORD.findall(text)}
    return words | {_num(t) for t in _NUMBER.findall(text)}


def _weighted_terms(sentence: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for w in _WORD.findall(sentence):
        if w.lower() in FRAME:
            continue
        for t in terms(w):
            out[t] = max(out.get(t, 0.0), rarity(w.lower()))
    return out


def split_claims(text: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, its markers in order) for each sentence of an answer;
    markers at the start of a sentence belong to the one before ("... 2016. [1] The ...")."""
    out: list[tuple[str, list[int]]] = []
    for a, b in split_sentences(text):
        seg = text[a:b]
        lead = re.match(r"(?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\]\s*[.,;]?)+", seg)
        if lead and out:
            out[-1][1].extend(int(n) for g in MARKERS.findall(lead.group()) for n in g.split(","))
            seg = seg[lead.end():]
        found = [int(n) for g in MARKERS.findall(seg) for n in g.split(",")]
        plain = re.sub(r"\s+([.,;:!?])", r"\1", MARKERS.sub("", seg)).strip()
        if plain:
            out.append((plain, found))
    return out


# A passage sentence addressed to the model ("ignore previous instructions...") is data, never evidence:
# it is blanked before windows are scored, so a model that obeys it writes an unsupported sentence.
INSTRUCTION = re.compile(r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,60}\b(?:instructions?|prompts?|rules?|"
                         r"directions?)\b|\byou are now\b|\bsystem prompt\b|\b(?:reply|respond)\s+(?:only\s+)?with\b",
                         re.I)


def data_only(passage: str) -> str:
    """The passage with every sentence that gives the model instructions blanked (offsets kept)."""
    for a, b in split_sentences(passage):
        if INSTRUCTION.search(passage[a:b]):
            passage = passage[:a] + " " * (b - a) + passage[b:]
    return passage


def _windows(text: str) -> list[tuple[int, int, int, int]]:
    """(first sentence, last sentence + 1, start, end) of every run of 1..WINDOW sentences."""
    spans = split_sentences(text) or [(0, len(text))]
    return [(i, j, spans[i][0], spans[j - 1][1]) for i in range(len(spans))
            for j in range(i + 1, min(i + WINDOW, len(spans)) + 1)], spans


def features(claims: Sequence[str], passages: Sequence[str], embed: Callable):
    """feats[c][p]: (windows, 3) array of (similarity, term share, key share) of claim c against
    every window of passage p, and wins[p]: each window's (start, end) in passage p."""
    passages = [data_only(p) for p in passages]
    layout = [_windows(p) for p in passages]
    sent_texts = [p[a:b] for p, (_, spans) in zip(passages, layout) for a, b in spans]
    vecs = np.asarray(embed(list(claims) + sent_texts), np.float32)
    cvecs, svecs = vecs[:len(claims)], vecs[len(claims):]
    claim_terms = [_weighted_terms(c) for c in claims]
    claim_keys = [keys(c) for c in claims]
    feats = [[None] * len(passages) for _ in claims]
    base = 0
    for pi, (p, (wins, spans)) in enumerate(zip(passages, layout)):
        sims = cvecs @ svecs[base:base + len(spans)].T
        base += len(spans)
        win_terms = [terms(p[a:b]) for _, _, a, b in wins]
        win_keys = [_window_keys(p[a:b]) for _, _, a, b in wins]
        for ci in range(len(claims)):
            weighted, ks = claim_terms[ci], claim_keys[ci]
            total = sum(weighted.values())
            rows = []
            for wi, (i, j, a, b) in enumerate(wins):
                share = sum(v for t, v in weighted.items() if t in win_terms[wi]) / total if total else 1.0
                kshare = len(ks & win_keys[wi]) / len(ks) if ks else 1.0
                rows.append((float(sims[ci, i:j].max()), share, kshare))
            feats[ci][pi] = np.array(rows, np.float32).reshape(-1, 3)
    return feats, [[(a, b) for _, _, a, b in wins] for wins, _ in layout]


def scores(feats, weights=(W_SIM, W_TERMS, W_KEYS)) -> tuple[np.ndarray, np.ndarray]:
    """(best score, index of the best window) of each claim against each passage."""
    w = np.asarray(weights, np.float32)
    best = np.zeros((len(feats), len(feats[0]) if feats else 0), np.float32)
    arg = np.zeros(best.shape, np.int64)
    for ci, row in enumerate(feats):
        for pi, f in enumerate(row):
            if len(f):
                s = f @ w
                arg[ci, pi] = int(np.argmax(s))
                best[ci, pi] = s[arg[ci, pi]]
    return best, arg


def claim_scores(sentences: Sequence[str], passages: Sequence[str], embed: Callable, weights=None):
    """(score of each sentence: the lowest over its clauses of the best over passages; per clause
    rows [(owner sentence, best score per passage, best window per passage)], window spans)."""
    parts = [(i, c) for i, sentence in enumerate(sentences) for c in clauses(sentence)]
    feats, wins = features([c for _, c in parts], passages, embed)
    best, arg = scores(feats, weights or (W_SIM, W_TERMS, W_KEYS))
    out = np.full(len(sentences), np.inf)
    for (i, _), row in zip(parts, best):
        out[i] = min(out[i], float(row.max()) if len(row) else 0.0)
    return out, [(i, best[k], arg[k]) for k, (i, _) in enumerate(parts)], wins


def check(text: str, passages: Sequence[str], embed: Callable, *, threshold: float = THRESHOLD,
          question: str = "") -> Checked:
    """Check an answer's sentences against passages (marker n = passages[n - 1]); see the module docstring."""
    parts = [(s, m) for s, m in split_claims(text) if s.strip() != NOT_FOUND]
    not_found = NOT_FOUND in text and not parts
    if not parts:
        return Checked(NOT_FOUND if not_found else text.strip(), (), not_found)
    if not passages:
        passages = [""]
    claim_score, rows, wins = claim_scores([s for s, _ in parts], passages, embed)
    data = [data_only(p) for p in passages]
    pkeys, qkeys = [_window_keys(p) for p in data], _window_keys(question)
    claims, pieces = [], []
    for ci, (sentence, markers) in enumerate(parts):
        mine = [(row, arg) for i, row, arg in rows if i == ci]
        valid = tuple(dict.fromkeys(m for m in markers if 1 <= m <= len(passages)))
        removed = tuple(dict.fromkeys(m for m in markers if not 1 <= m <= len(passages)))
        score = float(claim_score[ci])
        foreign = foreign_keys(sentence, data, question)
        supported = score >= threshold and not foreign
        # the passage that supports it best: the best over passages of its weakest clause there
        whole = np.min([row for row, _ in mine], axis=0)
        best = int(np.argmax(whole))
        # a clause is backed by one passage: its score there reaches the threshold and every number,
        # name and date of the clause is in that passage (or the question), never in another one
        parts_of = clauses(sentence)
        backers = [[p for p in range(len(data)) if row[p] >= threshold
                    and not keys(c) - pkeys[p] - qkeys] for c, (row, _) in zip(parts_of, mine)]
        supported = supported and all(backers)
        added, cites = (), valid
        if supported:   # keep the cited passages that back a clause; a clause none backs gets its best backer
            cites = tuple(m for m in valid if any(m - 1 in b for b in backers))
            removed += tuple(m for m in valid if m not in cites)
            alone = [p for p in backers[0] if all(p in b for b in backers)]   # backs every clause
            if not cites and alone:
                cites = added = (max(alone, key=lambda p: whole[p]) + 1,)
            else:
                extra = tuple(dict.fromkeys(max(b, key=lambda p: row[p]) + 1 for b, (row, _) in zip(backers, mine)
                                            if not any(m - 1 in b for m in cites)))
                cites, added = cites + extra, extra
        quote = wins[best][mine[0][1][best]] if wins[best] else None
        claims.append(Claim(sentence, cites, supported, score, best + 1, added, removed, quote, foreign))
        marks = "".join(f"[{m}]" for m in cites)
        pieces.append(sentence + (" " + marks if marks else "") + ("" if supported else " " + UNSUPPORTED))
    return Checked(" ".join(pieces), tuple(claims), False)
