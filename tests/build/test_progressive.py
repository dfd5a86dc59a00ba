"""Answers while it indexes (rag.build.builder progressive builds, rag.retrieve.retriever partial
indexes): the lexical version is current before any vector is computed, answers from it say they
come from a partial index, the vectors arrive window by window and a running Rag switches to the
complete index without a restart. Fake embedder, generated documents."""
from __future__ import annotations

import numpy as np
import pytest

from rag import Config, Rag
from rag.build import builder
from rag.build.builder import build_index, indexed_text
from rag.ingest.read import Document, sha256_bytes
from rag.storage import writer as store

from conftest import FakeEmbedder

TOPICS = {"apples.txt": "Apples grow in orchards. Bees pollinate the apple blossoms in spring.",
          "bridges.txt": "Bridges span rivers. The oldest stone bridge in the town was built in 1650.",
          "comets.txt": "Comets have tails of gas and dust. The tail of a comet points away from the sun.",
          "deserts.txt": "Deserts receive little rain. The Atacama desert is the driest place on earth."}


def docs() -> list[Document]:
    return [Document(i, i.split(".")[0].title(), t, sha256_bytes(t.encode())) for i, t in TOPICS.items()]


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setattr(builder, "WINDOW", 1)   # one document a window: a version per document
    return Config(index_dir=tmp_path / "idx", model=FakeEmbedder.name)


def pending(index_dir) -> list[str]:
    return [d["id"] for d in store.read_manifest(index_dir)["documents"] if d.get("pending")]


def test_partial_index_answers_first_then_switches_to_complete_without_restart(config):
    seen = {}

    def lexical(counts):   # the lexical version is current; no vector computed yet
        seen["counts"] = counts
        seen["pending"] = pending(config.index_dir)
        rag = seen["rag"] = Rag(config, embedder=FakeEmbedder())
        answer = rag.query("When was the oldest stone bridge built?")
        seen["answer"] = answer
        seen["status"] = rag.status["vectors"]

    emb = FakeEmbedder()
    report = build_index(config, embedder=emb, documents=docs(), progressive=True, on_lexical=lexical,
                         progress=False)
    assert seen["counts"] == (4, 4, 8) and seen["pending"] == sorted(TOPICS)
    answer = seen["answer"]
    assert answer.partial == {"complete": False, "documents": 4, "documents_pending": 4, "chunks": 4,
                              "chunks_pending": 4}
    assert "partial index" in answer.notice and "0 of 4 documents" in answer.notice
    assert answer.to_json()["partial"]["documents_pending"] == 4
    assert answer.found and answer.passages[0].doc_id == "bridges.txt" and "1650" in answer.text
    assert seen["status"]["complete"] is False
    # the same running Rag, after the build: the complete index, no notice, dense ranking again
    assert report.documents == 4 and pending(config.index_dir) == []
    rag = seen["rag"]
    loads = rag.live.loads
    done = rag.query("When was the oldest stone bridge built?")
    assert rag.live.loads == loads + 1 and done.partial is None and done.notice is None
    assert rag.status["vectors"] == {"complete": True, "documents": 4, "documents_pending": 0, "chunks": 4,
                                     "chunks_pending": 0}
    assert done.passages[0].doc_id == "bridges.txt"


def test_pending_vectors_are_encoded_on_demand_as_the_build_would(config):
    got = {}

    def lexical(counts):
        rag = Rag(config, embedder=FakeEmbedder())
        r = rag.retriever
        got["chunk"] = r._chunk_vecs(np.arange(4))
        got["sent"] = r.sentence_vectors(list(range(8)))
        got["stored"] = np.asarray(r.data.chunk_vecs)

    build_index(config, embedder=FakeEmbedder(), documents=docs(), progressive=True, on_lexical=lexical,
                progress=False)
    assert not got["stored"].any()   # pending: stored as zeros
    data = store.load(config.index_dir)
    assert np.allclose(got["chunk"], np.asarray(data.chunk_vecs), atol=1e-3)   # float16 on disk
    assert np.allclose(got["sent"], np.asarray(data.sentence_vecs), atol=1e-3)
    titles = {d.id: d.title for d in docs()}
    expect = FakeEmbedder().encode([indexed_text(c, titles[c["doc"]], config) for c in data.chunks])
    assert np.allclose(got["chunk"], expect)


def test_versions_fill_in_window_by_window(config):
    states = []

    class Watch(FakeEmbedder):
        def encode(self, texts, *, progress=None, on_batch=None):
            states.append(len(pending(config.index_dir)))
            return super().encode(texts, progress=progress, on_batch=on_batch)

    build_index(config, embedder=Watch(), documents=docs(), progressive=True, progress=False)
    # chunks then sentences of one document per window; the count drops after each window's version
    assert states == [4, 4, 3, 3, 2, 2, 1, 1]
    assert pending(config.index_dir) == []


def test_a_stopped_build_leaves_a_whole_partial_index_and_the_next_one_completes_it(config):
    class Stop(FakeEmbedder):
        calls = 0

        def encode(self, texts, *, progress=None, on_batch=None):
            Stop.calls += 1
            if Stop.calls == 5:   # the third window
                raise KeyboardInterrupt
            return super().encode(texts, progress=progress, on_batch=on_batch)

    with pytest.raises(KeyboardInterrupt):
        build_index(config, embedder=Stop(), documents=docs(), progressive=True, progress=False)
    assert pending(config.index_dir) == ["comets.txt", "deserts.txt"]
    rag = Rag(config, embedder=FakeEmbedder())
    assert rag.query("Which is the driest place on earth?").partial["documents_pending"] == 2
    emb = FakeEmbedder()
    report = build_index(config, embedder=emb, documents=docs(), progress=False)
    assert report.changed and pending(config.index_dir) == []
    embedded = set(emb.encoded)
    assert any("Atacama" in t for t in embedded) and not any("orchards" in t for t in embedded)
    assert rag.query("Which is the driest place on earth?").partial is None


def test_the_default_build_writes_no_partial_version(config):
    versions = []

    class Watch(FakeEmbedder):
        def encode(self, texts, *, progress=None, on_batch=None):
            versions.append((config.index_dir / "CURRENT").exists())
            return super().encode(texts, progress=progress, on_batch=on_batch)

    build_index(config, embedder=Watch(), documents=docs(), progress=False)
    assert not any(versions) and pending(config.index_dir) == []


def test_a_pending_sentence_reads_only_its_own_documents_chunks(config):
    """The text of a sentence to encode on demand comes from its document's chunks alone: not from every
    chunk after them (on a large partial index that was most of the index per sentence)."""
    got = {}

    def lexical(counts):
        r = Rag(config, embedder=FakeEmbedder()).retriever
        reads = []
        chunks = r.data.chunks
        getitem = type(chunks).__getitem__

        class Counting(type(chunks)):
            def __getitem__(self, i):
                reads.append(i)
                return getitem(self, i)

        chunks.__class__ = Counting
        got["texts"] = [r._sentence_text(n) for n in range(8)]
        got["reads"] = reads
        got["docs"] = [int(d) for d, _, _ in np.asarray(r.data.sentences)]

    build_index(config, embedder=FakeEmbedder(), documents=docs(), progressive=True, on_lexical=lexical,
                progress=False)
    # by hand: each document is one chunk of two sentences
    assert got["texts"] == [s for t in TOPICS.values() for s in (t[:t.index(".") + 1], t[t.index(".") + 2:])]
    assert got["reads"] == got["docs"] == [0, 0, 1, 1, 2, 2, 3, 3]
