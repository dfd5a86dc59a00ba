"""Office formats, tables, e-books, PDF page numbers and OCR of scanned PDFs (rag.ingest.convert, rag.ingest.pdf).
Every file is generated here with the library that writes its format; retrieval runs on BM25
with the fake embedder, so a failing test points at the conversion, not the model."""
from __future__ import annotations

import io
import zipfile

import pytest

from rag import Config, Rag
from rag.build.builder import build_index
from rag.ingest.read import Limits, load_corpus

from conftest import FakeEmbedder
from filemakers import make_pdf


def make_docx() -> bytes:
    import docx

    d = docx.Document()
    d.add_heading("Field Guide to Owls", level=1)
    d.add_paragraph("Barn owls hunt at night over open meadows.")
    table = d.add_table(rows=2, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Species", "Wingspan"
    table.rows[1].cells[0].text, table.rows[1].cells[1].text = "Snowy owl", "150 cm"
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def make_pptx() -> bytes:
    import pptx

    deck = pptx.Presentation()
    for title, body in (("Quarterly Review", "Sales grew in the north."),
                        ("Next Steps", "Hire two geologists for the quarry survey.")):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def make_xlsx() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Scientists"
    for row in (("Name", "Born", "Field"), ("Ada Lovelace", 1815, "Mathematics"), ("Marie Curie", 1867, None)):
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def make_epub(chapters: dict, spine: list, title="The Lighthouse Log") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr("META-INF/container.xml",
                   '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:'
                   'container"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/'
                   'oebps-package+xml"/></rootfiles></container>')
        items = "".join(f'<item id="{k}" href="text/{k}.xhtml" media-type="application/xhtml+xml"/>'
                        for k in chapters)
        refs = "".join(f'<itemref idref="{k}"/>' for k in spine)
        z.writestr("OEBPS/content.opf",
                   '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
                   f'<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title></metadata>'
                   f"<manifest>{items}</manifest><spine>{refs}</spine></package>")
        for k, body in chapters.items():
            z.writestr(f"OEBPS/text/{k}.xhtml", f"<html><body><h2>{k}</h2><p>{body}</p></body></html>")
    return buf.getvalue()


def two_page_pdf() -> bytes:
    import pypdf

    writer = pypdf.PdfWriter()
    for lines in (["Chapter one is about rivers.", "Rivers flow to the sea."],
                  ["Chapter two is about volcanoes.", "Volcanoes erupt molten basalt."]):
        writer.add_page(pypdf.PdfReader(io.BytesIO(make_pdf(lines))).pages[0])
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def scanned_pdf(lines) -> bytes:
    """A PDF holding only a picture of the text (no text layer), as a scanner makes."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1000, 90 + 80 * len(lines)), "white")
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=36)
    for n, line in enumerate(lines):
        draw.text((40, 50 + 80 * n), line, fill="black", font=font)
    buf = io.BytesIO()
    image.save(buf, "PDF", resolution=100)
    return buf.getvalue()


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "owls.docx").write_bytes(make_docx())
    (folder / "review.pptx").write_bytes(make_pptx())
    (folder / "people.xlsx").write_bytes(make_xlsx())
    (folder / "trains.csv").write_text("Line;Departs;Platform\nNight express;23:15;4\nMorning local;06:40;1\n")
    (folder / "log.epub").write_bytes(make_epub({"storm": "A storm wrecked the pier in October.",
                                                 "calm": "The calm summer brought herring boats."},
                                                spine=["calm", "storm"]))
    (folder / "geo.pdf").write_bytes(two_page_pdf())
    return folder


def test_each_format_is_read_into_text(corpus):
    docs, skipped = load_corpus(corpus)
    assert skipped == []
    d = {x.id: x for x in docs}
    owls = d["owls.docx"]
    assert owls.title == "Field Guide to Owls" and owls.kind == "docx"
    assert "Barn owls hunt at night" in owls.text and "Species: Snowy owl; Wingspan: 150 cm" in owls.text
    review = d["review.pptx"]
    assert review.title == "Quarterly Review" and len(review.page_starts) == 2
    assert review.text[review.page_starts[1]:].startswith("Next Steps")
    people = d["people.xlsx"].text.splitlines()
    assert people == ["Scientists (sheet)", "Name: Ada Lovelace; Born: 1815; Field: Mathematics",
                      "Name: Marie Curie; Born: 1867"]
    assert d["trains.csv"].text.splitlines() == ["Line: Night express; Departs: 23:15; Platform: 4",
                                                 "Line: Morning local; Departs: 06:40; Platform: 1"]
    log = d["log.epub"]
    assert log.title == "The Lighthouse Log"
    assert log.text.index("herring") < log.text.index("storm wrecked")   # spine order, not manifest order
    geo = d["geo.pdf"]
    assert len(geo.page_starts) == 2 and geo.kind == "pdf"
    assert geo.text[geo.page_starts[1]:].startswith("Chapter two is about volcanoes.")


@pytest.fixture
def rag(corpus, tmp_path):
    # small chunks, so each page of the short test PDF starts a chunk of its own
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", model=FakeEmbedder.name,
                    chunk_tokens=16, chunk_overlap=0)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    return Rag(config, embedder=FakeEmbedder())


@pytest.mark.parametrize("question, doc, phrase", [
    ("snowy owl wingspan", "owls.docx", "Snowy owl"),
    ("geologists quarry survey", "review.pptx", "geologists"),
    ("When was Ada Lovelace born?", "people.xlsx", "1815"),
    ("night express platform", "trains.csv", "23:15"),
    ("storm wrecked pier", "log.epub", "October"),
    ("volcanoes basalt", "geo.pdf", "basalt"),
])
def test_each_format_is_answerable(rag, question, doc, phrase):
    top = rag.search(question, k=1, mode="bm25")[0]
    assert top.doc_id == doc and phrase in top.text


def test_pages_are_recorded_and_passages_carry_them(rag):
    infos = {d.id: d for d in rag.documents()}
    assert infos["geo.pdf"].pages == 2 and infos["review.pptx"].pages == 2 and infos["owls.docx"].pages is None
    page_two = rag.search("volcanoes basalt", k=1, mode="bm25")[0]
    assert page_two.page == 2 and page_two.to_dict()["page"] == 2
    slide_two = rag.search("geologists quarry", k=1, mode="bm25")[0]
    assert slide_two.page == 2
    assert rag.search("snowy owl", k=1, mode="bm25")[0].page is None
    first = [p for p in rag.document("geo.pdf").passages if p.start == 0]
    assert first and first[0].page == 1


def test_ask_prints_the_page_of_a_pdf_citation(rag, monkeypatch, capsys):
    import rag.cli as cli

    monkeypatch.setattr(cli, "_embedder", lambda config: FakeEmbedder())
    assert cli.main(["ask", "Volcanoes erupt molten basalt?", "--mode", "bm25", "-k", "1",
                     "--index", str(rag.config.index_dir)]) == 0
    out = capsys.readouterr().out
    assert "(geo.pdf, p. 2, " in out


def test_converter_failures_are_skipped_with_one_line_reasons(tmp_path):
    from rag.ingest.sandbox import Limits
    from rag.ingest.zipcheck import ZipLimits

    (tmp_path / "a.xlsx").write_bytes(b"PK\x03\x04 broken")
    (tmp_path / "b.pptx").write_bytes(make_docx())           # a Word file named .pptx
    (tmp_path / "c.epub").write_bytes(zipfile_bytes({"mimetype": "application/epub+zip"}))  # no container
    (tmp_path / "ok.txt").write_text("fine\n")
    docs, skipped = load_corpus(tmp_path)
    assert [d.id for d in docs] == ["ok.txt"]
    reasons = {s.path: s.reason for s in skipped}
    assert reasons["a.xlsx"].startswith("unreadable spreadsheet")
    assert reasons["b.pptx"].startswith("unreadable presentation")
    assert reasons["c.epub"].startswith("unreadable EPUB")
    assert all("\n" not in r for r in reasons.values())
    (tmp_path / "d.docx").write_bytes(make_docx())
    small = Limits(zip=ZipLimits(total=1000))                # d.docx expands past this: refused unread
    reasons = {s.path: s.reason for s in load_corpus(tmp_path, limits=small)[1]}
    assert reasons["d.docx"].startswith("Word document expands past 1,000 bytes")


def zipfile_bytes(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return buf.getvalue()


def test_size_limit_applies_to_office_files(corpus):
    docs, skipped = load_corpus(corpus, max_bytes=1000)
    reasons = {s.path: s.reason for s in skipped}
    assert reasons["owls.docx"].startswith("too large")


# ---------------------------------------------------------------- scanned PDFs

def test_scanned_pdf_without_ocr_is_skipped_with_the_install_hint(tmp_path, monkeypatch):
    from rag.ingest import pdf

    monkeypatch.setattr(pdf, "ocr_engine", lambda: None)   # as without the optional package
    (tmp_path / "scan.pdf").write_bytes(scanned_pdf(["Nothing here is text."]))
    (tmp_path / "ok.txt").write_text("fine\n")
    docs, skipped = load_corpus(tmp_path, limits=Limits(isolate=False))   # converted here, where the patch is
    assert [s.reason for s in skipped] == [
        "no text layer (scanned?): pip install 'rag-offline[ocr]' to read it with OCR"]


def test_scanned_pdf_is_read_by_ocr(tmp_path):
    pytest.importorskip("rapidocr_onnxruntime",
                        reason="the optional OCR package is not installed: pip install 'rag-offline[ocr]'")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "scan.pdf").write_bytes(scanned_pdf(["The harbour master counted", "forty seven ships in March."]))
    (corpus / "other.txt").write_text("Orchards need bees in spring.\n")
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", model=FakeEmbedder.name)
    report = build_index(config, embedder=FakeEmbedder(), progress=False)
    assert report.skipped == []
    top = Rag(config, embedder=FakeEmbedder()).search("How many ships in March?", k=1, mode="bm25")[0]
    assert top.doc_id == "scan.pdf" and "ships in March" in top.text and top.page == 1


def test_scanned_lines_read_as_one_sentence_with_spaces_between_words(tmp_path):
    pytest.importorskip("rapidocr_onnxruntime",
                        reason="the optional OCR package is not installed: pip install 'rag-offline[ocr]'")
    from rag.text.chunk import split_sentences

    (tmp_path / "lease.pdf").write_bytes(scanned_pdf(["The lease of Unit 7 at 14 Harbour Road",
                                                      "runs until 31 March 2029."]))
    docs, skipped = load_corpus(tmp_path)
    assert skipped == []
    text = docs[0].text
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "The lease of Unit 7 at 14 Harbour Road\nruns until 31 March 2029."]


def test_slides_give_bullets_under_their_title_and_notes_apart():
    import pptx

    deck = pptx.Presentation()
    s = deck.slides.add_slide(deck.slide_layouts[1])
    s.shapes.title.text = "Workstream owners"
    s.placeholders[1].text_frame.text = "Data migration: Priya Raman"
    s.placeholders[1].text_frame.add_paragraph().text = "Billing rewrite: Jonas Weber"
    s.notes_slide.notes_text_frame.text = "Owners report every second Tuesday."
    buf = io.BytesIO()
    deck.save(buf)
    from rag.ingest.converters import convert_binary

    assert convert_binary(".pptx", buf.getvalue(), "deck.pptx").text == (
        "Workstream owners\n• Data migration: Priya Raman\n• Billing rewrite: Jonas Weber\n\n"
        "Notes: Owners report every second Tuesday.")
