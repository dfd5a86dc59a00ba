"""Reading a corpus folder: every supported format, and every kind of bad file skipped loudly."""
import hashlib
import io
import logging
import re

import pytest

from rag.errors import CorpusError
from rag.ingest.read import Document, Skipped, load_corpus

from filemakers import make_pdf


def by_id(docs):
    return {d.id: d for d in docs}


def warnings_for(caplog, name):
    return [r for r in caplog.records
            if r.name == "rag" and r.levelno == logging.WARNING and name in r.getMessage()]


# ---------------------------------------------------------------- the PDF helper itself

def test_pdf_helper_is_valid_and_pypdf_reads_it():
    import pypdf

    data = make_pdf(["Hello from a PDF.", "Second line (in parens)."], title="Hand Made")
    # xref offsets point at the objects they name
    xref_at = int(re.search(rb"startxref\n(\d+)", data).group(1))
    assert data[xref_at:].startswith(b"xref\n")
    entries = re.findall(rb"(\d{10}) 00000 n ", data[xref_at:])
    assert len(entries) == 6
    for number, off in enumerate(entries, 1):
        assert data[int(off):].startswith(b"%d 0 obj" % number)
    reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "Hello from a PDF." in text and "Second line (in parens)." in text
    assert reader.metadata.title == "Hand Made"


# ---------------------------------------------------------------- good files

def test_each_supported_format(tmp_path):
    (tmp_path / "plain.txt").write_text("First line is the title\n\nBody of the plain file.\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("Some preamble.\n\n# The Real Heading\n\nMarkdown body text.\n",
                                       encoding="utf-8")
    (tmp_path / "page.html").write_text(
        "<!DOCTYPE html><html><head><title>Tab Title</title>"
        "<style>body { color: red } .secret-style {}</style>"
        "<script>var secretScript = 1;</script></head>"
        "<body><h1>Page  Heading</h1><p>Fish &amp; chips are <b>tasty</b>.</p>"
        "<script>alert('secretInline')</script><p>Second paragraph.</p></body></html>",
        encoding="utf-8")
    (tmp_path / "titled.htm").write_text(
        "<html><head><title>Only The Title</title></head><body><p>No heading here.</p></body></html>",
        encoding="utf-8")
    (tmp_path / "paper.pdf").write_bytes(make_pdf(["Quarterly results were strong.", "Revenue rose."],
                                                  title="Quarterly Report"))
    (tmp_path / "untitled.pdf").write_bytes(make_pdf(["The first PDF line.", "The second PDF line."]))
    sub = tmp_path / "sub" / "deeper"
    sub.mkdir(parents=True)
    (sub / "nested.txt").write_text("Nested document text.\n", encoding="utf-8")

    docs, skipped = load_corpus(tmp_path)
    assert skipped == []
    assert [d.id for d in docs] == sorted(["plain.txt", "notes.md", "page.html", "titled.htm", "paper.pdf",
                                           "untitled.pdf", "sub/deeper/nested.txt"])
    d = by_id(docs)
    assert all(isinstance(x, Document) for x in docs)

    assert d["plain.txt"].title == "First line is the title"
    assert d["plain.txt"].text == "First line is the title\n\nBody of the plain file.\n"

    assert d["notes.md"].title == "The Real Heading"
    assert "Markdown body text." in d["notes.md"].text

    html = d["page.html"]
    assert html.title == "Page Heading"          # <h1> wins over <title>
    assert "Fish & chips are tasty." in html.text
    assert "Second paragraph." in html.text
    for leaked in ("<", ">", "secretScript", "secretInline", "secret-style", "color: red", "Tab Title"):
        assert leaked not in html.text
    assert d["titled.htm"].title == "Only The Title"
    assert d["titled.htm"].text == "No heading here."

    pdf = d["paper.pdf"]
    assert "Quarterly results were strong." in pdf.text and "Revenue rose." in pdf.text
    assert pdf.title == "Quarterly Report"       # from the PDF metadata
    assert d["untitled.pdf"].title == "The first PDF line."   # no metadata: first line of text

    assert d["sub/deeper/nested.txt"].text == "Nested document text.\n"
    assert d["sub/deeper/nested.txt"].title == "Nested document text."


def test_sha256_is_of_the_file_bytes(tmp_path):
    files = {"a.txt": "caf\u00e9 \r\nline two\r\n".encode("utf-8"),
             "b.md": "\ufeff# Title\n\nbody\n".encode("utf-8"),
             "c.pdf": make_pdf(["Some PDF text."]),
             "d.html": b"<p>hello</p>"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    docs, skipped = load_corpus(tmp_path)
    assert skipped == []
    for doc in docs:
        assert doc.sha256 == hashlib.sha256(files[doc.id]).hexdigest()
    # text is normalized (newlines, BOM) but the hash is still of the raw bytes
    assert by_id(docs)["a.txt"].text == "caf\u00e9 \nline two\n"
    assert by_id(docs)["b.md"].title == "Title"


def test_html_without_closing_head_tag_keeps_body_text(tmp_path):
    # The HTML spec lets </head> be omitted; the body is still the visible text.
    (tmp_path / "page.html").write_text(
        "<html><head><title>T</title><body><h1>Heading</h1><p>Visible body text.</p></body></html>",
        encoding="utf-8")
    docs, skipped = load_corpus(tmp_path)
    assert skipped == [], skipped
    assert "Visible body text." in docs[0].text


# ---------------------------------------------------------------- bad files

def test_bad_files_are_skipped_with_a_warning_and_good_files_still_load(tmp_path, caplog):
    (tmp_path / "aa_good.txt").write_text("A good file before the bad ones.\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_bytes(b"  \n\t\r\n  \n")
    (tmp_path / "binary.txt").write_bytes(b"looks like text\x00\x01\x02\x00 but is not")
    (tmp_path / "report.docx").write_bytes(b"PK\x03\x04 fake office file")
    (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0 legacy office file")
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n fake image")
    (tmp_path / "x.txt").symlink_to(tmp_path / "does-not-exist.txt")
    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf at all\n%%EOF\n")
    (tmp_path / "truncated.pdf").write_bytes(make_pdf(["Cut short."])[:120])
    (tmp_path / "zz_good.md").write_text("# Last\n\nA good file after the bad ones.\n", encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="rag"):
        docs, skipped = load_corpus(tmp_path)

    assert [d.id for d in docs] == ["aa_good.txt", "zz_good.md"]
    assert all(isinstance(s, Skipped) for s in skipped)
    reasons = {s.path: s.reason for s in skipped}
    assert sorted(reasons) == sorted(["empty.txt", "blank.md", "binary.txt", "report.docx", "old.doc",
                                      "picture.png", "x.txt", "corrupt.pdf", "truncated.pdf"])
    assert "empty" in reasons["empty.txt"]
    assert "empty" in reasons["blank.md"]
    assert "binary" in reasons["binary.txt"]
    assert reasons["report.docx"].startswith("unreadable Word document")   # a damaged .docx
    assert "unsupported" in reasons["old.doc"] and "save it as .docx" in reasons["old.doc"]
    assert "unsupported" in reasons["picture.png"] and ".png" in reasons["picture.png"]
    assert "unreadable" in reasons["x.txt"]
    assert "PDF" in reasons["corrupt.pdf"] and "PDF" in reasons["truncated.pdf"]
    # one warning per skipped file, naming the file and giving the same reason
    for path, reason in reasons.items():
        found = warnings_for(caplog, path)
        assert len(found) == 1, (path, [r.getMessage() for r in caplog.records])
        assert reason in found[0].getMessage()
    assert not warnings_for(caplog, "aa_good.txt") and not warnings_for(caplog, "zz_good.md")


def test_pdf_without_text_is_skipped(tmp_path, caplog):
    (tmp_path / "scan.pdf").write_bytes(make_pdf([]))
    with caplog.at_level(logging.WARNING, logger="rag"):
        docs, skipped = load_corpus(tmp_path)
    assert docs == []
    assert [s.path for s in skipped] == ["scan.pdf"]
    assert "no text" in skipped[0].reason
    assert warnings_for(caplog, "scan.pdf")


def test_invalid_utf8_is_replaced_with_a_warning(tmp_path, caplog):
    data = b"Caf\xe9 au lait is good.\nSecond line \xff\xfe here.\n"
    (tmp_path / "latin.txt").write_bytes(data)
    with caplog.at_level(logging.WARNING, logger="rag"):
        docs, skipped = load_corpus(tmp_path)
    assert skipped == []
    (doc,) = docs
    assert doc.text == data.decode("utf-8", errors="replace")
    assert "\ufffd" in doc.text and "au lait is good." in doc.text
    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    found = warnings_for(caplog, "latin.txt")
    assert len(found) == 1 and "UTF-8" in found[0].getMessage()


def test_hidden_files_and_folders_are_ignored_silently(tmp_path, caplog):
    (tmp_path / "visible.txt").write_text("Visible text.\n", encoding="utf-8")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1\x00")
    (tmp_path / ".hidden.txt").write_text("Hidden text.\n", encoding="utf-8")
    git = tmp_path / ".git" / "objects"
    git.mkdir(parents=True)
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "notes.txt").write_text("Inside a hidden folder.\n")
    sub = tmp_path / "sub" / ".cache"
    sub.mkdir(parents=True)
    (sub / "cached.md").write_text("# Cached\n")
    with caplog.at_level(logging.WARNING, logger="rag"):
        docs, skipped = load_corpus(tmp_path)
    assert [d.id for d in docs] == ["visible.txt"]
    assert skipped == []
    assert not [r for r in caplog.records if r.name == "rag"]


def test_missing_corpus_folder_raises(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "no-such-folder")
    (tmp_path / "a-file.txt").write_text("not a folder")
    with pytest.raises(CorpusError):
        load_corpus(tmp_path / "a-file.txt")


def test_empty_folder_gives_nothing(tmp_path):
    assert load_corpus(tmp_path) == ([], [])
