"""Gradio chat UI: a thin layer over one handler, ``respond``.

The left column is the chat (answers carry [n] markers); the right column
shows the sources of the latest answer, each passage with its cited sentence
highlighted. Document text is shown as text, never rendered as Markdown or HTML
(chat messages are escaped and Markdown rendering is off), and the page makes no
request to outside hosts (ui/security.py adds a Content-Security-Policy that
enforces it). Nothing sent to the browser names an absolute path: documents are
named relative to the corpus, the index by its folder name. Does not upload
documents or edit the corpus: use ``rag index`` for that.
"""
from __future__ import annotations

import html
import logging
import os
import re
from pathlib import Path

from rag.answer import Answer
from rag.api import Rag, open_default
from rag.config import MODES, Config
from rag.errors import RagError
from ui.security import MAX_BODY, serve_auth

TITLE = "Ask your documents"
EXAMPLES = [
    "How many North Korean soldiers were sent to Russia last fall?",
    "Where were most of the North Korean troops deployed?",
    "Who praised the North Korean fighters for helping defeat Ukrainian forces?",
    "What share of the North Korean troops were killed or wounded?",
]
CSS = """
.src {border-left: 3px solid #6b7280; padding: 4px 10px; margin: 0 0 12px 0;}
.src .meta {color: #6b7280; font-size: 0.85em;}
.src mark {background: #fde68a; padding: 0 2px;}
.src p {white-space: pre-wrap;}
"""


_ABS_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[\\/](?:[^\s'\"\\/:]+[\\/])*([^\s'\"\\/:]*)")
log = logging.getLogger(__name__)


def status_line(rag: Rag) -> str:
    """Counts, model and index folder, by name only (a local model path shows as its last part)."""
    s = rag.status
    model = Path(s["model"]).name if os.sep in s["model"] or "/" in s["model"] else s["model"]
    return (f"{s['documents']} documents · {s['chunks']} chunks · model {model} · "
            f"index {Path(s['index']).name}")


def public_message(text: str) -> str:
    """One line, with every absolute path shortened to its last part (for messages sent to the browser)."""
    return " ".join(_ABS_PATH.sub(lambda m: m.group(1) or "…", str(text)).split())


def as_text(text: str) -> str:
    """Chat content shown as literal text: HTML-escaped, lines kept (the Chatbot does not render Markdown)."""
    return html.escape(text.encode("utf-8", "replace").decode("utf-8")).replace("\n", "<br>")


def conversation(history: list) -> list[dict]:
    """The chat history as plain-text messages for Rag.chat. Gradio hands content back as a
    list of {"type": "text", "text": ...} parts; what is shown is escaped HTML (see as_text)."""
    out = []
    for m in history:
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            continue
        content = m.get("content")
        if isinstance(content, list):
            content = " ".join(part.get("text", "") for part in content
                               if isinstance(part, dict) and isinstance(part.get("text"), str))
        if isinstance(content, str) and content.strip():
            out.append({"role": m["role"], "content": html.unescape(content.replace("<br>", "\n"))})
    return out


def sources_html(answer: Answer) -> str:
    """The sources panel: cited passages with the quoted sentence marked, else the nearest ones."""
    blocks = []
    if answer.citations:
        by_marker: dict[int, list] = {}
        for c in answer.citations:
            by_marker.setdefault(c.marker, []).append(c)
        for marker, cites in by_marker.items():
            c, text, pos, body = cites[0], cites[0].passage, 0, []
            for q in sorted(cites, key=lambda q: q.quote_start):
                a, b = q.quote_start - c.start, q.quote_end - c.start
                body += [html.escape(text[pos:a]), "<mark>", html.escape(text[a:b]), "</mark>"]
                pos = b
            body.append(html.escape(text[pos:]))
            blocks.append(
                f"<div class='src'><b>[{marker}] {html.escape(c.title)}</b><br>"
                f"<span class='meta'>{html.escape(c.doc_id)} · characters {c.start}–{c.end} · "
                f"score {c.score:.2f}</span><p>{''.join(body)}</p></div>")
        return "".join(blocks)
    if not answer.passages:
        return "<p>No passages.</p>"
    blocks.append("<p><i>Nothing relevant enough; the nearest passages were:</i></p>")
    for p in answer.passages[:3]:
        blocks.append(f"<div class='src'><b>{html.escape(p.title)}</b><br><span class='meta'>"
                      f"{html.escape(p.doc_id)} · characters {p.start}–{p.end} · score {p.score:.2f}"
                      f"</span><p>{html.escape(p.text)}</p></div>")
    return "".join(blocks)


def respond(rag: Rag, message, history: list | None, mode=None) -> tuple[list, str, str]:
    """Handle one chat turn: returns (chat history, sources HTML, cleared input box).

    Every message in the history is escaped text (see as_text); a bad question,
    k or mode shows as a one-line error in the chat (rag.question)."""
    history = list(history or [])
    try:
        answer = rag.chat(conversation(history) + [{"role": "user", "content": message}], mode=mode)
    except Exception as exc:   # noqa: BLE001 - the chat shows one line; the log keeps the rest
        if isinstance(exc, RagError):
            error = public_message(str(exc))
        else:
            log.exception("unexpected error answering a question")
            error = f"unexpected {type(exc).__name__}: see the server log"
        shown = message[:2000] if isinstance(message, str) else f"({type(message).__name__})"
        history += [{"role": "user", "content": as_text(shown)},
                    {"role": "assistant", "content": as_text(f"⚠️ {error}")}]
        return history, "", ""
    reply = answer.text + (f"\n\n(Note: {answer.notice})" if answer.notice else "")
    history += [{"role": "user", "content": as_text(message if isinstance(message, str) else answer.question)},
                {"role": "assistant", "content": as_text(reply)}]
    return history, sources_html(answer), ""


def build_app(rag: Rag):
    import gradio as gr

    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        gr.Markdown(f"## {TITLE}")
        gr.HTML(f"<p>{html.escape(status_line(rag))}</p>", elem_id="status")
        with gr.Row():
            with gr.Column(scale=3):
                # Messages are escaped text (as_text): no Markdown, no LaTeX, no HTML from documents.
                chat = gr.Chatbot(label="Chat", height=460, elem_id="chat", buttons=["copy"],
                                  render_markdown=False, sanitize_html=True, latex_delimiters=[],
                                  allow_tags=False)
                box = gr.Textbox(placeholder="Ask a question about the documents…", show_label=False,
                                 elem_id="question", submit_btn=True)
                gr.Examples(EXAMPLES, inputs=box, label="Example questions")
                mode = gr.Radio(list(MODES), value=rag.config.mode, label="Retrieval", elem_id="mode")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML("<p>Ask a question to see the passages it is answered from.</p>",
                                  elem_id="sources")
        box.submit(lambda m, h, md: respond(rag, m, h, md), [box, chat, mode], [chat, sources, box],
                   api_name="ask")
    return app


def theme():
    import gradio as gr

    system = ["ui-sans-serif", "system-ui", "sans-serif"]
    return gr.themes.Base(font=system, font_mono=["ui-monospace", "monospace"])


def launch(config: Config | None = None, *, host: str = "127.0.0.1", port: int = 7860,
           auth: str | None = None, max_body: int = MAX_BODY):
    """Load (or build) the index, then serve the UI until interrupted.

    auth: 'USER:PASSWORD' (default $RAG_AUTH); required unless host is loopback,
    else ServeError before anything loads. Request bodies over max_body bytes are
    refused (413) on every route but the upload routes (Config.upload_max_mb); the
    HTTP API (ui/http_api.py) is served on the same port, behind the same login."""
    from rag.embed import Embedder, offline_env
    from ui.http_api import launch_kwargs

    login = serve_auth(host, auth if auth is not None else os.environ.get("RAG_AUTH"))
    offline_env()
    config = config or Config()
    rag = open_default(config, embedder=Embedder(config.model, batch_size=config.batch_size,
                                                 backend=config.backend))
    rag.query("warm up")   # load the model now, not on the first question
    print(f"serving on http://{host}:{port}  ({status_line(rag)}; index at {rag.config.index_dir}; "
          f"{'login required' if login else 'no login: loopback only'})", flush=True)
    build_app(rag).launch(server_name=host, server_port=port, **launch_kwargs(rag, login, max_body=max_body),
                          theme=theme(), css=CSS, footer_links=[])
