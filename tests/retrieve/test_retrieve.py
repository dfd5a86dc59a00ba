"""Fusion modes and the BM25 index, checked against scores computed independently."""

import numpy as np
import pytest

from rag import Config
from rag.build.builder import build_index
from rag.errors import IndexCorruptError
from rag.ingest.read import Document, sha256_bytes
from rag.storage.lexical import BM25, tokenize
from rag.retrieve.retriever import RRF_K, Retriever
from rag.storage.writer import load

from indexutil import edit_manifest

TEXTS = {
    "bees.txt": "Bees make honey in hives. Honey bees pollinate flowers in spring.",
    "cars.txt": "Electric cars use batteries. Battery range grows every year.",
    "honey.txt": "Honey is sweet. It is made by bees from nectar. People eat honey on bread.",
    "rivers.txt": "Rivers flow to the sea. Salmon swim up rivers to spawn.",
}


@pytest.fixture
def retriever(tmp_path, fake_embedder):
    docs = [Document(k, k, v, sha256_bytes(v.encode())) for k, v in TEXTS.items()]
    config = Config(index_dir=tmp_path / "idx", model=fake_embedder.name)
    build_index(config, embedder=fake_embedder, documents=docs)
    return Retriever(load(config.index_dir, config.index_settings()), weights=(1.0, 0.4, 0.6, 0.5), depth=100)


def test_tokenize_stems_and_drops_stopwords():
    assert tokenize("The bees and the Honey of spring, making!") == ["bee", "honey", "spring", "make"]


def test_bm25_matches_a_hand_count(tmp_path):
    # bm25s "lucene" BM25, k1=1.2, b=0.75: idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
    # term score = idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))  (no (k1 + 1) factor)
    bm = BM25.build(["apple apple pear", "pear plum", "plum plum plum kiwi"])
    avgdl = (3 + 2 + 4) / 3
    idf_apple = np.log(1 + (3 - 1 + 0.5) / (1 + 0.5))
    tf, dl = 2, 3
    expected = idf_apple * tf / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / avgdl))
    s = bm.scores("apple")
    assert s[0] == pytest.approx(expected, rel=1e-5) and s[1] == s[2] == 0
    assert not bm.scores("zebra").any()


def test_bm25_save_load_without_pickle(tmp_path):
    bm = BM25.build(["apple apple pear", "pear plum", "plum plum plum kiwi"])
    bm.save(tmp_path / "bm25")
    for f in (tmp_path / "bm25").glob("*.npy"):
        np.load(f, allow_pickle=False)
    again = BM25.load(tmp_path / "bm25", expect_docs=3, expect_vocab=bm.vocab_size)
    assert np.array_equal(again.scores("plum pear"), bm.scores("plum pear"))
    with pytest.raises(IndexCorruptError, match="3 rows .* manifest says 4"):   # rag.storage.writer adds the rebuild command
        BM25.load(tmp_path / "bm25", expect_docs=4)
    (tmp_path / "bm25" / "vocab.index.json").write_text("{broken")
    with pytest.raises(IndexCorruptError, match="damaged"):
        BM25.load(tmp_path / "bm25", expect_docs=3)


def test_index_manifest_covers_bm25(tmp_path, retriever):
    m = retriever.manifest
    assert m["bm25"]["rows"] == m["counts"]["chunks"] and m["bm25"]["k1"] == 1.2
    # resealed (see tests/indexutil.py), so the BM25 row check itself must catch it
    edit_manifest(tmp_path / "idx", lambda bad: bad["bm25"].__setitem__("rows", bad["bm25"]["rows"] + 1))
    with pytest.raises(IndexCorruptError, match="manifest bm25 rows"):
        load(tmp_path / "idx")


def _independent(retriever, fake_embedder, question):
    q = fake_embedder.encode([question])[0]
    texts = [c["text"] for c in retriever.data.chunks]   # each toy doc is one chunk that starts it
    half = lambda x: x.astype(np.float16).astype(np.float32)   # noqa: E731 (vectors as stored)
    cos = half(fake_embedder.encode(texts)) @ q
    bm = retriever.bm25.scores(question)
    best_sent = []
    for i, c in enumerate(retriever.data.chunks):
        sents = [s.text for s in retriever.sentences(type("P", (), {"chunk": i})())]
        best_sent.append(max(half(fake_embedder.encode(sents)) @ q))
    return q, cos, bm, np.array(best_sent)


def test_dense_and_bm25_modes_rank_by_their_own_scores(retriever, fake_embedder):
    question = "who makes honey"
    q, cos, bm, _ = _independent(retriever, fake_embedder, question)
    dense = retriever.search(question, q, 4, mode="dense")
    assert [p.chunk for p in dense] == list(np.argsort(-cos, kind="stable")[:4])
    assert [p.score for p in dense] == pytest.approx(sorted(cos, reverse=True)[:4], abs=1e-5)
    lexical = retriever.search(question, q, 4, mode="bm25")
    assert {p.chunk for p in lexical} == set(np.flatnonzero(bm > 0))
    assert [p.score for p in lexical] == pytest.approx(sorted(bm[bm > 0], reverse=True), abs=1e-5)
    assert all(p.similarity == pytest.approx(cos[p.chunk], abs=1e-5) for p in lexical)


def test_rrf_mode_sums_reciprocal_ranks(retriever, fake_embedder):
    question = "honey bees in spring"
    q, cos, bm, _ = _independent(retriever, fake_embedder, question)
    expected = np.zeros(len(cos))
    for r, c in enumerate(np.argsort(-cos, kind="stable"), 1):
        expected[c] += 1 / (RRF_K + r)
    for r, c in enumerate([c for c in np.argsort(-bm, kind="stable") if bm[c] > 0], 1):
        expected[c] += 1 / (RRF_K + r)
    got = {p.chunk: p.score for p in retriever.search(question, q, 4, mode="rrf")}
    assert got == pytest.approx({c: expected[c] for c in got}, abs=1e-9)


def test_hybrid_mode_combines_normalized_scores(retriever, fake_embedder):
    question = "salmon swim in rivers"
    q, cos, bm, best = _independent(retriever, fake_embedder, question)
    docs = BM25.build([TEXTS[k] for k in sorted(TEXTS)]).scores(question)   # one chunk per toy document
    expected = 1.0 * cos + 0.4 * bm / bm.max() + 0.6 * best + 0.5 * docs / docs.max()
    got = retriever.search(question, q, 4, mode="hybrid")
    assert [p.chunk for p in got] == list(np.argsort(-expected, kind="stable")[:4])
    assert [p.score for p in got] == pytest.approx(sorted(expected, reverse=True)[:4], abs=1e-5)
    assert got[0].doc_id == "rivers.txt"


def test_unknown_mode_is_refused(retriever, fake_embedder):
    with pytest.raises(ValueError, match="unknown retrieval mode"):
        retriever.search("x", fake_embedder.encode(["x"])[0], 2, mode="magic")
    with pytest.raises(ValueError, match="mode must be"):
        Config(mode="magic")


def test_document_text_is_rebuilt_from_overlapping_chunks():
    from rag.build.builder import document_text
    from rag.text.chunk import chunk_text

    text = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(60))
    _, spans = chunk_text(text, chunk_tokens=40, chunk_overlap=12)
    assert len(spans) > 3 and spans[1].start < spans[0].end   # overlapping
    chunks = [{"start": c.start, "end": c.end, "text": text[c.start:c.end]} for c in spans]
    assert document_text(list(reversed(chunks))).split() == text.split()
