"""An upload in a real browser answers first: the Documents tab marks the file added while its vectors are
still held back (the fake embedder waits at a gate, an Event), the line under the list says "Answerable by
keywords; computing vectors: 0 of 1 documents.", a question about it is answered with the partial-index note;
once the gate opens the same page says the vectors are in and the status line no longer says "still indexing",
with no restart."""
from __future__ import annotations

import shutil
import threading

import pytest

from conftest import SEEDS, FakeEmbedder, free_port
from test_ui_browser import ask, open_page
from test_ui_browser_docs import listing, upload

pytestmark = pytest.mark.browser

KITES = b"# Kite festival\n\nThe Marrowby kite festival drew 3,275 flyers to the dunes last August.\n"


class Gated(FakeEmbedder):
    """A build's texts (given with on_batch) wait for gate; questions and on-demand vectors at once."""

    gate = threading.Event()

    def encode(self, texts, *, progress=None, on_batch=None):
        if on_batch is not None:
            assert self.gate.wait(120)
        return super().encode(texts, progress=progress, on_batch=on_batch)


@pytest.fixture
def gated_app(tmp_path):
    from rag import Config, Rag
    from rag.build.builder import build_index
    from rag_ui.server import launch

    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", model=FakeEmbedder.name)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    rag = Rag.open(config.index_dir, embedder=Gated(), corpus_dir=corpus)
    port = free_port()
    demo = launch(host="127.0.0.1", port=port, rag=rag, block=False)
    yield f"http://127.0.0.1:{port}/", rag
    Gated.gate.set()
    rag.wait_for_vectors(60)
    demo.close()


def test_an_uploaded_file_answers_by_keywords_then_its_vectors_arrive_without_restart(gated_app, browser):
    url, rag = gated_app
    ctx, page = open_page(browser, url)
    try:
        listing(page)
        assert upload(page, [{"name": "kites.md", "mimeType": "text/markdown", "buffer": KITES}],
                      "Added").startswith("Added 1: kites.md")
        page.wait_for_function("document.querySelector('#upload-vectors').innerText.includes("
                               "'Answerable by keywords; computing vectors: 0 of 1 documents.')", timeout=30000)
        assert not Gated.gate.is_set() and rag.status["vectors"]["documents_pending"] == 1
        page.get_by_role("tab", name="Chat").click()
        answer = ask(page, "How many flyers came to the Marrowby kite festival?", 0)
        assert "3,275" in answer and "partial index" in answer, answer
        Gated.gate.set()
        page.get_by_role("tab", name="Documents").click()
        page.wait_for_function("document.querySelector('#upload-vectors').innerText.includes("
                               "'Vectors computed for the uploaded document: answers use the full index.')",
                               timeout=30000)
        page.wait_for_function("(() => { const v = document.querySelector('#status input, #status textarea').value;"
                               " return v.startsWith('2 documents') && !v.includes('still indexing'); })()",
                               timeout=30000)
        page.get_by_role("tab", name="Chat").click()
        answer = ask(page, "How many flyers came to the Marrowby kite festival?", 1)
        assert "3,275" in answer and "partial index" not in answer, answer
    finally:
        ctx.close()
