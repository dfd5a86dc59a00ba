"""Ask within some documents: the "Search in" filter next to the question box, and the Documents tab's
"Ask within selected" hook that fills it.

The filter is a multiselect of the index's folders ("Folder: reports/"), file types ("Type: PDF") and
documents ("Document: Title (id)"); its values are "folder:PATH", "type:EXT" and "doc:ID", which
``where`` turns into the ``where`` of Rag.chat (rag.retrieve.scope.Scope: folders and documents add
up, types keep only those types of them; empty: all documents). What comes back from the browser is
untrusted: values of another shape are dropped, and the library checks the rest (a scope that matches
nothing is answered with one line saying so). Choices come with the page's load and are refreshed
with the status line (after an upload or a removal), never in the page's configuration. Does not search (the retriever does, inside the scope).
"""
from __future__ import annotations

from pathlib import PurePosixPath

PREFIXES = {"folder": "folders", "type": "types", "doc": "documents"}
MAX_VALUES = 200   # values accepted from the browser
MAX_DOCUMENTS = 1000   # documents offered one by one (folders and types are always offered)


def choices(rag) -> list[tuple[str, str]]:
    """(label, value) for every folder (with its parent folders), file type and document of the index."""
    docs = rag.documents() if callable(getattr(rag, "documents", None)) else []
    folders = sorted({"/".join(PurePosixPath(d.id).parts[:n]) for d in docs
                      for n in range(1, len(PurePosixPath(d.id).parts))})
    kinds = sorted({d.kind for d in docs if d.kind})
    return ([(f"Folder: {f}/", f"folder:{f}") for f in folders] + [(f"Type: {k.upper()}", f"type:{k}") for k in kinds]
            + [(f"Document: {d.title} ({d.id})", f"doc:{d.id}") for d in docs[:MAX_DOCUMENTS]])


def where(values) -> dict | None:
    """The filter's values as Rag.chat's where ({folders, types, documents}), None for all documents."""
    out: dict[str, list[str]] = {}
    for v in (values if isinstance(values, list) else [])[:MAX_VALUES]:
        kind, sep, rest = v.partition(":") if isinstance(v, str) else ("", "", "")
        if sep and rest and kind in PREFIXES:
            out.setdefault(PREFIXES[kind], []).append(rest)
    return out or None


def build_filter(rag):
    """The "Search in" dropdown (placed by the caller, next to the question box); its choices come with the
    page's load (refresh), so the page's configuration names no document."""
    import gradio as gr

    return gr.Dropdown(choices=[], value=[], multiselect=True, label="Search in", elem_id="scope",
                       info="Leave empty to search all documents; pick folders, types or documents to ask "
                            "within them", allow_custom_value=False, max_choices=MAX_VALUES)


def refresh(rag) -> tuple:
    """Updates of the filter's and the hook's choices (the selection kept where it still exists)."""
    import gradio as gr

    options = choices(rag)
    return (gr.update(choices=options),
            gr.update(choices=[(label, value) for label, value in options if value.startswith("doc:")]))


def build_docs_hook(rag, filter_, tabs, chat_tab: str):
    """In the Documents tab: pick documents, then "Ask within selected" fills the filter with them and
    opens the chat. Returns the picker (refreshed with the filter)."""
    import gradio as gr

    with gr.Row(elem_id="ask-within-row"):
        picker = gr.Dropdown(choices=[], value=[], multiselect=True, label="Select documents to ask about",
                             elem_id="ask-within-choice", scale=4)
        button = gr.Button("Ask within selected", elem_id="ask-within", scale=1)

    def on_click(picked):
        picked = [v for v in (picked if isinstance(picked, list) else []) if isinstance(v, str)]
        if not picked:
            return gr.skip(), gr.skip()
        return gr.update(value=picked), gr.Tabs(selected=chat_tab)

    button.click(on_click, picker, [filter_, tabs], api_name=False)
    return picker
