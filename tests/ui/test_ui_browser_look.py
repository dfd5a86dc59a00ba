"""The first view, the look and the original page in a real browser: axe-core finds no serious or
critical violation on the chat, the document view and the Documents tab in the light and the dark
theme; the page asks nothing of other origins; the example questions come from several documents;
on a phone (390x844) the question box and the examples are on the first screen and the status is
not cut; the document view of a cited PDF passage shows that page as printed beside the text.
One in-process server for the module over four documents (a .txt, a .md, a two-page PDF, a .txt
with paragraphs; a damaged PDF skipped), with the real model."""
from __future__ import annotations

import io
import shutil

import pytest

from conftest import SEEDS, free_port
from filemakers import make_pdf
from test_ui import QUESTION

pytestmark = pytest.mark.browser
BEES = "# Hives\n\nThe Varnholm beekeepers' cooperative kept 312 hives in 2021.\n"
LIGHTS = ("Lighthouses of the Skerry coast\n\nThe Skerry light was first lit in 1843 and its lamp\n"
          "burned whale oil until 1875.\n\nKeepers lived in the tower with their families.\n")
PDF_QUESTION = "What do the volcanoes of the ridge erupt?"
TOPICS = {"seed": ("Korea", "Kursk", "Russia", "Pyongyang", "SEOUL", "troops"), "bees": ("Hives", "Varnholm"),
          "pdf": ("Field notes", "rivers", "volcano", "basalt", "ridge"), "lights": ("Lighthouse", "Skerry", "lamp")}


def field_notes() -> bytes:
    import pypdf

    writer = pypdf.PdfWriter()
    for lines in (["Field notes on rivers.", "Rivers of the valley flow north to the sea."],
                  ["Field notes on volcanoes.", "The volcanoes of the ridge erupt molten basalt every decade."]):
        writer.add_page(pypdf.PdfReader(io.BytesIO(make_pdf(lines))).pages[0])
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def app(tmp_path_factory, real_embedder):
    from rag import Config, Rag
    from rag.build.builder import build_index
    from rag_ui.server import launch

    root = tmp_path_factory.mktemp("look")
    corpus = root / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "bees.md").write_text(BEES, encoding="utf-8")
    (corpus / "lighthouses.txt").write_text(LIGHTS, encoding="utf-8")
    (corpus / "field-notes.pdf").write_bytes(field_notes())
    (corpus / "damaged.pdf").write_bytes(b"%PDF-1.4 junk")   # skipped: the status line grows longer
    config = Config(corpus_dir=corpus, index_dir=root / "idx")
    build_index(config, embedder=real_embedder, progress=False)
    rag = Rag.open(config.index_dir, embedder=real_embedder, corpus_dir=corpus)
    port = free_port()
    demo = launch(host="127.0.0.1", port=port, rag=rag, block=False)
    yield f"http://127.0.0.1:{port}/", rag
    demo.close()



def open_page(browser, url, requests=None, **context):
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    if requests is not None:
        page.on("request", lambda r: requests.append(r.url))
    page.goto(url)
    page.wait_for_selector("#question textarea", timeout=30000)
    page.wait_for_function("document.querySelector('#status input, #status textarea')?.value.includes('document')",
                           timeout=30000)
    page.wait_for_function("document.querySelectorAll('#examples button').length > 0", timeout=60000)
    return ctx, page


def ask(page, question):
    n = page.locator("#chat .message.bot").count()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(f"""() => {{ const m = document.querySelectorAll('#chat .message.bot');
        return m.length > {n} && !m[{n}].innerText.includes('Loading content') && m[{n}].innerText.trim(); }}""",
                           timeout=30000)
    return page.locator("#chat .message.bot").nth(n)


def serious(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now: 'id (n nodes): target'."""
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_timeout(700)   # let transitions (fades, the fold) finish: axe reads computed colours
    found = Axe().run(page).response["violations"]
    return [f"{v['id']} ({len(v['nodes'])}): {v['nodes'][0]['target']}" for v in found
            if v["impact"] in ("serious", "critical")]


def outside(requests, url):
    return [u for u in requests if u.startswith(("http:", "https:", "ws:", "wss:")) and not u.startswith(url)]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_axe_finds_nothing_serious_on_chat_document_and_documents_tab(app, browser, theme):
    url, _ = app
    requests = []
    ctx, page = open_page(browser, url + ("?__theme=dark" if theme == "dark" else ""), requests)
    try:
        assert page.evaluate("document.body.classList.contains('dark') || "
                             "!!document.querySelector('.dark')") == (theme == "dark")
        assert serious(page) == [], "first view"
        ask(page, QUESTION).locator("a.cite").first.click()
        page.wait_for_selector("#sources .src.selected mark.quote", timeout=30000)
        assert serious(page) == [], "chat with a selected source"
        card = page.eval_on_selector("#sources .src.selected", """el => {
            const c = getComputedStyle(el).backgroundColor.match(/[\\d.]+/g).map(Number);
            return (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255; }""")
        assert (card < 0.3) if theme == "dark" else (card > 0.8), f"selected card lightness {card:.2f} in {theme}"
        page.locator("#sources .src.selected button.open-doc").click()
        page.wait_for_selector("#document .passage", timeout=30000)
        assert serious(page) == [], "document view"
        page.get_by_role("tab", name="Documents").click()
        page.wait_for_selector("#documents table.docs", timeout=30000)
        page.locator("#documents button.doc-open", has_text="Field notes").click()
        page.wait_for_selector("#docs-view .pageimg img", timeout=30000)
        assert serious(page) == [], "Documents tab with a document open"
    finally:
        ctx.close()
    assert outside(requests, url) == [], outside(requests, url)[:5]


def test_first_view_heading_welcome_and_examples_from_several_documents(app, browser):
    url, _ = app
    ctx, page = open_page(browser, url)
    try:
        assert page.inner_text("h1").startswith("rag-offline")
        assert page.locator("h1").count() == 1
        welcome = page.inner_text("#welcome")
        assert "4 documents" in welcome and "PDF" in welcome and "Markdown" in welcome, welcome
        examples = page.locator("#examples button").all_inner_texts()
        about = {doc for doc, words in TOPICS.items() for q in examples if any(w in q for w in words)}
        assert len(about) >= 2, examples
    finally:
        ctx.close()


def test_phone_first_screen_shows_the_box_and_the_examples(app, browser):
    url, _ = app
    ctx, page = open_page(browser, url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page.wait_for_timeout(500)
        assert page.evaluate("window.scrollY") == 0
        box = page.locator("#question textarea").bounding_box()
        first_example = page.locator("#examples button").first.bounding_box()
        assert box and box["y"] + box["height"] <= 844, box
        assert first_example and first_example["y"] + first_example["height"] <= 844, first_example
        status = page.locator("#status textarea, #status input").first
        cut = status.evaluate("el => el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1")
        assert not cut, status.input_value()
        assert status.input_value().endswith("1 file could not be read (see Documents)")   # the whole line
        # once a question is asked the conversation shows
        ask(page, QUESTION)
        assert page.locator("#chat").is_visible()
    finally:
        ctx.close()


def test_a_cited_pdf_passage_shows_its_page_beside_the_text(app, browser):
    url, rag = app
    ctx, page = open_page(browser, url, viewport={"width": 1400, "height": 900})
    try:
        ask(page, PDF_QUESTION).locator("a.cite").first.click()
        page.wait_for_selector("#sources .src.selected", timeout=30000)
        assert "field-notes.pdf" in page.inner_text("#sources .src.selected")
        page.locator("#sources .src.selected button.open-doc").click()
        page.wait_for_selector("#document .pageimg img", timeout=30000)
        caption = page.inner_text("#document .pageimg figcaption")
        assert caption == "Page 2 of 2, as printed (field-notes.pdf)", caption   # the page of the cited sentence
        width = page.eval_on_selector("#document .pageimg img", "img => img.naturalWidth")
        assert width == 800
        assert page.eval_on_selector("#document .pageimg img", "img => img.src.startsWith('data:image/png')")
        text, image = (page.locator(s).bounding_box() for s in ("#document .doctext", "#document .pageimg img"))
        assert text["x"] + text["width"] <= image["x"] + 1, "the page image is beside the text"
        assert "basalt" in page.inner_text("#document .doctext")
        doctext = page.locator("#document .doctext")
        assert doctext.get_attribute("tabindex") == "0" and doctext.get_attribute("aria-label")
        cache = rag.config.index_dir / "page-images"
        assert list(cache.glob("*.png")) and not list((rag.config.corpus_dir).rglob("*.png"))
    finally:
        ctx.close()


def test_a_txt_keeps_its_paragraphs_in_the_document_view(app, browser):
    url, _ = app
    ctx, page = open_page(browser, url)
    try:
        page.get_by_role("tab", name="Documents").click()
        page.locator("#documents button.doc-open", has_text="Lighthouses").click()
        page.wait_for_selector("#docs-view .doctext", timeout=30000)
        html = page.inner_html("#docs-view .doctext")
        assert "1843 and its lamp burned whale oil until 1875.<br><br>Keepers lived" in html, html
        assert page.locator("#docs-view .pageimg").count() == 0   # no PDF for a .txt
    finally:
        ctx.close()


def test_the_documents_tab_pages_through_a_pdf(app, browser):
    url, _ = app
    ctx, page = open_page(browser, url)
    try:
        page.get_by_role("tab", name="Documents").click()
        row = page.locator("#documents tr[data-id='field-notes.pdf']")
        assert "2 pages · 1 passage" in row.inner_text()
        row.locator("button.doc-open").click()
        page.wait_for_selector("#docs-view .pageimg img", timeout=30000)
        caption = page.locator("#docs-view .pageimg figcaption")
        assert caption.inner_text().startswith("Page 1 of 2, as printed (field-notes.pdf)")
        assert caption.locator("button", has_text="Previous page").count() == 0
        first = page.get_attribute("#docs-view .pageimg img", "src")
        caption.locator("button", has_text="Next page").click()
        page.wait_for_function("document.querySelector('#docs-view figcaption')?.innerText.startsWith('Page 2 of 2')",
                               timeout=30000)
        assert page.get_attribute("#docs-view .pageimg img", "src") != first
        assert page.locator("#docs-view figcaption button", has_text="Next page").count() == 0
        assert page.locator("#docs-view figcaption button", has_text="Previous page").count() == 1
    finally:
        ctx.close()
