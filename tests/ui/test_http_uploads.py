"""Uploads through the HTTP API answer first (ui/http_api.py with Rag.add_files(background=True)): the
response comes once the files answer by keywords, with "vectors" saying how far; /api/ask answers from the
partial index and says so; /api/status follows the vectors; the same app answers from the complete index
once they are in. In-process (Starlette's TestClient), the fake embedder held at a gate (an Event)."""
import os
import threading

import pytest
from starlette.testclient import TestClient

from apiserver import PEOPLE, open_rag, write_corpus
from conftest import FakeEmbedder
from rag.build import documents

CANAL = b"The Zephyrine canal\n\nThe Zephyrine canal was dug by 4,312 workers in 1761.\n"


class Gated(FakeEmbedder):
    """A build's texts (given with on_batch) wait for gate; questions are encoded at once."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()

    def encode(self, texts, *, progress=None, on_batch=None):
        if on_batch is not None:
            assert self.gate.wait(60), "the test never opened the gate"
        return super().encode(texts, progress=progress, on_batch=on_batch)


@pytest.fixture
def served(tmp_path):
    from rag_ui.http_api import create_app

    write_corpus(tmp_path / "corpus")
    rag = open_rag(tmp_path / "corpus", tmp_path / "idx")
    rag.embedder = Gated()
    with TestClient(create_app(rag), base_url="http://127.0.0.1", client=("127.0.0.1", 50000)) as client:
        yield rag, client
    rag.embedder.gate.set()
    assert rag.wait_for_vectors(60)


def test_an_upload_answers_by_keywords_first_then_from_the_complete_index(served):
    rag, client = served
    n = len(PEOPLE) + 1
    got = client.post("/api/documents", files=[("files", ("zephyrine.txt", CANAL))])
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["added"] == ["uploads/zephyrine.txt"] and body["skipped"] == []
    assert body["vectors"] == {"complete": False, "documents": n, "documents_pending": 1,
                               "chunks": body["vectors"]["chunks"], "chunks_pending": 1}
    ask = client.post("/api/ask", json={"question": "How many workers dug the Zephyrine canal?"}).json()
    assert "4,312" in ask["answer"] and ask["citations"][0]["doc_id"] == "uploads/zephyrine.txt"
    assert ask["partial"]["documents_pending"] == 1 and "partial index" in ask["notice"]
    assert client.get("/api/status").json()["vectors"]["complete"] is False
    rag.embedder.gate.set()
    assert rag.wait_for_vectors(60)
    assert client.get("/api/status").json()["vectors"] == {"complete": True, "documents": n, "documents_pending": 0,
                                                          "chunks": body["vectors"]["chunks"], "chunks_pending": 0}
    ask = client.post("/api/ask", json={"question": "How many workers dug the Zephyrine canal?"}).json()
    assert "4,312" in ask["answer"] and ask.get("partial") is None and not ask.get("notice")


def test_removing_while_vectors_are_computed_is_answered_and_the_vectors_still_come(served):
    rag, client = served
    assert client.post("/api/documents", files=[("files", ("zephyrine.txt", CANAL))]).status_code == 200
    gone = f"{PEOPLE[0][1].lower()}.txt"
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", client.delete(f"/api/documents/{gone}")))
    t.start()
    assert documents._FILLS[os.path.realpath(rag.config.index_dir)].stop.wait(60)   # the removal asked it to stop
    rag.embedder.gate.set()   # the fill's batch under way ends; the removal takes over
    t.join(60)
    assert out["r"].status_code == 200 and out["r"].json() == {"removed": gone, "file_deleted": False}
    assert rag.wait_for_vectors(60)
    ids = [d["id"] for d in client.get("/api/documents").json()["documents"]]
    assert gone not in ids and "uploads/zephyrine.txt" in ids
    assert client.get("/api/status").json()["vectors"]["complete"] is True
