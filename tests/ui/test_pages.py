"""The original page (ui/pages.py): which PDF shows a document's pages, the page image drawn in a
limited worker process and cached in the index folder (never the corpus), and a damaged or slow
PDF ending in a plain one-line error instead of a hung server."""
from __future__ import annotations

import io
import struct
from types import SimpleNamespace

import pytest

from filemakers import make_pdf
from rag_ui import pages

pytestmark = pytest.mark.subprocess   # each page is drawn in a worker process


def two_pages() -> bytes:
    import pypdf

    writer = pypdf.PdfWriter()
    for lines in (["Chapter one is about rivers."], ["Chapter two is about volcanoes."]):
        writer.add_page(pypdf.PdfReader(io.BytesIO(make_pdf(lines))).pages[0])
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def fake_rag(tmp_path, docs=()):
    corpus, index = tmp_path / "corpus", tmp_path / "idx"
    corpus.mkdir(exist_ok=True)
    index.mkdir(exist_ok=True)
    manifest = {"corpus": str(corpus), "documents": [dict(d) for d in docs]}
    return SimpleNamespace(retriever=SimpleNamespace(manifest=manifest),
                           config=SimpleNamespace(index_dir=index, corpus_dir=corpus, max_file_mb=20.0))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_page_image_is_drawn_bounded_and_cached_in_the_index_folder(tmp_path):
    rag = fake_rag(tmp_path)
    (rag.config.corpus_dir / "notes.pdf").write_bytes(two_pages())
    before = sorted(p.name for p in rag.config.corpus_dir.rglob("*"))
    png, page, path = pages.page_png(rag, "notes.pdf", 2)
    width, height = png_size(png)
    assert page == 2 and path.name == "notes.pdf"
    assert width == pages.WIDTH and abs(height - pages.WIDTH * 792 / 612) <= 1   # US Letter, 800 px wide
    cached = list((rag.config.index_dir / pages.CACHE).glob("*.png"))
    assert len(cached) == 1 and cached[0].read_bytes() == png
    assert sorted(p.name for p in rag.config.corpus_dir.rglob("*")) == before   # nothing written in the corpus
    assert pages.page_png(rag, "notes.pdf", 2)[0] == png                       # from the cache
    assert pages.page_png(rag, "notes.pdf", 1)[0] != png                       # another page, another image
    with pytest.raises(pages.PageImageError, match="has 2 pages, not a page 5"):
        pages.page_png(rag, "notes.pdf", 5)


def test_which_pdf_shows_a_document(tmp_path):
    rag = fake_rag(tmp_path)
    corpus = rag.config.corpus_dir
    (corpus / "deck.pptx").write_bytes(b"PK")
    (corpus / "deck.pdf").write_bytes(make_pdf(["Slide one"]))
    (corpus / "other.pptx").write_bytes(b"PK")
    (corpus / "notes.txt").write_text("text")
    (tmp_path / "outside.pdf").write_bytes(make_pdf(["secret"]))
    (corpus / "link.pdf").symlink_to(tmp_path / "outside.pdf")
    assert pages.source_pdf(rag, "deck.pptx") == (corpus / "deck.pdf").resolve()   # a deck's PDF export
    assert pages.source_pdf(rag, "deck.pdf") == (corpus / "deck.pdf").resolve()
    assert pages.source_pdf(rag, "other.pptx") is None   # no export beside it
    assert pages.source_pdf(rag, "notes.txt") is None
    assert pages.source_pdf(rag, "link.pdf") is None     # a link leading out of the corpus
    assert pages.source_pdf(rag, "../outside.pdf") is None
    assert pages.figure_html(rag, "notes.txt", 1) == ""


def test_page_of_an_offset_from_the_page_starts(tmp_path):
    rag = fake_rag(tmp_path, [{"id": "a.pdf", "page_starts": [0, 100, 250]}, {"id": "b.txt"}])
    assert [pages.page_at(rag, "a.pdf", o) for o in (0, 99, 100, 249, 250, 9999)] == [1, 1, 2, 2, 3, 3]
    assert pages.page_at(rag, "b.txt", 5) is None and pages.page_at(rag, "a.pdf", None) is None


def test_a_damaged_pdf_is_a_plain_one_line_error(tmp_path):
    rag = fake_rag(tmp_path)
    (rag.config.corpus_dir / "broken.pdf").write_bytes(b"%PDF-1.4 junk")
    with pytest.raises(pages.PageImageError, match="could not be drawn"):
        pages.page_png(rag, "broken.pdf", 1)
    html = pages.figure_html(rag, "broken.pdf", 1)
    assert "Original page not shown" in html and "<img" not in html
    assert not list((rag.config.index_dir / pages.CACHE).glob("*"))   # no half-written file left


def test_a_worker_that_hangs_is_killed_at_the_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(pages, "WORKER", "import time\ntime.sleep(600)")
    (tmp_path / "a.pdf").write_bytes(make_pdf(["x"]))
    with pytest.raises(pages.PageImageError, match="took longer than 1 s"):
        pages.render(tmp_path / "a.pdf", 1, tmp_path / "out.png", timeout=1)
    assert not (tmp_path / "out.png").exists()


def test_a_pdf_over_the_size_limit_is_not_drawn(tmp_path):
    rag = fake_rag(tmp_path)
    rag.config.max_file_mb = 0.0001   # 100 bytes
    (rag.config.corpus_dir / "big.pdf").write_bytes(make_pdf(["a line long enough to pass one hundred bytes"]))
    with pytest.raises(pages.PageImageError, match="larger than"):
        pages.page_png(rag, "big.pdf", 1)


def test_a_very_tall_page_is_drawn_within_the_pixel_budget(tmp_path):
    rag = fake_rag(tmp_path)
    tall = make_pdf(["a strip"]).replace(b"/MediaBox [0 0 612 792]", b"/MediaBox [0 0 61 9999]")
    (rag.config.corpus_dir / "tall.pdf").write_bytes(tall)
    width, height = png_size(pages.page_png(rag, "tall.pdf", 1)[0])
    assert width < pages.WIDTH and width * height <= pages.MAX_PIXELS * 1.01   # narrower, not larger
    assert abs(height / width / (9999 / 61) - 1) < 0.02   # the shape kept (to the pixel)
