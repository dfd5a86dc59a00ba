"""The login and the origin check, in front of every route ``rag serve`` answers (an ASGI middleware).

- **Origin**: a request whose ``Origin`` is not the server's own (``scheme://Host`` as the request
  reached it, default ports folded) or one of ``extra_origins`` (``RAG_ALLOWED_ORIGINS``), or whose
  ``Sec-Fetch-Site`` is ``cross-site`` / ``same-site``, is refused with 403 and a one-line JSON error,
  whatever its credentials: every method but a browser's top-level page navigation (``GET``/``HEAD`` with
  ``Sec-Fetch-Mode: navigate``), and websockets. Requests without ``Origin`` and ``Sec-Fetch-Site``
  (curl, Python clients) are not affected.
- **Login** (when one is set): every route answers 401 without credentials. Credentials: HTTP Basic
  ``USER:PASSWORD``, ``Authorization: Bearer PASSWORD`` (or ``USER:PASSWORD``), or this Gate's own session
  cookie. With ``login_page`` (the chat page is served), ``GET``/``HEAD /`` without credentials answers the
  Gate's sign-in form, whose ``POST /login`` checks the password here and sets the session cookie (a random
  token kept in this process, ``SESSION_SECONDS`` long, at most ``MAX_SESSIONS``); ``GET /logout`` ends it.
  The user let in is put in the request's scope (``scope[USER]``) for the app behind.
- **Accounts**: ``login`` is one ``(USER, PASSWORD)`` pair (``--auth``) or an ``Accounts`` (that pair and/or
  the users file of rag.users, hashed passwords): each account signs in with its own name and password
  (``Bearer PASSWORD`` alone names the pair's user only; with the users file send ``Bearer USER:PASSWORD``).
  A removed user's session stops working at once.
- **Local token**: a request from a loopback address carrying ``X-Rag-Local-Token`` equal to ``local_token``
  (the token `rag serve` wrote into its index folder's ``serve.json``, rag.discovery) is let in as the local
  user ``""`` without a password; `rag ask` uses it to reuse the running server.
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
import html
import json
import math
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from urllib.parse import urlsplit

# (methods, path pattern): what the sign-in form needs before anyone is signed in (with login_page).
OPEN_ROUTES = (
    ({"GET", "HEAD"}, re.compile(r"^/$")),                    # the page: the Gate's sign-in form until signed in
    ({"POST"}, re.compile(r"^/login/?$")),                    # the form's request (throttled)
)
USER = "rag.user"          # the scope key holding the user the Gate let in
SESSION_SECONDS = 7 * 24 * 3600   # a sign-in lasts a week (or until /logout, or the server stops)
MAX_SESSIONS = 10_000      # sessions remembered at most (the oldest dropped first)
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


class Sessions:
    """Signed-in browsers: random token -> (user, expiry); bounded memory, in this process only."""

    def __init__(self, seconds: float = SESSION_SECONDS, max_entries: int = MAX_SESSIONS, clock=time.monotonic):
        self.seconds, self.max_entries, self.clock = seconds, max_entries, clock
        self.entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self.lock = threading.Lock()

    def start(self, user: str) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.entries[token] = (user, self.clock() + self.seconds)
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)
        return token

    def user(self, token: str | None) -> str | None:
        if not token:
            return None
        with self.lock:
            entry = self.entries.get(token)
            if entry is not None and self.clock() >= entry[1]:
                del self.entries[token]
                entry = None
        return entry[0] if entry else None

    def end(self, token: str | None) -> None:
        with self.lock:
            self.entries.pop(token or "", None)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


class Accounts:
    """Who may sign in: the ``--auth`` pair (USER, PASSWORD) and/or a rag.users.Users (hashed passwords)."""

    def __init__(self, pair: tuple[str, str] | None = None, users=None):
        self.pair, self.users = pair, users

    def known(self, name) -> bool:
        if not isinstance(name, str):
            return False
        return bool(self.pair and _same(name, self.pair[0])) or bool(self.users is not None and self.users.known(name))

    def check(self, name, secret) -> bool:
        if not isinstance(name, str) or not isinstance(secret, str):
            return False
        if self.pair and _same(name, self.pair[0]):
            return _same(secret, self.pair[1])
        return self.users is not None and self.users.check(name, secret)


def accounts_of(login) -> Accounts | None:
    """An Accounts for Gate's login argument: None, a (USER, PASSWORD) pair, or an Accounts."""
    if login is None or isinstance(login, Accounts):
        return login
    return Accounts(pair=tuple(login))


def _loopback(scope) -> bool:
    host = str((scope.get("client") or ("",))[0])
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


class Gate:
    """ASGI middleware: origin check, login on every route, throttled passwords, strict cookies (see the
    module docstring). login None: no login (loopback), origin check only. login_page: the page's title;
    then ``/`` shows the Gate's sign-in form until signed in, and ``/login`` and ``/logout`` are the Gate's."""

    def __init__(self, app, login: tuple[str, str] | None = None, *, extra_origins=(), throttle: Throttle | None = None,
                 login_page: str | None = None, sessions: Sessions | None = None, local_token: str | None = None):
        self.app = app
        self.login = accounts_of(login)
        self.local_token = local_token
        self.extra = {k for k in map(_origin_key, extra_origins) if k}
        self.throttle = throttle or Throttle()
        self.login_page = login_page
        self.sessions = sessions or Sessions()
        self.cookie = f"rag-session-{secrets.token_hex(4)}"   # per server: two on one host keep their own

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
        """Only known users are counted per user (other names can never succeed)."""
        return f"user:{name}" if self.login and name is not None and self.login.known(name) else None

    def cookie_token(self, headers: dict) -> str | None:
        for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
            name, _, value = part.strip().partition("=")
            if name == self.cookie:
                return value.strip()
        return None

    def cookie_user(self, headers: dict) -> str | None:
        """The user of a valid session cookie (only with the sign-in page), else None."""
        user = self.sessions.user(self.cookie_token(headers)) if self.login_page else None
        return user if user is not None and self.login.known(user) else None   # a removed user is out

    def password(self, headers: dict):
        """(user named or None, right?) for an Authorization header, or None without one."""
        value = headers.get(b"authorization")
        if value is None:
            return None
        pair = self.login.pair
        scheme, _, value = value.decode("latin-1").partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            name, sep, secret = value.partition(":")
            if pair and _same(value, pair[1]):
                return pair[0], True
            if not sep:
                return (pair[0] if pair else None), False
            return name, self.login.check(name, secret)
        if scheme.lower() == "basic":
            try:
                name, sep, secret = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, ValueError):
                return None, False
            return name, bool(sep) and self.login.check(name, secret)
        return None, False

    def local_user(self, scope, headers: dict) -> bool:
        """Whether the request carries this server's local token (from a loopback address)."""
        token = headers.get(b"x-rag-local-token")
        return bool(self.local_token and token is not None and _loopback(scope)
                    and _same(token.decode("latin-1"), self.local_token))

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
            page = self.login_page and scope["type"] == "http"
            if page and method == "POST" and re.match(r"^/login/?$", path):
                return await self.form_login(scope, receive, send)
            user = "" if self.local_user(scope, headers) else self.cookie_user(headers)
            if user is None:
                checked = self.password(headers)
                keys = [self.client(scope), self.user_key(checked[0] if checked else None)]
                if checked is not None:
                    wait = self.throttle.retry_after(keys)
                    if wait > 0:
                        return await self.too_many(scope, send, wait)
                    if checked[1]:
                        self.throttle.succeeded(keys)
                        user = checked[0]
                    else:
                        self.throttle.failed(keys)
            if user is None:
                if page and open_route(method, path):
                    return await self.sign_in_form(scope, send)
                return await self.refuse(scope, send, 401, "login required: HTTP Basic USER:PASSWORD, "
                                         "'Authorization: Bearer PASSWORD', or the login page's cookie")
            if page and method in SAFE and re.match(r"^/logout/?$", path):
                return await self.logout(scope, send, headers)
            scope[USER] = user
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
        and answered here (400, {"detail": "Incorrect credentials."}); a right one starts a session: 200 and its
        cookie."""
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
        if not self.login.check(name, secret):
            self.throttle.failed(keys)
            return await self.refuse(scope, send, 400, "Incorrect credentials.", detail=True)
        self.throttle.succeeded(keys)
        token = self.sessions.start(name)
        cookie = _strict(f"{self.cookie}={token}; Path=/; Max-Age={int(self.sessions.seconds)}".encode(),
                         scope.get("scheme") == "https")
        return await self._send(send, 200, b'{"success": true}', [(b"content-type", b"application/json"),
                                                                   (b"set-cookie", cookie)])

    async def logout(self, scope, send, headers):
        """GET /logout: the session ends, its cookie is cleared, back to the sign-in form."""
        self.sessions.end(self.cookie_token(headers))
        cookie = _strict(f"{self.cookie}=; Path=/; Max-Age=0".encode(), scope.get("scheme") == "https")
        return await self._send(send, 302, b"", [(b"location", b"./"), (b"set-cookie", cookie)])

    async def sign_in_form(self, scope, send):
        body = SIGN_IN.replace("{title}", html.escape(self.login_page)).encode()
        return await self._send(send, 200, body if scope.get("method") != "HEAD" else b"",
                                [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store")],
                                length=len(body))

    @staticmethod
    async def _send(send, status, body: bytes, headers, length: int | None = None):
        headers = list(headers) + [(b"content-length", str(len(body) if length is None else length).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

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


SIGN_IN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in: {title}</title>
<style>
body {font-family: ui-sans-serif, system-ui, sans-serif; background: #f3f4f6; color: #111827; margin: 0;}
main {max-width: 22rem; margin: 12vh auto; background: #fff; padding: 1.5rem 2rem; border-radius: 8px;
  box-shadow: 0 1px 3px #0002;}
h1 {font-size: 1.25rem; margin: 0 0 1rem 0;} label {display: block; margin: 0.75rem 0 0.25rem 0;}
input {width: 100%; box-sizing: border-box; padding: 0.5rem; font-size: 1rem; border: 1px solid #6b7280;
  border-radius: 6px;}
button {margin-top: 1.25rem; width: 100%; padding: 0.6rem; font-size: 1rem; background: #1d4ed8; color: #fff;
  border: 0; border-radius: 6px; cursor: pointer;}
:focus-visible {outline: 3px solid #1d4ed8; outline-offset: 2px;} #message {color: #b91c1c; min-height: 1.5em;}
</style></head>
<body><main><h1>{title}</h1>
<form id="signin" method="post" action="login">
<label for="username">User</label>
<input id="username" name="username" type="text" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
<p id="message" role="alert"></p>
</form></main>
<script>
document.getElementById('signin').addEventListener('submit', async (e) => {
  e.preventDefault();
  const message = document.getElementById('message');
  message.textContent = '';
  try {
    const r = await fetch('login', {method: 'POST', body: new URLSearchParams(new FormData(e.target)),
                                    credentials: 'same-origin'});
    if (r.ok) { location.reload(); return; }
    const j = await r.json().catch(() => ({}));
    message.textContent = j.detail || j.error || ('sign-in failed (' + r.status + ')');
  } catch (err) { message.textContent = 'the server did not answer'; }
});
</script></body></html>
"""


def _strict(value: bytes, secure: bool) -> bytes:
    """A Set-Cookie value with SameSite=Strict and HttpOnly (and Secure on https)."""
    parts = [p.strip() for p in value.decode("latin-1").split(";")]
    keep = [parts[0]] + [p for p in parts[1:] if p and p.split("=")[0].strip().lower() not in ("samesite", "httponly")]
    if secure and not any(p.lower() == "secure" for p in keep):
        keep.append("Secure")
    if not secure and any(p.lower() == "secure" for p in keep):
        keep = [p for p in keep if p.lower() != "secure"]   # a Secure cookie is not kept on plain http
    return "; ".join(keep + ["HttpOnly", "SameSite=strict"]).encode("latin-1")
