"""The headless HTTP API, served by the same process (and port) as the chat UI.

``api_routes(rag, login)`` returns Starlette routes that ``launch_kwargs`` places
in front of Gradio's own on the one FastAPI app ``rag serve`` runs:

    POST   /api/ask                 {question, history?, k?, mode?} -> the JSON of `rag ask --json`
                                    (stream: true -> text/event-stream of {"delta"} events, then {"answer"})
    GET    /api/documents           {"documents": [...], "skipped": [...]}   (rag.documents)
    POST   /api/documents           multipart files -> Rag.add_files -> {"added", "skipped"}
    DELETE /api/documents/{doc_id}[?delete_file=true]  Rag.remove_document -> {"removed": doc_id,
                                    "file_deleted": bool}: out of the index, file kept; delete_file
                                    deletes it only if it is an upload the application stored
    GET    /api/status              counts, model and index by name (no absolute path)
    POST   /v1/chat/completions, GET /v1/models   OpenAI-compatible (ui/openai_compat.py)

Login: the UI's (``--auth`` / ``RAG_AUTH``), as HTTP Basic, ``Authorization: Bearer
PASSWORD`` (what OpenAI clients send) or Gradio's login cookie; open on loopback
without a login, like the UI; else 401. The Gate (ui/gate.py) checks the login first, with
wrong passwords throttled (429), and refuses requests from another origin (403). Bad input is a 400 with ``{"error": one
line}`` (a library error's message, paths cut to their last part). Rag calls run in
the threadpool, never on the event loop. Body limits and which files may be
served are the Guard's (ui/security.py), configured by ``launch_kwargs``. Does not
parse or store files itself: uploads go to ``Rag.add_files`` as (name, bytes).
"""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from rag.errors import IndexLockedError, RagError
from ui.security import MAX_BODY, Guard

log = logging.getLogger(__name__)
ASK_FIELDS = {"question", "history", "k", "mode", "stream"}
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_END = object()
DEFAULT_UPLOAD_MB = 20.0       # when the Config has no upload_max_mb
MULTIPART_SLACK = 64 << 10     # bytes of multipart headers allowed over the upload size


class BadRequest(Exception):
    """The request is malformed (400); the message is one line."""
    status = 400


class NotAvailable(BadRequest):
    """This version of the library lacks what the route needs (501)."""
    status = 501


def upload_limit(config) -> int:
    """Bytes one upload may have: Config.upload_max_mb (MB of 1,000,000 bytes), else 20 MB."""
    return int(float(getattr(config, "upload_max_mb", DEFAULT_UPLOAD_MB)) * 1_000_000)


def public(text) -> str:
    from ui.app import public_message  # one line, absolute paths cut to their last part

    return public_message(str(text))


def error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse(dict(extra, error=message), status_code=status)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def allowed(request: Request, login: tuple[str, str] | None) -> bool:
    """Basic USER:PASSWORD, Bearer PASSWORD (or USER:PASSWORD), or a Gradio login cookie."""
    if login is None:
        return True
    user, password = login
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return _same(value, password) or _same(value, f"{user}:{password}")
    if scheme.lower() == "basic":
        try:
            name, sep, secret = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, ValueError):
            return False
        return bool(sep) and _same(name, user) & _same(secret, password)
    app = request.scope.get("app")   # the Gradio App: its login tokens
    tokens, cookie_id = getattr(app, "tokens", None), getattr(app, "cookie_id", None)
    if not tokens or not cookie_id:
        return False
    token = (request.cookies.get(f"access-token-{cookie_id}")
             or request.cookies.get(f"access-token-unsecure-{cookie_id}"))
    return token is not None and tokens.get(token) == user


def guarded(handler, login, *, errors=error):
    """The handler behind the login, with library errors as one-line JSON."""
    async def endpoint(request: Request):
        if not allowed(request, login):
            refused = errors(401, "login required: HTTP Basic USER:PASSWORD or 'Authorization: Bearer PASSWORD'")
            refused.headers["WWW-Authenticate"] = 'Basic realm="rag"'
            return refused
        try:
            return await handler(request)
        except BadRequest as exc:
            return errors(exc.status, str(exc))
        except RagError as exc:
            status = 409 if isinstance(exc, IndexLockedError) else \
                404 if type(exc).__name__ == "DocumentError" else 400
            return errors(status, public(exc))
        except Exception as exc:   # noqa: BLE001 - one line to the client, the traceback to the log
            log.exception("unexpected error in %s %s", request.method, request.url.path)
            return errors(500, f"unexpected {type(exc).__name__}: see the server log")
    return endpoint


async def json_body(request: Request) -> dict:
    try:
        body = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body must be a JSON object: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object, got {type(body).__name__}")
    return body


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


def _next(it):
    try:
        return next(it)
    except StopIteration:   # cannot cross into the event loop's future
        return _END


async def chat_items(rag, messages: list[dict], **kw):
    """Rag.chat_stream's items (text deltas, then the Answer) as an async iterator, each produced in
    the threadpool. The first is computed before this returns, so a bad question raises here (a
    400 from ``guarded``) rather than inside a response already started."""
    it = rag.chat_stream(messages, **kw)
    first = await run_in_threadpool(_next, it)

    async def items():
        item = first
        while item is not _END:
            yield item
            item = await run_in_threadpool(_next, it)
    return items()


def sse(data: dict) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def stream_flag(body: dict) -> bool:
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("stream must be true or false")
    return stream


def api_routes(rag, login: tuple[str, str] | None) -> list[Route]:
    """The /api and /v1 routes over rag (see the module docstring)."""
    from ui.openai_compat import openai_routes

    def needs(name):
        if not callable(getattr(rag, name, None)):
            raise NotAvailable(f"document management is not available in this version (no Rag.{name})")

    async def ask(request):
        body = await json_body(request)
        unknown = sorted(set(body) - ASK_FIELDS)
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r}; expected question, history, k, mode, stream")
        if "question" not in body:
            raise BadRequest("missing field 'question'")
        t0, history = time.perf_counter(), history_of(body.get("history"))
        kw = {"k": body.get("k"), "mode": body.get("mode")}
        if stream_flag(body):
            items = await chat_items(rag, history + [{"role": "user", "content": body["question"]}], **kw)

            async def events():
                try:
                    async for item in items:
                        yield sse({"delta": item} if isinstance(item, str) else {"answer": item.to_json(seconds=time.perf_counter() - t0)})
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
        return JSONResponse(answer.to_json(seconds=time.perf_counter() - t0))

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
        result = await run_in_threadpool(rag.add_files, files)
        out = {"added": list(result.added), "skipped": [asdict(s) for s in result.skipped]}
        if not result.added:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in result.skipped) or "nothing indexable"
            return error(400, public(f"nothing added: {reasons}"), **out)
        return JSONResponse(out)

    async def remove(request):
        needs("remove_document")
        doc_id = request.path_params["doc_id"]
        flag = request.query_params.get("delete_file", "false").lower()
        if flag not in ("true", "false", "1", "0"):
            raise BadRequest("delete_file must be true or false")
        result = await run_in_threadpool(lambda: rag.remove_document(doc_id, delete_upload=flag in ("true", "1")))
        return JSONResponse({"removed": doc_id, "file_deleted": bool(getattr(result, "file_deleted", False))})

    async def status(request):
        s = await run_in_threadpool(lambda: rag.status)
        model = s["model"]
        return JSONResponse({"documents": s["documents"], "chunks": s["chunks"],
                             "model": Path(model).name if "/" in model or "\\" in model else model,
                             "index": Path(s["index"]).name, "built_at": s.get("built_at")})

    routes = [Route("/api/ask", guarded(ask, login), methods=["POST"]),
              Route("/api/documents", guarded(documents, login), methods=["GET"]),
              Route("/api/documents", guarded(add, login), methods=["POST"]),
              Route("/api/documents/{doc_id:path}", guarded(remove, login), methods=["DELETE"]),
              Route("/api/status", guarded(status, login), methods=["GET"])]
    return routes + openai_routes(rag, login)


def launch_kwargs(rag, login: tuple[str, str] | None, *, max_body: int = MAX_BODY,
                  upload_max: int | None = None, extra_origins=None, throttle=None) -> dict:
    """Keyword arguments for gradio's Blocks.launch: the login, the API routes, the Guard
    (upload routes take upload_max bytes, every other route max_body; Gradio's file
    routes serve only its upload folder and the corpus), the Gate (ui/gate.py: the login
    on every route but the login page's, throttled passwords, the origin check; extra_origins
    default to $RAG_ALLOWED_ORIGINS) and the safe Gradio settings (no /docs, /redoc, /openapi.json)."""
    from gradio.utils import get_cache_folder, get_upload_folder
    from starlette.middleware import Middleware

    from ui.gate import Gate, allowed_origins

    upload_max = upload_max or upload_limit(rag.config)
    roots = [get_upload_folder(), str(get_cache_folder()), str(rag.config.corpus_dir)]
    guard = Middleware(Guard, max_body=max_body, upload_max=upload_max + MULTIPART_SLACK, file_roots=roots)
    gate = Middleware(Gate, login=login, throttle=throttle,
                      extra_origins=allowed_origins() if extra_origins is None else extra_origins)
    return dict(share=False, auth=login, max_file_size=upload_max, ssr_mode=False, mcp_server=False,
                show_error=False, blocked_paths=[str(rag.config.index_dir)],
                app_kwargs={"middleware": [guard, gate], "routes": api_routes(rag, login),
                            "docs_url": None, "redoc_url": None, "openapi_url": None})
