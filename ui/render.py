"""HTML for the chat page: answers with linked markers, sources, the document view, status.

Every piece of document or user text goes through ``html.escape`` here: nothing
from a document is ever rendered as HTML or Markdown. Passages are shown as
reading text: PDF hard line breaks are joined, Markdown heading marks (``#``)
dropped, paragraphs kept. Marks: the cited sentence (``mark.quote``) and the
short answer (``mark.short``) inside it. Clickable things carry a
``data-act`` attribute ("cite:T:N", "doc:T:N", "close"), or for the [n] links in
the chat (whose sanitizer keeps only href and class) ``href="#cite-T-N"``, read by
the page's one click handler (ui/app.py); T is the answer's turn number, N its
source marker.
Does not decide what is cited or answered (rag/ does).
"""
from __future__ import annotations

import datetime
import html
import re

_HEADING = re.compile(r"(?m)^[ \t]*#{1,6}[ \t]+")
_SINGLE_BREAK = re.compile(r"(?<!\n)[ \t]*\n[ \t]*(?!\n)")
_PARAGRAPH = re.compile(r"\s*\n\s*\n\s*")
_MARKER = re.compile(r"\[(\d{1,3})\]")
DOC_WINDOW = 60_000   # characters shown each side of the passage in the document view


def reading_text(text: str, *, line_start: bool = True) -> str:
    """Escaped HTML of text as reading text: headings' # dropped, single line breaks joined,
    paragraph breaks kept (as <br><br>). line_start: text begins at the start of a line."""
    text = str(text).encode("utf-8", "replace").decode("utf-8")
    if line_start:
        text = re.sub(r"^[ \t]*#{1,6}[ \t]+", "", text)
    text = _HEADING.sub("", text)
    text = _PARAGRAPH.sub("\n\n", text)
    text = _SINGLE_BREAK.sub(" ", text)
    return html.escape(text).replace("\n\n", "<br><br>").replace("\n", "<br>")


def marked(text: str, base: int, marks: list[tuple[int, int, str]]) -> str:
    """Escaped reading text of text (which starts at document offset base), with the given
    (start, end, class) spans, in document offsets, wrapped: quote/short as <mark>, passage as
    <span class="passage">. Spans nest (a short answer inside its quote, quotes inside the
    passage); one that crosses the end of an enclosing span is cut there."""
    spans = sorted(((max(a - base, 0), min(b - base, len(text)), c) for a, b, c in marks),
                   key=lambda s: (s[0], -s[1]))
    out, pos, stack = [], 0, []   # stack: (end, closing tag)

    def emit(upto):
        nonlocal pos
        if upto > pos:
            out.append(reading_text(text[pos:upto], line_start=pos == 0 or text[pos - 1] == "\n"))
            pos = upto

    def close_until(at):
        while stack and stack[-1][0] <= at:
            end, tag = stack.pop()
            emit(end)
            out.append(tag)
    for a, b, cls in spans:
        if a >= b:
            continue
        close_until(a)
        b = min(b, stack[-1][0]) if stack else b
        emit(a)
        tag = "mark" if cls in ("quote", "short") else "span"
        out.append(f"<{tag} class='{cls}'>")
        stack.append((b, f"</{tag}>"))
    close_until(len(text))
    emit(len(text))
    return "".join(out)


def answer_html(turn: dict, t: int) -> str:
    """The chat bubble of answer t: escaped text, each [n] a link to its source; a short answer
    that leads the text ("12,000" then a blank line) is set apart as ``strong.lead``. A generated
    answer with checked claims is drawn sentence by sentence: an unsupported one is wrapped in
    ``span.unsupported`` followed by an ``[unsupported]`` badge, and the supported share is
    shown under the answer ("3 of 4 sentences supported by the passages")."""
    markers = {s["marker"] for s in turn.get("sources", ()) if not turn.get("nearest")}

    def link(m):
        n = int(m.group(1))
        if n not in markers:
            return m.group(0)
        return f"<a href='#cite-{t}-{n}' class='cite'>[{n}]</a>"   # the chat keeps only href and class
    claims = turn.get("claims") or ()
    note = f"\n\n(Note: {turn['notice']})" if turn.get("notice") else ""
    if not claims:
        short, text = turn.get("short"), str(turn["answer"])
        if short and text.startswith(short) and text[len(short):len(short) + 2] == "\n\n":
            lead = _MARKER.sub(link, reading_text(short, line_start=False))   # the lead line, its own look
            rest = text[len(short) + 2:]
            return (f"<strong class='lead'>{lead}</strong>"
                    + _MARKER.sub(link, reading_text(rest + note, line_start=False)))
        return _MARKER.sub(link, reading_text(text + note, line_start=False))
    parts = []
    for c in claims:
        cites = "".join(f"[{n}]" for n in c["citations"])
        sentence = _MARKER.sub(link, reading_text(c["text"] + (" " + cites if cites else ""), line_start=False))
        parts.append(sentence if c["supported"] else
                     f"<span class='unsupported'>{sentence}</span> "
                     f"<strong class='unsupported-badge'>[unsupported]</strong>")
    n, good = len(claims), sum(bool(c["supported"]) for c in claims)
    share = (f"<br><br><em class='support'>{good} of {n} sentence{'s' if n != 1 else ''} "
             f"supported by the passages</em>")
    return " ".join(parts) + share + _MARKER.sub(link, reading_text(note, line_start=False))


def pending_html(text: str) -> str:
    """The answer bubble while the model is still writing: its text so far, escaped, no links."""
    return reading_text(text, line_start=False) + " <em class='writing'>(writing…)</em>"


def question_html(turn: dict) -> str:
    return html.escape(str(turn["question"])).replace("\n", "<br>")


def sources_html(turn: dict | None, t: int | None = None, selected: int | None = None) -> str:
    """The sources of one answer: each passage with the cited sentence and short answer marked."""
    if not turn:
        return ("<p class='hint'>Ask a question: the passages each answer comes from show here. "
                "Select a [n] marker or an earlier answer to see its sources.</p>")
    head = f"<p class='for'>Sources of the answer to <q>{html.escape(turn['question'])}</q></p>"
    if turn.get("error"):
        return head + "<p class='hint'>No sources: the question could not be answered.</p>"
    if not turn.get("sources"):
        return head + "<p class='hint'>No passages.</p>"
    blocks = [head]
    if turn.get("nearest"):
        blocks.append("<p class='hint'>Nothing in the documents answers this closely enough; "
                      "the nearest passages were:</p>")
    for s in turn["sources"]:
        marks = [(a, b, "quote") for a, b in s.get("quotes", ())]
        if turn.get("short_start") is not None and turn.get("short_doc") == s["doc"]:
            marks.append((turn["short_start"], turn["short_end"], "short"))
        n = s["marker"]
        label = "" if turn.get("nearest") else f"[{n}] "
        where = html.escape(s["doc"]) + (f" · page {s['page']}" if s.get("page") else "")
        blocks.append(
            f"<section class='src{' selected' if n == selected else ''}' id='src-{t}-{n}' tabindex='-1' "
            f"aria-label='source {n}'><h3>{label}{html.escape(s['title'])}</h3>"
            f"<p class='meta'>{where}</p><p class='text'>{marked(s['text'], s['start'], marks)}</p>"
            f"<button type='button' class='open-doc' data-act='doc:{t}:{n}'>Open the whole document</button>"
            f"</section>")
    return "".join(blocks)


def document_html(title: str, doc_id: str, text: str, start: int, end: int,
                  marks: list[tuple[int, int, str]] = (), page_html: str = "") -> str:
    """The whole document (or a window of DOC_WINDOW characters each side of the passage for a
    very long one), the passage [start, end) framed and its marks highlighted; page_html (the
    original page's image, ui/pages.py) beside the text. The text box scrolls from the keyboard
    (tabindex=0, a named region)."""
    lo, hi = max(0, start - DOC_WINDOW), min(len(text), end + DOC_WINDOW)
    body = marked(text[lo:hi], lo, [(start, end, "passage"), *marks])
    cut = ("<p class='hint'>A long document: showing the part around the passage.</p>"
           if lo > 0 or hi < len(text) else "")
    name = html.escape(title)
    return (f"<section class='docview' aria-label='Document: {name}'>"
            f"<div class='dochead'><h3>{name}</h3>"
            f"<button type='button' class='close-doc' data-act='close'>Close document</button></div>"
            f"<p class='meta'>{html.escape(doc_id)}</p>{cut}<div class='docbody'>"
            f"<div class='doctext' tabindex='0' role='region' aria-label='Text of {name}'>{body}</div>"
            f"{page_html}</div></section>")


def ago(when: str | None, now: datetime.datetime | None = None) -> str:
    """'just now', '5 minutes ago', '3 hours ago', '2 days ago' or the date, from an ISO time."""
    try:
        t = datetime.datetime.fromisoformat(str(when))
    except ValueError:
        return "at an unknown time"
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    seconds = ((now or datetime.datetime.now(datetime.timezone.utc)) - t).total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            if unit == "day" and n > 30:
                return f"on {t.date().isoformat()}"
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def status_text(status: dict, now: datetime.datetime | None = None) -> str:
    """'29 documents, indexed 5 minutes ago', and how many files could not be read, if any
    (so a question about one of them is not simply 'not in the documents')."""
    n, skipped = status["documents"], status.get("skipped") or 0
    text = f"{n} document{'s' if n != 1 else ''}, indexed {ago(status.get('built_at'), now)}"
    if skipped:
        text += f" · {skipped} file{'s' if skipped != 1 else ''} could not be read (see Documents)"
    vectors = status.get("vectors") or {}
    if vectors and not vectors.get("complete", True):
        done = vectors["documents"] - vectors["documents_pending"]
        text += (f" · still indexing: vectors for {done:,} of {vectors['documents']:,} documents "
                 f"(answers use keywords only until done)")
    uploads = status.get("uploads") or {}
    if uploads.get("indexing"):
        text += f" · indexing upload: {_names(uploads['indexing'])}"
    if uploads.get("queued"):
        text += f" · queued (indexed when the index is free): {_names(uploads['queued'])}"
    return text


def _names(names: list, most: int = 3) -> str:
    """'a.md, b.pdf and 4 more'"""
    shown = ", ".join(str(n) for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def size_text(n: int) -> str:
    for unit, size in (("MB", 1_000_000), ("KB", 1_000)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"
