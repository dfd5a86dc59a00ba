"""What ``rag serve`` puts between the network and the application (the HTTP API, with the Gradio page
mounted on it). No Gradio imports here.

- ``serve_auth``: off loopback a login is required (``--auth USER:PASSWORD`` or
  ``RAG_AUTH``), else the server refuses to start.
- ``Guard``: an ASGI middleware around the whole application. It refuses request
  bodies over ``max_body`` bytes with 413 on every route (by Content-Length, and
  by counting for chunked bodies) except the upload routes (``UPLOAD_ROUTES``),
  which take up to ``upload_max``; caps websocket messages at ``max_body``; with
  ``file_roots``, Gradio's file routes (``/file=``, ``/gradio_api/file=``...) serve
  only files whose real path (links resolved) lies under one of those folders, never
  a URL, and its ``proxy=`` routes are refused (403); and it adds
  a Content-Security-Policy that lets the page load and connect to its own origin
  only (inline scripts allowed by their sha256 hash, computed per HTML response;
  'unsafe-eval' because Gradio's HTML component needs it), plus a few standard
  hardening headers.

The login, the password throttle and the origin check are gate.py's ``Gate``.
"""
from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import re

from rag.errors import RagError

MAX_BODY = 1 << 20   # bytes: a chat request is a few KB; the UI takes no file uploads
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_MAX_HTML = 8 << 20  # HTML responses are buffered (to hash their inline scripts) up to this size
UPLOAD_ROUTES = {("POST", "/gradio_api/upload"), ("POST", "/api/documents")}   # take upload_max bytes
_FILE_ROUTE = re.compile(r"^(?:/gradio_api)?/file(?:=|/)(.*)$", re.S)
_PROXY_ROUTE = re.compile(r"^(?:/gradio_api)?/proxy=")


class ServeError(RagError):
    """The server cannot start as asked (for example, no login off loopback)."""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost; anything else (0.0.0.0, ::, a name, an address) is not."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_auth(host: str, auth: str | None) -> tuple[str, str] | None:
    """(user, password) from 'USER:PASSWORD', or None on loopback without one; ServeError otherwise."""
    if auth is None or auth == "":
        if is_loopback(host):
            return None
        raise ServeError(f"refusing to serve on {host!r} without a login: it is reachable from other machines; "
                         "give --auth USER:PASSWORD (or set RAG_AUTH=USER:PASSWORD), or use --host 127.0.0.1")
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ServeError("--auth / RAG_AUTH must be USER:PASSWORD with both parts non-empty")
    return user, password


def content_security_policy(script_hashes=(), host: str | None = None) -> str:
    # 'unsafe-eval': Gradio 6's gr.HTML (the sources panel, the status line) renders its template with
    # Handlebars + Function(); without it the panel shows "Error rendering HTML" (found in the browser test).
    # Inline scripts are allowed only by hash, so injected markup still cannot run script.
    scripts = " ".join(["'self'", "'unsafe-eval'", *(f"'sha256-{h}'" for h in script_hashes)])
    connect = "'self'"
    if host and _HOST.match(host):
        connect += f" ws://{host} wss://{host}"
    return "; ".join([
        "default-src 'self'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",   # Svelte sets style attributes; Gradio inlines theme CSS
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "media-src 'self' data: blob:",
        f"connect-src {connect}",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def _script_hashes(body: bytes) -> list[str]:
    return [base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()
            for m in _INLINE_SCRIPT.finditer(body)]


class Guard:
    """ASGI middleware: body size limits (413), file routes confined to file_roots (403),
    and security headers on every response."""

    def __init__(self, app, max_body: int = MAX_BODY, *, upload_max: int | None = None,
                 file_roots=None):
        self.app = app
        self.max_body = max_body
        self.upload_max = upload_max or max_body
        self.file_roots = None if file_roots is None else [os.path.realpath(r) for r in file_roots]

    def limit(self, scope) -> int:
        """The body limit of this request: upload_max on the upload routes, else max_body."""
        route = (scope.get("method", ""), scope.get("path", "").rstrip("/"))
        return self.upload_max if route in UPLOAD_ROUTES else self.max_body

    def file_allowed(self, path: str) -> bool:
        """False for a Gradio proxy route, or a file route naming a URL or a file outside file_roots."""
        if self.file_roots is None:
            return True
        if _PROXY_ROUTE.match(path):
            return False
        m = _FILE_ROUTE.match(path)
        if not m:
            return True
        target = m.group(1)
        if not target or "://" in target or re.match(r"^[A-Za-z][\w+.-]*:", target) or "\0" in target:
            return False
        real = os.path.realpath(target)
        return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in self.file_roots)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            return await self.app(scope, self._ws_receive(receive, send), send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self.file_allowed(scope.get("path", "")):
            return await self._refuse(send, 403, "file not allowed")
        headers = dict(scope.get("headers") or [])
        limit = self.limit(scope)
        length = headers.get(b"content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > limit):
            return await self._refuse(send, limit=limit)
        host = headers.get(b"host", b"").decode("latin-1")
        state = {"received": 0, "refused": False, "started": False}

        async def limited_receive():
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    if not state["started"]:
                        state["refused"] = True
                        await self._refuse(send, limit=limit)
                    return {"type": "http.disconnect"}
            return message

        pending: list = []   # an HTML response, held back until its inline scripts are hashed

        async def guarded_send(message):
            if state["refused"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
                kind = dict(message.get("headers") or []).get(b"content-type", b"")
                if kind.startswith(b"text/html"):
                    pending.append(message)
                    return
                return await send(self._with_headers(message, (), host))
            if message["type"] == "http.response.body" and pending:
                pending.append(message)
                size = sum(len(m.get("body", b"")) for m in pending[1:])
                if message.get("more_body") and size < _MAX_HTML:
                    return
                body = b"".join(m.get("body", b"") for m in pending[1:])
                start = self._with_headers(pending[0], _script_hashes(body), host)
                pending.clear()
                await send(start)
                return await send({"type": "http.response.body", "body": body,
                                   "more_body": message.get("more_body", False)})
            await send(message)

        await self.app(scope, limited_receive, guarded_send)

    def _with_headers(self, message, hashes, host):
        headers = [(k, v) for k, v in message.get("headers") or []
                   if k.lower() not in (b"content-security-policy", b"x-frame-options")]
        headers += [(b"content-security-policy", content_security_policy(hashes, host).encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer")]
        return dict(message, headers=headers)

    async def _refuse(self, send, status: int = 413, message: str | None = None, limit: int | None = None):
        body = (message or f"request body too large (limit {limit or self.max_body} bytes)").encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    def _ws_receive(self, receive, send):
        async def limited():
            message = await receive()
            if message["type"] == "websocket.receive":
                size = len(message.get("bytes") or b"") + len((message.get("text") or "").encode("utf-8", "replace"))
                if size > self.max_body:
                    await send({"type": "websocket.close", "code": 1009})
                    return {"type": "websocket.disconnect", "code": 1009}
            return message
        return limited
