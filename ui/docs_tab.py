"""The Documents tab, a file manager: a searchable, sortable table of what is indexed (name,
type, pages and passages, size, when added), each row opening the document and carrying its
own remove action; the skipped files with their reasons; uploads file by file.

A thin layer over the document interface of rag.api.Rag (``documents``, ``skipped``,
``document``, ``add_files``, ``remove_document``, ``is_upload``; see rag/build/documents.py).
Search and sort run in the browser (TABLE_JS: no round trip; they survive a refresh of the
table). A row's buttons carry ``data-docs-act`` ("open:ID", "remove:ID", "delete:ID", the id
percent-encoded) read by this tab's own click handler (BRIDGE_JS), which first asks for
confirmation in the words of CONFIRM_KEEP (a file of the person's folder: always kept) or
CONFIRM_DELETE (an upload's stored copy, its own "Delete upload" button). Uploads: the file
picker accepts any file; each file is checked here (ui/uploads.py: type, size, with what to
do), then the good ones are indexed one at a time by ``Rag.add_files`` in a worker thread
while the page shows each file's phase and progress, and each file's result in plain words. Each goes through
the library's upload queue (``add_files(queue=True)``): while the server's own build of the index or an upload
from elsewhere is still writing, the file shows as queued, with what it waits for, then as indexing. A file
is added once it answers by keywords (``add_files(background=True)``); its vectors are computed
behind it, and a line under the list says how far ("computing vectors: 3 of 50 documents"),
refreshed every TICK_S seconds until they are all in (then the status line and suggestions catch up).
Opening a row shows the whole text and, for a PDF (or a deck with its PDF export beside it),
the first page as printed with Previous/Next page buttons ("page:ID:N"; ui/pages.py). Does not touch the corpus or the index itself.
"""
from __future__ import annotations

import html
import logging
import os
import threading
import time
from pathlib import Path
from urllib.parse import quote, unquote

from rag.errors import RagError

from . import pages, uploads
from .common import in_background, public_message
from .render import ago, document_html, size_text

log = logging.getLogger(__name__)
METHODS = ("documents", "skipped", "document", "add_files", "remove_document")
POLL_S = 0.3   # how often the upload list is refreshed while a file is indexed
TICK_S = 1.0   # how often the line "computing vectors: N of M documents" is refreshed after an upload

CONFIRM_KEEP = "Remove {d} from the index? The file in your folder is kept."
CONFIRM_DELETE = "Remove {d} from the index and delete the uploaded copy?"
COLUMNS = (("name", "Name"), ("kind", "Type"), ("length", "Pages · passages"), ("size", "Size"),
           ("added", "Added"))

TABLE_JS = """
const state = element._docs || (element._docs = {q: '', key: null, dir: 1});
function apply() {
  const table = element.querySelector('table.docs');
  if (!table) return;
  const input = element.querySelector('input.docs-search');
  if (input && input.value.toLowerCase().trim() !== state.q) input.value = state.q;
  const body = table.tBodies[0], rows = [...body.rows];
  let shown = 0;
  for (const r of rows) { const hit = !state.q || r.dataset.search.includes(state.q); r.hidden = !hit; shown += hit; }
  if (state.key) {
    rows.sort((a, b) => { const x = a.dataset[state.key] || '', y = b.dataset[state.key] || '';
      const nx = Number(x), ny = Number(y);
      const c = (x !== '' && y !== '' && !isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return c * state.dir; });
    rows.forEach(r => body.appendChild(r));
  }
  for (const th of table.tHead.rows[0].cells) {
    const k = th.dataset.key; if (!k) continue;
    th.setAttribute('aria-sort', k === state.key ? (state.dir > 0 ? 'ascending' : 'descending') : 'none');
  }
  const count = element.querySelector('.docs-count');
  if (count) count.textContent = shown + ' of ' + rows.length + ' shown';
}
element.addEventListener('input', (e) => {
  if (e.target.matches && e.target.matches('input.docs-search')) { state.q = e.target.value.toLowerCase().trim(); apply(); }
});
element.addEventListener('click', (e) => {
  const b = e.target.closest && e.target.closest('th button[data-key]');
  if (!b) return;
  const k = b.dataset.key; state.dir = state.key === k ? -state.dir : 1; state.key = k; apply();
});
watch('value', () => requestAnimationFrame(apply));
apply();
"""
BRIDGE_JS = """
document.addEventListener('click', (e) => {
  const el = e.target && e.target.closest ? e.target.closest('[data-docs-act]') : null;
  if (!el) return;
  e.preventDefault(); e.stopPropagation();
  const ask = el.getAttribute('data-confirm');
  if (ask && !confirm(ask)) return;
  props.value = el.getAttribute('data-docs-act') + '|' + Date.now();
  trigger('click');
}, true);
"""
VIEW_JS = """
watch('value', () => { const el = element.querySelector('.docview');
  if (el) { el.scrollIntoView({block: 'start'}); const t = element.querySelector('.doctext'); if (t) t.focus({preventScroll: true}); } });
"""


def available(rag) -> bool:
    """Whether this Rag offers document management (rag.build.documents)."""
    return all(callable(getattr(rag, m, None)) for m in METHODS)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def length_text(d) -> str:
    """'12 pages · 40 passages', '1 page · 1 passage', '3 passages' (no pages: not a paged format)."""
    parts = [plural(d.pages, "page")] if d.pages else []
    return " · ".join(parts + [plural(d.chunks, "passage")])


def _uploads(rag, docs) -> set[str]:
    is_upload = getattr(rag, "is_upload", None)
    if not callable(is_upload):
        return set()
    out = set()
    for d in docs:
        try:
            if d.id.startswith("uploads/") and is_upload(d.id):
                out.add(d.id)
        except Exception:   # noqa: BLE001 - only decides whether a "Delete upload" button is offered
            continue
    return out


def row_html(d, upload: bool) -> str:
    q, title = quote(d.id, safe=""), html.escape(d.title)
    keep = html.escape(CONFIRM_KEEP.format(d=d.id), quote=True)
    actions = (f"<button type='button' class='docs-act remove' data-docs-act='remove:{q}' data-confirm='{keep}' "
               f"aria-label='Remove {title} from the index'>Remove</button>")
    if upload:
        delete = html.escape(CONFIRM_DELETE.format(d=d.id), quote=True)
        actions += (f" <button type='button' class='docs-act remove' data-docs-act='delete:{q}' "
                    f"data-confirm='{delete}' aria-label='Remove {title} and delete the uploaded copy'>"
                    f"Delete upload</button>")
    search = html.escape(f"{d.title} {d.id} {d.kind}".lower(), quote=True)
    return (f"<tr data-search='{search}' data-name='{html.escape(d.title.lower(), quote=True)}' "
            f"data-kind='{html.escape(d.kind)}' data-length='{d.chunks}' data-size='{d.size}' "
            f"data-added='{html.escape(str(d.indexed_at), quote=True)}' data-id='{html.escape(d.id, quote=True)}'>"
            f"<td><button type='button' class='doc-open' data-docs-act='open:{q}'>{title}</button><br>"
            f"<span class='meta'>{html.escape(d.id)}</span></td><td>{html.escape(d.kind.upper())}</td>"
            f"<td class='num'>{length_text(d)}</td><td class='num'>{size_text(d.size)}</td>"
            f"<td>{html.escape(ago(d.indexed_at))}</td><td>{actions}</td></tr>")


def documents_html(rag) -> str:
    if not available(rag):
        return "<p class='hint'>Document management is not available with this version of rag.</p>"
    docs, skipped = rag.documents(), rag.skipped()
    up = _uploads(rag, docs)
    heads = "".join(f"<th scope='col' data-key='{k}' aria-sort='none'><button type='button' data-key='{k}'>"
                    f"{label}</button></th>" for k, label in COLUMNS)
    out = [f"<h2>{plural(len(docs), 'indexed document')}</h2>",
           "<div class='docs-tools'><input type='search' class='docs-search' id='docs-search' "
           "aria-label='Search the documents by name or type' placeholder='Search by name or type'>"
           f"<span class='meta docs-count' aria-live='polite'>{len(docs)} of {len(docs)} shown</span></div>",
           "<table class='docs'><caption class='meta' style='text-align:left'>Select a column's name to sort; "
           "a document's name to open it.</caption>"
           f"<thead><tr>{heads}<th scope='col'>Actions</th></tr></thead>"
           f"<tbody>{''.join(row_html(d, d.id in up) for d in docs)}</tbody></table>"]
    if skipped:
        items = "".join(f"<li><b>{html.escape(s.path)}</b>: {html.escape(uploads.plain(s.reason))} "
                        f"<span class='meta'>({html.escape(public_message(s.reason))})</span></li>" for s in skipped)
        out.append(f"<h2>{plural(len(skipped), 'skipped file')}</h2><ul>{items}</ul>")
    else:
        out.append("<p class='hint'>No files were skipped.</p>")
    return "".join(out)


def remove(rag, doc_id, delete_upload: bool = False) -> str:
    """Take doc_id out of the index; its file is kept unless delete_upload and it is an upload."""
    if not available(rag):
        return "Removing needs a version of rag with document management."
    if not doc_id:
        return "Choose a document to remove."
    result = rag.remove_document(doc_id, delete_upload=bool(delete_upload), **in_background(rag.remove_document))
    message = getattr(result, "message", None) or f"removed {doc_id} from the index"
    return message[:1].upper() + message[1:] + "."


def document_text(rag, doc_id: str) -> tuple[str, str]:
    """(title, whole indexed text) of a document."""
    view = rag.document(doc_id)
    return view.info.title, view.text


def open_html(rag, doc_id: str, page: int = 1) -> str:
    """The document view of a row: the whole text, and for a PDF the page as printed (the first,
    or page), with buttons to the previous and next pages."""
    try:
        title, text = document_text(rag, doc_id)
    except RagError as exc:
        return f"<p class='hint'>{html.escape(public_message(str(exc)))}</p>"
    return document_html(title, doc_id, text, 0, 0, [], pages.figure_html(rag, doc_id, page, title, browse=True))


def _read(path, limit: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(limit + 1)


def upload_steps(rag, paths, poll: float = POLL_S):
    """Index the uploaded files one by one; yields (files' states, done) as things change, the
    last with done True. A refused file never stops the others."""
    paths = list(paths or [])
    states = [uploads.FileState(Path(p).name) for p in paths]
    limit = int(min(rag.config.upload_max_mb, rag.config.max_file_mb) * 1_000_000)
    for st, p in zip(states, paths):
        try:
            reason = uploads.check(st.name, os.path.getsize(p), rag.config)
        except OSError:
            reason = "The file did not arrive completely. Upload it again."
        if reason:
            st.state, st.detail = "refused", reason
    yield states, False
    queued = [st for st in states if st.state == "queued"]
    deferred = False   # a file added with its vectors left for the next one
    for st, p in zip(states, paths):
        if st.state != "queued":
            continue
        last = st is queued[-1]   # the earlier ones only become answerable; the last one's build embeds all
        st.state, st.detail = "indexing", "reading the file"
        box: dict = {}

        def report(phase, done, total, st=st):
            if st.state != "indexing":   # answerable already: its vectors are computed behind (vectors_text)
                return
            st.detail, st.done, st.total = f"{phase}" + (f" {done}/{total}" if total else ""), done, total

        def work(p=p, st=st, box=box):
            try:
                out = rag.add_files([(st.name, _read(p, limit))], progress=report,
                                    **in_background(rag.add_files, vectors=last, queue=True))
                if callable(getattr(out, "outcome", None)):   # in the upload queue: wait for its turn
                    box["upload"] = out
                    out = out.outcome()
                box["result"] = out
            except RagError as exc:
                box["error"] = uploads.plain(str(exc)) if "unreadable" in str(exc) else public_message(str(exc))
            except Exception:   # noqa: BLE001 - the page shows one line; the log keeps the rest
                log.exception("upload of %s failed", st.name)
                box["error"] = "The upload failed on the server (see its log). Nothing changed."
        worker = threading.Thread(target=work, daemon=True, name="upload")
        worker.start()
        while worker.is_alive():
            worker.join(poll)
            waiting(st, box.get("upload"))
            yield states, False
        result = box.get("result")
        if result is not None and result.added:
            st.state, st.detail, st.doc_id = "added", f"indexed as {result.added[0]}", result.added[0]
            deferred = not last
        else:
            why = result.skipped[0].reason if result is not None and result.skipped else box.get("error", "")
            st.state = "refused"
            st.detail = why if "error" in box else uploads.plain(why)
            if last and deferred and callable(getattr(rag, "refresh", None)):   # vectors still to start
                try:
                    rag.refresh(**in_background(rag.refresh))
                except RagError as exc:
                    log.warning("computing the vectors of the uploads did not start: %s", exc)
    yield states, True


def waiting(st, upload) -> None:
    """The file's line while its upload waits in the queue ("queued: waiting for the index build ...") and once
    it is indexed (back to "indexing", its phases then reported by add_files' progress)."""
    if upload is None:
        return
    if upload.state == "queued" and upload.waiting:
        st.state, st.detail = "waiting", upload.waiting
    elif st.state == "waiting":
        st.state, st.detail = "indexing", "reading the file"


def _pending(rag) -> int:
    """Documents of the current version whose vectors are still being computed (0 when complete)."""
    try:
        vectors = rag.status.get("vectors") or {}
    except RagError:
        return 0
    return 0 if vectors.get("complete", True) else int(vectors.get("documents_pending", 0))


def _vectors_html(rag, total: int) -> str:
    """The line under the upload list while the uploads' vectors are computed (uploads.vectors_text)."""
    try:
        text = uploads.vectors_text(rag.status.get("vectors"), total)
    except RagError:
        text = ""
    return f"<p role='status' class='hint'>{html.escape(text)}</p>" if text else ""


def summary(states) -> str:
    """One line for the 'Last change' box: 'Added 2: a.md, b.pdf. Not added: c.doc (...).'"""
    added = [s.name for s in states if s.state == "added"]
    refused = [s for s in states if s.state == "refused"]
    parts = [f"Added {len(added)}: {', '.join(added)}."] if added else []
    if refused:
        parts.append("Not added: " + "; ".join(f"{s.name} ({s.detail})" for s in refused))
    return " ".join(parts) or "No files given."


def build(rag, refresh):
    """The tab's components and events; refresh: (fn, outputs) run after the index changed.
    Returns (listing, the function that fills the tab, its outputs)."""
    import gradio as gr

    if not available(rag):
        listing = gr.HTML("", elem_id="documents")
        return listing, lambda: documents_html(rag), [listing]
    files = gr.File(label="Add documents: drop files here or select them (several at once; each is checked "
                    "on its own)", file_count="multiple", elem_id="upload", height=150)
    progress = gr.HTML("", elem_id="upload-progress", padding=False)
    vectors = gr.HTML("", elem_id="upload-vectors", padding=False)
    pending = gr.State(0)   # documents without vectors when the last upload ended
    ticker = gr.Timer(TICK_S, active=False)
    result = gr.Textbox(label="Last change", interactive=False, elem_id="doc-result")
    listing = gr.HTML("", elem_id="documents", js_on_load=TABLE_JS)
    view = gr.HTML("", elem_id="docs-view", js_on_load=VIEW_JS)
    bridge = gr.HTML("", visible="hidden", elem_id="docs-bridge", js_on_load=BRIDGE_JS, html_template="")

    def on_upload(paths):
        n = len(refresh[1])
        for states, done in upload_steps(rag, paths):
            if not done:
                yield (uploads.list_html(states), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                       *([gr.skip()] * n))
        changed = any(s.state == "added" for s in states)
        left = _pending(rag) if changed else 0
        yield (uploads.list_html(states), summary(states), documents_html(rag) if changed else gr.skip(), None,
               _vectors_html(rag, left), left, gr.Timer(active=bool(left)),
               *(refresh[0]() if changed else [gr.skip()] * n))

    def on_tick(total):   # while the uploads' vectors are computed: how far; once done, the page catches up
        if _pending(rag):
            return (_vectors_html(rag, total), gr.skip(), *([gr.skip()] * len(refresh[1])))
        return (_vectors_html(rag, total), gr.Timer(active=False), *refresh[0]())

    def on_act(action):
        kind, _, rest = str(action).partition("|")[0].partition(":")
        doc_id = unquote(rest)
        if kind in ("open", "page"):
            doc_id, _, page = doc_id.rpartition(":") if kind == "page" else (doc_id, "", "1")
            page = int(page) if page.isdigit() else 1
            return (gr.skip(), gr.skip(), open_html(rag, doc_id, page), *([gr.skip()] * len(refresh[1])))
        if kind not in ("remove", "delete"):
            return (gr.skip(), gr.skip(), gr.skip(), *([gr.skip()] * len(refresh[1])))
        try:
            message = remove(rag, doc_id, kind == "delete")
        except RagError as exc:
            message = f"Nothing changed: {public_message(str(exc))}"
        return (message, documents_html(rag), "", *refresh[0]())

    files.upload(on_upload, files, [progress, result, listing, files, vectors, pending, ticker, *refresh[1]],
                 concurrency_limit=1, show_progress="hidden", api_name=False)
    ticker.tick(on_tick, pending, [vectors, ticker, *refresh[1]], show_progress="hidden", api_name=False)
    bridge.click(on_act, bridge, [result, listing, view, *refresh[1]], concurrency_limit=1, api_name=False,
                 show_progress="hidden")
    return listing, lambda: documents_html(rag), [listing]
