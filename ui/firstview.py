"""What a person sees first: the page heading (an <h1> with the product name) and a short
welcome that says what is indexed ("21 documents: 12 PDF, 5 Word, 4 text. Ask a question…").

The example questions under the question box come from Rag.examples (rag/answer/examples.py,
drawn across the documents). Does not render answers (ui/render.py).
"""
from __future__ import annotations

import html
from collections import Counter

from .theme import PRODUCT

TAGLINE = "Ask your documents"
KIND_NAMES = {"pdf": "PDF", "docx": "Word", "pptx": "slide deck", "xlsx": "spreadsheet", "csv": "CSV",
              "md": "Markdown", "markdown": "Markdown", "txt": "text", "html": "web page", "htm": "web page",
              "epub": "e-book"}
_PLURAL = {"slide deck": "slide decks", "spreadsheet": "spreadsheets", "web page": "web pages",
           "e-book": "e-books"}


def header_html() -> str:
    return f"<h1 class='rag-title'>{PRODUCT}<span class='sub'>{TAGLINE}</span></h1>"


def kinds_text(kinds: list[str]) -> str:
    """'12 PDF, 5 Word, 1 text': document types by count, most first (a type's name, not its extension)."""
    counts = Counter(KIND_NAMES.get(k, k.upper() or "other") for k in kinds)
    return ", ".join(f"{n} {_PLURAL.get(name, name) if n != 1 else name}" for name, n in
                     sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def welcome_html(rag) -> str:
    """One line: how many documents of which types are indexed, and what to do next."""
    try:
        docs = rag.documents() if callable(getattr(rag, "documents", None)) else None
        kinds = [d.kind for d in docs] if docs is not None else \
            [str(d.get("kind") or d["id"].rsplit(".", 1)[-1]).lower() for d in rag.retriever.manifest["documents"]]
    except Exception:   # noqa: BLE001 - the welcome is optional; never fail the page for it
        return ""
    n = len(kinds)
    if not n:
        return ("<p class='welcome'>No documents are indexed yet: add some on the <b>Documents</b> tab, "
                "then ask a question.</p>")
    what = f"{n} document{'s' if n != 1 else ''}"
    return (f"<p class='welcome'>Ask a question about <b>{html.escape(what)}</b> "
            f"({html.escape(kinds_text(kinds))}); every answer cites its source. Or try an example:</p>")
