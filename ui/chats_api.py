"""Saved conversations over HTTP (rag.chats), each user's own: the routes, and what /api/ask needs to
continue one.

    GET    /api/conversations[?q=TEXT]     {"conversations": [{id, title, created, updated, turns}, ...]}
                                           (most recent first; q: title, questions or answers containing it)
    POST   /api/conversations              {title?} -> the new, empty conversation
    GET    /api/conversations/{id}         {id, title, created, updated, turns: [{question, answer, created}]}
                                           (answer: the chat page's turn, session.py: text, sources, quotes)
    PATCH  /api/conversations/{id}         {title} -> {id, title}
    DELETE /api/conversations/{id}         {"deleted": id}
    POST   /api/ask {question, conversation_id}   continues it (its turns are the history) and saves the new
                                           turn; conversation_id "new" starts one; the reply carries it

The owner is the user the Gate let in (``scope[USER]``; ``""`` without a login). Another user's id answers
404 exactly like an unknown one. No Gradio here.
"""
from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

from rag.chats import store_for
from rag.errors import ConversationError

from . import session
from .common import BadRequest, error, guarded, json_body
from .gate import USER

NEW = "new"
log = logging.getLogger(__name__)


def owner_of(request) -> str:
    return request.scope.get(USER) or ""


def _errors(status, message, **extra):
    return error(status, message, **extra)


def not_found(handler):
    """handler with ConversationError as 404 (another user's conversation is as absent as an unknown one)."""
    async def endpoint(request):
        try:
            return await handler(request)
        except ConversationError as exc:
            missing = str(exc).startswith("no saved conversation")
            if not missing:
                log.warning("saved conversations: %s", exc)
            return error(404 if missing else 500, str(exc) if missing else "saved conversations are unavailable: "
                         "see the server log")
    return endpoint


def history(rag, owner: str, conversation_id) -> list[dict]:
    """The messages of owner's saved conversation (for Rag.chat); [] for "new"; ConversationError if absent."""
    if conversation_id == NEW:
        return []
    if not isinstance(conversation_id, str):
        raise BadRequest('conversation_id must be a conversation id or "new"')
    conv = store_for(rag.config).get(owner, conversation_id)
    return session.conversation(session.restore([t["answer"] for t in conv["turns"]]))


def save(rag, owner: str, conversation_id: str, question: str, answer) -> str:
    """Store the turn (the chat page's shape, session.from_answer); the conversation's id."""
    turn = session.from_answer(question, answer)
    store = store_for(rag.config)
    if conversation_id == NEW:
        return store.start(owner, question, turn)["id"]
    store.append(owner, conversation_id, question, turn)
    return conversation_id


def chat_routes(rag) -> list[Route]:
    store = store_for(rag.config)

    async def listing(request):
        q = request.query_params.get("q")
        items = await run_in_threadpool(store.list, owner_of(request), q)
        return JSONResponse({"conversations": items})

    async def create(request):
        body = await json_body(request)
        unknown = sorted(set(body) - {"title"})
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r}; expected title")
        conv = await run_in_threadpool(store.create, owner_of(request), body.get("title") or "New conversation")
        return JSONResponse(conv, status_code=201)

    async def one(request):
        conv = await run_in_threadpool(store.get, owner_of(request), request.path_params["cid"])
        return JSONResponse(conv)

    async def rename(request):
        body = await json_body(request)
        if set(body) != {"title"}:
            raise BadRequest('send {"title": TEXT}')
        try:
            out = await run_in_threadpool(store.rename, owner_of(request), request.path_params["cid"], body["title"])
        except ConversationError as exc:
            if str(exc).startswith("no saved conversation"):
                raise
            raise BadRequest(str(exc)) from None
        return JSONResponse(out)

    async def delete(request):
        cid = request.path_params["cid"]
        await run_in_threadpool(store.delete, owner_of(request), cid)
        return JSONResponse({"deleted": cid})

    def route(path, handler, method):
        return Route(path, guarded(not_found(handler), errors=_errors), methods=[method])

    return [route("/api/conversations", listing, "GET"), route("/api/conversations", create, "POST"),
            route("/api/conversations/{cid}", one, "GET"), route("/api/conversations/{cid}", rename, "PATCH"),
            route("/api/conversations/{cid}", delete, "DELETE")]
