"""Uploads checked file by file (ui/uploads.py) and indexed one at a time (ui/docs_tab.py's
upload_steps): a mixed batch adds its good files and explains each refused one in plain words
with what to do; the library's technical reasons are never the whole message."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from rag_ui import uploads
from rag_ui.docs_tab import length_text, summary, upload_steps

CONFIG = SimpleNamespace(upload_types=("txt", "md", "pdf", "docx", "pptx"), upload_max_mb=1.0, max_file_mb=20.0)


def test_check_explains_each_refusal_with_what_to_do():
    assert uploads.check("report.docx", 10, CONFIG) is None
    assert uploads.check("notes.MD", 10, CONFIG) is None   # the extension's case does not matter
    old = uploads.check("slides.ppt", 10, CONFIG)
    assert "old PowerPoint" in old and "save it as .pptx" in old
    assert "save it as .docx" in uploads.check("letter.doc", 10, CONFIG)
    other = uploads.check("photo.jpg", 10, CONFIG)
    assert ".jpg cannot be read" in other and "PDF" in other and "Word (.docx)" in other
    assert "no file extension" in uploads.check("README", 10, CONFIG)
    big = uploads.check("big.pdf", 2_500_000, CONFIG)
    assert "2.5 MB; the limit is 1 MB" in big and "Split it" in big
    assert "empty" in uploads.check("blank.txt", 0, CONFIG)


@pytest.mark.parametrize("reason, words", [
    ("unreadable PDF (PdfStreamError: Stream has ended unexpectedly); PDF reader: EOF marker not found",
     "damaged or incomplete"),
    ("encrypted PDF (password-protected)", "password-protected"),
    ("unreadable Word document (BadZipFile: File is not a zip file)", "damaged or is not really of its type"),
    ("no text layer (scanned?): pip install 'rag-offline[ocr]' to read it with OCR", "a scan"),
    ("binary content in a text file (NUL bytes)", "does not look like a text file"),
    ("conversion took longer than 60 s (limit; raise it with --convert-timeout)", "took too long"),
    ("unsupported file type '.doc' (save it as .docx)", "save it as .docx"),
])
def test_plain_words_for_the_libraries_reasons(reason, words):
    text = uploads.plain(reason)
    assert words in text and "Error" not in text and "pip install" not in text


def test_the_per_file_list_shows_state_progress_and_reasons():
    files = [uploads.FileState("a.md", "added", "indexed as uploads/a.md"),
             uploads.FileState("b.doc", "refused", "Open it and save it as .docx"),
             uploads.FileState("c.pdf", "indexing", "embedding 3/10", 3, 10),
             uploads.FileState("<d>.txt")]
    html = uploads.list_html(files)
    assert html.startswith("<p role='status'>4 files: 1 added, 1 not added, 2 to go</p>")
    assert "<progress max='10' value='3'" in html and "&lt;d&gt;.txt" in html and "<d>" not in html
    assert html.count("<li ") == 4 and "save it as .docx" in html


def test_page_and_passage_counts_in_words():
    doc = SimpleNamespace(pages=1, chunks=1)
    assert length_text(doc) == "1 page · 1 passage"
    assert length_text(SimpleNamespace(pages=12, chunks=40)) == "12 pages · 40 passages"
    assert length_text(SimpleNamespace(pages=None, chunks=3)) == "3 passages"


def _one_document_rag(tmp_path, fake_embedder):
    """(corpus folder, Rag) of a corpus of one indexed Markdown file."""
    from rag import Config, Rag
    from rag.build.builder import build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "base.md").write_text("# Base\n\nThe base document mentions lighthouses.\n")
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", model=fake_embedder.name)
    build_index(config, embedder=fake_embedder, progress=False)
    return corpus, Rag.open(config.index_dir, embedder=fake_embedder, corpus_dir=corpus)


def test_a_mixed_batch_adds_the_good_files_and_explains_the_rest(tmp_path, fake_embedder):
    corpus, rag = _one_document_rag(tmp_path, fake_embedder)
    drop = tmp_path / "drop"
    drop.mkdir()
    files = {"kites.md": b"# Kites\n\nKites fly in strong wind.\n", "old.doc": b"\xd0\xcf\x11\xe0 old word",
             "photo.jpg": b"\xff\xd8\xff", "ferry.txt": b"The ferry leaves at 7:40.\n", "empty.txt": b""}
    paths = []
    for name, data in files.items():
        (drop / name).write_bytes(data)
        paths.append(str(drop / name))
    seen = []   # each step's states (the generator updates the same list as it goes)
    for last, done in upload_steps(rag, paths, poll=0.05):
        seen.append(([f.state for f in last], done))
    assert seen[-1][1] and not any(d for _, d in seen[:-1])
    assert seen[0][0] == ["queued", "refused", "refused", "queued", "refused"]   # all checked first
    assert ["indexing", "refused", "refused", "queued", "refused"] in [s for s, _ in seen]   # one at a time
    assert [f.state for f in last] == ["added", "refused", "refused", "added", "refused"]
    assert last[0].doc_id == "uploads/kites.md" and last[3].doc_id == "uploads/ferry.txt"
    assert "save it as .docx" in last[1].detail and ".jpg cannot be read" in last[2].detail
    assert "empty" in last[4].detail
    ids = {d.id for d in rag.documents()}
    assert {"uploads/kites.md", "uploads/ferry.txt", "base.md"} <= ids and len(ids) == 3
    line = summary(last)
    assert line.startswith("Added 2: kites.md, ferry.txt. Not added: old.doc (") and "photo.jpg (" in line


def test_the_vectors_line_says_how_far_then_that_the_full_index_answers():
    assert uploads.vectors_text({"complete": False, "documents": 60, "documents_pending": 47}, 50) == \
        "Answerable by keywords; computing vectors: 3 of 50 documents."
    # a later upload added more pending documents than the first one counted: the larger count
    assert uploads.vectors_text({"complete": False, "documents": 60, "documents_pending": 52}, 50) == \
        "Answerable by keywords; computing vectors: 0 of 52 documents."
    assert uploads.vectors_text({"complete": True, "documents": 60, "documents_pending": 0}, 50) == \
        "Vectors computed for all 50 uploaded documents: answers use the full index."
    assert uploads.vectors_text({"complete": True, "documents": 60, "documents_pending": 0}, 1) == \
        "Vectors computed for the uploaded document: answers use the full index."
    assert uploads.vectors_text({"complete": True, "documents": 60, "documents_pending": 0}, 0) == ""
    assert uploads.vectors_text(None, 3) == ""


def test_a_page_upload_is_added_once_answerable_and_its_vectors_follow(tmp_path):
    """The page's upload (upload_steps) marks a file added as soon as it answers by keywords; the line
    under the list counts its vectors (held at a gate here) until they are in."""
    import threading

    from rag import Config, Rag
    from rag.build.builder import build_index
    from rag_ui.docs_tab import _pending, _vectors_html

    from conftest import FakeEmbedder

    class Gated(FakeEmbedder):
        gate = threading.Event()

        def encode(self, texts, *, progress=None, on_batch=None):
            if on_batch is not None:
                assert self.gate.wait(60)
            return super().encode(texts, progress=progress, on_batch=on_batch)

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "base.md").write_text("# Base\n\nThe base document mentions lighthouses.\n")
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", model=FakeEmbedder.name)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    rag = Rag.open(config.index_dir, embedder=Gated(), corpus_dir=corpus)
    (tmp_path / "kites.md").write_bytes(b"# Kites\n\nKites fly in strong wind over the dunes.\n")
    try:
        *_, (last, done) = upload_steps(rag, [str(tmp_path / "kites.md")], poll=0.05)
        assert done and [f.state for f in last] == ["added"] and last[0].detail == "indexed as uploads/kites.md"
        assert _pending(rag) == 1
        assert "computing vectors: 0 of 1 documents" in _vectors_html(rag, 1)
        answer = rag.query("What flies in strong wind?")
        assert answer.passages[0].doc_id == "uploads/kites.md" and answer.partial["documents_pending"] == 1
    finally:
        Gated.gate.set()
    assert rag.wait_for_vectors(60) and _pending(rag) == 0
    assert "Vectors computed for the uploaded document" in _vectors_html(rag, 1)
    assert rag.query("What flies in strong wind?").partial is None


def test_when_the_last_file_of_a_batch_is_refused_the_vectors_of_the_others_still_come(tmp_path, fake_embedder):
    """The page leaves the vectors of all but the last file to the last one's build; when that one is not
    added, a refresh computes them."""
    corpus, rag = _one_document_rag(tmp_path, fake_embedder)
    files = {"kites.md": b"# Kites\n\nKites fly in strong wind.\n", "noise.txt": bytes(range(256)) * 8}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    *_, (last, done) = upload_steps(rag, [str(tmp_path / n) for n in files], poll=0.05)
    assert [f.state for f in last] == ["added", "refused"]
    assert rag.wait_for_vectors(60)
    assert rag.status["vectors"]["complete"] is True
    assert rag.query("What flies in strong wind?").passages[0].doc_id == "uploads/kites.md"
