"""Scale: float16 memory-mapped vectors, approximate search in large segments (rag.storage.dense), row views (rag.storage.vector_rows).

The threshold is set tiny here so that the ANN path runs on small corpora."""
import dataclasses

import numpy as np
import pytest

from rag.storage import dense as ann

from rag.storage import writer as store
from rag.build.builder import build_index
from rag.config import Config
from rag.errors import IndexCorruptError, IndexMismatchError
from rag.retrieve.retriever import Retriever
from rag.storage.vector_rows import Rows, runs_of

from conftest import FakeEmbedder
from indexutil import edit_manifest, segment_dir
from test_store_incremental import QUERIES, TOPICS, assert_same_as_rebuild, text


def clustered(n, dim, seed=0, centres=40):
    """Unit vectors around a few centres, like sentence embeddings of related texts."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim))
    x = c[rng.integers(0, centres, n)] + 0.35 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_ann_index_finds_what_exact_search_finds():
    vecs = clustered(6000, 48)
    index, params = ann.build(vecs)
    assert params["nprobe"] < params["nlist"]          # really approximate: not every list is searched
    dense = ann.Dense([(index, np.arange(len(vecs)) + 1000)], 48)   # local row r is version row r + 1000
    queries = clustered(50, 48, seed=1)
    hits = 0
    for q in queries:
        exact = set(np.argsort(-(vecs @ q), kind="stable")[:10] + 1000)
        scores, rows = dense.search(q, 10)
        assert list(scores[0]) == sorted(scores[0], reverse=True)
        hits += len(exact & set(rows[0].tolist()))
    assert hits / (10 * len(queries)) >= 0.9


def test_dense_search_drops_unused_rows_and_merges_segments():
    a, b = clustered(300, 16, seed=2), clustered(200, 16, seed=3)
    ia, _ = ann.build(a)
    to_a = np.arange(300)
    to_a[::2] = -1                                    # every other row of a is deleted
    keep_b = np.arange(0, 200, 3)
    dense = ann.Dense([(ia, to_a), (ann.exact(b, keep_b), 300 + np.arange(len(keep_b)))], 16)
    assert dense.ntotal == 150 + len(keep_b)
    q = clustered(1, 16, seed=4)[0]
    _, rows = dense.search(q, dense.ntotal)
    found = rows[0][rows[0] >= 0]
    assert len(found) == dense.ntotal and len(set(found.tolist())) == len(found)   # every live row, once
    assert not set(found.tolist()) & set(np.arange(0, 300, 2).tolist())


def test_rows_gather_across_segments():
    p0 = np.arange(20, dtype=np.float16).reshape(10, 2)
    p1 = 100 + np.arange(12, dtype=np.float16).reshape(6, 2)
    runs = runs_of([(1, 2, 4), (0, 0, 3), (0, 3, 5), (1, 5, 6)])   # version rows 0..7
    assert runs == [(0, 1, 2, 2), (2, 0, 0, 5), (7, 1, 5, 1)]      # adjacent ranges of part 0 merged
    rows = Rows([p0, p1], runs, 2)
    whole = np.concatenate([p1[2:4], p0[0:5], p1[5:6]]).astype(np.float32)
    assert rows.shape == (8, 2) and rows.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(rows), whole)
    np.testing.assert_array_equal(rows[[7, 0, 3, -1]], whole[[7, 0, 3, -1]])
    np.testing.assert_array_equal(rows[2], whole[2])
    np.testing.assert_array_equal(rows[1:6:2], whole[1:6:2])
    assert rows.global_rows(0).tolist() == [2, 3, 4, 5, 6, -1, -1, -1, -1, -1]
    assert rows.global_rows(1).tolist() == [-1, -1, 0, 1, -1, 7]
    with pytest.raises(IndexError):
        rows[[8]]


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for t in TOPICS:
        (folder / f"{t}.txt").write_text(text(t), encoding="utf-8")
    return folder


def config_for(corpus, index_dir, threshold):
    return Config(corpus_dir=corpus, index_dir=index_dir, model=FakeEmbedder.name, chunk_tokens=40,
                  chunk_overlap=8, ann_threshold=threshold)


def test_ann_segments_rank_like_exact_search(tmp_path, corpus):
    approx, exact = config_for(corpus, tmp_path / "ann", 5), config_for(corpus, tmp_path / "exact", 10**6)
    for config in (approx, exact):
        build_index(config, embedder=FakeEmbedder(), progress=False)
    a, e = store.load(approx.index_dir), store.load(exact.index_dir)
    info = a.manifest["segments"]["s-000001"]
    assert info["ann"]["kind"] == "ivf-sq8" and "ann.faiss" in info["files"]
    assert (segment_dir(approx.index_dir) / "ann.faiss").is_file()
    assert "ann" not in e.manifest["segments"]["s-000001"]
    assert a.manifest["settings"]["ann_threshold"] == 5
    ra, re_ = (Retriever(d, weights=approx.fusion_weights, depth=approx.depth) for d in (a, e))
    emb = FakeEmbedder()
    for q in QUERIES:
        qvec = emb.encode([q])[0]
        for mode in ("dense", "hybrid"):
            assert ra.search(q, qvec, 5, mode=mode) == re_.search(q, qvec, 5, mode=mode), (q, mode)


def test_vectors_are_float16_rows_read_from_the_files(tmp_path, corpus):
    from rag.storage.vector_rows import FileArray

    config = config_for(corpus, tmp_path / "idx", 5)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    data = store.load(config.index_dir)
    assert isinstance(data.chunk_vecs, Rows) and isinstance(data.sentence_vecs, Rows)
    for part in data.chunk_vecs.parts + data.sentence_vecs.parts:   # nothing loaded at load time
        assert isinstance(part, FileArray) and part.dtype == np.float16
    assert data.chunk_vecs[np.arange(3)].dtype == np.float32


def test_refresh_with_ann_segments_equals_rebuild_and_hides_deleted(tmp_path, corpus):
    config = config_for(corpus, tmp_path / "idx", 5)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    (corpus / "apples.txt").unlink()                                     # removed: a tombstone in s-000001
    (corpus / "bridges.txt").write_text(text("bridges", 1), encoding="utf-8")   # changed
    (corpus / "volcanoes.txt").write_text(text("volcanoes"), encoding="utf-8")  # added
    build_index(config, embedder=FakeEmbedder(), progress=False)
    data = assert_same_as_rebuild(config, tmp_path, "ann")
    segs = data.manifest["segments"]
    assert len(segs) == 2 and all("ann" in info for info in segs.values())
    assert not any(c["doc"] in ("apples.txt",) for c in data.chunks)
    r = Retriever(data, weights=config.fusion_weights, depth=config.depth)
    emb = FakeEmbedder()
    for q in ("apples of edition 0", *QUERIES):
        got = r.search(q, emb.encode([q])[0], len(data.chunks), mode="dense")
        assert len(got) == len(data.chunks)                               # every live chunk, once
        assert {p.doc_id for p in got} == {d["id"] for d in data.manifest["documents"]}
        assert "apples.txt" not in {p.doc_id for p in got}
        assert all(data.chunks[p.chunk]["doc"] == p.doc_id for p in got)


def test_damaged_ann_file_is_detected(tmp_path, corpus):
    config = config_for(corpus, tmp_path / "idx", 5)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    path = segment_dir(config.index_dir) / "ann.faiss"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(IndexCorruptError, match=r"ann\.faiss was changed.*rebuild it with: rag index"):
        store.load(config.index_dir)


def test_manifest_must_list_the_ann_file(tmp_path, corpus):
    config = config_for(corpus, tmp_path / "idx", 5)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    edit_manifest(config.index_dir, lambda m: m["segments"]["s-000001"]["files"].pop("ann.faiss") and None)
    with pytest.raises(IndexCorruptError, match="expected .*ann.faiss"):
        store.load(config.index_dir)


def test_float32_format_4_index_asks_for_a_rebuild(tmp_path, corpus):
    config = config_for(corpus, tmp_path / "idx", 10**6)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    edit_manifest(config.index_dir, lambda m: m.__setitem__("format_version", 4))
    with pytest.raises(IndexMismatchError, match=r"v4, this version reads 'rag-index' v6; rebuild it with: "
                                                 r"rag index .* --rebuild"):
        store.load(config.index_dir)
    emb = FakeEmbedder()
    build_index(config, embedder=emb, progress=False)   # a refresh over it rebuilds everything
    assert store.load(config.index_dir).manifest["format_version"] == store.FORMAT_VERSION and len(emb.encoded) > len(TOPICS)


def test_threshold_is_a_segment_setting_not_a_reason_to_refuse(tmp_path, corpus):
    config = config_for(corpus, tmp_path / "idx", 5)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    other = dataclasses.replace(config, ann_threshold=1000)
    store.load(config.index_dir, other.index_settings())   # no mismatch error
    with pytest.raises(ValueError, match="ann_threshold"):
        Config(ann_threshold=0)
