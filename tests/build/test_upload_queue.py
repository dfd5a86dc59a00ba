"""The upload queue (rag.build.documents: add_files(queue=True), the page's and the HTTP API's way): an upload
made while this process's own first build of the index (rag serve over a new folder: open_default(background=True))
or another upload is still writing waits in the queue, says what for, and is indexed once that writer is free,
answerable after; uploads in quick succession are all indexed, in order; past the cap the queue refuses with one
line; a lock held by another program makes a queued upload wait and retry (and fail with the lock's one-line error
past OTHER_WRITER_WAIT_S). Fake embedder held at a gate (an Event), no sleeps to wait for anything."""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time

import pytest

from rag import Config, Rag
from rag.api import open_default
from rag.build import corpus_state, documents
from rag.build.builder import build_index
from rag.errors import IndexLockedError, QueueFullError
from rag.storage import writer as store

from conftest import FakeEmbedder

COMETS = b"# Comets\n\nComets have tails of gas and dust. The tail of a comet points away from the sun.\n"
DESERTS = b"# Deserts\n\nDeserts receive little rain. The Atacama desert is the driest place on earth.\n"


class Gated(FakeEmbedder):
    """A build's texts (given with on_batch) wait for gate; questions are encoded at once."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()
        self.waiting = threading.Event()   # a build's batch is waiting at the gate

    def encode(self, texts, *, progress=None, on_batch=None):
        if on_batch is not None:
            self.waiting.set()
            assert self.gate.wait(60), "the test never opened the gate"
        return super().encode(texts, progress=progress, on_batch=on_batch)


@contextlib.contextmanager
def other_program_holding_the_lock(index_dir, holder: bytes | None = None):
    """The index lock held as another program (`rag add` in a terminal) would hold it."""
    fd = os.open(index_dir / ".lock", os.O_RDWR)
    if holder is not None:
        os.pwrite(fd, holder, 0)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        os.close(fd)


def pending(index_dir) -> list[str]:
    return [d["id"] for d in store.read_manifest(index_dir)["documents"] if d.get("pending")]


def ids(rag) -> list[str]:
    return sorted(d.id for d in rag.documents())


def write_corpus(corpus) -> None:
    corpus.mkdir()
    (corpus / "apples.md").write_text("# Apples\n\nApples grow in orchards. Bees pollinate the blossoms.\n")
    (corpus / "bridges.txt").write_text("Bridges span rivers. The oldest stone bridge here is from 1650.\n")


def until(upload) -> None:
    """Wait (on the upload's own condition, no sleep) until it is waiting for something (or finished)."""
    with upload._changed:
        assert upload._changed.wait_for(lambda: upload.waiting or upload.finished, 60)


@pytest.fixture
def new_folder(tmp_path):
    """A corpus with no index yet, as `rag serve` finds a new folder."""
    write_corpus(tmp_path / "corpus")
    return Config(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "idx", model=FakeEmbedder.name)


@pytest.fixture
def built(tmp_path):
    write_corpus(tmp_path / "corpus")
    config = Config(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "idx", model=FakeEmbedder.name)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    rag = Rag(config, embedder=Gated())
    yield rag
    rag.embedder.gate.set()
    assert rag.wait_for_vectors(60)


def test_an_upload_during_the_first_build_waits_for_it_then_is_indexed_and_answerable(new_folder):
    emb = Gated()
    rag = open_default(new_folder, embedder=emb, background=True)   # as rag serve: answerable, vectors behind
    try:
        assert emb.waiting.wait(60) and pending(new_folder.index_dir) == ["apples.md", "bridges.txt"]
        assert documents.filling(new_folder.index_dir)   # serve's build is this process's writer of the index
        upload = rag.add_files([("comets.md", COMETS)], queue=True)   # before: IndexLockedError
        until(upload)
        assert upload.state == "queued" and upload.position == 0
        assert upload.waiting == ("waiting for the index build to finish the batch of vectors under way; "
                                  "indexed right after")
        assert rag.status["uploads"] == {"queued": ["comets.md"], "indexing": []}
        assert upload.to_json() == {"id": upload.id, "files": ["comets.md"], "state": "queued", "position": 0,
                                    "waiting": upload.waiting}
        emb.gate.set()   # the build's batch ends; the upload takes over what it left pending
        result = upload.outcome()
        assert result.added == ["uploads/comets.md"] and result.skipped == [] and upload.state == "done"
        answer = rag.query("Which way does the tail of a comet point?")
        assert answer.found and answer.passages[0].doc_id == "uploads/comets.md"
        assert rag.wait_for_vectors(60)
        assert pending(new_folder.index_dir) == [] and rag.status["uploads"] is None
        assert ids(rag) == ["apples.md", "bridges.txt", "uploads/comets.md"]
        assert rag.query("Which way does the tail of a comet point?").partial is None
    finally:
        emb.gate.set()
        rag.wait_for_vectors(60)


def test_two_uploads_in_quick_succession_are_both_indexed_in_order(built):
    rag = built
    first = rag.add_files([("comets.md", COMETS)], queue=True)
    assert first.outcome().added == ["uploads/comets.md"]   # the writer was free: indexed at once, vectors behind
    assert rag.embedder.waiting.wait(60)
    second = rag.add_files([("deserts.md", DESERTS)], queue=True)
    third = rag.add_files([("comets.md", COMETS.replace(b"gas", b"ice"))], queue=True)
    until(second)
    assert second.waiting.startswith("waiting for an upload to finish the batch of vectors under way")
    assert third.state == "queued" and third.position == 1 and third.waiting == "1 upload(s) ahead; indexed after them"
    assert rag.status["uploads"] == {"queued": ["deserts.md", "comets.md"], "indexing": []}
    rag.embedder.gate.set()
    assert second.outcome().added == ["uploads/deserts.md"]
    assert third.outcome().added == ["uploads/comets (2).md"]   # a different file of the same name
    assert rag.wait_for_vectors(60) and pending(rag.config.index_dir) == []
    assert ids(rag) == ["apples.md", "bridges.txt", "uploads/comets (2).md", "uploads/comets.md", "uploads/deserts.md"]
    assert [u.id for u in rag.uploads()] == [first.id, second.id, third.id]
    assert rag.query("What is the driest place on earth?").passages[0].doc_id == "uploads/deserts.md"


def test_past_the_cap_the_queue_refuses_with_one_line_and_a_refused_file_is_not_queued(built, monkeypatch):
    rag = built
    monkeypatch.setattr(documents, "QUEUE_FILES", 1)
    assert rag.add_files([("comets.md", COMETS)], queue=True).outcome().added
    assert rag.embedder.waiting.wait(60)   # its vectors are being computed: the writer is busy
    running = rag.add_files([("deserts.md", DESERTS)], queue=True)
    until(running)   # taken by the queue's thread, waiting for the writer: no longer counted as waiting
    more = COMETS + b"More.\n"
    waiting = rag.add_files([("more.md", more)], queue=True)
    assert waiting.position == 1
    with pytest.raises(QueueFullError) as err:
        rag.add_files([("last.md", DESERTS)], queue=True)
    assert str(err.value) == (f"upload queue full: 1 upload(s) of 1 file(s), {len(more) / 1e6:.3g} MB, are waiting "
                              "to be indexed (at most 1 files, 200 MB); try again when they are in")
    refused = rag.add_files([("notes.exe", b"MZ")], queue=True)   # refused by the checks: done at once
    assert refused.finished and refused.result.added == [] and "not accepted" in refused.result.skipped[0].reason
    rag.embedder.gate.set()
    assert running.outcome().added == ["uploads/deserts.md"] and waiting.outcome().added == ["uploads/more.md"]
    assert sorted(os.listdir(rag.config.corpus_dir / "uploads")) == ["comets.md", "deserts.md", "more.md"]


def test_another_program_holding_the_lock_makes_a_queued_upload_wait_then_it_is_indexed(built, monkeypatch):
    rag = built
    monkeypatch.setattr(documents, "RETRY_S", 0.01)
    rag.embedder.gate.set()
    with other_program_holding_the_lock(rag.config.index_dir):
        with pytest.raises(IndexLockedError, match="another writer is updating"):   # not queued: refused at once
            rag.add_files([("comets.md", COMETS)], background=True)
        upload = rag.add_files([("comets.md", COMETS)], queue=True)
        until(upload)
        assert upload.state == "queued" and upload.waiting == ("another program is updating the index; "
                                                               "indexed when it finishes")
    assert upload.outcome().added == ["uploads/comets.md"]


def test_a_queued_upload_gives_up_on_another_programs_lock_with_its_one_line_error(built, monkeypatch):
    rag = built
    monkeypatch.setattr(documents, "RETRY_S", 0.01)
    monkeypatch.setattr(documents, "OTHER_WRITER_WAIT_S", 0.05)
    with other_program_holding_the_lock(rag.config.index_dir, b"pid 4242 since 2026-01-01T00:00:00+00:00\n"):
        upload = rag.add_files([("comets.md", COMETS)], queue=True)
        assert upload.wait(60) and upload.state == "failed"
    with pytest.raises(IndexLockedError):
        upload.outcome()
    assert upload.to_json()["error"] == (f"another writer is updating {rag.config.index_dir} (pid 4242 since "
                                         "2026-01-01T00:00:00+00:00); try again when it finishes")
    assert not (rag.config.corpus_dir / "uploads").exists() and ids(rag) == ["apples.md", "bridges.txt"]


def snapshot(folder) -> dict:
    """Every file under folder: (bytes, mtime_ns, inode)."""
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            st = os.stat(path)
            out[os.path.relpath(path, folder)] = (open(path, "rb").read(), st.st_mtime_ns, st.st_ino)
    return out


def test_queued_uploads_never_touch_a_file_of_the_users_folder(tmp_path, monkeypatch):
    """Whatever queued uploads do (indexed, refused by the checks or by conversion, failed on another program's
    lock, one of them then deleted on request), every file the person put in the folder, including one of their
    own under uploads/ with an upload's name, keeps its bytes, mtime and inode; the only new files are the uploads
    the application stored, in uploads/."""
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    (corpus / "notes").mkdir()
    (corpus / "notes" / "deserts.md").write_bytes(DESERTS)
    (corpus / "uploads").mkdir()
    (corpus / "uploads" / "comets.md").write_text("My own comet notes: comets are icy bodies.\n")   # the person's
    (corpus / "scan.xyz").write_bytes(b"\x00\x01 not a document")
    before = snapshot(corpus)
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", model=FakeEmbedder.name)
    emb = Gated()
    rag = open_default(config, embedder=emb, background=True)
    monkeypatch.setattr(documents, "RETRY_S", 0.01)
    monkeypatch.setattr(documents, "OTHER_WRITER_WAIT_S", 0.05)
    try:
        assert emb.waiting.wait(60)
        good = rag.add_files([("comets.md", COMETS)], queue=True)
        broken = rag.add_files([("broken.txt", b"\x00\x01\x02\xff binary" * 50)], queue=True)
        refused = rag.add_files([("tool.exe", b"MZ")], queue=True)
        emb.gate.set()
        assert good.outcome().added == ["uploads/comets (2).md"]   # the person's uploads/comets.md is kept
        assert broken.outcome().added == [] and "binary" in broken.result.skipped[0].reason and refused.finished and refused.result.added == []
        assert rag.wait_for_vectors(60)
        with other_program_holding_the_lock(config.index_dir):
            failed = rag.add_files([("late.md", DESERTS)], queue=True)
            assert failed.wait(60) and failed.state == "failed"
        kept = rag.remove_document("uploads/comets.md", delete_upload=True)   # not stored by rag: kept
        assert not kept.file_deleted
        mine = rag.add_files([("mine.md", DESERTS.replace(b"Atacama", b"Namib"))], queue=True).outcome()
        gone = rag.remove_document(mine.added[0], delete_upload=True)   # stored by rag, asked in words
        assert gone.file_deleted
        assert rag.wait_for_vectors(60)
    finally:
        emb.gate.set()
        rag.wait_for_vectors(60)
    after = snapshot(corpus)
    assert {k: v for k, v in after.items() if k in before} == before
    assert sorted(set(after) - set(before)) == [os.path.join("uploads", "comets (2).md")]
    assert after[os.path.join("uploads", "comets (2).md")][0] == COMETS


# ---------------------------------------------------------------- queued uploads kept on disk (INDEX/queued/)

def kept(index_dir) -> list[tuple[str, list[str]]]:
    """(folder, its files) of each upload kept in INDEX/queued/."""
    root = index_dir / "queued"
    return [(p.name, sorted(os.listdir(p))) for p in sorted(root.iterdir())] if root.exists() else []


def test_a_queued_upload_waits_on_disk_and_is_deleted_there_once_indexed(built, monkeypatch):
    rag = built
    monkeypatch.setattr(documents, "RETRY_S", 0.01)
    rag.embedder.gate.set()
    with other_program_holding_the_lock(rag.config.index_dir):
        upload = rag.add_files([("comets.md", COMETS), ("deserts.md", DESERTS)], queue=True)
        until(upload)
        assert upload.state == "queued"
        [(name, files)] = kept(rag.config.index_dir)
        assert files == ["0", "1", "upload.json"]
        folder = rag.config.index_dir / "queued" / name
        assert (folder / "0").read_bytes() == COMETS and (folder / "1").read_bytes() == DESERTS
        assert json.loads((folder / "upload.json").read_text()) == {"files": ["comets.md", "deserts.md"], "back": []}
    assert upload.outcome().added == ["uploads/comets.md", "uploads/deserts.md"]
    assert kept(rag.config.index_dir) == []


def test_uploads_a_stopped_server_left_queued_are_indexed_when_the_next_one_starts(built):
    rag = built
    rag.embedder.gate.set()
    # what a server stopped before indexing them leaves: two uploads kept, oldest first
    corpus_state.queue_save(rag.config.index_dir, [("comets.md", COMETS)], [])
    corpus_state.queue_save(rag.config.index_dir, [("deserts.md", DESERTS)], [])
    resumed = rag.resume_uploads()
    assert [u.names for u in resumed] == [["comets.md"], ["deserts.md"]]
    assert rag.resume_uploads() == []   # queued once in this process, not twice
    assert [u.outcome().added for u in resumed] == [["uploads/comets.md"], ["uploads/deserts.md"]]
    assert rag.wait_for_vectors(60) and kept(rag.config.index_dir) == []
    assert ids(rag) == ["apples.md", "bridges.txt", "uploads/comets.md", "uploads/deserts.md"]
    assert rag.query("What is the driest place on earth?").passages[0].doc_id == "uploads/deserts.md"


def test_an_upload_indexed_before_its_queued_copy_was_deleted_is_not_added_twice(built):
    rag = built
    rag.embedder.gate.set()
    assert rag.add_files([("comets.md", COMETS)]).added == ["uploads/comets.md"]
    corpus_state.queue_save(rag.config.index_dir, [("comets.md", COMETS)], [])   # killed before it was deleted
    [again] = rag.resume_uploads()
    assert again.outcome().added == ["uploads/comets.md"]   # the file already stored: no "comets (2).md"
    assert sorted(os.listdir(rag.config.corpus_dir / "uploads")) == ["comets.md"]
    assert ids(rag) == ["apples.md", "bridges.txt", "uploads/comets.md"] and kept(rag.config.index_dir) == []


def test_a_queued_copy_that_cannot_be_read_is_left_where_it_is_with_a_warning(built, caplog):
    rag = built
    root = rag.config.index_dir / "queued"
    (root / "0001-damaged").mkdir(parents=True)
    (root / "0001-damaged" / "0").write_bytes(COMETS)
    (root / "0001-damaged" / "upload.json").write_text("{not json")
    (root / ".part-0123").mkdir()   # a queue_save killed half way, an hour ago: never reported queued
    os.utime(root / ".part-0123", (time.time() - 7200,) * 2)
    (root / ".done-0002").mkdir()   # a queue_drop killed half way
    with caplog.at_level(logging.WARNING, logger="rag"):
        assert rag.resume_uploads() == []
    assert f"{root / '0001-damaged'}: a queued upload cannot be read" in caplog.text
    assert sorted(os.listdir(root)) == ["0001-damaged"] and (root / "0001-damaged" / "0").read_bytes() == COMETS


def test_a_kept_file_that_changed_into_a_forbidden_one_is_refused_when_read_back(built):
    rag = built
    rag.embedder.gate.set()
    q = corpus_state.queue_save(rag.config.index_dir, [("comets.md", COMETS), ("tool.exe", b"MZ")], [])
    [upload] = rag.resume_uploads()   # checked again as an upload is: the .exe is refused, the rest indexed
    result = upload.outcome()
    assert result.added == ["uploads/comets.md"] and [s.path for s in result.skipped] == ["tool.exe"]
    assert not q.path.exists()


def test_a_queued_copy_that_cannot_be_read_back_fails_the_upload_and_stays_on_disk(built):
    rag = built
    rag.embedder.gate.set()
    q = corpus_state.queue_save(rag.config.index_dir, [("comets.md", COMETS), ("deserts.md", DESERTS)], [])
    (q.path / "1").unlink()   # damaged on disk since it was queued
    [upload] = rag.resume_uploads()
    assert upload.wait(60) and upload.state == "failed"
    assert "the queued upload cannot be read back" in upload.to_json()["error"]
    assert sorted(os.listdir(q.path)) == ["0", "upload.json"] and (q.path / "0").read_bytes() == COMETS
    assert ids(rag) == ["apples.md", "bridges.txt"]
