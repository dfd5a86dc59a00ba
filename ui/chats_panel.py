"""The chat page's saved conversations: a sidebar listing the signed-in user's chats (rag.chats).

A search box (titles, questions and answers), "New", the list (most recent first; picking one reopens
it: its answers and each answer's sources, as they were), and the open chat's title with Rename and
Delete. Every answered question is saved to the open conversation (the first one starts it, titled
after the question). The open conversation's id is kept in the browser's storage, so a reload reopens
it, but what is shown always comes from the store and only for the signed-in user: another account on
the same browser sees none of it. The owner is the user the Gate let in (Gradio's ``request.username``;
``""`` on a server without accounts). ``build`` lays the sidebar out (inside the page's Blocks);
``wire`` connects it to the chat (app.py). Does not answer questions.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import gradio as gr

from rag.chats import store_for
from rag.errors import ConversationError

from . import session
from .render import sources_html

log = logging.getLogger(__name__)
CANCELLED = "(cancelled)"
# The sidebar starts closed (on a phone it would cover the question box) and opens on a wide screen.
OPEN_WIDE_JS = """() => {
  const side = document.querySelector('#chats');
  if (window.innerWidth >= 1024 && side && !side.classList.contains('open'))
    side.querySelector('.toggle-button')?.click();
}"""
# On a narrow screen the open sidebar covers the chat: picking a conversation or "New" closes it.
CLOSE_NARROW_JS = """(...args) => {
  const side = document.querySelector('#chats');
  if (window.innerWidth < 1024 && side && side.classList.contains('open'))
    side.querySelector('.toggle-button')?.click();
  return args;
}"""   # what the Delete button's confirm sends when the person says no


@dataclass
class Panel:
    search: object
    new: object
    listing: object
    title: object
    rename: object
    delete: object
    note: object
    current: object      # gr.State: the open conversation's id (None: not saved yet)
    remembered: object   # gr.BrowserState: the same id, across reloads


def owner(request) -> str:
    return (getattr(request, "username", None) or "") if request is not None else ""


def choices(store, who: str, search: str | None) -> list[tuple[str, str]]:
    return [(c["title"], c["id"]) for c in store.list(who, search)]


def build(rag) -> Panel:
    """The sidebar's components (call inside the page's gr.Blocks)."""
    with gr.Sidebar(label="Conversations", open=False, elem_id="chats", position="left"):
        gr.Markdown("### Conversations")
        new = gr.Button("New conversation", elem_id="chat-new", size="sm")
        search = gr.Textbox(label="Search conversations", placeholder="Words in a title, question or answer",
                            elem_id="chat-search", max_lines=1)
        listing = gr.Radio(choices=[], value=None, label="Saved conversations", elem_id="chat-list")
        title = gr.Textbox(label="Title of this conversation", elem_id="chat-title", max_lines=1)
        with gr.Row():
            rename = gr.Button("Rename", elem_id="chat-rename", size="sm")
            delete = gr.Button("Delete", elem_id="chat-delete", size="sm", variant="stop")
        note = gr.Markdown("", elem_id="chat-note")
    current = gr.State(None)
    remembered = gr.BrowserState(None, storage_key="rag-offline-conversation-id")
    return Panel(search, new, listing, title, rename, delete, note, current, remembered)


def wire(rag, panel: Panel, *, asked, loaded, new, turns, saved, chat, sources, document) -> None:
    """Connect the sidebar: asked (the events that answer a question) save the new turn; loaded (the
    page's load event) reopens the remembered conversation; new (the page's own New button) starts over."""
    store = store_for(rag.config)
    shown = [turns, saved, chat, sources, document]

    def listed(search, conv, request: gr.Request):
        try:
            items = choices(store, owner(request), search)
        except ConversationError as exc:
            return gr.Radio(choices=[], value=None), str(exc)
        return gr.Radio(choices=items, value=conv if conv in {i for _, i in items} else None), ""

    def view(turns_):
        last = len(turns_) - 1
        return [turns_, turns_, session.chat_messages(turns_), sources_html(turns_[-1] if turns_ else None, last), ""]

    def opened(conv, request: gr.Request):
        """The shown outputs, current, remembered and title for conversation conv (empty if it is not the user's)."""
        try:
            data = store.get(owner(request), conv) if conv else None
        except ConversationError:
            data = None
        if data is None:
            return view([]) + [None, None, ""]
        turns_ = session.restore([t["answer"] for t in data["turns"]])
        return view(turns_) + [data["id"], data["id"], data["title"]]

    def save_turn(turns_, conv, search, request: gr.Request):
        """After an answer: add the last turn to the open conversation (start one if none is open)."""
        if not turns_ or turns_[-1].get("error"):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), ""
        who, turn = owner(request), turns_[-1]
        try:
            try:
                if not conv:
                    raise ConversationError("no saved conversation")
                store.append(who, conv, turn["question"], turn)
                title = gr.skip()
            except ConversationError as exc:
                if not str(exc).startswith("no saved conversation"):
                    raise
                started = store.start(who, turn["question"], turn)
                conv, title = started["id"], started["title"]
        except ConversationError as exc:
            log.warning("%s", exc)
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), f"Not saved: {exc}"
        radio, _ = listed(search, conv, request)
        return conv, conv, radio, title, ""

    saving = [turns, panel.current, panel.search]
    saved_out = [panel.current, panel.remembered, panel.listing, panel.title, panel.note]
    for event in asked:
        event.then(save_turn, saving, saved_out, api_name=False)

    def picked(conv, request: gr.Request):
        return opened(conv, request) + [""]
    panel.listing.input(picked, [panel.listing], shown + [panel.current, panel.remembered, panel.title, panel.note],
                        api_name=False, js=CLOSE_NARROW_JS)

    def started_over(search, request: gr.Request):
        radio, _ = listed(search, None, request)
        return view([]) + [None, None, "", radio]
    fresh = shown + [panel.current, panel.remembered, panel.title, panel.listing]
    panel.new.click(started_over, [panel.search], fresh, api_name=False, js=CLOSE_NARROW_JS)
    for trigger in (new.click, chat.clear):
        trigger(started_over, [panel.search], fresh, api_name=False)

    def renamed(conv, title, search, request: gr.Request):
        if not conv:
            return gr.skip(), "Ask a question first: a conversation is saved with its first answer."
        try:
            store.rename(owner(request), conv, title)
        except ConversationError as exc:
            return gr.skip(), str(exc)
        radio, _ = listed(search, conv, request)
        return radio, "Renamed."
    panel.rename.click(renamed, [panel.current, panel.title, panel.search], [panel.listing, panel.note],
                       api_name=False)
    panel.title.submit(renamed, [panel.current, panel.title, panel.search], [panel.listing, panel.note],
                       api_name=False)

    def deleted(conv, search, request: gr.Request):
        if conv == CANCELLED:
            return [gr.skip()] * 10
        note = "No saved conversation is open."
        if conv:
            try:
                store.delete(owner(request), conv)
                note = "Deleted."
            except ConversationError as exc:
                note = str(exc)
        radio, _ = listed(search, None, request)
        return view([]) + [None, None, "", radio, note]
    panel.delete.click(deleted, [panel.current, panel.search], fresh + [panel.note], api_name=False,
                       js=f"(conv, search) => [confirm('Delete this conversation?') ? conv : '{CANCELLED}', search]")

    def searched(search, conv, request: gr.Request):
        return listed(search, conv, request)
    panel.search.change(searched, [panel.search, panel.current], [panel.listing, panel.note], api_name=False,
                        show_progress="hidden")

    def reopened(remembered, conv, search, request: gr.Request):
        """On load: the remembered conversation if it is this user's, else an empty chat (what the browser
        kept may be another account's). Left alone if a question was already saved in this session."""
        if conv:
            return [gr.skip()] * 9 + [gr.skip()]
        radio, note = listed(search, remembered, request)
        return opened(remembered, request) + [radio, note]
    loaded.then(None, None, None, js=OPEN_WIDE_JS, api_name=False)
    loaded.then(reopened, [panel.remembered, panel.current, panel.search],
                shown + [panel.current, panel.remembered, panel.title, panel.listing, panel.note], api_name=False)
