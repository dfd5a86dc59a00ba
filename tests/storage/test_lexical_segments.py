"""BM25 from per-segment postings with corpus-wide statistics equals a BM25 built from scratch."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rag.build.builder import build_index, document_text, indexed_text
from rag.errors import IndexCorruptError
from rag.storage import writer as store
from rag.storage.lexical import BM25, FileArray1, Postings, SegmentedBM25, tokenize
from conftest import FakeEmbedder


def test_hand_derived_scores_count_only_live_rows():
    # tokens (stemmed, stopwords dropped): "pear" stays "pear", "plum" "plum", "kiwi" "kiwi"
    a = Postings.build(["pear kiwi kiwi", "pear pear pear pear pear"])   # row 1 is deleted below
    b = Postings.build(["pear plum", "plum plum plum kiwi"])
    bm = SegmentedBM25([(a, np.array([0, -1])), (b, np.array([1, 2]))], 3)
    # live rows: lengths 3, 2, 4 -> average 3; "pear" is in rows 0 and 1: df 2 of N 3
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    tfc0 = 1 / (1.2 * (0.25 + 0.75 * 3 / 3) + 1)   # tf 1, length 3
    tfc1 = 1 / (1.2 * (0.25 + 0.75 * 2 / 3) + 1)   # tf 1, length 2
    assert bm.scores("pear") == pytest.approx([idf * tfc0, idf * tfc1, 0.0], rel=1e-6)
    # "kiwi": rows 0 (tf 2, length 3) and 2 (tf 1, length 4); a repeated query term counts twice
    idf_k = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    k0 = idf_k * 2 / (1.2 * 1.0 + 2)
    k2 = idf_k * 1 / (1.2 * (0.25 + 0.75 * 4 / 3) + 1)
    assert bm.scores("kiwi kiwi") == pytest.approx([2 * k0, 0.0, 2 * k2], rel=1e-6)
    assert bm.scores("unknown words").tolist() == [0.0, 0.0, 0.0]
    assert bm.idf(["pear"]) == {"pear": pytest.approx(idf)}


def random_corpus(rng, n, vocab=40):
    words = [f"w{i}x" for i in range(vocab)]   # survive stemming as themselves
    return [" ".join(rng.choice(words, size=rng.integers(0, 12), p=None)) for _ in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_segments_with_tombstones_equal_a_rebuild_over_the_live_rows(seed):
    rng = np.random.default_rng(seed)
    texts = random_corpus(rng, 90)
    cuts = sorted(rng.choice(np.arange(1, 90), size=3, replace=False))
    parts, live_texts, row = [], [], 0
    for lo, hi in zip([0, *cuts], [*cuts, 90]):
        alive = rng.random(hi - lo) > 0.3
        to_version = np.full(hi - lo, -1)
        for j in np.flatnonzero(alive):
            to_version[j] = row
            row += 1
            live_texts.append(texts[lo + j])
        parts.append((Postings.build(texts[lo:hi]), to_version))
    bm = SegmentedBM25(parts, row)
    scratch = BM25.build(live_texts)
    for _ in range(20):
        query = " ".join(rng.choice([f"w{i}x" for i in range(45)], size=rng.integers(1, 5)))
        np.testing.assert_allclose(bm.scores(query), scratch.scores(query), rtol=1e-5, atol=1e-6)


def test_postings_round_trip_memory_mapped(tmp_path):
    p = Postings.build(["naïve café crème", "", "crème brûlée"])
    p.save(tmp_path / "bm25")
    q = Postings.load(tmp_path / "bm25", 3)
    assert isinstance(q.rows, FileArray1) and q.lengths.tolist() == [3, 1, 2]   # an empty row counts 1
    for term in tokenize("naïve café crème brûlée"):
        assert [x.tolist() for x in q.lookup(term)] == [x.tolist() for x in p.lookup(term)]
    with pytest.raises(IndexCorruptError, match="lengths.npy"):
        Postings.load(tmp_path / "bm25", 4)


@pytest.mark.parametrize("fold", [False, True])
def test_index_refreshes_keep_bm25_equal_to_a_rebuild(tmp_path, monkeypatch, fold):
    """Through the builder: three refreshes (a change, an addition, a removal) each write one new
    segment (fold: at most 2 segments kept, so the writer merges old segments into the new one);
    the version's BM25 over chunks and documents equals one built from scratch."""
    from rag.storage import plan

    if fold:
        monkeypatch.setattr(plan, "MAX_SEGMENTS", 2)
    from rag.config import Config

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = np.random.default_rng(7)
    for n in range(6):
        (corpus / f"d{n}.txt").write_text(f"Title {n}\n\n" + ". ".join(random_corpus(rng, 8)) + ".\n")
    config = Config(index_dir=tmp_path / "idx", corpus_dir=corpus, model=FakeEmbedder.name, chunk_tokens=24,
                    chunk_overlap=6)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    (corpus / "d2.txt").write_text("Changed\n\n" + ". ".join(random_corpus(rng, 5)) + ".\n")
    build_index(config, embedder=FakeEmbedder(), progress=False)
    (corpus / "d9.txt").write_text("Added\n\n" + ". ".join(random_corpus(rng, 5)) + ".\n")
    build_index(config, embedder=FakeEmbedder(), progress=False)
    (corpus / "d4.txt").unlink()
    build_index(config, embedder=FakeEmbedder(), progress=False)
    data = store.load(config.index_dir)
    assert len(data.manifest["segments"]) == 2 if fold else len(data.manifest["segments"]) >= 3   # incremental
    docs = data.manifest["documents"]
    titles = {d["id"]: d["title"] for d in docs}
    chunks = list(data.chunks)
    scratch = BM25.build([indexed_text(c, titles[c["doc"]], config) for c in chunks])
    doc_scratch = BM25.build([document_text([c for c in chunks if c["doc"] == d["id"]]) for d in docs])
    for _ in range(15):
        query = " ".join(rng.choice([f"w{i}x" for i in range(40)] + ["title", "changed"], size=3))
        np.testing.assert_allclose(data.bm25.scores(query), scratch.scores(query), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(data.doc_bm25.scores(query), doc_scratch.scores(query), rtol=1e-5, atol=1e-6)


def test_rows_read_from_files_equal_the_arrays(tmp_path):
    from rag.storage.vector_rows import FileArray

    a = np.random.default_rng(1).standard_normal((50, 6)).astype(np.float16)
    np.save(tmp_path / "v.npy", a)
    f = FileArray(tmp_path / "v.npy")
    assert f.shape == (50, 6) and f.dtype == np.float16 and len(f) == 50
    rows = np.array([7, 3, 4, 5, 49, 4, 0, -1])   # unsorted, a run, a repeat, a negative row
    np.testing.assert_array_equal(f[rows], a[rows])
    np.testing.assert_array_equal(f[10:13], a[10:13])
    np.testing.assert_array_equal(f[5], a[5])
    np.testing.assert_array_equal(np.asarray(f), a)
    with pytest.raises(IndexError):
        f[np.array([50])]
    (tmp_path / "v.npy").write_bytes((tmp_path / "v.npy").read_bytes()[:-2])
    with pytest.raises(ValueError, match="header says"):
        FileArray(tmp_path / "v.npy")
