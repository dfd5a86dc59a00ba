"""The Documents tab: what is indexed, what was skipped and why, upload and removal.

A thin layer over the document interface of rag.api.Rag (``documents``,
``skipped``, ``document``, ``add_files``, ``remove_document``; see
rag/documents.py). Uploads are read from Gradio's upload folder and handed to
``Rag.add_files`` as (file name, bytes): the library names, checks and indexes
them, and a failure leaves the index as it was. Progress phases come from the
index refresh. Removing asks first, saying whether the file is kept (always, for
the person's own files) or the uploaded copy deleted (the checkbox, uploads only). Does not touch the corpus or the index itself.
"""
from __future__ import annotations

import html
import logging
from pathlib import Path

from rag.errors import RagError
from .render import ago, size_text

log = logging.getLogger(__name__)
METHODS = ("documents", "skipped", "document", "add_files", "remove_document")


def available(rag) -> bool:
    """Whether this Rag offers document management (rag.build.documents: the docs branch)."""
    return all(callable(getattr(rag, m, None)) for m in METHODS)


def documents_html(rag) -> str:
    if not available(rag):
        return "<p class='hint'>Document management is not available with this version of rag.</p>"
    docs, skipped = rag.documents(), rag.skipped()
    rows = "".join(
        f"<tr><td>{html.escape(d.title)}<br><span class='meta'>{html.escape(d.id)}</span></td>"
        f"<td>{html.escape(d.kind.upper())}</td><td>{size_text(d.size)}"
        f"{f', {d.pages} pages' if d.pages else ''}</td><td>{html.escape(ago(d.indexed_at))}</td></tr>"
        for d in docs)
    out = [f"<h3>{len(docs)} indexed document{'s' if len(docs) != 1 else ''}</h3>",
           "<table class='docs'><thead><tr><th scope='col'>Title</th><th scope='col'>Type</th>"
           f"<th scope='col'>Size</th><th scope='col'>Indexed</th></tr></thead><tbody>{rows}</tbody></table>"]
    if skipped:
        items = "".join(f"<li><b>{html.escape(s.path)}</b>: {html.escape(s.reason)}</li>" for s in skipped)
        out.append(f"<h3>{len(skipped)} skipped file{'s' if len(skipped) != 1 else ''}</h3><ul>{items}</ul>")
    else:
        out.append("<p class='hint'>No files were skipped.</p>")
    return "".join(out)


def choices(rag) -> list[tuple[str, str]]:
    return [(f"{d.title} ({d.id})", d.id) for d in rag.documents()] if available(rag) else []


def upload(rag, paths, progress=None) -> str:
    """Index the uploaded files; a one-line report of what was added and skipped."""
    if not available(rag):
        return "Uploading needs a version of rag with document management."
    files = [(Path(p).name, Path(p).read_bytes()) for p in paths or []]
    if not files:
        return "No files given."
    result = rag.add_files(files, progress=progress)
    parts = []
    if result.added:
        parts.append(f"Added {len(result.added)}: {', '.join(result.added)}.")
    if result.skipped:
        parts.append("Not added: " + "; ".join(f"{s.path} ({s.reason})" for s in result.skipped) + ".")
    return " ".join(parts) or "Nothing changed."


CONFIRM_KEEP = "Remove {d} from the index? The file in your folder is kept."
CONFIRM_DELETE = "Remove {d} from the index and delete the uploaded copy?"
# the page asks before removing, in these words (the checkbox decides which)
CONFIRM_JS = ("(d, del_) => (d && confirm(del_ ? " + repr(CONFIRM_DELETE).replace("{d}", "' + d + '")
              + " : " + repr(CONFIRM_KEEP).replace("{d}", "' + d + '") + ")) ? [d, del_] : [null, false]")


def remove(rag, doc_id, delete_upload: bool = False) -> str:
    """Take doc_id out of the index; its file is kept unless delete_upload and it is an upload."""
    if not available(rag):
        return "Removing needs a version of rag with document management."
    if not doc_id:
        return "Choose a document to remove."
    result = rag.remove_document(doc_id, delete_upload=bool(delete_upload))
    message = getattr(result, "message", None) or f"removed {doc_id} from the index"
    return message[:1].upper() + message[1:] + "."


def document_text(rag, doc_id: str) -> tuple[str, str]:
    """(title, whole indexed text) of a document."""
    view = rag.document(doc_id)
    return view.info.title, view.text


def build(rag, refresh):
    """The tab's components and events; refresh: (fn, outputs) run after the index changed."""
    import gradio as gr

    listing = gr.HTML("", elem_id="documents")
    if available(rag):
        types = getattr(rag.config, "upload_types", None)
        files = gr.File(label="Add documents: drop files here or select them (several at once)",
                        file_count="multiple", elem_id="upload",
                        file_types=[f".{t.lstrip('.')}" for t in types] if types else None)
        with gr.Row():
            pick = gr.Dropdown(choices=[], label="Document to remove", elem_id="remove-choice", scale=3)
            delete_box = gr.Checkbox(False, label="Also delete the uploaded copy (uploads only; files of your "
                                     "folder are always kept)", elem_id="delete-upload", scale=2)
            remove_btn = gr.Button("Remove document", variant="stop", elem_id="remove", scale=1)
    result = gr.Textbox(label="Last change", interactive=False, elem_id="doc-result")

    def after(message):
        return (message, documents_html(rag), gr.update(choices=choices(rag), value=None), None, *refresh[0]())

    def on_upload(paths, progress=gr.Progress()):
        def report(phase, done, total):
            progress((done, total) if total else None, desc=f"{phase}…")
        try:
            message = upload(rag, paths, report)
        except RagError as exc:
            message = f"Nothing changed: {exc}"
        except Exception:   # noqa: BLE001 - the page shows one line; the log keeps the rest
            log.exception("upload failed")
            message = "Nothing changed: the upload failed (see the server log)."
        return after(message)

    def on_remove(doc_id, delete_upload):
        try:
            message = remove(rag, doc_id, delete_upload)
        except RagError as exc:
            message = f"Nothing changed: {exc}"
        return after(message)

    def on_show():
        return documents_html(rag), gr.update(choices=choices(rag), value=None)

    if available(rag):
        outputs = [result, listing, pick, files, *refresh[1]]
        files.upload(on_upload, files, outputs, concurrency_limit=1, show_progress="full")
        remove_btn.click(on_remove, [pick, delete_box], outputs, concurrency_limit=1, js=CONFIRM_JS)
        return listing, on_show, [listing, pick]
    return listing, lambda: documents_html(rag), [listing]
