"""The chat page in a real browser (Debian's chromium, headless): citations, sources per answer,
the document view, follow-ups, feedback, export, reload, a phone viewport, accessibility, and
several people at once. One in-process server for the module, over the seed article plus a
small second document, with the real model (answers depend on it).

RAG_SCREENSHOTS=docs/screenshots saves the main states as PNGs (not on ordinary runs)."""
from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from conftest import SEEDS, free_port
from test_ui import QUESTION

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("RAG_SCREENSHOTS")
BEES = ("Honey bees of Varnholm\n\n# Hives\n\nThe Varnholm beekeepers' cooperative kept 312 hives in 2021.\n"
        "Most hives stand on the south\nslope of the island, sheltered from the wind.\n")


@pytest.fixture(scope="module")
def app(tmp_path_factory, real_embedder):
    """(url, rag): the UI served in this process on a free loopback port."""
    from rag import Config, Rag
    from rag.build.builder import build_index
    from rag_ui.server import launch

    root = tmp_path_factory.mktemp("ui")
    corpus = root / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "bees.md").write_text(BEES, encoding="utf-8")
    config = Config(corpus_dir=corpus, index_dir=root / "idx")
    build_index(config, embedder=real_embedder)
    rag = Rag.open(config.index_dir, embedder=real_embedder, corpus_dir=corpus)
    port = free_port()
    demo = launch(host="127.0.0.1", port=port, rag=rag, block=False)
    yield f"http://127.0.0.1:{port}/", rag
    demo.close()



def shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)") if name != "phone" else None
        path = Path(SHOTS) / f"{name}.png"
        page.screenshot(path=str(path), full_page=name != "phone")
        from PIL import Image   # pillow comes with gradio; a 64-colour palette keeps the files small

        Image.open(path).convert("RGB").quantize(64).save(path, optimize=True)


def ask(page, question, answers_before=None):
    """Type a question, press Enter, wait for its answer; the answer bubble's text."""
    n = page.locator("#chat .message.bot").count() if answers_before is None else answers_before
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(f"""() => {{ const m = document.querySelectorAll('#chat .message.bot');
        return m.length > {n} && !m[{n}].innerText.includes('Loading content') && m[{n}].innerText.trim(); }}""",
                           timeout=30000)
    return page.locator("#chat .message.bot").nth(n).inner_text()


def open_page(browser, url, **context):
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_selector("#question textarea", timeout=30000)
    page.wait_for_function("document.querySelector('#status input, #status textarea')?.value.includes('document')",
                           timeout=30000)
    return ctx, page


def test_citation_source_document_followup_and_reload(app, browser):
    url, rag = app
    requests = []
    ctx, page = open_page(browser, url)
    try:
        page.on("request", lambda r: requests.append(r.url))
        status = page.input_value("#status textarea") if page.locator("#status textarea").count() else \
            page.input_value("#status input")
        assert status.startswith("2 documents, indexed ") and "ago" in status or "just now" in status, status
        examples = page.inner_text("#examples")
        assert "Summarize" in examples, examples

        first = ask(page, QUESTION, 0)
        assert "12,000" in first and "[1]" in first
        page.locator("#chat a.cite").first.click()
        page.wait_for_selector("#sources .src.selected mark.quote", timeout=30000)
        assert "12,000" in page.inner_text("#sources .src.selected mark.quote")
        shorts = page.locator("#sources mark.short")   # a short answer is shown only when the reader is confident,
        assert shorts.count() == 0 or "12,000" in shorts.first.inner_text()   # and then inside the quote
        shot(page, "chat-citation")

        page.locator("#sources .src.selected button.open-doc").click()
        page.wait_for_selector("#document .passage", timeout=30000)
        assert "North Korea" in page.inner_text("#document .doctext")
        assert page.locator("#document .passage mark.quote").count() >= 1
        in_view = page.eval_on_selector("#document .passage", """el => { const r = el.getBoundingClientRect();
            const c = el.closest('.doctext').getBoundingClientRect(); return r.top < c.bottom && r.bottom > c.top; }""")
        assert in_view, "the document view is scrolled to the passage"
        shot(page, "document-view")

        second = ask(page, "and how many were killed?", 1)   # a follow-up
        assert "Read as" in second
        sources_now = page.inner_text("#sources")
        assert "how many were killed" in sources_now
        page.locator("#chat .message.bot").nth(0).click()     # an older answer shows its own sources
        page.wait_for_function("document.querySelector('#sources').innerText.includes('sent to Russia')")

        page.reload()
        page.wait_for_function("document.querySelectorAll('#chat .message.bot').length == 2", timeout=30000)
        assert "12,000" in page.locator("#chat .message.bot").nth(0).inner_text()
        page.locator("#chat .message.bot").nth(0).locator("a.cite").first.click()
        page.wait_for_selector("#sources .src.selected mark.quote", timeout=30000)

        page.click("#new")
        page.wait_for_function("document.querySelectorAll('#chat .message.bot').length == 0", timeout=30000)
        page.wait_for_function("!document.querySelector('#sources mark')", timeout=30000)
    finally:
        ctx.close()
    outside = [u for u in requests if u.startswith(("http:", "https:", "ws:", "wss:")) and not u.startswith(url)]
    assert outside == [], outside[:5]


def test_feedback_and_export(app, browser):
    url, rag = app
    from rag.answer.feedback import default_path

    log = default_path(rag.config.index_dir)
    before = log.read_text().splitlines() if log.exists() else []
    ctx, page = open_page(browser, url, accept_downloads=True)
    try:
        ask(page, QUESTION, 0)
        page.locator("#chat button[aria-label='Dislike']").first.click()
        for _ in range(50):
            lines = log.read_text().splitlines() if log.exists() else []
            if len(lines) > len(before):
                break
            page.wait_for_timeout(100)
        entry = json.loads(lines[-1])
        assert entry["rating"] == "down" and entry["question"] == QUESTION and "12,000" in entry["answer"]
        assert entry["passages"] and entry["passages"][0]["doc"] == "north-korean-troops-in-russia.txt"
        with page.expect_download() as d:
            page.click("#export-md")
        text = Path(d.value.path()).read_text()
        assert d.value.suggested_filename == "conversation.md" and QUESTION in text and "12,000" in text
        with page.expect_download() as d:
            page.click("#export-json")
        data = json.loads(Path(d.value.path()).read_text())
        assert data["conversation"][0]["question"] == QUESTION
    finally:
        ctx.close()


def test_phone_sources_one_tap_from_the_answer(app, browser):
    url, _ = app
    ctx, page = open_page(browser, url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        ask(page, QUESTION, 0)
        page.locator("#chat a.cite").first.tap()
        page.wait_for_selector("#sources .src.selected", timeout=30000)
        page.wait_for_timeout(500)
        box = page.locator("#sources .src.selected mark.quote").bounding_box()
        assert box and 0 <= box["y"] < 844, f"after one tap the cited passage is on screen: {box}"
        shot(page, "phone")
    finally:
        ctx.close()


CONTRAST_JS = """() => {
  const parse = c => { const m = c.match(/[\\d.]+/g).map(Number); return m.length > 3 ? m : [...m, 1]; };
  const lum = ([r, g, b]) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = el => { let layers = [];
    for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    let out = [255, 255, 255];
    for (const c of layers.reverse()) out = out.map((v, i) => v * (1 - c[3]) + c[i] * c[3]);
    return out; };
  const ratio = (fg, bg) => { const a = fg[3] < 1 ? fg.map((v, i) => i < 3 ? v * fg[3] + bg[i] * (1 - fg[3]) : 1) : fg;
    const [x, y] = [lum(a), lum(bg)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement; if (!n.textContent.trim() || !el || !el.checkVisibility()) continue;
    const s = getComputedStyle(el); const r = ratio(parse(s.color), background(el));
    const large = parseFloat(s.fontSize) >= 24 || (parseFloat(s.fontSize) >= 18.66 && +s.fontWeight >= 700);
    if (r < (large ? 3 : 4.5)) bad.push([n.textContent.trim().slice(0, 40), r.toFixed(2)]);
  }
  for (const el of document.querySelectorAll('textarea[placeholder], input[placeholder]')) {
    if (!el.checkVisibility() || !el.placeholder) continue;
    const r = ratio(parse(getComputedStyle(el, '::placeholder').color), background(el));
    if (r < 4.5) bad.push(['placeholder: ' + el.placeholder, r.toFixed(2)]);
  }
  return bad;
}"""
NAMES_JS = """() => [...document.querySelectorAll('button, input, textarea, select, a[href], [role=button], [role=tab]')]
  .filter(el => el.checkVisibility() && el.type !== 'hidden')
  .filter(el => !(el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.labels?.length
                  || el.textContent.trim() || el.title || el.getAttribute('alt')))
  .map(el => el.outerHTML.slice(0, 120))"""


def test_accessible_names_contrast_and_keyboard(app, browser):
    url, _ = app
    ctx, page = open_page(browser, url)
    try:
        page.locator("#question textarea").focus()
        page.keyboard.type(QUESTION)
        page.keyboard.press("Enter")
        page.wait_for_selector("#chat a.cite", timeout=30000)
        page.click("#advanced button, #advanced .label-wrap")   # open the fold so its controls are checked too
        page.wait_for_selector("#mode input", timeout=10000)
        page.wait_for_timeout(1000)   # the fold's opening transition
        assert page.evaluate(NAMES_JS) == []
        assert page.evaluate(CONTRAST_JS) == []
        # keyboard only: Tab to the first marker and press Enter
        page.locator("#question textarea").focus()
        for _ in range(80):
            page.keyboard.press("Shift+Tab")
            if page.evaluate("document.activeElement.classList.contains('cite')"):
                break
        else:
            pytest.fail("no [n] marker reachable with the keyboard")
        page.keyboard.press("Enter")
        page.wait_for_selector("#sources .src.selected", timeout=30000)
        page.keyboard.press("Tab")   # focus moved to the selected source; next is its document button
        assert page.evaluate("document.activeElement.dataset.act || ''").startswith("doc:")
        page.keyboard.press("Enter")
        page.wait_for_selector("#document .passage", timeout=30000)
        page.click("#docs-tab-button") if page.locator("#docs-tab-button").count() else \
            page.get_by_role("tab", name="Documents").click()
        page.wait_for_selector("#documents table, #documents p", timeout=30000)
        assert page.evaluate(NAMES_JS) == []
        assert page.evaluate(CONTRAST_JS) == []
    finally:
        ctx.close()


def test_three_people_at_once_see_only_their_own_answers(app, browser):
    url, _ = app
    questions = [QUESTION, "How many hives did the Varnholm beekeepers keep?",
                 "Where were most of the North Korean troops deployed?"]
    expected = ["12,000", "312", "Kursk"]   # in each one's answer
    pages = [open_page(browser, url) for _ in questions]
    try:
        for (_, page), q in zip(pages, questions):   # all three sent before any answer is read
            page.fill("#question textarea", q)
        for _, page in pages:
            page.press("#question textarea", "Enter")
        for (_, page), q, want in zip(pages, questions, expected):
            page.wait_for_function("document.querySelectorAll('#chat .message.bot').length == 1", timeout=30000)
            page.wait_for_selector("#sources mark", timeout=30000)
            chat, sources = page.inner_text("#chat"), page.inner_text("#sources")
            assert want in chat and q in chat and q in sources, (q, chat)
            for other in set(questions) - {q}:
                assert other not in chat and other not in sources, (q, other)
    finally:
        for ctx, _ in pages:
            ctx.close()
