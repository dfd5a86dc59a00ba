"""The HTTP API: a Starlette application of its own (no Gradio anywhere in its imports).

``create_app(rag, login)`` returns it; ``rag serve`` mounts the chat page (app.py) on it at ``/``,
so one process and one port serve both, behind the same Gate; ``rag serve --api-only`` serves it alone.

    POST   /api/ask                 {question, history?, k?, mode?, where?, conversation_id?} -> the JSON of
                                    `rag ask --json` (where: {folders?, types?, documents?}, the documents to
                                    answer from; stream: true -> text/event-stream of {"delta"} events, then
                                    {"answer"}); conversation_id: continue that saved conversation (or "new"),
                                    the turn is saved and the reply carries "conversation_id"
    GET    /api/conversations[/{id}], POST, PATCH, DELETE: the user's saved conversations (chats_api.py)
    GET    /api/documents           {"documents": [...], "skipped": [...]}   (rag.documents)
    POST   /api/documents           multipart files -> Rag.add_files(queue=True) -> {"added", "skipped", "vectors"}:
                                    answered once they are answerable by keywords; their vectors are computed
                                    after ("vectors": /api/status's, complete once documents_pending is 0).
                                    While this server's own build, an earlier upload or another program is still
                                    writing the index: 202 {"id", "files", "state": "queued", "position",
                                    "waiting", "url"}, indexed when it is free; 503 when the queue is full
    GET    /api/uploads[/{id}]      the queued, running and recently finished uploads: {"id", "files", "state":
                                    queued|indexing|done|failed, "position", "waiting", "added", "skipped", "error"}
    DELETE /api/documents/{doc_id}[?delete_file=true]  Rag.remove_document -> {"removed": doc_id,
                                    "file_deleted": bool}: out of the index, file kept; delete_file
                                    deletes it only if it is an upload the application stored
    GET    /api/status              counts, model and index by name (no absolute path), "vectors", "uploads"
                                    ({"queued": [names], "indexing": [names]} while uploads wait or run, else null)
    POST   /v1/chat/completions, GET /v1/models   OpenAI-compatible (openai_compat.py)

Login: ``--auth`` / ``RAG_AUTH``, checked by the Gate (gate.py) in front of every route: HTTP Basic,
``Authorization: Bearer PASSWORD`` (what OpenAI clients send) or the sign-in page's cookie; open on
loopback without a login; else 401, wrong passwords throttled (429), requests from another origin
refused (403). Bad input is a 400 with ``{"error": one line}`` (a library error's message, paths cut to
their last part). Rag calls run in the threadpool, never on the event loop. Body limits and which files
may be served are the Guard's (security.py). Does not parse or store files itself: uploads go to
``Rag.add_files`` as (name, bytes).
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from rag.errors import RagError

from . import chats_api
from .common import (SSE_HEADERS, BadRequest, NotAvailable, chat_items, error, guarded, in_background, json_body,
                     public_message, sse, stream_flag)
from .gate import Gate, Throttle, allowed_origins
from .openai_compat import openai_routes
from .security import MAX_BODY, Guard

log = logging.getLogger(__name__)
ASK_FIELDS = {"question", "history", "k", "mode", "stream", "where", "conversation_id"}
DEFAULT_UPLOAD_MB = 20.0       # when the Config has no upload_max_mb
MULTIPART_SLACK = 64 << 10     # bytes of multipart headers allowed over the upload size


def upload_limit(config) -> int:
    """Bytes one upload may have: Config.upload_max_mb (MB of 1,000,000 bytes), else 20 MB."""
    return int(float(getattr(config, "upload_max_mb", DEFAULT_UPLOAD_MB)) * 1_000_000)


def public(text) -> str:
    return public_message(str(text))


def history_of(value) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"history must be a list of {{role, content}} messages, got {type(value).__name__}")
    for i, m in enumerate(value):
        if not (isinstance(m, dict) and m.get("role") in ("user", "assistant")
                and isinstance(m.get("content"), str)):
            raise BadRequest(f'history[{i}] must be {{"role": "user" or "assistant", "content": TEXT}}')
    return [{"role": m["role"], "content": m["content"]} for m in value]


def api_routes(rag) -> list[Route]:
    """The /api and /v1 routes over rag (see the module docstring); the login is the Gate's."""
    def needs(name):
        if not callable(getattr(rag, name, None)):
            raise NotAvailable(f"document management is not available in this version (no Rag.{name})")

    async def ask(request):
        body = await json_body(request)
        unknown = sorted(set(body) - ASK_FIELDS)
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r}; expected question, history, k, mode, where, stream, "
                             "conversation_id")
        if "question" not in body:
            raise BadRequest("missing field 'question'")
        t0, history = time.perf_counter(), history_of(body.get("history"))
        cid, owner = body.get("conversation_id"), chats_api.owner_of(request)
        if cid is not None:   # a saved conversation: its turns are the history, the new turn is saved
            if history:
                raise BadRequest("give either history or conversation_id, not both")
            history = await run_in_threadpool(chats_api.history, rag, owner, cid)

        def saved(answer) -> dict:
            out = answer.to_json(seconds=time.perf_counter() - t0)
            if cid is not None:
                out["conversation_id"] = chats_api.save(rag, owner, cid, body["question"], answer)
            return out
        kw = {"k": body.get("k"), "mode": body.get("mode"), "where": body.get("where")}
        if stream_flag(body):
            items = await chat_items(rag, history + [{"role": "user", "content": body["question"]}], **kw)

            async def events():
                try:
                    async for item in items:
                        yield sse({"delta": item} if isinstance(item, str) else
                                  {"answer": await run_in_threadpool(saved, item)})
                except Exception as exc:   # noqa: BLE001 - the response has begun: one error event
                    log.exception("unexpected error while streaming an answer")
                    yield sse({"error": public(exc) if isinstance(exc, RagError) else
                               f"unexpected {type(exc).__name__}: see the server log"})
            return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
        if history:
            answer = await run_in_threadpool(
                rag.chat, history + [{"role": "user", "content": body["question"]}], **kw)
        else:
            answer = await run_in_threadpool(rag.query, body["question"], **kw)
        return JSONResponse(await run_in_threadpool(saved, answer))

    async def documents(request):
        needs("documents")
        docs = await run_in_threadpool(rag.documents)
        skipped = await run_in_threadpool(rag.skipped)
        return JSONResponse({"documents": [asdict(d) for d in docs], "skipped": [asdict(s) for s in skipped]})

    async def add(request):
        try:   # read (within the Guard's upload limit) before anything else answers
            form = await request.form(max_files=100, max_fields=100)
        except Exception as exc:   # malformed multipart
            raise BadRequest(f"send the files as multipart/form-data: {public(exc)}") from None
        try:
            files = [(f.filename or "", await f.read()) for _, f in form.multi_items() if isinstance(f, UploadFile)]
        finally:
            await form.close()
        needs("add_files")
        if not files:
            raise BadRequest("no file in the request: send multipart/form-data with one or more 'files' fields")
        result = await run_in_threadpool(lambda: rag.add_files(files, **in_background(rag.add_files, queue=True)))
        if callable(getattr(result, "settled", None)):   # in the upload queue: answered once indexed, or "queued"
            if not await run_in_threadpool(result.settled):
                return JSONResponse(dict(result.to_json(), url=f"/api/uploads/{result.id}"), status_code=202)
            result = result.outcome()
        out = {"added": list(result.added), "skipped": [asdict(s) for s in result.skipped]}
        if not result.added:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in result.skipped) or "nothing indexable"
            return error(400, public(f"nothing added: {reasons}"), **out)
        vectors = (await run_in_threadpool(lambda: rag.status)).get("vectors")
        if vectors is not None:   # answerable by keywords now; complete once documents_pending is 0
            out["vectors"] = vectors
        return JSONResponse(out)

    async def remove(request):
        needs("remove_document")
        doc_id = request.path_params["doc_id"]
        flag = request.query_params.get("delete_file", "false").lower()
        if flag not in ("true", "false", "1", "0"):
            raise BadRequest("delete_file must be true or false")
        extra = in_background(rag.remove_document)
        result = await run_in_threadpool(lambda: rag.remove_document(doc_id, delete_upload=flag in ("true", "1"),
                                                                     **extra))
        return JSONResponse({"removed": doc_id, "file_deleted": bool(getattr(result, "file_deleted", False))})

    async def status(request):
        s = await run_in_threadpool(lambda: rag.status)
        model = s["model"]
        return JSONResponse({"documents": s["documents"], "chunks": s["chunks"],
                             "model": Path(model).name if "/" in model or "\\" in model else model,
                             "index": Path(s["index"]).name, "built_at": s.get("built_at"),
                             "vectors": s.get("vectors"), "uploads": s.get("uploads")})

    async def queued(request):
        needs("uploads")
        got = await run_in_threadpool(rag.uploads)
        number = request.path_params.get("number")
        if number is None:
            return JSONResponse({"uploads": [u.to_json() for u in got]})
        one = next((u for u in got if u.id == number), None)
        if one is None:
            return error(404, f"no upload {number} in this server's queue (it keeps the last few finished ones)")
        return JSONResponse(one.to_json())

    routes = [Route("/api/ask", guarded(chats_api.not_found(ask)), methods=["POST"]),
              Route("/api/documents", guarded(documents), methods=["GET"]),
              Route("/api/documents", guarded(add), methods=["POST"]),
              Route("/api/documents/{doc_id:path}", guarded(remove), methods=["DELETE"]),
              Route("/api/uploads", guarded(queued), methods=["GET"]),
              Route("/api/uploads/{number:int}", guarded(queued), methods=["GET"]),
              Route("/api/status", guarded(status), methods=["GET"])]
    return routes + chats_api.chat_routes(rag) + openai_routes(rag)


def create_app(rag, login: tuple[str, str] | None = None, *, max_body: int = MAX_BODY,
               upload_max: int | None = None, extra_origins=None, throttle: Throttle | None = None,
               file_roots=None, login_page: str | None = None, routes=(), local_token: str | None = None) -> Starlette:
    """The HTTP API over rag as a Starlette app, behind the Guard (bodies over max_body refused, the
    upload route takes upload_max bytes, default Config.upload_max_mb; file routes confined to file_roots,
    default the corpus) and the Gate (gate.py: login (user, password) or None on loopback, throttled
    passwords, the origin check; extra_origins default to $RAG_ALLOWED_ORIGINS; login_page: the title of
    the sign-in form shown at / when the chat page is mounted; local_token: the token of rag.discovery's
    serve.json, accepted from loopback without a password). routes: more routes, after the API's."""
    upload_max = upload_max or upload_limit(rag.config)
    roots = [str(rag.config.corpus_dir)] if file_roots is None else list(file_roots)
    middleware = [Middleware(Guard, max_body=max_body, upload_max=upload_max + MULTIPART_SLACK, file_roots=roots),
                  Middleware(Gate, login=login, throttle=throttle, login_page=login_page, local_token=local_token,
                             extra_origins=allowed_origins() if extra_origins is None else extra_origins)]
    return Starlette(routes=api_routes(rag) + list(routes), middleware=middleware)
