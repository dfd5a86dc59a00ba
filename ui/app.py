"""Gradio chat UI: a thin layer over handler functions that call Rag.

Chat tab: the conversation (each [n] marker a link to its source), the sources
of the selected answer (every answer keeps its own; selecting a marker or an
earlier answer shows them), the whole document scrolled to a passage, example
questions drawn from the index (rag.answer.examples), retrieval settings under
"Advanced", thumbs up/down into the feedback log (rag.answer.feedback), export as
Markdown or JSON, and the conversation kept in the browser's storage across
reloads. When an LLM writes the answers (rag.llm.answerer), the answer streams into
the chat as it is written, then is replaced by the checked answer: unsupported
sentences marked, the share of supported sentences under it. "Search in" next to the question box
limits a question to folders, types or documents (ui/scope_filter.py). Documents tab: ui/docs_tab.py. HTML comes from ui/render.py (all
document text escaped; the page makes no request to outside hosts, which
ui/security.py's Content-Security-Policy enforces); the turns' JSON from
session.py. One click handler (BRIDGE_JS, run by Gradio's HTML component, no
inline script) turns clicks on ``data-act`` elements into the ``act`` event.
Nothing sent to the browser names an absolute path.
"""
from __future__ import annotations

import logging

import gradio as gr

from rag.api import Rag
from rag.errors import RagError

from . import chats_panel, docs_tab, export, http_api, scope_filter, session
from .common import public_message
from .render import document_html, sources_html, status_text
# first view, look, original page (issue: workspace): ui/firstview.py, ui/theme.py, ui/pages.py
from . import firstview, pages
from .theme import CSS, PRODUCT, theme

TITLE = "Ask your documents"
MODE_CHOICES = [
    ("Hybrid (recommended): meaning and exact words together, tuned", "hybrid"),
    ("Meaning: passages that say the same thing in other words", "dense"),
    ("Exact words: passages that share the question's words (BM25)", "bm25"),
    ("Both lists merged by rank, untuned (RRF)", "rrf"),
]
BRIDGE_JS = """
document.addEventListener('click', (e) => {
  const el = e.target && e.target.closest ? e.target.closest('[data-act], a[href^="#cite-"]') : null;
  if (!el) return;
  e.preventDefault(); e.stopPropagation();
  const act = el.getAttribute('data-act') || el.getAttribute('href').slice(1).replace(/-/g, ':');
  props.value = act + '|' + Date.now();
  trigger('click');
}, true);
"""
SCROLL_JS = """
watch('value', () => {
  const el = element.querySelector('%s');
  if (!el) return;
  el.scrollIntoView({block: window.innerWidth < 768 ? 'start' : 'nearest'});
  if (el.focus) el.focus({preventScroll: true});
});
"""
DOWNLOAD_JS = """(payload) => {
  if (!payload) return;
  const p = JSON.parse(payload);
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([p.text], {type: p.mime}));
  a.download = p.name; document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 5000);
}"""
log = logging.getLogger(__name__)


def status_line(rag: Rag) -> str:
    """Plain language: '29 documents, indexed 5 minutes ago' (the current index version)."""
    return status_text(rag.status)


def ask(rag: Rag, message, turns: list | None, mode=None, where=None) -> tuple[list, list, str, str]:
    """One chat turn: (turns, Chatbot messages, sources of the new answer, cleared input box).

    Follow-ups are read against the earlier turns (Rag.chat); a bad question, k or
    mode shows as a one-line error in the chat. where: the documents to answer from (scope_filter.where)."""
    turns, shown = list(turns or []), _shown(message)
    try:
        answer = rag.chat(session.conversation(turns) + [{"role": "user", "content": message}], mode=mode,
                          where=where)
        turn = session.from_answer(shown, answer)
    except Exception as exc:   # noqa: BLE001 - the chat shows one line; the log keeps the rest
        turn = _error_turn(shown, exc)
    turns = session.add(turns, turn)
    return turns, session.chat_messages(turns), sources_html(turn, len(turns) - 1), ""


def ask_stream(rag: Rag, message, turns: list | None, mode=None, where=None):
    """ask(), streamed (for a generating answerer, rag.llm.answerer): yields (None, Chatbot messages
    with the answer written so far, None, "") as the model's text arrives (turns and sources not
    yet known), then what ask() returns, with the checked answer in place of the streamed text."""
    turns, shown = list(turns or []), _shown(message)
    before, text = session.chat_messages(turns), ""
    try:
        answer = None
        for item in rag.chat_stream(session.conversation(turns) + [{"role": "user", "content": message}],
                                    mode=mode, where=where):
            if isinstance(item, str):
                text += item
                yield None, before + session.pending(shown, text), None, ""
            else:
                answer = item
        turn = session.from_answer(shown, answer)
    except Exception as exc:   # noqa: BLE001 - the chat shows one line; the log keeps the rest
        turn = _error_turn(shown, exc)
    turns = session.add(turns, turn)
    yield turns, session.chat_messages(turns), sources_html(turn, len(turns) - 1), ""


def _shown(message) -> str:
    shown = message[:2000] if isinstance(message, str) else f"({type(message).__name__})"
    return shown.encode("utf-8", "replace").decode("utf-8")


def _error_turn(shown: str, exc: Exception) -> dict:
    if isinstance(exc, RagError):
        error = public_message(str(exc))
    else:
        log.exception("unexpected error answering a question")
        error = f"unexpected {type(exc).__name__}: see the server log"
    return session.from_error(shown, error)


def act(rag: Rag, action: str, turns: list) -> tuple[str | None, str]:
    """A click on a data-act element: (sources HTML or None to keep it, document view HTML)."""
    kind, _, rest = str(action).partition("|")[0].partition(":")
    if kind == "close":
        return None, ""
    t, _, n = rest.partition(":")
    turn = session.turn_of(turns, t)
    if turn is None:
        return sources_html(None), ""
    source = next((s for s in turn["sources"] if str(s["marker"]) == n), None)
    if kind == "cite":
        return sources_html(turn, int(t), source and source["marker"]), ""
    if kind != "doc" or source is None:
        return None, ""
    try:
        title, text = docs_tab.document_text(rag, source["doc"])
    except RagError as exc:
        return None, f"<p class='hint'>{public_message(str(exc))}</p>"
    marks = [(a, b, "quote") for a, b in source["quotes"]]
    if turn.get("short_doc") == source["doc"] and turn.get("short_start") is not None:
        marks.append((turn["short_start"], turn["short_end"], "short"))
    cited = source["quotes"][0][0] if source["quotes"] else source["start"]   # the page the cited sentence is on
    page = pages.page_at(rag, source["doc"], cited) or source.get("page")
    figure = pages.figure_html(rag, source["doc"], page, title)   # the original page, if a PDF
    return None, document_html(title, source["doc"], text, source["start"], source["end"], marks, figure)


def feedback(rag: Rag, turns: list, index, liked) -> dict | None:
    """Record a thumbs up/down on the answer at Chatbot message index; the logged entry."""
    index = index[0] if isinstance(index, (list, tuple)) else index
    turn = session.turn_of(turns, int(index) // 2) if isinstance(index, int) and index % 2 == 1 else None
    if turn is None or turn.get("error"):
        return None
    rating = "up" if liked is True or liked == "like" else "down"
    return rag.record_feedback(rating=rating, question=turn["question"], answer=turn["answer"],
                               passages=[dict(s, doc=s["doc"]) for s in turn["sources"]])


def build_app(rag: Rag):
    def overview():
        return (status_line(rag), gr.Dataset(samples=[[q] for q in rag.examples()]), firstview.welcome_html(rag),
                *scope_filter.refresh(rag))

    with gr.Blocks(title=f"{PRODUCT}: {TITLE}", analytics_enabled=False) as app:
        gr.HTML(firstview.header_html(), elem_id="title", padding=False)
        status = gr.Textbox(label="Index", interactive=False, elem_id="status", lines=1, max_lines=3)
        turns = gr.State([])
        saved = gr.BrowserState([], storage_key="rag-offline-conversation")
        panel = chats_panel.build(rag)   # saved conversations: the sidebar (ui/chats_panel.py)
        with gr.Tabs() as tabs:
            with gr.Tab("Chat", id="chat-tab"):
                with gr.Row():
                    with gr.Column(scale=3, min_width=300):
                        # Messages are escaped text (ui/render.py): no Markdown, no LaTeX, no HTML from documents.
                        chat = gr.Chatbot(label="Conversation", height=460, elem_id="chat", buttons=["copy"],
                                          render_markdown=False, sanitize_html=True, latex_delimiters=[],
                                          allow_tags=False, feedback_options=("Like", "Dislike"))
                        welcome = gr.HTML("", elem_id="welcome", padding=False)
                        box = gr.Textbox(label="Your question", placeholder="Ask a question about the documents…",
                                         elem_id="question", submit_btn="Ask", lines=1, max_lines=4)
                        scope = scope_filter.build_filter(rag)
                        examples = gr.Dataset(components=[box], samples=[], label="Example questions",
                                              elem_id="examples", samples_per_page=6)
                        with gr.Row():
                            new = gr.Button("New conversation", elem_id="new", size="sm")
                            md = gr.Button("Download as Markdown", elem_id="export-md", size="sm")
                            js = gr.Button("Download as JSON", elem_id="export-json", size="sm")
                        with gr.Accordion("Advanced: how passages are found", open=False, elem_id="advanced"):
                            mode = gr.Radio(MODE_CHOICES, value=rag.config.mode, label="Retrieval method",
                                            elem_id="mode", info="Which passages an answer is drawn from. "
                                            "Hybrid is best on the tests we ran; the others are for comparison.")
                    with gr.Column(scale=2, min_width=300):
                        gr.Markdown("## Sources")
                        sources = gr.HTML(sources_html(None), elem_id="sources", js_on_load=SCROLL_JS % ".selected")
                        document = gr.HTML("", elem_id="document", js_on_load=SCROLL_JS % ".passage")
                bridge = gr.HTML("", visible="hidden", elem_id="bridge", js_on_load=BRIDGE_JS, html_template="")
                download = gr.Textbox(visible="hidden", elem_id="download")
            with gr.Tab("Documents", id="docs-tab") as docs:
                picker = scope_filter.build_docs_hook(rag, scope, tabs, "chat-tab")
                listing, show_docs, docs_outputs = docs_tab.build(rag, (overview, [status, examples, welcome, scope,
                                                                                picker]))

        def on_ask(message, turns_, mode_, scope_):
            turns_, messages, src, cleared = ask(rag, message, turns_, mode_, scope_filter.where(scope_))
            return turns_, turns_, messages, src, "", cleared

        if rag.answerer.generated:   # an LLM writes the answers: stream them
            def on_ask(message, turns_, mode_, scope_):   # noqa: F811 - the streaming variant
                for turns_, messages, src, cleared in ask_stream(rag, message, turns_, mode_,
                                                                 scope_filter.where(scope_)):
                    if turns_ is None:
                        yield gr.skip(), gr.skip(), messages, gr.skip(), gr.skip(), cleared
                    else:
                        yield turns_, turns_, messages, src, "", cleared

        ask_outputs = [turns, saved, chat, sources, document, box]
        asked = box.submit(on_ask, [box, turns, mode, scope], ask_outputs, api_name="ask")
        if rag.answerer.generated:
            def on_example(s, t, m, w):
                yield from on_ask(s[0], t, m, w)
        else:
            def on_example(s, t, m, w):
                return on_ask(s[0], t, m, w)
        picked = examples.click(on_example, [examples, turns, mode, scope], ask_outputs, api_name=False)
        def on_select(turns_, data: gr.SelectData):
            t = (data.index[0] if isinstance(data.index, (list, tuple)) else data.index) // 2
            return sources_html(session.turn_of(turns_, t), t), ""
        chat.select(on_select, [turns], [sources, document], api_name=False)

        def on_act(action, turns_):
            src, doc = act(rag, action, turns_)
            return (gr.skip() if src is None else src), doc
        bridge.click(on_act, [bridge, turns], [sources, document], api_name=False)

        def on_like(turns_, data: gr.LikeData):
            feedback(rag, turns_, data.index, data.liked)
        chat.like(on_like, [turns], None, api_name=False)

        def cleared():
            return [], [], [], sources_html(None), ""
        for trigger in (new.click, chat.clear):
            trigger(cleared, None, [turns, saved, chat, sources, document], api_name=False)
        md.click(lambda t: export.payload(t, "md"), turns, download, api_name=False).then(
            None, download, None, js=DOWNLOAD_JS)
        js.click(lambda t: export.payload(t, "json"), turns, download, api_name=False).then(
            None, download, None, js=DOWNLOAD_JS)

        def on_load(saved_, turns_now):
            if turns_now:   # a question was answered before the page's load event ran: keep it
                return gr.skip(), gr.skip(), gr.skip()
            turns_ = session.restore(saved_)
            last = len(turns_) - 1
            return turns_, session.chat_messages(turns_), sources_html(turns_[-1] if turns_ else None, last)
        # restore first (quick), then the status and the example questions (each asked of the index)
        loaded = app.load(on_load, [saved, turns], [turns, chat, sources], api_name=False)
        loaded.then(overview, None, [status, examples, welcome, scope, picker], api_name=False)
        chats_panel.wire(rag, panel, asked=[asked, picked], loaded=loaded, new=new, turns=turns, saved=saved,
                         chat=chat, sources=sources, document=document)
        docs.select(show_docs, None, docs_outputs, api_name=False)
        gr.Timer(60).tick(lambda: status_line(rag), None, status, api_name=False, show_progress="hidden")
    return app


def create_app(rag: Rag, login: tuple[str, str] | None = None, **kwargs):
    """The HTTP API's application (http_api.create_app, with kwargs) with the chat page mounted on it at
    ``/``, behind its Guard and Gate: the Gate shows its sign-in form at ``/`` until signed in and tells
    Gradio the user it let in; Gradio's file routes serve only its upload folder, its cache and the
    corpus, never the index folder; no /docs, /redoc, /openapi.json."""
    from gradio.utils import get_cache_folder, get_upload_folder

    from .gate import USER

    upload_max = kwargs.pop("upload_max", None) or http_api.upload_limit(rag.config)
    roots = [get_upload_folder(), str(get_cache_folder()), str(rag.config.corpus_dir)]
    app = http_api.create_app(rag, login, upload_max=upload_max, file_roots=roots,
                              login_page=f"{PRODUCT}: {TITLE}" if login else None, **kwargs)
    blocks = build_app(rag)
    blocks.queue(default_concurrency_limit=4)
    return gr.mount_gradio_app(
        app, blocks, path="/", auth_dependency=(lambda request: request.scope.get(USER)) if login else None,
        max_file_size=upload_max, ssr_mode=False, mcp_server=False, show_error=False,
        blocked_paths=[str(rag.config.index_dir)], theme=theme(), css=CSS, footer_links=[],
        app_kwargs={"docs_url": None, "redoc_url": None, "openapi_url": None})
