"""The Documents tab in a real browser: the list, uploading a .docx and a .md (then asking
about each), a file that cannot be indexed changing nothing, and removing a document (its
answers go, its file stays unless the box to delete an uploaded copy is ticked). Needs the document interface of rag.api.Rag (rag/documents.py)."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path


from rag.api import Rag
from test_ui_browser import app, ask, browser, open_page, shot  # noqa: F401 - fixtures and helpers
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
    page.wait_for_selector("#documents table", timeout=30000)
    return page.inner_text("#documents")


def result_text(page) -> str:
    return page.input_value("#doc-result textarea") if page.locator("#doc-result textarea").count() else \
        page.input_value("#doc-result input")


def upload(page, files, expect):
    page.set_input_files("#upload input[type=file]", files)
    page.wait_for_function(f"document.querySelector('#doc-result textarea, #doc-result input').value"
                           f".includes({expect!r})", timeout=120000)
    return page.input_value("#doc-result textarea") if page.locator("#doc-result textarea").count() else \
        page.input_value("#doc-result input")


def test_upload_ask_remove(app, browser):  # noqa: F811 - pytest fixtures
    url, rag = app
    ctx, page = open_page(browser, url)
    try:
        before = listing(page)
        assert "2 indexed documents" in before and "north-korean-troops-in-russia.txt" in before
        shot(page, "documents-tab")
        result = upload(page, [{"name": "orchard.docx", "mimeType": "application/octet-stream", "buffer": DOCX},
                               {"name": "ferry.md", "mimeType": "text/markdown", "buffer": MD}], "Added")
        assert "orchard.docx" in result and "ferry.md" in result, result
        after = listing(page)
        assert "4 indexed documents" in after and "DOCX" in after and "Ferry timetable" in after

        result = upload(page, [{"name": "broken.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 junk"}],
                        "Not added")
        assert "broken.pdf" in result and "4 indexed documents" in listing(page)
        page.wait_for_function("document.querySelector('#status textarea, #status input').value"
                               ".startsWith('4 documents')", timeout=30000)

        page.get_by_role("tab", name="Chat").click()
        assert "8,450" in ask(page, "How many kilograms of quinces did the Tallbrook orchard harvest?", 0)
        assert "7:40" in ask(page, "When does the Skelmoor ferry leave the harbour?", 1)

        listing(page)
        asked = []
        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        page.click("#remove-choice input")
        page.locator("ul[role=listbox] li", has_text="ferry.md").click()
        page.click("#remove")
        page.wait_for_function("document.querySelector('#doc-result textarea, #doc-result input').value"
                               ".startsWith('Removed')", timeout=120000)
        assert "3 indexed documents" in listing(page) and "ferry.md" not in page.inner_text("#documents")
        assert asked == ["Remove uploads/ferry.md from the index? The file in your folder is kept."]
        stored = Path(rag.retriever.manifest["corpus"]) / "uploads" / "ferry.md"
        assert stored.read_bytes() == MD and "file in your folder is kept" in result_text(page)
        page.get_by_role("tab", name="Chat").click()
        assert "do not contain" in ask(page, "When does the Skelmoor ferry leave the harbour?", 2)
        assert "8,450" in ask(page, "How many kilograms of quinces did the Tallbrook orchard harvest?", 3)

        # the uploaded copy is deleted only with the box ticked, and the confirmation says so
        listing(page)
        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        page.click("#remove-choice input")
        page.locator("ul[role=listbox] li", has_text="orchard.docx").click()
        page.check("#delete-upload input")
        page.click("#remove")
        page.wait_for_function("document.querySelector('#doc-result textarea, #doc-result input').value"
                               ".includes('deleted the uploaded copy')", timeout=120000)
        assert asked[1] == "Remove uploads/orchard.docx from the index and delete the uploaded copy?"
        assert not stored.with_name("orchard.docx").exists() and stored.is_file()
    finally:
        ctx.close()
