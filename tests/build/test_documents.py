"""Document management (rag.build.documents): list, view, upload with limits and safe names, remove,
and questions answered while an upload is indexed. Fake embedder, generated corpora."""
from __future__ import annotations

import json
import threading
import time

import pytest

from rag import Config, Rag
from rag.answer.base import Answer
from rag.build.builder import build_index
from rag.build.documents import MAX_NAME, safe_upload_name
from rag.errors import DocumentError, RagError

from conftest import FakeEmbedder


@pytest.fixture
def rag(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "apples.md").write_text("# Apples\n\nApples grow in orchards. Bees pollinate the blossoms.\n")
    (corpus / "bridges.txt").write_text("Bridges span rivers. The oldest stone bridge here is from 1650.\n")
    (corpus / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0 legacy")
    (corpus / "empty.txt").write_bytes(b"")
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", model=FakeEmbedder.name)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    return Rag(config, embedder=FakeEmbedder())


def ids(rag):
    return [d.id for d in rag.documents()]


def manifest_docs(rag):
    """The documents of the current manifest, without the segment holding each (storage detail)."""
    return [{k: v for k, v in d.items() if k != "segment"} for d in rag.retriever.manifest["documents"]]


def top_doc(rag, question):
    return rag.search(question, k=1, mode="bm25")[0].doc_id


# ---------------------------------------------------------------- names

@pytest.mark.parametrize("raw, stored", [
    ("../x.md", "x.md"),
    ("../../etc/cron.d/x.md", "x.md"),
    ("/etc/passwd.txt", "passwd.txt"),
    ("a/b.md", "b.md"),
    ("C:\\Users\\me\\x.md", "x.md"),
    ("C:x.md", "x.md"),
    (".hidden.md", "hidden.md"),
    ("..md.md", "md.md"),
    ("re\x00port\x1b[31m.md", "report_31m.md"),
    ("line\nbreak.TXT", "linebreak.txt"),
    ("  spaced   out .md ", "spaced out.md"),
    ("CON.txt", "_CON.txt"),
    ("r\u00e9sum\u00e9 (final).md", "r\u00e9sum\u00e9 (final).md"),
    ("a<b>c|d?.md", "a_b_c_d_.md"),
])
def test_upload_names_lose_path_tricks(raw, stored):
    assert safe_upload_name(raw) == stored


@pytest.mark.parametrize("raw", ["", "/", "..", ".hidden", "/etc/passwd", "...", "\x00\x01", "C:\\", "a/.", "x."])
def test_unusable_upload_names_are_refused(raw):
    with pytest.raises(ValueError):
        safe_upload_name(raw)


def test_long_names_are_cut_keeping_the_extension():
    name = safe_upload_name("x" * 5000 + ".pdf")
    assert len(name) <= MAX_NAME and name.endswith(".pdf") and name.startswith("xxx")


# ---------------------------------------------------------------- listing and viewing

def test_documents_and_skipped_files_are_listed(rag, tmp_path):
    docs = {d.id: d for d in rag.documents()}
    assert sorted(docs) == ["apples.md", "bridges.txt"]
    a = docs["apples.md"]
    assert a.title == "Apples" and a.kind == "md" and a.pages is None and a.chunks >= 1
    assert a.size == (tmp_path / "corpus" / "apples.md").stat().st_size
    assert a.indexed_at.endswith("+00:00") and a.indexed_at[:4].isdigit()
    skipped = {s.path: s.reason for s in rag.skipped()}
    assert sorted(skipped) == ["empty.txt", "old.doc"]
    assert "empty" in skipped["empty.txt"] and "save it as .docx" in skipped["old.doc"]


def test_document_view_text_matches_chunk_offsets(rag):
    view = rag.document("apples.md")
    assert view.info.id == "apples.md" and view.passages
    for p in view.passages:
        assert view.text[p.start:p.end] == p.text
    assert "Bees pollinate the blossoms." in view.text
    with pytest.raises(DocumentError):
        rag.document("nope.md")


# ---------------------------------------------------------------- uploads

def test_upload_becomes_answerable_without_a_restart_with_progress(rag, tmp_path):
    seen = []
    result = rag.add_files([("../../Comets.md", b"# Comets\n\nComets grow bright tails near the sun.\n")],
                           progress=lambda phase, done, total: seen.append((phase, done, total)))
    assert result.added == ["uploads/Comets.md"] and result.skipped == []
    assert (tmp_path / "corpus" / "uploads" / "Comets.md").is_file()
    assert not (tmp_path / "Comets.md").exists()
    assert "uploads/Comets.md" in ids(rag)
    assert top_doc(rag, "comets tails") == "uploads/Comets.md"
    phases = [p for p, _, _ in seen]
    for phase in ("reading", "embedding", "writing"):   # reading includes chunking (rag.build.reading)
        assert phase in phases
    assert ("embedding", 0, 2) in seen or any(p == "embedding" and t > 0 for p, _, t in seen)


def test_several_files_at_once_from_paths_and_pairs(rag, tmp_path):
    src = tmp_path / "outside.txt"
    src.write_text("Glaciers carve valleys over millennia.\n")
    result = rag.add_files([src, ("deserts.txt", b"Deserts get little rain.\n")])
    assert sorted(result.added) == ["uploads/deserts.txt", "uploads/outside.txt"]
    assert top_doc(rag, "glaciers valleys") == "uploads/outside.txt"
    assert top_doc(rag, "deserts rain") == "uploads/deserts.txt"


def test_same_name_different_content_gets_a_number_and_same_content_is_kept_once(rag, tmp_path):
    first = rag.add_files([("notes.txt", b"Harbours shelter ships.\n")])
    again = rag.add_files([("notes.txt", b"Harbours shelter ships.\n")])
    other = rag.add_files([("notes.txt", b"Islands rise from the sea.\n"),
                           ("notes.txt", b"Jungles are humid.\n")])
    assert first.added == again.added == ["uploads/notes.txt"]
    assert other.added == ["uploads/notes (2).txt", "uploads/notes (3).txt"]
    assert sorted(p.name for p in (tmp_path / "corpus" / "uploads").iterdir()) == [
        "notes (2).txt", "notes (3).txt", "notes.txt"]
    assert (tmp_path / "corpus" / "uploads" / "notes.txt").read_bytes() == b"Harbours shelter ships.\n"


def test_refused_uploads_change_nothing(tmp_path, rag):
    from dataclasses import replace

    strict = Rag(replace(rag.config, upload_types=("md", "txt"), upload_max_mb=0.001), embedder=FakeEmbedder())
    before = manifest_docs(strict)
    version = strict.retriever.data.pointer
    result = strict.add_files([
        ("big.txt", b"word " * 1000),                 # 5,000 bytes > 1,000
        ("slides.pdf", b"%PDF-1.4 whatever"),          # type not accepted here
        ("/etc/passwd", b"root:x:0:0"),                # no extension left
        ("binary.txt", b"\x00\x01\x02\x03" * 10),      # not text
        ("blank.md", b"   \n"),                        # nothing to index
        ("bad", "not bytes"),
    ])
    assert result.added == []
    reasons = {s.path: s.reason for s in result.skipped}
    assert "too large (0.005 MB > 0.001 MB)" == reasons["big.txt"]
    assert "not accepted" in reasons["slides.pdf"]
    assert "extension" in reasons["passwd"]
    assert "binary" in reasons["binary.txt"]
    assert "no text" in reasons["blank.md"] or "empty" in reasons["blank.md"]
    assert "bytes" in reasons["bad"]
    assert manifest_docs(strict) == before and strict.retriever.data.pointer == version
    uploads = tmp_path / "corpus" / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_a_good_file_goes_in_while_an_unindexable_one_beside_it_is_reported(rag, tmp_path):
    before = manifest_docs(rag)
    result = rag.add_files([("good.txt", b"Forests store carbon.\n"), ("broken.docx", b"PK\x03\x04 not a docx")])
    assert result.added == ["uploads/good.txt"]
    assert [s.path for s in result.skipped] == ["broken.docx"]
    assert result.skipped[0].reason.startswith("unreadable Word document")
    assert not (tmp_path / "corpus" / "uploads" / "broken.docx").exists()
    assert [d for d in manifest_docs(rag) if d["id"] != "uploads/good.txt"] == before   # indexed_at too


class BrokenEmbedder(FakeEmbedder):
    def encode(self, texts, *, progress=None, on_batch=None):
        raise RuntimeError("the model crashed")


def test_a_failed_refresh_removes_the_upload_and_keeps_the_index(rag, tmp_path):
    broken = Rag(rag.config, embedder=BrokenEmbedder())
    before, version = manifest_docs(broken), broken.retriever.data.pointer
    with pytest.raises(RuntimeError, match="crashed"):
        broken.add_files([("new.txt", b"Volcanoes erupt.\n")])
    assert not (tmp_path / "corpus" / "uploads" / "new.txt").exists()
    assert manifest_docs(broken) == before and broken.retriever.data.pointer == version
    uploads, staging = tmp_path / "corpus" / "uploads", rag.config.index_dir / "staging"
    assert not uploads.exists() or list(uploads.iterdir()) == []   # no temporary left
    assert not staging.exists() or list(staging.iterdir()) == []


class SlowEmbedder(FakeEmbedder):
    """Slow to embed a batch (building), quick for one question."""

    def encode(self, texts, *, progress=None, on_batch=None):
        if len(texts) > 1:
            time.sleep(0.5)
        return super().encode(texts, progress=progress, on_batch=on_batch)


def test_questions_asked_during_an_upload_are_always_answered(rag):
    slow = Rag(rag.config, embedder=SlowEmbedder())
    answers, errors, done = [], [], threading.Event()

    def ask():
        while not done.is_set():
            try:
                answers.append(slow.query("Where do apples grow?", mode="bm25"))
            except Exception as exc:   # any failure is a test failure
                errors.append(exc)

    t = threading.Thread(target=ask)
    t.start()
    while not answers and not errors:
        time.sleep(0.01)
    try:
        text = " ".join(f"Kestrels hunt voles in field {n}." for n in range(60)).encode()
        result = slow.add_files([("kestrels.txt", text)])
    finally:
        done.set()
        t.join(30)
    assert errors == [] and len(answers) >= 5
    assert all(isinstance(a, Answer) and a.passages for a in answers)
    assert result.added == ["uploads/kestrels.txt"]
    assert top_doc(slow, "kestrels voles") == "uploads/kestrels.txt"


# ---------------------------------------------------------------- removing

def test_remove_drops_the_document_and_keeps_the_file(rag, tmp_path):
    rag.add_files([("gone.txt", b"Engines burn fuel.\n")])
    rag.remove_document("uploads/gone.txt")
    assert "uploads/gone.txt" not in ids(rag)
    assert (tmp_path / "corpus" / "uploads" / "gone.txt").read_bytes() == b"Engines burn fuel.\n"
    rag.remove_document("bridges.txt")
    assert ids(rag) == ["apples.md"] and (tmp_path / "corpus" / "bridges.txt").is_file()
    with pytest.raises(DocumentError):
        rag.remove_document("bridges.txt")
    with pytest.raises(DocumentError):
        rag.remove_document("../corpus/apples.md")


def test_removing_the_last_document_is_refused_and_the_file_kept(rag, tmp_path):
    rag.remove_document("bridges.txt")
    with pytest.raises(RagError):
        rag.remove_document("apples.md")
    assert (tmp_path / "corpus" / "apples.md").is_file() and ids(rag) == ["apples.md"]
    assert not [p for p in (tmp_path / "corpus").iterdir() if p.name.startswith(".")]


def test_remove_a_link_keeps_the_link_and_its_target(rag, tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir()
    (corpus / "sub" / "target.txt").write_text("Lighthouses guide sailors.\n")
    (corpus / "link.txt").symlink_to(corpus / "sub" / "target.txt")
    build_index(rag.config, embedder=FakeEmbedder(), progress=False)
    rag.remove_document("link.txt")
    assert (corpus / "link.txt").is_symlink() and (corpus / "sub" / "target.txt").is_file()
    assert "sub/target.txt" in ids(rag) and "link.txt" not in ids(rag)


# ---------------------------------------------------------------- the manifest and the CLI

def test_manifest_records_skipped_and_a_new_skip_alone_is_recorded(rag, tmp_path):
    (tmp_path / "corpus" / "late.ppt").write_bytes(b"\xd0\xcf legacy")
    report = build_index(rag.config, embedder=FakeEmbedder(), progress=False)
    assert report.changed   # no document changed, but the list of skipped files did
    assert "late.ppt" in [s.path for s in rag.skipped()]
    again = build_index(rag.config, embedder=FakeEmbedder(), progress=False)
    assert not again.changed


def test_cli_docs_add_remove(cli, capsys, tmp_path):
    assert cli(["docs"]) == 0
    out = capsys.readouterr().out
    assert "2 documents" in out and "apples.md" in out and "[md," in out and "old.doc: unsupported" in out
    (tmp_path / "new.md").write_text("# Kites\n\nKites fly in strong wind.\n")
    (tmp_path / "bad.exe").write_bytes(b"MZ")
    assert cli(["add", str(tmp_path / "new.md"), str(tmp_path / "bad.exe")]) == 1   # one was refused
    out = capsys.readouterr().out
    assert "added uploads/new.md" in out and "skipped bad.exe: file type .exe is not accepted" in out
    assert cli(["docs", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert "uploads/new.md" in [d["id"] for d in listed["documents"]]
    assert cli(["remove", "uploads/new.md"]) == 0 and "removed uploads/new.md" in capsys.readouterr().out
    assert cli(["remove", "uploads/new.md"]) == 1
    assert "no document 'uploads/new.md'" in capsys.readouterr().err
    assert cli(["add", "--upload-types", "txt", str(tmp_path / "new.md")]) == 1
    assert "not accepted (accepted: txt)" in capsys.readouterr().out


def test_upload_limits_from_the_environment(monkeypatch):
    monkeypatch.setenv("RAG_UPLOAD_MAX_MB", "3.5")
    monkeypatch.setenv("RAG_UPLOAD_TYPES", "pdf, .DOCX")
    config = Config()
    assert config.upload_max_mb == 3.5 and config.upload_types == ("pdf", "docx")
    with pytest.raises(ValueError, match="unsupported"):
        Config(upload_types=("exe",))


def test_default_upload_types_are_the_supported_ones():
    from rag.config import UPLOAD_TYPES
    from rag.ingest.read import SUPPORTED

    assert sorted("." + t for t in UPLOAD_TYPES) == sorted(SUPPORTED)


def test_document_text_keeps_paragraph_breaks_between_chunks():
    from types import SimpleNamespace as P

    from rag.build.documents import _text

    # "First para.\n\nSecond para. Same para." chunked as three passages (offsets as the chunker gives them)
    passages = [P(start=0, end=11, text="First para."), P(start=13, end=25, text="Second para."),
                P(start=26, end=36, text="Same para.")]
    text = _text(passages)
    assert text == "First para.\n\nSecond para. Same para."
    assert all(text[p.start:p.end] == p.text for p in passages)   # offsets still point at the chunks
    assert _text([P(start=0, end=1, text="a"), P(start=5, end=6, text="b")]) == "a\n\n  b"
