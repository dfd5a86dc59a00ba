"""Reading and chunking in a thread, overlapped with embedding (rag.build.reading, rag.build.builder)."""
import io
import logging
import threading

import numpy as np
import pytest

from rag import Config

from rag.build import builder as build_mod

from rag.build import reading as pipeline
from rag.build.builder import build_index
from rag.errors import CorpusError, RagError
from rag.ingest.read import Document, sha256_bytes
from rag.build.progress import Progress
from rag.storage.writer import chunk_vectors, load

WORDS = "ants bees cats dogs eels foxes goats hens ibis jays kites lions mice newts owls pigs".split()


def corpus(root, n=40):
    root.mkdir()
    for i in range(n):   # documents of different lengths, several chunks each for some
        sents = [f"The {WORDS[(i + j) % len(WORDS)]} of field {i} met {WORDS[j % len(WORDS)]} number {j}."
                 for j in range(3 + (i * 7) % 60)]
        (root / f"d{i:02}.txt").write_text(f"Title {i}\n\n" + " ".join(sents), encoding="utf-8")
    (root / "bad.bin").write_bytes(b"\x00\x01\x02\x03")
    (root / "empty.txt").write_text("", encoding="utf-8")
    return root


def snapshot(index_dir, config):
    data = load(index_dir, config.index_settings())
    ids = [(c["doc"], c["ordinal"], c["start"], c["end"]) for c in data.chunks]
    return ids, chunk_vectors(data), np.asarray(data.sentences), np.asarray(data.sentence_vecs), data.manifest


def test_overlapped_build_gives_the_same_index(tmp_path, fake_embedder, monkeypatch, caplog):
    root = corpus(tmp_path / "c")
    monkeypatch.setattr(build_mod, "WINDOW", 5)   # many small windows, so embedding really interleaves
    results, warnings = [], []
    for overlap in (False, True):
        config = Config(corpus_dir=root, index_dir=tmp_path / f"idx-{overlap}", model=fake_embedder.name,
                        chunk_tokens=40, chunk_overlap=10)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="rag"):
            report = build_index(config, embedder=fake_embedder, progress=False, overlap=overlap)
        warnings.append(sorted(r.getMessage() for r in caplog.records))
        results.append((report, snapshot(config.index_dir, config)))
    (r0, (ids0, cv0, sp0, sv0, m0)), (r1, (ids1, cv1, sp1, sv1, m1)) = results
    assert len(ids0) > 60 and ids1 == ids0
    assert np.array_equal(cv1, cv0) and np.array_equal(sp1, sp0) and np.array_equal(sv1, sv0)
    def docs(m):   # indexed_at is the build's time
        return [{k: v for k, v in d.items() if k != "indexed_at"} for d in m["documents"]]
    assert docs(m1) == docs(m0) and m1["counts"] == m0["counts"]
    assert r1.skipped == r0.skipped and [s.path for s in r1.skipped] == ["bad.bin", "empty.txt"]
    assert warnings[1] == warnings[0] and any(w.startswith("empty.txt: skipped: ") for w in warnings[1])


def test_embedding_runs_while_later_documents_are_read(tmp_path, fake_embedder, monkeypatch):
    root = corpus(tmp_path / "c", n=30)
    monkeypatch.setattr(build_mod, "WINDOW", 3)
    read_when_embedding = []
    real_read, real_encode = pipeline.read_document, fake_embedder.encode
    count, embedded = {"read": 0}, threading.Event()

    def read(*a, **kw):
        count["read"] += 1
        if count["read"] == 20:   # without overlap nothing is embedded before all files are read
            embedded.wait(10)
        return real_read(*a, **kw)

    def encode(texts, **kw):
        read_when_embedding.append(count["read"])
        embedded.set()
        return real_encode(texts, **kw)

    monkeypatch.setattr(pipeline, "read_document", read)
    monkeypatch.setattr(fake_embedder, "encode", encode)
    config = Config(corpus_dir=root, index_dir=tmp_path / "idx", model=fake_embedder.name,
                    chunk_tokens=40, chunk_overlap=10)
    out = io.StringIO()
    build_index(config, embedder=fake_embedder, progress=Progress(out))
    assert count["read"] == 32 and min(read_when_embedding) <= 20   # the first window before the 20th file
    lines = out.getvalue().splitlines()
    done = [ln for ln in lines if ln.startswith("embedding: done, ")][0]
    total = done.split(", ")[1].split("/")[1].split(" ")[0]
    assert done.startswith(f"embedding: done, {total}/{total} texts")   # counts made while reading included


@pytest.mark.parametrize("overlap", [False, True])
def test_an_error_while_chunking_surfaces_unchanged_and_stops_the_reader(tmp_path, fake_embedder, monkeypatch,
                                                                         overlap):
    root = corpus(tmp_path / "c", n=30)
    real = pipeline.chunk_text

    def chunk_text(text, **kw):
        if "field 7 " in text:
            raise CorpusError("d07.txt: cannot be chunked: test")
        return real(text, **kw)

    monkeypatch.setattr(pipeline, "chunk_text", chunk_text)
    config = Config(corpus_dir=root, index_dir=tmp_path / "idx", model=fake_embedder.name)
    with pytest.raises(CorpusError) as err:
        build_index(config, embedder=fake_embedder, progress=False, overlap=overlap)
    assert str(err.value) == "d07.txt: cannot be chunked: test"
    assert not any(t.name == "rag-reader" and t.is_alive() for t in threading.enumerate())
    assert not (config.index_dir / "CURRENT").exists()


def test_an_error_while_embedding_stops_the_reader(tmp_path, fake_embedder, monkeypatch):
    root = corpus(tmp_path / "c", n=30)
    monkeypatch.setattr(build_mod, "WINDOW", 3)
    monkeypatch.setattr(pipeline, "QUEUE", 2)   # the reader waits on the queue when the embedder fails

    def encode(texts, **kw):
        raise RagError("the embedder failed")

    monkeypatch.setattr(fake_embedder, "encode", encode)
    config = Config(corpus_dir=root, index_dir=tmp_path / "idx", model=fake_embedder.name)
    with pytest.raises(RagError, match="^the embedder failed$"):
        build_index(config, embedder=fake_embedder, progress=False)
    assert not any(t.name == "rag-reader" and t.is_alive() for t in threading.enumerate())


def test_refresh_with_overlap_embeds_only_changed_documents(tmp_path, fake_embedder):
    docs = [Document(f"doc{i}", f"doc{i}", f"Line {i} about {w}. More on {w} here.",
                     sha256_bytes(f"{i}{w}".encode())) for i, w in enumerate(WORDS)]
    config = Config(index_dir=tmp_path / "idx", model=fake_embedder.name)
    build_index(config, embedder=fake_embedder, documents=docs, progress=False)
    fake_embedder.encoded.clear()
    docs[3] = Document("doc3", "doc3", "Changed text about whales. Whales sing.", sha256_bytes(b"changed"))
    report = build_index(config, embedder=fake_embedder, documents=docs, progress=False)
    assert report.updated == ["doc3"] and not report.added
    assert fake_embedder.encoded and all("doc3" in t or "hales" in t for t in fake_embedder.encoded)


@pytest.mark.parametrize("overlap", [True, False])
def test_given_documents_come_in_order_only_the_changed_ones_chunked(fake_embedder, monkeypatch, overlap):
    """Given documents: the kept ones pass in the caller's thread, the others are chunked in the
    reading thread; the items come in the given order either way, texts dropped, every one counted."""
    docs = [Document(f"d{i}", f"D{i}", f"Text {i} about {WORDS[i]}. Another sentence on {WORDS[i]}.",
                     sha256_bytes(str(i).encode())) for i in range(10)]
    chunked_in = []
    real = pipeline.chunk_document

    def chunk_document(d, config, embedder):
        chunked_in.append((d.id, threading.current_thread().name))
        return real(d, config, embedder)

    monkeypatch.setattr(pipeline, "chunk_document", chunk_document)
    progress = build_mod.Silent()
    items = list(pipeline.stream(docs, Config(model=fake_embedder.name), fake_embedder,
                                 keep=lambda d: d.id not in ("d0", "d4", "d9"), progress=progress, skipped=[],
                                 overlap=overlap))
    assert [i.id for i in items] == [f"d{i}" for i in range(10)]
    assert [i.id for i in items if i.chunked is not None] == ["d0", "d4", "d9"]
    assert all(i.doc.text == "" for i in items) and progress.done == 10
    thread = "rag-reader" if overlap else threading.current_thread().name
    assert chunked_in == [("d0", thread), ("d4", thread), ("d9", thread)]
    assert items[4].chunked[0][0]["text"] == "Text 4 about eels. Another sentence on eels."


def test_an_error_chunking_a_given_document_comes_after_the_items_before_it(fake_embedder, monkeypatch):
    docs = [Document(f"d{i}", f"D{i}", f"Text {i}.", sha256_bytes(str(i).encode())) for i in range(6)]

    def chunk_document(d, config, embedder):
        raise CorpusError(f"{d.id}: cannot be chunked: test")

    monkeypatch.setattr(pipeline, "chunk_document", chunk_document)
    got = []
    with pytest.raises(CorpusError, match="^d3: cannot be chunked: test$"):
        for item in pipeline.stream(docs, Config(model=fake_embedder.name), fake_embedder,
                                    keep=lambda d: d.id != "d3", progress=build_mod.Silent(), skipped=[]):
            got.append(item.id)
    assert got == ["d0", "d1", "d2"]
    assert not any(t.name == "rag-reader" and t.is_alive() for t in threading.enumerate())
