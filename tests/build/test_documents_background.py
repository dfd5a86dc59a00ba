"""Uploads and removals answerable first (rag.build.documents, add_files/remove_document with background=True):
the uploaded documents answer by keywords before any of their vectors is computed, the answers say they come
from a partial index, and the same Rag switches to the complete index once the background thread has filled
the vectors in; a second upload or a removal meanwhile stops that thread and takes over what is pending; a
failed upload leaves the index and the folder as they were. Fake embedder held at a gate (an Event), no sleeps."""
from __future__ import annotations

import os
import threading

import pytest

from rag import Config, Rag
from rag.build import documents
from rag.build.builder import build_index
from rag.storage import writer as store

from conftest import FakeEmbedder

COMETS = b"# Comets\n\nComets have tails of gas and dust. The tail of a comet points away from the sun.\n"
DESERTS = b"# Deserts\n\nDeserts receive little rain. The Atacama desert is the driest place on earth.\n"


class Gated(FakeEmbedder):
    """Encodes a build's texts (those given with on_batch) only once gate is set; questions at once.
    Records the pending documents of the current version at each build call."""

    def __init__(self, index_dir):
        super().__init__()
        self.gate, self.index_dir, self.calls = threading.Event(), index_dir, []

    def encode(self, texts, *, progress=None, on_batch=None):
        if on_batch is not None:
            self.calls.append(pending(self.index_dir))
            assert self.gate.wait(60), "the test never opened the gate"
        return super().encode(texts, progress=progress, on_batch=on_batch)


def pending(index_dir) -> list[str]:
    return [d["id"] for d in store.read_manifest(index_dir)["documents"] if d.get("pending")]


@pytest.fixture
def config(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "apples.md").write_text("# Apples\n\nApples grow in orchards. Bees pollinate the blossoms.\n")
    (corpus / "bridges.txt").write_text("Bridges span rivers. The oldest stone bridge here is from 1650.\n")
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", model=FakeEmbedder.name)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    return config


@pytest.fixture
def rag(config):
    rag = Rag(config, embedder=Gated(config.index_dir))
    yield rag
    rag.embedder.gate.set()   # a test that failed half-way must not leave its thread waiting
    assert rag.wait_for_vectors(60)


def stopping(index_dir) -> threading.Event:
    """The stop event of the background writer of index_dir now running."""
    return documents._FILLS[os.path.realpath(index_dir)].stop


def test_an_upload_answers_by_keywords_first_then_completes_without_restart(rag, config):
    result = rag.add_files([("comets.md", COMETS)], background=True)
    assert result.added == ["uploads/comets.md"] and result.skipped == []
    # answerable now, no vector of it computed (the gate is closed): the current version has it pending
    assert pending(config.index_dir) == ["uploads/comets.md"]
    assert (config.corpus_dir / "uploads" / "comets.md").read_bytes() == COMETS   # in the folder: the index knows it
    answer = rag.query("Which way does the tail of a comet point?")
    assert answer.found and answer.passages[0].doc_id == "uploads/comets.md" and "away from the sun" in answer.text
    assert answer.partial == {"complete": False, "documents": 3, "documents_pending": 1, "chunks": 3,
                              "chunks_pending": 1}
    assert "partial index" in answer.notice and "2 of 3 documents done" in answer.notice
    assert rag.status["vectors"]["documents_pending"] == 1 and documents.filling(config.index_dir)
    loads = rag.live.loads
    rag.embedder.gate.set()
    assert rag.wait_for_vectors(60) and not documents.filling(config.index_dir)
    done = rag.query("Which way does the tail of a comet point?")   # the same Rag: no restart
    assert rag.live.loads == loads + 1 and done.partial is None and done.notice is None
    assert done.passages[0].doc_id == "uploads/comets.md"
    assert pending(config.index_dir) == [] and rag.status["vectors"]["complete"] is True
    assert rag.embedder.calls == [["uploads/comets.md"]] * 2   # its chunks, then its sentences
    assert not any(documents.corpus_state.staging_dir(config.index_dir).glob("*"))


def test_a_second_upload_meanwhile_stops_the_first_fill_and_takes_over_what_is_pending(rag, config):
    rag.add_files([("comets.md", COMETS)], background=True)
    second = {}
    t = threading.Thread(target=lambda: second.setdefault("r", rag.add_files([("deserts.md", DESERTS)],
                                                                                background=True)))
    t.start()
    assert stopping(config.index_dir).wait(60)   # the second upload asked the first fill to stop
    rag.embedder.gate.set()   # the first fill's batch ends, it stops; the second build takes over
    t.join(60)
    assert second["r"].added == ["uploads/deserts.md"]
    assert rag.wait_for_vectors(60)
    # first fill: comets pending, stopped after its first batch; the second build: both pending, then none
    both = ["uploads/comets.md", "uploads/deserts.md"]
    assert rag.embedder.calls == [["uploads/comets.md"], both, both]
    assert pending(config.index_dir) == []
    ids = [d.id for d in rag.documents()]
    assert ids == ["apples.md", "bridges.txt", *both]
    assert rag.query("Which is the driest place on earth?").passages[0].doc_id == "uploads/deserts.md"
    assert sorted(p.name for p in (config.corpus_dir / "uploads").iterdir()) == ["comets.md", "deserts.md"]


def test_removing_during_a_fill_is_answered_at_once_and_the_fill_goes_on(rag, config):
    rag.add_files([("comets.md", COMETS)], background=True)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", rag.remove_document("apples.md", background=True)))
    t.start()
    assert stopping(config.index_dir).wait(60)
    rag.embedder.gate.set()
    t.join(60)
    assert out["r"].removed == "apples.md" and not out["r"].file_deleted
    assert rag.wait_for_vectors(60)
    assert [d.id for d in rag.documents()] == ["bridges.txt", "uploads/comets.md"] and pending(config.index_dir) == []
    assert (config.corpus_dir / "apples.md").exists()   # a file of the folder is kept
    assert rag.query("Which way does the tail of a comet point?").partial is None


def test_a_failed_upload_leaves_the_index_and_the_folder_as_they_were(rag, config, monkeypatch):
    before = (config.index_dir / "CURRENT").read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        rag.add_files([("comets.md", COMETS)], background=True)
    assert (config.index_dir / "CURRENT").read_bytes() == before
    assert not (config.corpus_dir / "uploads").exists()
    assert not any(documents.corpus_state.staging_dir(config.index_dir).glob("*"))
    assert not documents.filling(config.index_dir) and rag.removed() == []
    assert [d.id for d in rag.documents()] == ["apples.md", "bridges.txt"]


def test_an_error_while_computing_vectors_leaves_a_whole_partial_index_the_next_refresh_completes(rag, config):
    class Broken(Gated):
        def encode(self, texts, *, progress=None, on_batch=None):
            if on_batch is not None:
                raise RuntimeError("the model failed")
            return super().encode(texts, progress=progress, on_batch=on_batch)

    rag.embedder = Broken(config.index_dir)
    rag.embedder.gate.set()
    assert rag.add_files([("comets.md", COMETS)], background=True).added == ["uploads/comets.md"]
    assert rag.wait_for_vectors(60)
    assert pending(config.index_dir) == ["uploads/comets.md"]   # answerable, not complete; whole
    assert rag.query("Which way does the tail of a comet point?").partial["documents_pending"] == 1
    emb = FakeEmbedder()
    build_index(config, embedder=emb, progress=False)   # the next refresh embeds what is pending, from the folder
    assert pending(config.index_dir) == [] and any("away from the sun" in t for t in emb.encoded)
    assert not any("orchards" in t for t in emb.encoded)   # unchanged documents are not embedded again
    done = rag.query("Which way does the tail of a comet point?")
    assert done.partial is None and done.passages[0].doc_id == "uploads/comets.md"


def test_vectors_left_for_the_next_upload_are_filled_by_its_build_without_converting_again(rag, config,
                                                                                            monkeypatch):
    """add_files(vectors=False) (the page, for all but the last file of a batch) returns once the upload
    answers by keywords and starts no thread; the next upload's build embeds both, reusing the first
    upload's converted text (a pending document is chunked again, its file not converted again)."""
    from rag.ingest import read

    converted = []
    parse = read.parse_document
    monkeypatch.setattr(read, "parse_document", lambda data, doc_id, *a, **k: converted.append(doc_id)
                        or parse(data, doc_id, *a, **k))
    assert rag.add_files([("comets.md", COMETS)], vectors=False).added == ["uploads/comets.md"]
    assert rag.embedder.calls == [] and not documents.filling(config.index_dir)
    assert pending(config.index_dir) == ["uploads/comets.md"]
    assert rag.query("Which way does the tail of a comet point?").partial["documents_pending"] == 1
    rag.embedder.gate.set()
    assert rag.add_files([("deserts.md", DESERTS)], background=True).added == ["uploads/deserts.md"]
    assert rag.wait_for_vectors(60)
    both = ["uploads/comets.md", "uploads/deserts.md"]
    assert rag.embedder.calls == [both, both] and pending(config.index_dir) == []
    assert converted == []   # read from the folder, the text of the upload's own conversion reused
    assert rag.query("Which way does the tail of a comet point?").partial is None


def test_refresh_in_the_background_fills_what_an_upload_left_pending(rag, config):
    rag.add_files([("comets.md", COMETS)], vectors=False)
    rag.embedder.gate.set()
    assert rag.refresh(background=True) is None   # answerable (it was already), vectors in a thread
    assert rag.wait_for_vectors(60) and pending(config.index_dir) == []
    assert [d.id for d in rag.documents()] == ["apples.md", "bridges.txt", "uploads/comets.md"]
