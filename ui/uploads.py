"""Uploads file by file: each file checked before anything is indexed, the reason a file is
refused said in plain words with what to do, and the per-file list the Documents tab shows.

``check`` looks at one file's name and size (type accepted? an old format with a newer one to
save it as? within the size limit? empty?), so one bad file of a batch never refuses the others
(the page does not let the browser's file picker filter types: it would reject the whole batch).
``plain`` turns the library's one-line reasons ("unreadable PDF (PdfStreamError: Stream has
ended unexpectedly)") into a sentence a person can act on. The files that pass are indexed one
at a time by Rag.add_files (ui/docs_tab.py), so each gets its own progress and result.
``vectors_text`` is the line shown while the vectors of what was uploaded are computed in the
background (the uploads answer by keywords meanwhile). Does not read file contents or index anything.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from rag.ingest import LEGACY

TYPE_NAMES = {"pdf": "PDF", "docx": "Word (.docx)", "pptx": "PowerPoint (.pptx)", "xlsx": "Excel (.xlsx)",
              "csv": "CSV", "md": "Markdown", "markdown": "Markdown", "txt": "text (.txt)", "html": "web page (.html)",
              "htm": "web page (.htm)", "epub": "e-book (.epub)"}
LEGACY_NAMES = {".doc": "an old Word file", ".ppt": "an old PowerPoint file", ".xls": "an old Excel file",
                ".rtf": "a Rich Text file", ".odt": "an OpenDocument text file"}


def accepted_text(types) -> str:
    names = []
    for t in types:
        name = TYPE_NAMES.get(t, f".{t}")
        if name not in names:
            names.append(name)
    return ", ".join(names)


def _suffix(name: str) -> str:
    base = re.split(r"[/\\]", str(name))[-1]
    return ("." + base.rsplit(".", 1)[1].lower()) if "." in base.strip(".") else ""


def check(name: str, size: int, config) -> str | None:
    """Why this file cannot be uploaded, in plain words with what to do; None when it may be."""
    suffix = _suffix(name)
    types = tuple(getattr(config, "upload_types", ()) or ())
    if not suffix:
        return f"It has no file extension, so its type is unknown. Rename it with one of: {accepted_text(types)}."
    if suffix in LEGACY:
        return (f"This is {LEGACY_NAMES.get(suffix, 'an old format')} ({suffix}), which cannot be read. "
                f"Open it and save it as {LEGACY[suffix]}, then upload that.")
    if suffix.lstrip(".") not in types:
        return (f"Files of type {suffix} cannot be read. Accepted: {accepted_text(types)}. "
                f"Save or export it as one of these, then upload that.")
    limit = min(float(getattr(config, "upload_max_mb", 20.0)), float(getattr(config, "max_file_mb", 20.0)))
    if size > limit * 1_000_000:
        return (f"It is too large ({size / 1e6:.1f} MB; the limit is {limit:g} MB). "
                "Split it into smaller files, or ask whoever runs the server to raise the limit.")
    if size == 0:
        return "The file is empty. Check that it was saved completely, then upload it again."
    return None


_PLAIN = [
    (re.compile(r"encrypted|password", re.I),
     "The PDF is password-protected. Save a copy without the password (Print, then Save as PDF), then upload that."),
    (re.compile(r"unreadable PDF|PDF reader|Pdf\w*Error|invalid pdf", re.I),
     "The PDF is damaged or incomplete (perhaps it did not finish downloading). If it opens in a PDF viewer, "
     "print it to a new PDF and upload that; otherwise get a fresh copy."),
    (re.compile(r"no text layer|scanned", re.I),
     "The PDF has no text, only images of pages (a scan). Ask whoever runs the server to turn on OCR "
     "(the ocr extra), or upload a version with text."),
    (re.compile(r"unreadable (Word document|presentation|spreadsheet|EPUB)|BadZipFile|not a zip", re.I),
     "The file is damaged or is not really of its type (its content does not match its extension). "
     "Open it and save it again, then upload that."),
    (re.compile(r"binary content in a text file", re.I),
     "This does not look like a text file (it contains binary data). Check that the extension matches the content."),
    (re.compile(r"took longer than|converter stopped|could not be started", re.I),
     "Reading the file took too long or needed too much memory. Split it into smaller files, then upload those."),
    (re.compile(r"expands past|archive members|more than [\d,]+ cells", re.I),
     "The file is too large once unpacked (it may be a compressed bomb). Split it into smaller files."),
    (re.compile(r"no text found|no slides|empty file", re.I),
     "No text was found in the file. Check that it is the document you meant, with its text inside."),
    (re.compile(r"too large", re.I), "The file is too large. Split it into smaller files."),
]


def plain(reason: str) -> str:
    """The library's reason for not indexing a file, as a sentence with what to do."""
    for pattern, sentence in _PLAIN:
        if pattern.search(str(reason)):
            return sentence
    m = re.search(r"unsupported file type '?(\.\w+)'?", str(reason))
    if m:
        return check(f"x{m.group(1)}", 1, type("C", (), {"upload_types": ()})) or str(reason)
    return f"It could not be read ({' '.join(str(reason).split())[:200]})."


@dataclass
class FileState:
    """One uploaded file in the per-file list: queued, busy (with the phase), added or refused."""
    name: str
    state: str = "queued"         # queued (not started), checking, waiting (in the upload queue), indexing, added, refused
    detail: str = ""              # the phase while busy, or the plain reason when refused
    done: int = 0
    total: int = 0
    doc_id: str | None = None
    extra: dict = field(default_factory=dict)


STATE_WORDS = {"queued": "waiting", "checking": "checking…", "waiting": "queued", "indexing": "indexing…",
               "added": "added", "refused": "not added"}


def list_html(files: list[FileState]) -> str:
    """The per-file list: each file's name, state and, when refused, what to do."""
    if not files:
        return ""
    added = sum(f.state == "added" for f in files)
    refused = sum(f.state == "refused" for f in files)
    busy = len(files) - added - refused
    head = (f"{len(files)} file{'s' if len(files) != 1 else ''}: {added} added, {refused} not added"
            + (f", {busy} to go" if busy else ""))
    items = []
    for f in files:
        cls = {"added": "ok", "refused": "bad"}.get(f.state, "busy")
        bar = ""
        if f.state == "indexing" and f.total:
            bar = (f" <progress max='{f.total}' value='{min(f.done, f.total)}' "
                   f"aria-label='{html.escape(f.name)}: {html.escape(f.detail)}'></progress>")
        detail = f"<span class='what'>{html.escape(f.detail)}</span>" if f.detail else ""
        items.append(f"<li data-state='{f.state}'><b>{html.escape(f.name)}</b>: "
                     f"<span class='{cls}'>{STATE_WORDS.get(f.state, f.state)}</span>{bar}{detail}</li>")
    return f"<p role='status'>{html.escape(head)}</p><ul class='uploads'>{''.join(items)}</ul>"


def vectors_text(vectors: dict | None, total: int = 0) -> str:
    """While vectors are pending (Rag.status["vectors"]): "Answerable by keywords; computing vectors: 3 of 50
    documents." (total: the documents pending when the upload ended; the index's pending count if larger);
    once complete: "" when nothing was pending, else that the answers use the full index."""
    if not vectors:
        return ""
    pending = int(vectors.get("documents_pending", 0))
    if vectors.get("complete", True) or not pending:
        return (f"Vectors computed for {'the' if total == 1 else f'all {total:,}'} uploaded "
                f"document{'s' if total != 1 else ''}: answers use the full index." if total else "")
    total = max(total, pending)
    return f"Answerable by keywords; computing vectors: {total - pending:,} of {total:,} documents."
