"""The web page in headless Chromium on a small sample corpus: axe-core violations by impact on
the chat, the document view and the Documents tab in the light and dark themes, the number of
requests to other origins, and (with --shots DIR) the README screenshots (desktop, phone, dark).

Not a test (tests/ui/test_ui_browser_look.py asserts the same things): it prints figures.
Run from the repository root:

    PYTHONPATH=. .venv/bin/python bench/ui_check.py                         # axe counts, outside requests
    PYTHONPATH=. .venv/bin/python bench/ui_check.py --shots docs/screenshots  # and refresh the screenshots

The sample corpus: the seed article, a short Markdown note, a two-page PDF and a .txt with
paragraphs, indexed with the bundled model into a temporary folder (removed at the end).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

QUESTION = "How many North Korean troops were sent to Russia?"
PDF_QUESTION = "What do volcanoes erupt?"
BEES = ("Honey bees of Varnholm\n\n# Hives\n\nThe Varnholm beekeepers' cooperative kept 312 hives in 2021.\n"
        "Most hives stand on the south\nslope of the island, sheltered from the wind.\n")
LIGHTHOUSE = ("Lighthouses of the Skerry coast\n\nThe Skerry light was first lit in 1843 and its lamp\n"
              "burned whale oil until 1875.\n\nKeepers lived in the tower with their families; the last\n"
              "keeper left in 1968, when the light was automated.\n")


def corpus(folder: Path) -> Path:
    from filemakers import make_pdf

    import io

    import pypdf

    shutil.copytree(HERE.parent / "seeds", folder)
    (folder / "bees.md").write_text(BEES, encoding="utf-8")
    (folder / "lighthouses.txt").write_text(LIGHTHOUSE, encoding="utf-8")
    writer = pypdf.PdfWriter()
    for lines in (["Field notes on rivers.", "Rivers of the valley flow north to the sea."],
                  ["Field notes on volcanoes.", "The volcanoes of the ridge erupt molten basalt every decade."]):
        writer.add_page(pypdf.PdfReader(io.BytesIO(make_pdf(lines))).pages[0])
    buf = io.BytesIO()
    writer.write(buf)
    (folder / "field-notes.pdf").write_bytes(buf.getvalue())
    return folder


def serve(root: Path):
    from conftest import free_port

    from rag import Config, Rag
    from rag.cli import ui_package

    ui_package()
    from rag_ui.server import launch

    config = Config(corpus_dir=corpus(root / "corpus"), index_dir=root / "idx")
    from rag.api import index

    index(config.corpus_dir, config.index_dir)
    rag = Rag.open(config.index_dir, corpus_dir=config.corpus_dir)
    port = free_port()
    demo = launch(host="127.0.0.1", port=port, rag=rag, block=False)
    return f"http://127.0.0.1:{port}/", demo


def launch_chromium(playwright):
    """Debian's chromium, headless, with its own background traffic off (as tests/ui/test_ui.py)."""
    return playwright.chromium.launch(executable_path=shutil.which("chromium"), args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"])


def axe_counts(page) -> Counter:
    from axe_playwright_python.sync_playwright import Axe

    out: Counter = Counter()
    for v in Axe().run(page).response["violations"]:
        out[v["impact"]] += 1
        if os.environ.get("AXE_VERBOSE") and v["impact"] in ("serious", "critical"):
            for n in v["nodes"][:3]:
                print("   ", v["id"], n["target"], n.get("failureSummary", "")[:300].replace("\n", " "))
        out[f"{v['impact']}:{v['id']}"] += len(v["nodes"])
    return out


def ready(page):
    page.wait_for_selector("#question textarea", timeout=60000)
    page.wait_for_function("document.querySelector('#status input, #status textarea')?.value.includes('document')",
                           timeout=60000)


def ask(page, question):
    n = page.locator("#chat .message.bot").count()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('#chat .message.bot').length > {n}", timeout=60000)
    page.wait_for_timeout(500)


def shot(page, folder, name, full=True):
    if not folder:
        return
    from PIL import Image

    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full)
    Image.open(path).convert("RGB").quantize(64).save(path, optimize=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shots", help="folder to write the screenshots to (docs/screenshots)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="ui-check-"))
    url, demo = serve(root)
    outside, total = [], 0
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            for theme in ("light", "dark"):
                ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                page = ctx.new_page()

                def seen(r):
                    nonlocal total
                    total += 1
                    if r.url.startswith(("http:", "https:", "ws:", "wss:")) and not r.url.startswith(url):
                        outside.append(r.url)
                page.on("request", seen)
                page.goto(url + ("?__theme=dark" if theme == "dark" else ""))
                ready(page)
                page.wait_for_timeout(1500)
                if theme == "light":
                    shot(page, args.shots, "first-view", full=False)
                ask(page, QUESTION)
                page.locator("#chat a.cite").first.click()
                page.wait_for_selector("#sources .src.selected", timeout=30000)
                print(theme, "chat", dict(axe_counts(page)))
                shot(page, args.shots, "chat-citation" if theme == "light" else "dark")
                page.locator("#sources .src.selected button.open-doc").click()
                page.wait_for_selector("#document .passage", timeout=30000)
                print(theme, "document view", dict(axe_counts(page)))
                ask(page, PDF_QUESTION)
                page.locator("#chat .message.bot").last.locator("a.cite").first.click()
                page.wait_for_selector("#sources .src.selected", timeout=30000)
                page.locator("#sources .src.selected button.open-doc").click()
                page.wait_for_selector("#document .docview", timeout=30000)
                page.wait_for_timeout(500)
                print(theme, "document view with page", dict(axe_counts(page)))
                if theme == "light":
                    shot(page, args.shots, "document-view")
                page.get_by_role("tab", name="Documents").click()
                page.wait_for_selector("#documents table, #documents p", timeout=30000)
                page.wait_for_timeout(500)
                print(theme, "documents tab", dict(axe_counts(page)))
                if theme == "light":
                    shot(page, args.shots, "documents-tab")
                ctx.close()
            ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            page = ctx.new_page()
            page.on("request", lambda r: outside.append(r.url) if r.url.startswith(("http:", "https:"))
                    and not r.url.startswith(url) else None)
            page.goto(url)
            ready(page)
            page.wait_for_timeout(1500)
            fits = page.evaluate("""() => { const q = document.querySelector('#question').getBoundingClientRect();
                const e = document.querySelector('#examples').getBoundingClientRect();
                return {question_bottom: q.bottom, examples_bottom: e.bottom, height: innerHeight}; }""")
            print("phone first screen", fits)
            shot(page, args.shots, "phone", full=False)
            ctx.close()
            browser.close()
    finally:
        demo.close()
        shutil.rmtree(root, ignore_errors=True)
    print(f"requests: {total} (desktop runs), to other origins: {len(outside)}", outside[:5])


if __name__ == "__main__":
    main()
