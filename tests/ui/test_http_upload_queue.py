"""Uploads through the HTTP API and the page while the index is being written (ui/http_api.py, ui/docs_tab.py over
Rag.add_files(queue=True)): an upload while the server's own first build is filling in vectors, or while another
upload is, is answered 202 "queued" (not 409), is listed by /api/uploads and /api/status, and is indexed and
answerable once the writer is free; two uploads in quick succession are both indexed; past the queue's cap: 503
with one line; the page shows the file as queued, with what it waits for, then added. In-process (Starlette's
TestClient, the page's upload_steps), the fake embedder held at a gate (an Event)."""
from __future__ import annotations

import threading

import pytest
from starlette.testclient import TestClient

from apiserver import PEOPLE, write_corpus
from conftest import FakeEmbedder
from rag import Config
from rag.api import open_default
from rag.build import documents

CANAL = b"The Zephyrine canal\n\nThe Zephyrine canal was dug by 4,312 workers in 1761.\n"
MILL = b"The Brisewater mill\n\nThe Brisewater mill ground 912 sacks of barley in 1790.\n"


class Gated(FakeEmbedder):
    """A build's texts (given with on_batch) wait for gate; questions are encoded at once."""

    def __init__(self):
        super().__init__()
        self.gate, self.waiting = threading.Event(), threading.Event()

    def encode(self, texts, *, progress=None, on_batch=None):
        if on_batch is not None:
            self.waiting.set()
            assert self.gate.wait(60), "the test never opened the gate"
        return super().encode(texts, progress=progress, on_batch=on_batch)


@pytest.fixture
def first_build(tmp_path):
    """`rag serve` over a folder with no index: open_default(background=True) returns once it answers by keywords,
    its vectors held at the gate; the API over that Rag."""
    from rag_ui.http_api import create_app

    write_corpus(tmp_path / "corpus")
    emb = Gated()
    rag = open_default(Config(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "idx", model=FakeEmbedder.name),
                       embedder=emb, background=True)
    assert emb.waiting.wait(60)
    with TestClient(create_app(rag), base_url="http://127.0.0.1", client=("127.0.0.1", 50000)) as client:
        yield rag, client
    emb.gate.set()
    assert rag.wait_for_vectors(60)


def queued_until_waiting(client, body) -> dict:
    """/api/uploads/ID once the upload says what it waits for (it is taken by the queue's thread at once)."""
    for _ in range(600):
        got = client.get(body["url"]).json()
        if got.get("waiting") or got["state"] != "queued":
            return got
        threading.Event().wait(0.05)
    raise AssertionError(got)


def test_an_upload_during_the_first_build_is_queued_then_indexed_and_answerable(first_build):
    rag, client = first_build
    got = client.post("/api/documents", files=[("files", ("zephyrine.txt", CANAL))])
    assert got.status_code == 202, got.text   # before: 409 "another writer is updating ..."
    body = got.json()
    assert body["state"] == "queued" and body["files"] == ["zephyrine.txt"] and body["position"] == 0
    assert body["url"] == f"/api/uploads/{body['id']}"
    assert body["waiting"] == "waiting for the index build to finish the batch of vectors under way; indexed right after"
    assert client.get("/api/status").json()["uploads"] == {"queued": ["zephyrine.txt"], "indexing": []}
    assert [u["id"] for u in client.get("/api/uploads").json()["uploads"]] == [body["id"]]
    rag.embedder.gate.set()
    assert rag.uploads()[-1].wait(60)
    done = client.get(body["url"]).json()
    assert done == {"id": body["id"], "files": ["zephyrine.txt"], "state": "done", "added": ["uploads/zephyrine.txt"],
                    "skipped": []}
    ask = client.post("/api/ask", json={"question": "How many workers dug the Zephyrine canal?"}).json()
    assert "4,312" in ask["answer"] and ask["citations"][0]["doc_id"] == "uploads/zephyrine.txt"
    assert rag.wait_for_vectors(60)
    status = client.get("/api/status").json()
    assert status["uploads"] is None and status["vectors"]["complete"] is True
    assert status["documents"] == len(PEOPLE) + 1
    assert client.get("/api/uploads/999").status_code == 404


def test_two_uploads_in_quick_succession_are_both_indexed(first_build):
    rag, client = first_build
    a = client.post("/api/documents", files=[("files", ("zephyrine.txt", CANAL))])
    b = client.post("/api/documents", files=[("files", ("brisewater.txt", MILL))])
    assert (a.status_code, b.status_code) == (202, 202), (a.text, b.text)
    assert b.json()["position"] == 1 and b.json()["waiting"] == "1 upload(s) ahead; indexed after them"
    rag.embedder.gate.set()
    assert all(u.wait(60) for u in rag.uploads())
    assert [client.get(r.json()["url"]).json()["added"] for r in (a, b)] == [["uploads/zephyrine.txt"],
                                                                              ["uploads/brisewater.txt"]]
    ask = client.post("/api/ask", json={"question": "How many sacks of barley did the Brisewater mill grind?"}).json()
    assert "912" in ask["answer"] and ask["citations"][0]["doc_id"] == "uploads/brisewater.txt"


def test_an_upload_when_the_writer_is_free_is_answered_at_once_as_before(first_build):
    rag, client = first_build
    rag.embedder.gate.set()
    assert rag.wait_for_vectors(60)
    got = client.post("/api/documents", files=[("files", ("zephyrine.txt", CANAL))])
    assert got.status_code == 200 and got.json()["added"] == ["uploads/zephyrine.txt"]


def test_past_the_queue_cap_an_upload_is_refused_503_with_one_line(first_build, monkeypatch):
    rag, client = first_build
    monkeypatch.setattr(documents, "QUEUE_FILES", 1)
    a = client.post("/api/documents", files=[("files", ("zephyrine.txt", CANAL))])
    assert a.status_code == 202 and queued_until_waiting(client, a.json())["position"] == 0   # taken by the thread
    b = client.post("/api/documents", files=[("files", ("brisewater.txt", MILL))])
    assert b.status_code == 202 and b.json()["position"] == 1
    c = client.post("/api/documents", files=[("files", ("third.txt", CANAL + b"Third.\n"))])
    assert c.status_code == 503
    assert c.json() == {"error": f"upload queue full: 1 upload(s) of 1 file(s), {len(MILL) / 1e6:.3g} MB, are "
                                 "waiting to be indexed (at most 1 files, 200 MB); try again when they are in"}
    rag.embedder.gate.set()
    assert all(u.wait(60) for u in rag.uploads())
    names = sorted(d["id"] for d in client.get("/api/documents").json()["documents"] if d["id"].startswith("uploads/"))
    assert names == ["uploads/brisewater.txt", "uploads/zephyrine.txt"]


def test_the_page_shows_a_file_queued_with_what_it_waits_for_then_added(first_build, tmp_path):
    from rag_ui import uploads
    from rag_ui.docs_tab import upload_steps

    rag, _ = first_build
    (tmp_path / "zephyrine.txt").write_bytes(CANAL)
    lines, states = [], []
    for files, done in upload_steps(rag, [str(tmp_path / "zephyrine.txt")], poll=0.02):
        states.append((files[0].state, files[0].detail))
        lines.append(uploads.list_html(files))
        if files[0].state == "waiting":
            rag.embedder.gate.set()
    waiting = ("waiting", "waiting for the index build to finish the batch of vectors under way; indexed right after")
    assert waiting in states and states[-1] == ("added", "indexed as uploads/zephyrine.txt")
    assert states.index(waiting) < len(states) - 1
    shown = next(line for line in lines if "data-state='waiting'" in line)
    assert "<span class='busy'>queued</span>" in shown and "waiting for the index build" in shown


def test_serve_indexes_at_start_the_uploads_a_stopped_server_had_queued(tmp_path, capsys):
    """`rag serve` (rag_ui.server.launch) queues again what a server stopped before indexing it left in the index
    folder (INDEX/queued/), says so, and the file is then listed and answerable."""
    from apiserver import get_json, open_rag
    from conftest import free_port
    from rag.build import corpus_state
    from rag_ui.server import launch

    write_corpus(tmp_path / "corpus")
    rag = open_rag(tmp_path / "corpus", tmp_path / "idx")
    corpus_state.queue_save(rag.config.index_dir, [("zephyrine.txt", CANAL)], [])   # queued, server stopped
    served = launch(host="127.0.0.1", port=free_port(), rag=rag, block=False, api_only=True)
    try:
        assert "indexing 1 file(s) uploaded before the server stopped: zephyrine.txt" in capsys.readouterr().out
        assert rag.wait_for_vectors(60)
        _, listed = get_json(served.url, "/api/documents")
        assert "uploads/zephyrine.txt" in [d["id"] for d in listed["documents"]]
        assert rag.query("How many workers dug the Zephyrine canal?").passages[0].doc_id == "uploads/zephyrine.txt"
        assert not any((rag.config.index_dir / "queued").iterdir())
    finally:
        served.close()
