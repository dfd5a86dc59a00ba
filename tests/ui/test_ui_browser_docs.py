"""The Documents tab in a real browser: the table (search, sort, a row opens its document),
uploading a mixed batch (a .docx and a .md added and asked about; a damaged PDF, an old .doc and a
photo refused, each with what to do), and each row's own remove action (its answers go, its file
stays; an upload's "Delete upload" deletes the stored copy). Needs the document interface of rag.api.Rag (rag/documents.py)."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path


from rag.api import Rag
from test_ui_browser import app, ask, open_page, shot  # noqa: F401 - fixtures and helpers
from rag_ui.docs_tab import METHODS
import pytest

pytestmark = pytest.mark.browser



def test_rag_offers_every_method_the_documents_tab_uses():
    assert all(callable(getattr(Rag, m, None)) for m in METHODS)


def docx(paragraphs: list[str]) -> bytes:
    """A minimal .docx (the three parts Word and python-docx need)."""
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/'
        'document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        '</Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        "word/document.xml": '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats'
        f'.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>',
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return out.getvalue()


DOCX = docx(["Orchard report", "The Tallbrook orchard harvested 8,450 kilograms of quinces in 2022."])
MD = b"# Ferry timetable\n\nThe Skelmoor ferry leaves the harbour at 7:40 every weekday morning.\n"


def listing(page) -> str:
    page.get_by_role("tab", name="Documents").click()
    page.wait_for_selector("#documents table.docs", timeout=30000)
    return page.inner_text("#documents")


def result_text(page) -> str:
    return page.input_value("#doc-result textarea") if page.locator("#doc-result textarea").count() else \
        page.input_value("#doc-result input")


def upload(page, files, expect):
    page.set_input_files("#upload input[type=file]", files)
    page.wait_for_function(f"document.querySelector('#doc-result textarea, #doc-result input').value"
                           f".includes({expect!r})", timeout=120000)
    return result_text(page)


def visible_rows(page) -> list[str]:
    return page.eval_on_selector_all("#documents table.docs tbody tr", "rs => rs.filter(r => !r.hidden)"
                                     ".map(r => r.dataset.id)")


def remove_row(page, doc_id, button, asked):
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.locator(f"#documents tr[data-id='{doc_id}'] button", has_text=button).click()


BROKEN_PDF = b"%PDF-1.4 junk"


def test_upload_a_mixed_batch_search_sort_open_ask_remove(app, browser):  # noqa: F811 - pytest fixtures
    url, rag = app
    ctx, page = open_page(browser, url)
    try:
        before = listing(page)
        assert "2 indexed documents" in before and "north-korean-troops-in-russia.txt" in before
        shot(page, "documents-tab")
        # one batch: two good files, a damaged PDF, an old Word file and a photo; the good ones are added
        page.evaluate("""() => { window.__states = new Set();
            new MutationObserver(() => document.querySelectorAll('#upload-progress li').forEach(
                l => window.__states.add(l.dataset.state))).observe(document.body, {subtree: true, childList: true}); }""")
        result = upload(page, [{"name": "orchard.docx", "mimeType": "application/octet-stream", "buffer": DOCX},
                               {"name": "ferry.md", "mimeType": "text/markdown", "buffer": MD},
                               {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": BROKEN_PDF},
                               {"name": "letter.doc", "mimeType": "application/msword", "buffer": b"\xd0\xcf old"},
                               {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff"}],
                        "Added")
        assert result.startswith("Added 2: orchard.docx, ferry.md. Not added: "), result
        per_file = page.inner_text("#upload-progress")
        assert "5 files: 2 added, 3 not added" in per_file, per_file
        states = page.eval_on_selector_all("#upload-progress li", "ls => ls.map(l => l.dataset.state)")
        assert "indexing" in page.evaluate("[...window.__states]")   # each file's progress was shown as it ran
        assert states == ["added", "added", "refused", "refused", "refused"]
        items = page.locator("#upload-progress li").all_inner_texts()
        assert "damaged or incomplete" in items[2] and "PdfStreamError" not in items[2]
        assert "save it as .docx" in items[3] and ".jpg cannot be read" in items[4]
        after = listing(page)
        assert "4 indexed documents" in after and "DOCX" in after and "Ferry timetable" in after
        page.wait_for_function("document.querySelector('#status textarea, #status input').value"
                               ".startsWith('4 documents')", timeout=30000)

        # search and sort in the table
        page.fill("#documents input.docs-search", "ferry")
        assert visible_rows(page) == ["uploads/ferry.md"]
        assert "1 of 4 shown" in page.inner_text("#documents .docs-count")
        page.fill("#documents input.docs-search", "")
        assert len(visible_rows(page)) == 4
        sizes = {d.id: d.size for d in rag.documents()}
        page.locator("#documents th button", has_text="Size").click()
        assert visible_rows(page) == sorted(sizes, key=sizes.get)
        assert page.get_attribute("#documents th[data-key=size]", "aria-sort") == "ascending"
        page.locator("#documents th button", has_text="Size").click()
        assert visible_rows(page) == sorted(sizes, key=sizes.get, reverse=True)
        page.locator("#documents th button", has_text="Name").click()
        names = [r for r in visible_rows(page)]
        titles = {d.id: d.title.lower() for d in rag.documents()}
        assert names == sorted(titles, key=titles.get)

        # a row opens the document
        page.locator("#documents button.doc-open", has_text="Ferry timetable").click()
        page.wait_for_selector("#docs-view .doctext", timeout=30000)
        assert "Skelmoor ferry leaves the harbour at 7:40" in page.inner_text("#docs-view .doctext")

        page.get_by_role("tab", name="Chat").click()
        assert "8,450" in ask(page, "How many kilograms of quinces did the Tallbrook orchard harvest?", 0)
        assert "7:40" in ask(page, "When does the Skelmoor ferry leave the harbour?", 1)

        # each row removes its own document; the question says whether the file is kept
        listing(page)
        asked = []
        remove_row(page, "uploads/ferry.md", "Remove", asked)
        page.wait_for_function("document.querySelector('#doc-result textarea, #doc-result input').value"
                               ".startsWith('Removed')", timeout=120000)
        assert "3 indexed documents" in listing(page) and "ferry.md" not in page.inner_text("#documents")
        assert asked == ["Remove uploads/ferry.md from the index? The file in your folder is kept."]
        stored = Path(rag.retriever.manifest["corpus"]) / "uploads" / "ferry.md"
        assert stored.read_bytes() == MD and "file in your folder is kept" in result_text(page)
        page.get_by_role("tab", name="Chat").click()
        assert "do not contain" in ask(page, "When does the Skelmoor ferry leave the harbour?", 2)
        assert "8,450" in ask(page, "How many kilograms of quinces did the Tallbrook orchard harvest?", 3)

        # an upload's own "Delete upload" button deletes the stored copy, and its question says so
        listing(page)
        assert page.locator("#documents tr[data-id='north-korean-troops-in-russia.txt'] button",
                            has_text="Delete upload").count() == 0   # a file of the folder: never deleted
        remove_row(page, "uploads/orchard.docx", "Delete upload", asked)
        page.wait_for_function("document.querySelector('#doc-result textarea, #doc-result input').value"
                               ".includes('deleted the uploaded copy')", timeout=120000)
        assert asked[1] == "Remove uploads/orchard.docx from the index and delete the uploaded copy?"
        assert not stored.with_name("orchard.docx").exists() and stored.is_file()

        # saying no to the question changes nothing
        page.once("dialog", lambda d: d.dismiss())
        page.locator("#documents tr[data-id='bees.md'] button", has_text="Remove").click()
        page.wait_for_timeout(1000)
        assert "2 indexed documents" in listing(page) and "bees.md" in page.inner_text("#documents")
    finally:
        ctx.close()
