"""The first ONNX exports of the embedder and the passage reader, started together from two threads (as `rag serve`
does on a new machine: its build thread and its warm-up question), both finish and give working models."""
import threading

import pytest

from rag.answer import passage_reader as P
from rag.embed.embedder import Embedder


@pytest.mark.model
def test_embedder_and_reader_export_at_the_same_time_into_an_empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    got, errors = {}, []
    start = threading.Barrier(2)

    def embed():
        try:
            start.wait()
            got["vectors"] = Embedder(backend="onnx").encode(["Where is the lighthouse?"], progress=False)
        except Exception as exc:   # noqa: BLE001 (reported below)
            errors.append(repr(exc))

    def read():
        try:
            start.wait()
            got["reading"] = P.PassageReader(backend="onnx").read("Who designed it?", ["It was designed by Anna Berg."])
        except Exception as exc:   # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=embed), threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert got["vectors"].shape == (1, 384) and got["reading"][0].text == "Anna Berg"
    assert len(list((tmp_path / "cache" / "onnx").glob("*/*.onnx"))) == 2
    assert not list((tmp_path / "cache" / "onnx").glob("*/.tmp-*"))
