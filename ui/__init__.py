"""The Gradio chat app over rag.query (see ui.app)."""
