"""The chat page with an LLM writing the answers (a fake OpenAI-compatible server, tests/llmfake.py):
the handler streams the text as it arrives, then shows the checked answer with its unsupported
sentences marked and the supported share; stored turns with claims are checked on restore; and
in a real browser the partial text is visible before the final, marked answer replaces it."""
from __future__ import annotations

import time

import pytest

from conftest import free_port
from llmfake import GOOD, QUESTION, WRONG, FakeLLM
from rag import Rag
from rag_ui import session
from rag_ui.app import ask_stream
from rag_ui.render import answer_html

EVIL = "The lamp <img src=x onerror=alert(1)> is in Paris since 1990 [1]."


def test_handler_streams_then_shows_the_checked_answer(seed_index, real_embedder):
    with FakeLLM("sse", reply=f"{GOOD} {WRONG}") as server:
        rag = Rag.open(seed_index, embedder=real_embedder, llm_url=server.url)
        steps = list(ask_stream(rag, QUESTION, []))
    partial, final = steps[:-1], steps[-1]
    assert len(partial) > 5 and all(p[0] is None for p in partial)   # turns unknown while streaming
    texts = [p[1][-1]["content"] for p in partial]
    assert "North Korea" in texts[2] and "Paris" not in texts[2] and "Paris" in texts[-1]
    assert all("class='cite'" not in t for t in texts)   # no links before the sources are known
    turns, messages, sources, box = final
    assert box == "" and len(turns) == 1 and turns[0]["generated"] and turns[0]["supported_share"] == 0.5
    bubble = messages[1]["content"]
    assert bubble.count("<span class='unsupported'>") == 1
    marked = bubble.split("<span class='unsupported'>")[1].split("</span>")[0]
    assert "Paris" in marked and "12,000" not in marked and "[7]" not in bubble   # the bad citation removed
    assert "<strong class='unsupported-badge'>[unsupported]</strong>" in bubble
    assert "1 of 2 sentences supported by the passages" in bubble
    assert "href='#cite-0-" in bubble.split("<span class='unsupported'>")[0]   # the supported one is linked
    assert "12,000" in sources


def test_extractive_answers_draw_no_claims(seed_rag):
    turns = list(ask_stream(seed_rag, QUESTION, []))[-1][0]
    assert "claims" not in turns[0] and "unsupported" not in answer_html(turns[0], 0)


def test_claims_are_escaped_and_checked_on_restore():
    turn = {"question": "q", "answer": "x", "found": True, "notice": None, "short": None, "short_doc": None,
            "short_start": None, "short_end": None, "nearest": False, "error": False, "sources": [],
            "generated": True, "supported_share": 0.5,
            "claims": [{"text": "Fine.", "citations": [], "supported": True, "score": 0.9},
                       {"text": EVIL, "citations": [], "supported": False, "score": 0.1}]}
    (back,) = session.restore([turn])
    assert back == turn
    html = answer_html(back, 0)
    assert "<img" not in html and "&lt;img" in html and "1 of 2 sentences supported" in html
    tampered = [dict(turn, supported_share=7), dict(turn, claims=[{"text": 5}]), dict(turn, claims="x")]
    assert session.restore(tampered) == []


needs_chromium = pytest.mark.browser


@pytest.mark.browser
@needs_chromium
def test_browser_shows_partial_text_then_the_marked_answer(seed_index, real_embedder):
    from playwright.sync_api import sync_playwright

    from conftest import launch_chromium
    from test_ui_browser import open_page
    from rag_ui.server import launch

    with FakeLLM("sse", reply=f"{GOOD} {WRONG}", pace=0.25) as server:
        rag = Rag.open(seed_index, embedder=real_embedder, llm_url=server.url)
        port = free_port()
        demo = launch(host="127.0.0.1", port=port, rag=rag, block=False)
        try:
            with sync_playwright() as p:
                browser = launch_chromium(p)
                ctx, page = open_page(browser, f"http://127.0.0.1:{port}/")
                page.fill("#question textarea", QUESTION)
                page.keyboard.press("Enter")
                # the first words are on the page while the model is still writing
                page.wait_for_function("""() => { const m = document.querySelector('#chat .message.bot');
                    return m && m.innerText.includes('North Korea dispatched'); }""", timeout=30000)
                early = page.locator("#chat .message.bot").first.inner_text()
                assert "Paris" not in early and page.locator("#chat .unsupported").count() == 0, early
                page.wait_for_selector("#chat .unsupported", timeout=30000)
                marked = page.locator("#chat .unsupported").first.inner_text()
                assert "Paris" in marked and "12,000" not in marked
                bot = page.locator("#chat .message.bot").first
                assert bot.locator(".unsupported-badge").inner_text() == "[unsupported]"
                assert "1 of 2 sentences supported by the passages" in bot.inner_text()
                assert "writing" not in bot.inner_text()
                bot.locator("a.cite").first.click()
                page.wait_for_selector("#sources .src.selected mark.quote", timeout=30000)
                assert "12,000" in page.inner_text("#sources .src.selected")
                ctx.close()
                browser.close()
        finally:
            demo.close()
