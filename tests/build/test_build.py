"""Vectors line up with their records whatever order documents arrive in."""
import numpy as np

from rag import Config
from rag.build.builder import build_index
from rag.ingest.read import Document, sha256_bytes
from rag.storage.writer import chunk_vectors, load


def half(x):
    """Vectors as the index stores them (float16, read back as float32)."""
    return np.asarray(x, np.float32).astype(np.float16).astype(np.float32)


def doc(doc_id, text):
    return Document(doc_id, doc_id, text, sha256_bytes(text.encode()))


def test_vectors_match_records_for_unsorted_documents(tmp_path, fake_embedder):
    docs = [doc("zeta", "Zebras graze on the plains. They run fast."),
            doc("alpha", "Apples grow on trees. Orchards need bees."),
            doc("mid", "Mountains are tall. Snow covers the peaks in winter.")]
    config = Config(index_dir=tmp_path / "idx", model=fake_embedder.name)
    build_index(config, embedder=fake_embedder, documents=docs)
    data = load(config.index_dir, config.index_settings())
    vecs = chunk_vectors(data)
    for i, c in enumerate(data.chunks):
        assert np.array_equal(vecs[i], half(fake_embedder.encode([c["text"]])[0])), c["doc"]
    texts = {d.id: d.text for d in docs}
    ids = [m["id"] for m in data.manifest["documents"]]
    for row, (d, a, b) in enumerate(data.sentences):
        expected = fake_embedder.encode([texts[ids[d]][a:b]])[0]
        assert np.array_equal(data.sentence_vecs[row], half(expected))


def test_refresh_keeps_alignment(tmp_path, fake_embedder):
    config = Config(index_dir=tmp_path / "idx", model=fake_embedder.name)
    first = [doc("b", "Bees make honey. Hives hold bees."), doc("d", "Dogs bark loudly. Cats do not.")]
    build_index(config, embedder=fake_embedder, documents=first)
    second = [doc("d", "Dogs bark loudly. Cats do not."), doc("a", "Ants carry leaves. Colonies are big."),
              doc("b", "Bees make honey in summer. Hives hold many bees.")]
    report = build_index(config, embedder=fake_embedder, documents=second)
    assert report.added == ["a"] and report.updated == ["b"]
    data = load(config.index_dir, config.index_settings())
    vecs = chunk_vectors(data)
    for i, c in enumerate(data.chunks):
        assert np.array_equal(vecs[i], half(fake_embedder.encode([c["text"]])[0])), c["doc"]
