"""The web edge, installed as ``rag_ui`` (this folder, ``ui/`` in the checkout): the HTTP API
(http_api.py, Starlette, no Gradio), the chat page mounted on it (app.py, Gradio), and ``rag serve``
(server.py). Modules import each other relatively, so the package works under either name."""
