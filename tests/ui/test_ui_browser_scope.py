"""Asking within some documents in a real browser (Debian's chromium, headless), over a small fake-embedder
index: the "Search in" filter next to the question box turns an answer from another file into the answer
of the scoped folder, and the Documents tab's "Ask within selected" fills the filter and opens the chat,
where a question the selected document cannot answer says "The selected documents do not contain ..."."""
from __future__ import annotations

import pytest

from conftest import free_port
from rag.answer.base import NOT_FOUND_SCOPED
from scopecorpus import QUESTION, scope_rag
from test_ui_browser import ask, open_page, shot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    from rag_ui.server import launch

    rag = scope_rag(tmp_path_factory.mktemp("scope-ui"))
    port = free_port()
    served = launch(host="127.0.0.1", port=port, rag=rag, block=False)
    yield f"http://127.0.0.1:{port}/"
    served.close()



def pick(page, root: str, label: str):
    """Choose one option of the multiselect dropdown #root by its label."""
    page.click(f"#{root} input")
    page.locator(f"#{root} li", has_text=label).first.click()
    page.keyboard.press("Escape")


def test_search_in_a_folder_next_to_the_question_box(url, browser):
    ctx, page = open_page(browser, url)
    try:
        box, scope = page.locator("#question").bounding_box(), page.locator("#scope").bounding_box()
        assert scope["y"] >= box["y"] + box["height"] - 1 and scope["y"] - (box["y"] + box["height"]) < 80
        whole = ask(page, QUESTION, 0)
        assert whole.splitlines()[0] == "1803", whole   # the short answer, from old/report.txt
        pick(page, "scope", "Folder: new/")
        assert "Folder: new/" in page.inner_text("#scope")
        scoped = ask(page, QUESTION, 1)
        assert scoped.splitlines()[0] == "1811" and "1803" not in scoped, scoped
        assert "Searched 2 of 3 documents (folder new)" in scoped
        assert "old/report.txt" not in page.inner_text("#sources")
        shot(page, "scope-filter")
    finally:
        ctx.close()


def test_ask_within_the_documents_selected_in_the_documents_tab(url, browser):
    ctx, page = open_page(browser, url)
    try:
        page.get_by_role("tab", name="Documents").click()
        pick(page, "ask-within-choice", "new/notes.md")
        page.click("#ask-within")
        page.wait_for_selector("#question textarea", state="visible", timeout=30000)
        assert "new/notes.md" in page.inner_text("#scope")
        answer = ask(page, QUESTION, 0)
        assert NOT_FOUND_SCOPED in answer and "Searched 1 of 3 documents" in answer, answer
    finally:
        ctx.close()
