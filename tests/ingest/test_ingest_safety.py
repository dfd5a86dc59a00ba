"""A file swapped for a link between the walk and the read, hard links, compression bombs, lying zip
headers, converters over their memory or time limit, and Word paragraph handling in linear time."""
from __future__ import annotations

import logging
import os

import bombs
from conftest import FakeEmbedder
from rag import Config
from rag.ingest import read as ingest
from rag.build import reading as pipeline
from rag.storage import writer as store
from rag.build.builder import build_index
from rag.ingest.read import load_corpus

SECRET = "zq-swapped-secret-4410"


def Limits(**kw):   # imported here, so each test fails on its own where the module lacks them
    from rag.ingest.sandbox import Limits

    return Limits(**kw)


def ZipLimits(**kw):
    from rag.ingest.zipcheck import ZipLimits

    return ZipLimits(**kw)


def no_zip_caps():
    return ZipLimits(total=10**12, member=10**12, ratio=1e12)


def _corpus(tmp_path):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    (corpus / "sub").mkdir(parents=True)
    (outside / "sub").mkdir(parents=True)
    for where in (outside / "secret.txt", outside / "sub" / "inner.txt"):
        where.write_text(f"The secret is {SECRET}.\n")
    (corpus / "ok.txt").write_text("An ordinary file about orchards.\n")
    (corpus / "swap-link.txt").write_text("Harmless text that will be swapped for a link.\n")
    (corpus / "swap-hard.txt").write_text("Harmless text that will be swapped for a hard link.\n")
    (corpus / "sub" / "inner.txt").write_text("Harmless text in a folder that will be swapped.\n")
    return corpus, outside


def _swap(corpus, outside):
    """What another process does between the walk and the read."""
    (corpus / "swap-link.txt").unlink()
    (corpus / "swap-link.txt").symlink_to(outside / "secret.txt")
    os.link(outside / "secret.txt", outside / "hard.tmp")
    os.replace(outside / "hard.tmp", corpus / "swap-hard.txt")     # same name, another inode
    (corpus / "sub" / "inner.txt").unlink()
    (corpus / "sub").rmdir()
    (corpus / "sub").symlink_to(outside / "sub")                     # a folder on the path becomes a link


def _walk_then_swap(module, monkeypatch, corpus, outside):
    real = module.walk

    def walk(folder):
        out = real(folder)
        _swap(corpus, outside)
        return out

    monkeypatch.setattr(module, "walk", walk)


def test_files_swapped_after_the_walk_are_not_read(tmp_path, monkeypatch, caplog):
    corpus, outside = _corpus(tmp_path)
    _walk_then_swap(ingest, monkeypatch, corpus, outside)
    with caplog.at_level(logging.WARNING, logger="rag"):
        docs, skipped = load_corpus(corpus)
    assert [d.id for d in docs] == ["ok.txt"]
    assert all(SECRET not in d.text for d in docs)
    reasons = {s.path: s.reason for s in skipped}
    assert reasons["swap-link.txt"].startswith("changed into a link since the folder was listed")
    assert reasons["swap-hard.txt"].startswith("replaced by another file since the folder was listed")
    assert reasons["sub/inner.txt"].startswith("replaced by another file since the folder was listed")
    warned = [r.getMessage() for r in caplog.records]
    assert any(w.startswith("swap-link.txt: skipped: changed into a link") for w in warned)


def test_a_swap_during_a_build_never_reaches_a_chunk(tmp_path, monkeypatch):
    corpus, outside = _corpus(tmp_path)
    _walk_then_swap(pipeline, monkeypatch, corpus, outside)
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", model=FakeEmbedder.name)
    report = build_index(config, embedder=FakeEmbedder(), progress=False)
    data = store.load(config.index_dir, config.index_settings())
    assert SECRET not in "\n".join(c["text"] for c in data.chunks)
    assert [d["id"] for d in data.manifest["documents"]] == ["ok.txt"]
    assert sorted(s.path for s in report.skipped) == ["sub/inner.txt", "swap-hard.txt", "swap-link.txt"]


def test_hard_links_are_skipped_unless_allowed(tmp_path, monkeypatch):
    corpus, outside = _corpus(tmp_path)
    os.link(outside / "secret.txt", corpus / "linked.txt")
    docs, skipped = load_corpus(corpus)
    assert "linked.txt" not in {d.id for d in docs}
    assert {s.path: s.reason for s in skipped}["linked.txt"] == (
        "has 2 hard links; may be a link to a file outside the folder; pass --allow-hard-links")
    docs, skipped = load_corpus(corpus, limits=Limits(allow_hard_links=True))
    assert SECRET in {d.id: d.text for d in docs}["linked.txt"] and not skipped
    # the setting: Config field, environment variable, command-line flag
    from rag import cli

    assert Config().allow_hard_links is False
    assert cli._config(cli.parser().parse_args(["index", "--allow-hard-links"])).allow_hard_links is True
    monkeypatch.setenv("RAG_ALLOW_HARD_LINKS", "1")
    assert Config().allow_hard_links is True and Limits().allow_hard_links is True
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", model=FakeEmbedder.name)
    report = build_index(config, embedder=FakeEmbedder(), progress=False)
    assert "linked.txt" not in {s.path for s in report.skipped}


def test_a_docx_bomb_is_refused_by_the_bytes_it_really_expands_to(tmp_path):
    from rag.ingest import sandbox

    (tmp_path / "bomb.docx").write_bytes(bombs.docx_xml_bomb(5))          # 5 MB of XML in ~20 KB
    (tmp_path / "lying.docx").write_bytes(bombs.docx_lying_header(5))     # the same, declared as 1,000 bytes
    (tmp_path / "lying2.docx").write_bytes(bombs.zip_lying_header(5))     # two members declared as 1,000 bytes
    (tmp_path / "ok.docx").write_bytes(bombs.docx_paragraphs(3))
    assert len((tmp_path / "bomb.docx").read_bytes()) < 100_000
    docs, skipped = load_corpus(tmp_path)
    reasons = {s.path: s.reason for s in skipped}
    assert [d.id for d in docs] == ["ok.docx"]
    assert reasons["bomb.docx"] == ("Word document member 'word/document.xml' expands more than 200 times "
                                    "(a compression bomb?); not read")
    for name in ("lying.docx", "lying2.docx"):
        assert reasons[name].startswith("unreadable Word document (BadZipFile: Bad CRC-32"), reasons[name]
    # a total cap on what is really decompressed, whatever the headers say
    small = Limits(zip=ZipLimits(total=2_000_000, member=10**12, ratio=1e12))
    reasons = {s.path: s.reason for s in load_corpus(tmp_path, limits=small)[1]}
    assert reasons["bomb.docx"] == "Word document expands past 2,000,000 bytes (limit); not read"
    for name in ("bomb.docx", "lying.docx", "lying2.docx"):
        assert sandbox.LAST_PEAK_KB[name] < 300_000   # the worker's peak while checking it


def test_a_converter_over_its_memory_limit_is_stopped_and_the_run_goes_on(tmp_path):
    from rag.ingest import sandbox

    (tmp_path / "a-dense.docx").write_bytes(bombs.docx_dense(4))    # passes the zip caps; parsing needs more
    (tmp_path / "b-ok.docx").write_bytes(bombs.docx_paragraphs(3))
    (tmp_path / "c.txt").write_text("Plain text.\n")
    docs, skipped = load_corpus(tmp_path, limits=Limits(memory_mb=40, zip=no_zip_caps()))
    assert [d.id for d in docs] == ["b-ok.docx", "c.txt"]
    assert [(s.path, s.reason) for s in skipped] == [
        ("a-dense.docx", ("needs more than 40 MB of memory to convert (limit; raise it with --convert-memory-mb); "
                          "not read"))]
    assert sandbox.LAST_PEAK_KB["a-dense.docx"] < 500_000
    docs, skipped = load_corpus(tmp_path, limits=Limits(memory_mb=1000, zip=no_zip_caps()))
    assert "a-dense.docx" in {d.id for d in docs}                    # it was the limit, not the file


def test_a_converter_over_its_time_limit_is_killed_and_the_run_goes_on(tmp_path):
    (tmp_path / "a-huge.xlsx").write_bytes(bombs.xlsx_huge(100_000))   # 1,000,000 cells: seconds to read
    (tmp_path / "b-ok.docx").write_bytes(bombs.docx_paragraphs(3))
    (tmp_path / "c-nested.xlsx").write_bytes(bombs.xlsx_nested(50_000))
    docs, skipped = load_corpus(tmp_path, limits=Limits(timeout_s=1))
    reasons = {s.path: s.reason for s in skipped}
    assert reasons["a-huge.xlsx"] == "conversion took longer than 1 s (limit; raise it with --convert-timeout); not read"
    assert "b-ok.docx" in {d.id for d in docs}
    assert "c-nested.xlsx" in reasons or "c-nested.xlsx" in {d.id for d in docs}   # either way, no crash


def test_workers_are_reused_across_files(tmp_path):
    from rag.ingest import sandbox

    for i in range(30):
        (tmp_path / f"doc{i:02d}.docx").write_bytes(bombs.docx_paragraphs(2))
    before = set(sandbox.WORKER_PIDS)
    docs, skipped = load_corpus(tmp_path)
    assert len(docs) == 30 and not skipped
    assert len(sandbox.WORKER_PIDS - before) <= sandbox.WORKERS


def test_word_styles_are_looked_up_once_not_per_paragraph(monkeypatch):
    from docx.oxml.styles import CT_Styles

    from rag.ingest import convert

    real, calls = CT_Styles.default_for, []
    monkeypatch.setattr(CT_Styles, "default_for", lambda self, t: calls.append(t) or real(self, t))
    c = convert.docx_text(bombs.docx_paragraphs(3000, heading=False))
    assert c.text.count("Clause ") == 3000 and c.text.startswith("Clause 0 of the contract")
    assert len(calls) <= 2, len(calls)   # was two scans of every style per paragraph
    c = convert.docx_text(bombs.docx_paragraphs(5))
    assert c.title == "Contract of many clauses"
