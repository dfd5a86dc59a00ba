"""The UI's handler function, and the page in a real browser."""
import shutil

import pytest

from ui.app import EXAMPLES, respond, sources_html, status_line

QUESTION = "How many North Korean soldiers were sent to Russia last fall?"


def test_handler_answers_with_markers_and_highlighted_sources(seed_rag):
    history, sources, box = respond(seed_rag, QUESTION, [])
    assert box == ""
    assert history[0] == {"role": "user", "content": QUESTION}
    assert history[1]["role"] == "assistant" and "12,000" in history[1]["content"]
    assert "[1]" in history[1]["content"]
    assert "<mark>" in sources and "12,000" in sources.split("<mark>")[1].split("</mark>")[0]
    assert "north-korean-troops-in-russia.txt" in sources


def test_handler_keeps_history_and_handles_not_found(seed_rag):
    history, _, _ = respond(seed_rag, QUESTION, [])
    history, sources, _ = respond(seed_rag, "What is the capital of France?", history)
    assert len(history) == 4
    assert "do not contain" in history[3]["content"]
    assert "<mark>" not in sources and "nearest passages" in sources


def test_handler_reports_errors_in_the_chat(seed_rag):
    history, sources, _ = respond(seed_rag, "  ", [])
    assert "empty" in history[-1]["content"] and sources == ""


def test_sources_escape_html(seed_rag):
    a = seed_rag.query(QUESTION)
    html = sources_html(a)
    assert "<script" not in html and html.count("<mark>") == len(a.citations)


def test_status_line_and_examples(seed_rag):
    line = status_line(seed_rag)
    assert "1 documents" in line and "all-MiniLM-L6-v2" in line
    answered = [seed_rag.query(q).found for q in EXAMPLES]
    assert all(answered), "every example question is answerable from the seed article"


@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium (make test installs it)")
def test_browser_chat_cites_and_stays_local(server):
    from playwright.sync_api import sync_playwright

    requests = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(server)
            page.wait_for_selector("#question textarea", timeout=30000)
            assert "1 documents" in page.inner_text("#status")
            page.fill("#question textarea", QUESTION)
            page.keyboard.press("Enter")
            page.wait_for_selector("#sources mark", timeout=30000)
            assert "12,000" in page.inner_text("#sources mark")
            assert "[1]" in page.inner_text("#chat")
        finally:
            browser.close()
    outside = [u for u in requests if u.startswith("http") and not u.startswith(server)]
    assert outside == [], f"the page contacted outside hosts: {outside[:5]}"


def test_handler_mode_is_selectable(seed_rag):
    for mode in ("dense", "bm25", "rrf", "hybrid"):
        history, sources, _ = respond(seed_rag, QUESTION, [], mode)
        assert "12,000" in history[-1]["content"], mode
    history, _, _ = respond(seed_rag, QUESTION, [], "magic")
    assert "unknown retrieval mode" in history[-1]["content"]
