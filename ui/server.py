"""``rag serve``: load the index, build the application, run it (uvicorn) on one port.

The application is the HTTP API's (http_api.create_app, Starlette), with the chat page (app.py,
Gradio) mounted on it at ``/`` unless ``api_only``. This module imports Gradio only through app.py,
and only when the page is served, so ``rag serve --api-only`` runs where Gradio is not installed.
"""
from __future__ import annotations

import os
import signal
import threading
import time

from rag import assemble, discovery
from rag.api import Rag, open_default
from rag.config import Config
from rag.users import Users

from .gate import Accounts
from .render import status_text
from .security import MAX_BODY, is_loopback, serve_auth


def _terminated(signum, frame):
    raise SystemExit(128 + signum)


class Served:
    """A running server: ``url``, ``app`` (the Starlette application) and ``close()``."""

    def __init__(self, app, host: str, port: int):
        import uvicorn

        self.app, self.url = app, f"http://{host}:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    lifespan="on", timeout_graceful_shutdown=5))
        self.thread = None
        self.on_close = []   # functions called once the server stopped (e.g. removing serve.json)

    def run(self) -> None:
        """Serve until interrupted; on_close runs after a SIGTERM too (uvicorn re-raises the signal it
        caught once it has shut down: here that is a SystemExit, so the finally clause runs)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _terminated)
        try:
            self.server.run()
        finally:
            self._closed()

    def _closed(self) -> None:
        while self.on_close:
            self.on_close.pop()()

    def start(self, timeout: float = 60) -> Served:
        """Serve in a thread; returns once the server answers (RuntimeError if it could not start)."""
        self.thread = threading.Thread(target=self.server.run, name="rag-serve", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def close(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=30)
        self._closed()


def create_app(rag: Rag, login: tuple[str, str] | None = None, *, api_only: bool = False, **kwargs):
    """The HTTP API, with the chat page mounted on it unless api_only (keyword arguments: http_api.create_app's)."""
    if api_only:
        from .http_api import create_app as api_app

        return api_app(rag, login, **kwargs)
    from .app import create_app as page_app

    return page_app(rag, login, **kwargs)


def logins(host: str, auth: str | None, users: Users):
    """Who may sign in: the --auth pair and the users file's accounts (rag.users); None: no login
    (loopback without either). ServeError off loopback without any account."""
    if not users:
        return serve_auth(host, auth)
    pair = serve_auth("127.0.0.1", auth)   # parsed (and checked) but not required: the accounts exist
    return Accounts(pair=pair, users=users)


def launch(config: Config | None = None, *, host: str = "127.0.0.1", port: int = 7860,
           auth: str | None = None, max_body: int = MAX_BODY, rag: Rag | None = None, block: bool = True,
           api_only: bool = False, discover: bool = True):
    """Load (or build) the index, then serve the chat page and the HTTP API (only the API with
    api_only) until interrupted; with block=False, return the running ``Served`` (tests use that
    with their own rag; ``.close()`` stops it).

    auth: 'USER:PASSWORD' (default $RAG_AUTH); required unless host is loopback, else ServeError
    before anything loads. Request bodies over max_body bytes are refused (413) on every route but
    the upload routes (Config.upload_max_mb). With accounts in the users file (Config.users_path(),
    `rag users add NAME`) every visitor signs in, each with their own saved conversations.
    discover: write serve.json into the index folder while serving (rag.discovery: `rag ask` reuses
    this server)."""
    config = rag.config if rag is not None else config or Config()
    login = logins(host, auth if auth is not None else os.environ.get("RAG_AUTH"), Users(config.users_path()))
    assemble.offline_env()
    if rag is None:
        rag = open_default(config, embedder=assemble.embedder(config), background=True)
    rag.query("warm up")   # load the model now, not on the first question
    resumed = rag.resume_uploads()   # uploads a stopped server had queued but not indexed
    if resumed:
        names = [n for u in resumed for n in u.names]
        print(f"indexing {len(names)} file(s) uploaded before the server stopped: {', '.join(names[:5])}"
              + (" ..." if len(names) > 5 else ""), flush=True)
    record = None
    connect = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host if is_loopback(host) else None
    if discover and connect:   # the local token is accepted from loopback only
        try:
            record = discovery.write(rag.config.index_dir, port, host=connect, reader=bool(rag.config.reader),
                                     generated=bool(rag.answerer.generated))
        except OSError as exc:
            print(f"warning: {rag.config.index_dir}: cannot write {discovery.FILE} ({exc}); "
                  "`rag ask` will load the index itself", flush=True)
    app = create_app(rag, login, api_only=api_only, max_body=max_body,
                     local_token=record["token"] if record else None)
    served = Served(app, host, port)
    if record is not None:
        served.on_close.append(lambda: discovery.remove(rag.config.index_dir, record["token"]))
    print(f"serving {'the HTTP API' if api_only else 'the chat page and the HTTP API'} on http://{host}:{port}  "
          f"({status_text(rag.status)}; index at {rag.config.index_dir}; "
          f"{'login required' if login else 'no login: loopback only'})", flush=True)
    if not block:
        return served.start()
    served.run()
    return served
