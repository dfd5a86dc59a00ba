"""Example questions drawn from the indexed documents (for the chat's suggestions).

Candidates are made from what the documents contain, with no model beyond the
index itself: "Summarize <title>" for the first documents, and "What do the
documents say about <name>?" for the names (runs of capitalised words) and rare
words that recur most in a document, ranked by count times rarity in general
English (rag.text.evidence.rarity). Each candidate is then asked of the index and
kept only when it is answered (``Answer.found``), so no suggestion leads to "not
in the documents". Candidates are drawn across the index (documents spread over it, taken in
turn), so the suggestions are not all about one document. Results are cached per index version. Does not write
questions in other shapes (who/when...), which would need a parser.
"""
from __future__ import annotations

import re
import threading
from collections import Counter

_NAME = re.compile(r"\b[A-Z][a-z]+(?:[ -](?:[A-Z][a-z]+|of|de|al))*(?:[ -][A-Z][a-z]+)?\b")
_WORD = re.compile(r"\b[a-z][a-z-]{5,}\b")
_CACHE: dict = {}
_LOCK = threading.Lock()


def short_title(title: str, most: int = 60) -> str:
    """The title on one line, cut at a word to at most `most` characters."""
    title = " ".join(str(title).split())
    if len(title) <= most:
        return title
    return title[:most].rsplit(" ", 1)[0].rstrip(",;:-") + "…"


def topic(doc: dict) -> str:
    """What to call a document in a question: its title when short, else its file name in words."""
    title = " ".join(str(doc["title"]).split())
    if len(title) <= 60:
        return title
    stem = str(doc["id"]).rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return short_title(re.sub(r"[-_]+", " ", stem)) or short_title(title)


def salient_terms(text: str, title: str = "", n: int = 3) -> list[str]:
    """The n names or rare words that recur most in text, weighted by rarity; not words of the title."""
    from rag.text.evidence import rarity

    skip = {w.lower() for w in re.findall(r"\w+", title)}
    counts: Counter = Counter()
    for m in _NAME.finditer(text):
        name = m.group(0)
        start = m.start()
        sentence_start = start == 0 or text[max(0, start - 2):start].strip() in ("", ".", "!", "?", '"', "“")
        if sentence_start and " " not in name:
            continue   # a capitalised word that opens a sentence is not a name
        counts[name] += 1
    for w in _WORD.findall(text):
        counts[w] += 1
    scored = []
    for term, count in counts.items():
        words = term.lower().replace("-", " ").split()
        if count < 2 or all(w in skip for w in words):
            continue
        scored.append((count * max(rarity(w) for w in words), term))
    scored.sort(key=lambda s: (-s[0], s[1]))
    out: list[str] = []
    for _, term in scored:
        if not any(term.lower() in t.lower() or t.lower() in term.lower() for t in out):
            out.append(term)
        if len(out) == n:
            break
    return out


def spread(items: list, n: int) -> list:
    """n items spread evenly over the list (its first, its last and between), in order; all if fewer."""
    if len(items) <= n:
        return list(items)
    if n == 1:
        return [items[0]]
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def candidates(retriever, docs: int = 6) -> list[str]:
    """Example questions to try, drawn across the index: up to `docs` documents spread over it,
    taken in turn (each one's first question, then each one's second...), so the first questions
    kept come from different documents."""
    per_doc = []
    for d in spread(retriever.manifest["documents"], docs):
        passages = retriever.document_passages(d["id"])
        text = " ".join(p.text for p in passages)
        terms = [f"What do the documents say about {t}?" for t in salient_terms(text, d["title"])]
        per_doc.append(terms[:1] + [f"Summarize {topic(d)}"] + terms[1:])
    out = []
    for rank in range(max((len(q) for q in per_doc), default=0)):
        out += [q[rank] for q in per_doc if rank < len(q)]
    return out


def example_questions(rag, n: int = 4) -> list[str]:
    """Up to n questions the index answers (see the module docstring); [] for an empty index."""
    retriever = rag.retriever
    key = (str(rag.config.index_dir), retriever.manifest.get("built_at"), retriever.manifest["counts"]["chunks"], n)
    with _LOCK:
        if key in _CACHE:
            return list(_CACHE[key])
    found = []
    for q in candidates(retriever):
        if len(found) == n:
            break
        try:
            if rag.query(q).found:
                found.append(q)
        except Exception:   # noqa: BLE001 - a suggestion is optional; never fail the page for it
            continue
    # mix the kinds: a summary first, then the others
    found.sort(key=lambda q: not q.startswith("Summarize"))
    with _LOCK:
        _CACHE[key] = tuple(found)
    return found
