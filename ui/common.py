"""What the chat page (app.py), the HTTP API (http_api.py) and the OpenAI-compatible routes
(openai_compat.py) share: one-line public messages, the 400 error types, the login-and-errors
wrapper of every API route, JSON bodies, and server-sent events. No Gradio here (the HTTP API
runs without it): only the standard library and Starlette.
"""
from __future__ import annotations

import json
import logging
import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from rag.errors import IndexLockedError, QueueFullError, RagError

log = logging.getLogger(__name__)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_END = object()
_ABS_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[\\/](?:[^\s'\"\\/:]+[\\/])*([^\s'\"\\/:]*)")


def in_background(method, **more) -> dict:
    """{"background": True, **more} when a Rag method (add_files, remove_document) can return before the
    vectors are in (answerable by keywords first, vectors computed in a thread), else {} (an older rag)."""
    import inspect

    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return {}
    if "background" not in params:
        return {}
    return {"background": True, **{k: v for k, v in more.items() if k in params}}


def public_message(text: str) -> str:
    """One line, with every absolute path shortened to its last part (for messages sent to the browser)."""
    return " ".join(_ABS_PATH.sub(lambda m: m.group(1) or "…", str(text)).split())


class BadRequest(Exception):
    """The request is malformed (400); the message is one line."""
    status = 400


class NotAvailable(BadRequest):
    """This version of the library lacks what the route needs (501)."""
    status = 501


def error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse(dict(extra, error=message), status_code=status)


def guarded(handler, *, errors=error):
    """The handler with library errors as one-line JSON (the login is the Gate's, in front of every route)."""
    async def endpoint(request: Request):
        try:
            return await handler(request)
        except BadRequest as exc:
            return errors(exc.status, str(exc))
        except RagError as exc:
            status = 409 if isinstance(exc, IndexLockedError) else 503 if isinstance(exc, QueueFullError) else \
                404 if type(exc).__name__ == "DocumentError" else 400
            return errors(status, public_message(str(exc)))
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


def stream_flag(body: dict) -> bool:
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("stream must be true or false")
    return stream


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
