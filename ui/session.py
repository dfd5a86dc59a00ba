"""One browser session's conversation: a list of turns, kept as plain JSON.

A turn is what one question produced: {"question", "answer", "found", "notice",
"short", "short_doc", "short_start", "short_end", "nearest", "error",
"sources": [{"marker", "doc", "title", "text", "start", "end", "page",
"chunk", "quotes": [[start, end], ...]}]}, and for a generated answer (rag.llm.answerer)
also "generated": True, "supported_share" and "claims": [{"text", "citations",
"supported", "score"}] (each sentence as checked; ui/render.py marks the unsupported
ones). Every answer keeps its own sources,
so an older answer's sources can be shown again. The turns live in a per-session
gr.State and are mirrored to the browser's storage (gr.BrowserState) so a reload
keeps the conversation; what comes back from the browser is untrusted and is
checked field by field (``restore``), and everything is escaped when shown
(ui/render.py). Does not render HTML or call Rag.
"""
from __future__ import annotations

from .render import answer_html, pending_html, question_html

MAX_TURNS = 50          # older turns are dropped (the browser's storage and each request stay small)
MAX_TEXT = 20_000       # characters kept of any one text field


def from_answer(question: str, answer) -> dict:
    """The turn for a rag.answer.base.Answer to question (question as the person typed it)."""
    by_span = {(p.doc_id, p.start, p.end): p for p in answer.passages}
    sources: dict[int, dict] = {}
    for c in answer.citations:
        s = sources.get(c.marker)
        if s is None:
            p = by_span.get((c.doc_id, c.start, c.end))
            s = sources[c.marker] = {
                "marker": c.marker, "doc": c.doc_id, "title": c.title, "text": c.passage,
                "start": c.start, "end": c.end, "page": getattr(p, "page", None),
                "chunk": p.chunk if p is not None else None, "quotes": []}
        s["quotes"].append([c.quote_start, c.quote_end])
    nearest = not answer.citations
    if nearest:
        for i, p in enumerate(answer.passages[:3], 1):
            sources[i] = {"marker": i, "doc": p.doc_id, "title": p.title, "text": p.text, "start": p.start,
                          "end": p.end, "page": getattr(p, "page", None), "chunk": p.chunk, "quotes": []}
    turn = {"question": question, "answer": answer.text, "found": bool(answer.found), "notice": answer.notice,
            "short": answer.short, "short_doc": answer.short_doc, "short_start": answer.short_start,
            "short_end": answer.short_end, "nearest": nearest, "error": False,
            "sources": [sources[k] for k in sorted(sources)]}
    if getattr(answer, "generated", False):
        turn.update(generated=True, supported_share=answer.supported_share, claims=[
            {"text": c.text, "citations": list(c.citations), "supported": bool(c.supported),
             "score": round(float(c.score), 4)} for c in answer.claims])
    return turn


def pending(question: str, text: str) -> list[dict]:
    """The Chatbot messages of a turn whose answer is still being written (text so far, escaped)."""
    return [{"role": "user", "content": question_html({"question": question})},
            {"role": "assistant", "content": pending_html(text)}]


def from_error(question: str, message: str) -> dict:
    return {"question": question, "answer": f"⚠️ {message}", "found": False, "notice": None, "short": None,
            "short_doc": None, "short_start": None, "short_end": None, "nearest": False, "error": True,
            "sources": []}


def conversation(turns: list[dict]) -> list[dict]:
    """The turns as messages for Rag.chat (errors left out: they are not answers)."""
    out = []
    for t in turns:
        if not t.get("error"):
            out += [{"role": "user", "content": t["question"]}, {"role": "assistant", "content": t["answer"]}]
    return out


def chat_messages(turns: list[dict]) -> list[dict]:
    """The Chatbot's value: message 2t is turn t's question, 2t+1 its answer (escaped HTML)."""
    out = []
    for t, turn in enumerate(turns):
        out += [{"role": "user", "content": question_html(turn)},
                {"role": "assistant", "content": answer_html(turn, t)}]
    return out


def add(turns: list[dict], turn: dict) -> list[dict]:
    return ([*turns, turn])[-MAX_TURNS:]


def turn_of(turns: list[dict], t) -> dict | None:
    try:
        t = int(t)
    except (TypeError, ValueError):
        return None
    return turns[t] if 0 <= t < len(turns) else None


def _text(v, none: bool = False):
    if v is None and none:
        return None
    if not isinstance(v, str):
        raise ValueError
    return v[:MAX_TEXT]


def _int(v, none: bool = False):
    if v is None and none:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ValueError
    return v


def _float(v):
    if v is None:
        return None
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1:
        raise ValueError
    return float(v)


def _claims(t: dict) -> dict:
    """A stored turn's generated-answer fields, checked (none for an extractive answer)."""
    if not t.get("generated"):
        return {}
    claims = [{"text": _text(c["text"]), "citations": [_int(m) for m in c["citations"][:20]],
               "supported": bool(c["supported"]), "score": float(c.get("score") or 0.0)}
              for c in t.get("claims", [])[:100]]
    return {"generated": True, "supported_share": _float(t.get("supported_share")), "claims": claims}


def restore(saved) -> list[dict]:
    """The turns stored in the browser, checked: malformed turns are dropped, never shown raw."""
    out = []
    for t in saved[-MAX_TURNS:] if isinstance(saved, list) else []:
        try:
            sources = []
            for s in t["sources"][:20]:
                quotes = [[_int(a), _int(b)] for a, b in s.get("quotes", [])[:10]]
                sources.append({"marker": _int(s["marker"]), "doc": _text(s["doc"]), "title": _text(s["title"]),
                                "text": _text(s["text"]), "start": _int(s["start"]), "end": _int(s["end"]),
                                "page": _int(s.get("page"), True), "chunk": _int(s.get("chunk"), True),
                                "quotes": quotes})
            out.append({"question": _text(t["question"]), "answer": _text(t["answer"]),
                        "found": bool(t.get("found")), "notice": _text(t.get("notice"), True),
                        "short": _text(t.get("short"), True), "short_doc": _text(t.get("short_doc"), True),
                        "short_start": _int(t.get("short_start"), True), "short_end": _int(t.get("short_end"), True),
                        "nearest": bool(t.get("nearest")), "error": bool(t.get("error")), "sources": sources,
                        **_claims(t)})
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return out
