"""The login and the origin check, in front of every route ``rag serve`` answers (an ASGI middleware).

- **Origin**: a request whose ``Origin`` is not the server's own (``scheme://Host`` as the request
  reached it, default ports folded) or one of ``extra_origins`` (``RAG_ALLOWED_ORIGINS``), or whose
  ``Sec-Fetch-Site`` is ``cross-site`` / ``same-site``, is refused with 403 and a one-line JSON error,
  whatever its credentials: every method but a browser's top-level page navigation (``GET``/``HEAD`` with
  ``Sec-Fetch-Mode: navigate``), and websockets. Requests without ``Origin`` and ``Sec-Fetch-Site``
  (curl, Python clients) are not affected.
- **Login** (when one is set): every route answers 401 without credentials except ``OPEN_ROUTES``,
  what Gradio's login page itself loads. Credentials: HTTP Basic ``USER:PASSWORD``, ``Authorization:
  Bearer PASSWORD`` (or ``USER:PASSWORD``), or the cookie of Gradio's login page (``POST /login``).
- **Throttle**: password failures (form, Basic and Bearer alike) are counted per client address and per
  user; after ``FREE_FAILURES`` within the window each further failure locks that client and that user
  out for a delay that doubles from 1 s up to 15 minutes. While locked out every password attempt, the
  right one too, answers 429 with ``Retry-After``. A success clears the client's and the user's count.
  The failure table holds at most ``MAX_ENTRIES`` clients (expired ones dropped first, then the oldest).
- **Cookies**: every ``Set-Cookie`` leaves with ``SameSite=Strict`` and ``HttpOnly`` (and ``Secure`` on https).
"""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import os
import re
import threading
import time
from collections import OrderedDict
from urllib.parse import urlencode, urlsplit

# (methods, path pattern): what the login page needs before anyone is signed in; everything else needs the login.
OPEN_ROUTES = (
    ({"GET", "HEAD"}, re.compile(r"^/$")),                    # the page (Gradio shows its login form there)
    ({"POST"}, re.compile(r"^/login/?$")),                    # the login form's request (throttled)
    ({"GET", "HEAD"}, re.compile(r"^/assets/[^?]*$")),        # the page's scripts and styles
    ({"GET", "HEAD"}, re.compile(r"^/static/[^?]*$")),        # its fonts and iframe script
    ({"GET", "HEAD"}, re.compile(r"^/theme\.css$")),          # its theme
    ({"GET", "HEAD"}, re.compile(r"^/favicon\.ico$")),        # the browser's tab icon
    ({"GET"}, re.compile(r"^/gradio_api/startup-events$")),   # Gradio's launch() calls it once (answers true/false)
)
SAFE = {"GET", "HEAD"}
FREE_FAILURES = 5          # failures allowed before the delays start
FIRST_DELAY = 1.0          # seconds of lockout after the next failure, doubling each time
MAX_DELAY = 900.0          # seconds: the longest lockout
WINDOW = 1800.0            # seconds without a failure after which a client's or user's count is forgotten
MAX_ENTRIES = 10_000       # clients (and users) the failure table remembers at most
_DEFAULT_PORT = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_BASIC_REALM = b'Basic realm="rag"'


def open_route(method: str, path: str) -> bool:
    """True for the routes the login page needs (OPEN_ROUTES); every other route needs the login."""
    return any(method in methods and pattern.match(path) for methods, pattern in OPEN_ROUTES)


def _origin_key(origin: str):
    """('http', 'host', port) from 'http://host:port', or None if it is not such an origin."""
    try:
        u = urlsplit(origin.strip())
        if u.scheme not in ("http", "https") or not u.hostname or u.path not in ("", "/") or u.query:
            return None
        return u.scheme, u.hostname.lower(), u.port or _DEFAULT_PORT[u.scheme]
    except ValueError:
        return None


def allowed_origins(env: str | None = None) -> list[str]:
    """Extra origins allowed besides the server's own: RAG_ALLOWED_ORIGINS, comma-separated."""
    text = os.environ.get("RAG_ALLOWED_ORIGINS", "") if env is None else env
    return [o.strip() for o in text.split(",") if o.strip()]


class Throttle:
    """Password failures per client and per user, with a doubling lockout; bounded memory."""

    def __init__(self, free: int = FREE_FAILURES, first_delay: float = FIRST_DELAY, max_delay: float = MAX_DELAY,
                 window: float = WINDOW, max_entries: int = MAX_ENTRIES, clock=time.monotonic):
        self.free, self.first_delay, self.max_delay = free, first_delay, max_delay
        self.window, self.max_entries, self.clock = window, max_entries, clock
        self.entries: OrderedDict[str, list] = OrderedDict()   # key -> [failures, last failure, locked until]
        self.lock = threading.Lock()

    def _live(self, key, now):
        entry = self.entries.get(key)
        if entry is not None and now - entry[1] > self.window and now >= entry[2]:
            del self.entries[key]
            return None
        return entry

    def retry_after(self, keys) -> float:
        """Seconds until every key may try again (0: now)."""
        now = self.clock()
        with self.lock:
            wait = [e[2] - now for k in keys if k for e in [self._live(k, now)] if e is not None]
        return max([0.0, *wait])

    def failed(self, keys) -> float:
        """Count a failure against each key; the lockout (seconds) it starts."""
        now, longest = self.clock(), 0.0
        with self.lock:
            for key in filter(None, keys):
                entry = self._live(key, now) or [0, now, 0.0]
                entry[0] += 1
                entry[1] = now
                if entry[0] > self.free:
                    delay = min(self.max_delay, self.first_delay * 2 ** (entry[0] - self.free - 1))
                    entry[2] = max(entry[2], now + delay)
                    longest = max(longest, entry[2] - now)
                self.entries[key] = entry
                self.entries.move_to_end(key)
            self._trim(now)
        return longest

    def succeeded(self, keys) -> None:
        with self.lock:
            for key in filter(None, keys):
                self.entries.pop(key, None)

    def _trim(self, now):
        if len(self.entries) <= self.max_entries:
            return
        for key in [k for k, e in self.entries.items() if now - e[1] > self.window and now >= e[2]]:
            del self.entries[key]
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


class Gate:
    """ASGI middleware: origin check, login on every route but OPEN_ROUTES, throttled passwords,
    strict cookies (see the module docstring). login None: no login (loopback), origin check only."""

    def __init__(self, app, login: tuple[str, str] | None = None, *, extra_origins=(), throttle: Throttle | None = None):
        self.app = app
        self.login = login
        self.extra = {k for k in map(_origin_key, extra_origins) if k}
        self.throttle = throttle or Throttle()

    # ---- origin -------------------------------------------------------------------------------------
    def cross_origin(self, scope, headers: dict) -> str | None:
        """Why this request is refused as cross-origin, or None."""
        origin = headers.get(b"origin", b"").decode("latin-1")
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
        if scope["type"] == "http" and scope.get("method") in SAFE and \
                headers.get(b"sec-fetch-mode", b"").decode("latin-1").lower() == "navigate":
            return None   # a top-level page load: it shows the page, which the other site cannot read
        if origin:
            key = _origin_key(origin)
            if key is None or (key != self.own_origin(scope, headers) and key not in self.extra):
                return f"cross-origin request refused: Origin {origin[:200]} is not this server's"
            if key in self.extra:
                return None
        if site and site not in ("same-origin", "none"):
            return f"cross-origin request refused: Sec-Fetch-Site is {site[:40]}"
        return None

    @staticmethod
    def own_origin(scope, headers: dict):
        scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"), scope.get("scheme", "http"))
        host = headers.get(b"host", b"").decode("latin-1")
        return _origin_key(f"{scheme}://{host}") if host else None

    # ---- login --------------------------------------------------------------------------------------
    @staticmethod
    def client(scope) -> str:
        return "ip:" + str((scope.get("client") or ("?",))[0])

    def user_key(self, name: str | None) -> str | None:
        """Only the configured user is counted per user (other names can never succeed)."""
        return f"user:{name}" if self.login and name is not None and _same(name, self.login[0]) else None

    def cookie_user(self, scope, headers: dict) -> str | None:
        app = scope.get("app")
        tokens, cookie_id = getattr(app, "tokens", None), getattr(app, "cookie_id", None)
        if not tokens or not cookie_id:
            return None
        cookies = {}
        for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
            name, _, value = part.strip().partition("=")
            cookies.setdefault(name, value)
        token = cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")
        return tokens.get(token) if token else None

    def password(self, headers: dict):
        """(user named or None, right?) for an Authorization header, or None without one."""
        value = headers.get(b"authorization")
        if value is None:
            return None
        user, password = self.login
        scheme, _, value = value.decode("latin-1").partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            name, sep, secret = value.partition(":")
            if _same(value, password):
                return user, True
            return (name if sep else user), bool(sep) and _same(name, user) & _same(secret, password)
        if scheme.lower() == "basic":
            try:
                name, sep, secret = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, ValueError):
                return None, False
            return name, bool(sep) and _same(name, user) & _same(secret, password)
        return None, False

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {}
        for k, v in scope.get("headers") or []:
            headers.setdefault(k.lower(), v)
        why = self.cross_origin(scope, headers)
        if why:
            return await self.refuse(scope, send, 403, why)
        if self.login is not None:
            method, path = scope.get("method", "GET"), scope.get("path", "")
            if scope["type"] == "http" and method == "POST" and re.match(r"^/login/?$", path):
                return await self.form_login(scope, receive, send)
            if not (scope["type"] == "http" and open_route(method, path)) and \
                    self.cookie_user(scope, headers) is None:
                checked = self.password(headers)
                keys = [self.client(scope), self.user_key(checked[0] if checked else None)]
                if checked is not None:
                    wait = self.throttle.retry_after(keys)
                    if wait > 0:
                        return await self.too_many(scope, send, wait)
                    if checked[1]:
                        self.throttle.succeeded(keys)
                    else:
                        self.throttle.failed(keys)
                if checked is None or not checked[1]:
                    return await self.refuse(scope, send, 401, "login required: HTTP Basic USER:PASSWORD, "
                                             "'Authorization: Bearer PASSWORD', or the login page's cookie")
        await self.passthrough(scope, receive, send)

    async def passthrough(self, scope, receive, send):
        """On to the app, with every Set-Cookie made SameSite=Strict and HttpOnly."""
        secure = scope.get("scheme") in ("https", "wss")

        async def strict_cookies(message):
            if message["type"] == "http.response.start":
                message = dict(message, headers=[(k, _strict(v, secure) if k.lower() == b"set-cookie" else v)
                                                 for k, v in message.get("headers") or []])
            await send(message)
        await self.app(scope, receive, strict_cookies)

    async def form_login(self, scope, receive, send):
        """POST /login: refused (429) while the client or the user is locked out; a wrong password is counted
        and answered here (400, as Gradio does); a right one goes on to Gradio, which sets the cookie."""
        from starlette.requests import Request

        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)

        async def replay():
            nonlocal body
            chunk, body_sent = body, body is None
            body = None
            return {"type": "http.disconnect"} if body_sent else \
                {"type": "http.request", "body": chunk, "more_body": False}
        try:
            form = await Request(dict(scope), replay).form(max_files=0, max_fields=10)
            name, secret = str(form.get("username", "")).strip(), str(form.get("password", ""))
        except Exception:   # noqa: BLE001 - a malformed form is a failed attempt
            name, secret = "", ""
        keys = [self.client(scope), self.user_key(name)]
        wait = self.throttle.retry_after(keys)
        if wait > 0:
            return await self.too_many(scope, send, wait)
        if not (_same(name, self.login[0]) & _same(secret, self.login[1])):
            self.throttle.failed(keys)
            return await self.refuse(scope, send, 400, "Incorrect credentials.", detail=True)
        self.throttle.succeeded(keys)
        return await self._forward(scope, send, name, secret)

    async def _forward(self, scope, send, name, secret):
        body = urlencode({"username": name, "password": secret}).encode()
        scope = dict(scope, headers=[(k, v) for k, v in scope.get("headers") or []
                                     if k.lower() not in (b"content-type", b"content-length")]
                     + [(b"content-type", b"application/x-www-form-urlencoded"),
                        (b"content-length", str(len(body)).encode())])
        sent = False

        async def receive():
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await self.passthrough(scope, receive, send)

    async def too_many(self, scope, send, wait: float):
        seconds = max(1, math.ceil(wait))
        return await self.refuse(scope, send, 429, f"too many failed logins from this client or for this user: "
                                 f"try again in {seconds} s", extra=[(b"retry-after", str(seconds).encode())],
                                 detail=scope.get("path", "").startswith("/login"))

    async def refuse(self, scope, send, status: int, message: str, extra=(), detail: bool = False):
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        path = scope.get("path", "")
        if path.startswith("/v1/"):
            kind = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}.get(
                status, "invalid_request_error")
            payload = {"error": {"message": message, "type": kind, "code": status}}
        else:
            payload = {"detail": message} if detail else {"error": message}
        body = json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401 and path.startswith(("/api/", "/v1/")):
            headers.append((b"www-authenticate", _BASIC_REALM))
        await send({"type": "http.response.start", "status": status, "headers": headers + list(extra)})
        await send({"type": "http.response.body", "body": body})


def _strict(value: bytes, secure: bool) -> bytes:
    """A Set-Cookie value with SameSite=Strict and HttpOnly (and Secure on https)."""
    parts = [p.strip() for p in value.decode("latin-1").split(";")]
    keep = [parts[0]] + [p for p in parts[1:] if p and p.split("=")[0].strip().lower() not in ("samesite", "httponly")]
    if secure and not any(p.lower() == "secure" for p in keep):
        keep.append("Secure")
    if not secure and any(p.lower() == "secure" for p in keep):
        keep = [p for p in keep if p.lower() != "secure"]   # a Secure cookie is not kept on plain http
    return "; ".join(keep + ["HttpOnly", "SameSite=strict"]).encode("latin-1")
