"""Gradio chat UI: a thin layer over one handler, ``respond``.

The left column is the chat (answers carry [n] markers); the right column
shows the sources of the latest answer, each passage with its cited sentence
highlighted. The page uses system fonts and makes no request to outside hosts.
Does not upload documents or edit the corpus: use ``rag index`` for that.
"""
from __future__ import annotations

import html

from rag.answer import Answer
from rag.api import Rag, open_default
from rag.config import MODES, Config
from rag.errors import RagError

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


def status_line(rag: Rag) -> str:
    s = rag.status
    return f"{s['documents']} documents · {s['chunks']} chunks · model {s['model']} · index {s['index']}"


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


def respond(rag: Rag, message: str, history: list | None, mode: str | None = None) -> tuple[list, str, str]:
    """Handle one chat turn: returns (chat history, sources HTML, cleared input box)."""
    history = list(history or [])
    try:
        turns = [{"role": m["role"], "content": m["content"]} for m in history
                 if isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)]
        answer = rag.chat(turns + [{"role": "user", "content": message}], mode=mode)
    except RagError as exc:
        history += [{"role": "user", "content": message or ""},
                    {"role": "assistant", "content": f"⚠️ {exc}"}]
        return history, "", ""
    reply = (f"**{answer.short}**\n\n" + answer.text.split("\n\n", 1)[1] if answer.short else answer.text) \
        + (f"\n\n*{answer.notice}*" if answer.notice else "")
    history += [{"role": "user", "content": message},
                {"role": "assistant", "content": reply}]
    return history, sources_html(answer), ""


def build_app(rag: Rag):
    import gradio as gr

    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        gr.Markdown(f"## {TITLE}")
        gr.Markdown(status_line(rag), elem_id="status")
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", height=460, elem_id="chat", buttons=["copy"])
                box = gr.Textbox(placeholder="Ask a question about the documents…", show_label=False,
                                 elem_id="question", submit_btn=True)
                gr.Examples(EXAMPLES, inputs=box, label="Example questions")
                mode = gr.Radio(list(MODES), value=rag.config.mode, label="Retrieval", elem_id="mode")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML("<p>Ask a question to see the passages it is answered from.</p>",
                                  elem_id="sources")
        box.submit(lambda m, h, md: respond(rag, m, h, md), [box, chat, mode], [chat, sources, box])
    return app


def theme():
    import gradio as gr

    system = ["ui-sans-serif", "system-ui", "sans-serif"]
    return gr.themes.Base(font=system, font_mono=["ui-monospace", "monospace"])


def launch(config: Config | None = None, *, host: str = "127.0.0.1", port: int = 7860):
    """Load (or build) the index, then serve the UI until interrupted."""
    from rag.embed import offline_env

    offline_env()
    rag = open_default(config)
    rag.query("warm up")   # load the model now, not on the first question
    print(f"serving on http://{host}:{port}  ({status_line(rag)})", flush=True)
    build_app(rag).launch(server_name=host, server_port=port, share=False,
                          theme=theme(), css=CSS, footer_links=[])
