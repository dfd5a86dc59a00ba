"""``rag serve``: load the index, build the application, run it (uvicorn) on one port.

The application is the HTTP API's (http_api.create_app, Starlette), with the chat page (app.py,
Gradio) mounted on it at ``/`` unless ``api_only``. This module imports Gradio only through app.py,
and only when the page is served, so ``rag serve --api-only`` runs where Gradio is not installed.
"""
from __future__ import annotations

import os
import threading
import time

from rag import assemble
from rag.api import Rag, open_default
from rag.config import Config

from .render import status_text
from .security import MAX_BODY, serve_auth


class Served:
    """A running server: ``url``, ``app`` (the Starlette application) and ``close()``."""

    def __init__(self, app, host: str, port: int):
        import uvicorn

        self.app, self.url = app, f"http://{host}:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    lifespan="on", timeout_graceful_shutdown=5))
        self.thread = None

    def run(self) -> None:
        """Serve until interrupted."""
        self.server.run()

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


def create_app(rag: Rag, login: tuple[str, str] | None = None, *, api_only: bool = False, **kwargs):
    """The HTTP API, with the chat page mounted on it unless api_only (keyword arguments: http_api.create_app's)."""
    if api_only:
        from .http_api import create_app as api_app

        return api_app(rag, login, **kwargs)
    from .app import create_app as page_app

    return page_app(rag, login, **kwargs)


def launch(config: Config | None = None, *, host: str = "127.0.0.1", port: int = 7860,
           auth: str | None = None, max_body: int = MAX_BODY, rag: Rag | None = None, block: bool = True,
           api_only: bool = False):
    """Load (or build) the index, then serve the chat page and the HTTP API (only the API with
    api_only) until interrupted; with block=False, return the running ``Served`` (tests use that
    with their own rag; ``.close()`` stops it).

    auth: 'USER:PASSWORD' (default $RAG_AUTH); required unless host is loopback, else ServeError
    before anything loads. Request bodies over max_body bytes are refused (413) on every route but
    the upload routes (Config.upload_max_mb)."""
    login = serve_auth(host, auth if auth is not None else os.environ.get("RAG_AUTH"))
    assemble.offline_env()
    if rag is None:
        config = config or Config()
        rag = open_default(config, embedder=assemble.embedder(config), background=True)
    rag.query("warm up")   # load the model now, not on the first question
    app = create_app(rag, login, api_only=api_only, max_body=max_body)
    served = Served(app, host, port)
    print(f"serving {'the HTTP API' if api_only else 'the chat page and the HTTP API'} on http://{host}:{port}  "
          f"({status_text(rag.status)}; index at {rag.config.index_dir}; "
          f"{'login required' if login else 'no login: loopback only'})", flush=True)
    if not block:
        return served.start()
    served.run()
    return served
