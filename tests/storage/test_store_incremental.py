"""Incremental refresh: adding, changing and removing documents writes one small segment,
and the result equals a full rebuild (records, vectors, BM25, search results)."""
import dataclasses
import json

import numpy as np
import pytest

from rag.storage import writer as store

from rag.storage import plan as store_plan
from rag.build.builder import build_index
from rag.config import Config
from rag.retrieve.retriever import Retriever

from conftest import FakeEmbedder
from indexutil import leftovers, snapshot

TOPICS = ["apples", "bridges", "comets", "deserts", "engines", "forests", "glaciers", "harbours", "islands",
          "jungles"]
QUERIES = ["When were the bridges built?", "comets and their tails", "glaciers melting in spring",
           "new text about volcanoes", "harbours of the north"]


def text(topic, version=0):
    return " ".join(f"The {topic} of edition {version} have property {k}. Experts describe {topic} "
                    f"number {k} in detail for readers." for k in range(6)) + "\n"


@pytest.fixture
def setup(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for t in TOPICS:
        (corpus / f"{t}.txt").write_text(text(t), encoding="utf-8")
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", model=FakeEmbedder.name,
                    chunk_tokens=40, chunk_overlap=8)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    return config


def assert_same_as_rebuild(config, tmp_path, tag):
    """The refreshed index equals a rebuild of the same corpus into a fresh folder."""
    fresh = dataclasses.replace(config, index_dir=tmp_path / f"rebuilt-{tag}")
    build_index(fresh, embedder=FakeEmbedder(), rebuild=True, progress=False)
    a, b = store.load(config.index_dir, config.index_settings()), store.load(fresh.index_dir)
    strip = lambda m: [{k: v for k, v in d.items() if k not in ("segment", "indexed_at")}  # noqa: E731
                       for d in m["documents"]]   # indexed_at: when each was embedded, which differs
    assert strip(a.manifest) == strip(b.manifest) and a.manifest["counts"] == b.manifest["counts"]
    assert a.chunks == b.chunks
    np.testing.assert_array_equal(store.chunk_vectors(a), store.chunk_vectors(b))
    np.testing.assert_array_equal(a.sentences, b.sentences)
    np.testing.assert_array_equal(np.asarray(a.sentence_vecs), np.asarray(b.sentence_vecs))
    assert a.manifest["bm25"] == b.manifest["bm25"]
    ra, rb = (Retriever(d, weights=config.fusion_weights, depth=config.depth) for d in (a, b))
    emb = FakeEmbedder()
    for q in QUERIES:
        qvec = emb.encode([q])[0]
        for mode in ("dense", "bm25", "hybrid"):
            assert ra.search(q, qvec, 5, mode=mode) == rb.search(q, qvec, 5, mode=mode), (q, mode)
    return a


def manifest(config):
    return store.read_manifest(config.index_dir)


def written_files(before, after):
    return sorted(k for k in after if before.get(k) != after[k])


def test_add_change_remove_equal_a_full_rebuild(setup, tmp_path):
    config = setup
    corpus = config.corpus_dir
    (corpus / "volcanoes.txt").write_text(text("volcanoes") + "New text about volcanoes.\n", encoding="utf-8")
    before = snapshot(config.index_dir)
    report = build_index(config, embedder=FakeEmbedder(), progress=False)
    assert report.added == ["volcanoes.txt"]
    # the old segment is untouched; one new segment holds just the new document
    changed = written_files(before, snapshot(config.index_dir))
    assert not [k for k in changed if k.startswith("segments/s-000001/")]
    assert {k.split("/")[1] for k in changed if k.startswith("segments/")} == {"s-000002"}
    docs = json.loads((config.index_dir / "segments" / "s-000002" / "documents.json").read_text())
    assert [d["id"] for d in docs] == ["volcanoes.txt"]
    assert_same_as_rebuild(config, tmp_path, "add")

    (corpus / "comets.txt").write_text(text("comets", 1), encoding="utf-8")   # change
    embedder = FakeEmbedder()
    report = build_index(config, embedder=embedder, progress=False)
    assert report.updated == ["comets.txt"] and embedder.encoded   # only comets re-embedded
    assert all("comets" in t for t in embedder.encoded)
    m = manifest(config)
    assert {d["id"]: d["segment"] for d in m["documents"]}["comets.txt"] == "s-000003"
    assert sorted(m["segments"]) == ["s-000001", "s-000002", "s-000003"]
    data = assert_same_as_rebuild(config, tmp_path, "change")
    assert any("edition 1" in c["text"] for c in data.chunks if c["doc"] == "comets.txt")

    (corpus / "bridges.txt").unlink()   # remove: a tombstone, no segment written
    before = snapshot(config.index_dir)
    report = build_index(config, embedder=FakeEmbedder(), progress=False)
    assert report.removed == ["bridges.txt"]
    assert not [k for k in written_files(before, snapshot(config.index_dir)) if k.startswith("segments/")]
    m = manifest(config)
    assert "bridges.txt" not in {d["id"] for d in m["documents"]} and sorted(m["segments"]) == \
        ["s-000001", "s-000002", "s-000003"]   # s-000001 still stores bridges.txt, unreferenced
    assert_same_as_rebuild(config, tmp_path, "remove")

    # removing the only document of a segment drops the segment (after the next-but-one swap)
    (corpus / "volcanoes.txt").unlink()
    build_index(config, embedder=FakeEmbedder(), progress=False)
    assert "s-000002" not in manifest(config)["segments"]
    assert_same_as_rebuild(config, tmp_path, "drop")
    (corpus / "apples.txt").write_text(text("apples", 2), encoding="utf-8")
    build_index(config, embedder=FakeEmbedder(), progress=False)
    assert not (config.index_dir / "segments" / "s-000002").exists()
    assert leftovers(config.index_dir) == []


def test_many_refreshes_merge_segments(setup, tmp_path):
    config = setup
    for n, t in enumerate(TOPICS * 2):
        (config.corpus_dir / f"{t}.txt").write_text(text(t, n + 1), encoding="utf-8")
        build_index(config, embedder=FakeEmbedder(), progress=False)
        assert len(manifest(config)["segments"]) <= store_plan.MAX_SEGMENTS
        assert leftovers(config.index_dir) == []
    # every original document changed twice: the first segment held nothing live and went
    assert "s-000001" not in manifest(config)["segments"]
    assert_same_as_rebuild(config, tmp_path, "merged")


def test_plan_keeps_unchanged_documents_and_purges_mostly_dead_segments():
    def doc(i, sha="a", chunks=2):
        return {"id": i, "title": i, "sha256": sha * 64, "chunks": chunks, "sentences": 3}
    base = {"documents": [dict(doc(f"d{n}"), segment="s-000001") for n in range(4)],
            "segments": {"s-000001": {"chunks": 8}}}
    keep, todo = store_plan.plan([doc("d0"), doc("d1"), doc("d2", "b"), doc("d3")], base)
    assert keep == {"d0": "s-000001", "d1": "s-000001", "d3": "s-000001"} and todo == [2]
    keep, todo = store_plan.plan([doc("d0"), doc("d1", "b"), doc("d2", "b"), doc("d3", "b")], base)
    assert keep == {} and todo == [0, 1, 2, 3]   # 2 of 8 chunks live: the segment is rewritten
    assert store_plan.plan([doc("d0")], None) == ({}, [0])


# ---------------------------------------------------------------- a writer's base: checked, not laid out

def test_a_writers_base_is_checked_but_not_laid_out(setup):
    config = setup
    base = store.load(config.index_dir, config.index_settings(), search=False)
    assert base.chunks is None and base.chunk_vecs is None and base.sentences is None
    assert sorted(base.segments) == ["s-000001"]
    seg = base.segments["s-000001"]
    # documents.json order is id order: each document's rows follow the previous one's
    counts = {d["id"]: (d["chunks"], d["sentences"]) for d in base.manifest["documents"]}
    c = s = 0
    for doc_id in sorted(counts):
        assert seg.docs[doc_id] == (c, c + counts[doc_id][0], s, s + counts[doc_id][1])
        c, s = c + counts[doc_id][0], s + counts[doc_id][1]
    # a manifest whose counts disagree with the segment is refused like a full load refuses it
    from indexutil import edit_manifest
    from rag.errors import IndexCorruptError

    def one_more_chunk(m):
        m["documents"][0]["chunks"] += 1
        m["counts"]["chunks"] += 1
        m["bm25"]["rows"] += 1
    edit_manifest(config.index_dir, one_more_chunk)
    first = sorted(counts)[0]
    for search in (False, True):
        with pytest.raises(IndexCorruptError, match=f"segment s-000001 holds {counts[first][0]} chunks and "
                                                    f"{counts[first][1]} sentences of '{first}', manifest says "
                                                    f"{counts[first][0] + 1} and {counts[first][1]}"):
            store.load(config.index_dir, config.index_settings(), search=search)


@pytest.mark.parametrize("searched", [False, True])
def test_a_rewritten_segment_takes_kept_rows_from_either_kind_of_base(setup, searched):
    """Changing all documents but one leaves s-000001 mostly dead: the writer rewrites it, reading the
    kept document's rows from the base: from its segment files (a writer's base) or from its rows
    (a loaded index). Either way the kept rows come out as they were."""
    config = setup
    before = store.load(config.index_dir, config.index_settings())
    kept = sorted(d["id"] for d in before.manifest["documents"])[0]
    rows = [n for n, c in enumerate(before.chunks) if c["doc"] == kept]
    want = ([before.chunks[n] for n in rows], store.chunk_vectors(before)[rows])
    for t in TOPICS:
        if f"{t}.txt" != kept:
            (config.corpus_dir / f"{t}.txt").write_text(text(t, 7), encoding="utf-8")
    base = store.load(config.index_dir, config.index_settings(), search=searched)
    assert (base.segments is None) == searched
    from rag.build import builder
    monkey = pytest.MonkeyPatch()
    monkey.setattr(builder, "_previous", lambda config, rebuild: base)
    try:
        build_index(config, embedder=FakeEmbedder(), progress=False)
    finally:
        monkey.undo()
    m = manifest(config)
    assert "s-000001" not in m["segments"]   # rewritten: the kept document moved to the new segment
    after = store.load(config.index_dir, config.index_settings())
    got = [n for n, c in enumerate(after.chunks) if c["doc"] == kept]
    assert [after.chunks[n] for n in got] == want[0]
    np.testing.assert_array_equal(store.chunk_vectors(after)[got], want[1])
    assert any("edition 7" in c["text"] for c in after.chunks)


def test_cleanup_reads_no_manifest_it_is_given(setup, monkeypatch):
    from rag.storage import segments

    config = setup
    (config.corpus_dir / f"{TOPICS[0]}.txt").write_text(text(TOPICS[0], 3), encoding="utf-8")
    build_index(config, embedder=FakeEmbedder(), progress=False)   # v-000002 over s-000001 and s-000002
    (config.index_dir / "segments" / "s-000009").mkdir()           # an orphan a killed writer left
    reads = []
    real = segments.json.loads

    def counted(raw, *a, **k):
        reads.append(len(raw))
        return real(raw, *a, **k)
    monkeypatch.setattr(segments.json, "loads", counted)
    v1, v2 = ["s-000001"], ["s-000001", "s-000002"]
    index = config.index_dir
    # both manifests in hand: nothing read, the orphan found
    assert segments.unused(index, ["v-000002", "v-000001"], {"v-000002": v2, "v-000001": v1}) == \
        [index / "segments" / "s-000009"] and reads == []
    # every folder but the orphan accounted for by the one in hand: the other is read for the orphan
    assert segments.unused(index, ["v-000002", "v-000001"], {"v-000002": v2}) == [index / "segments" / "s-000009"]
    assert len(reads) == 1
    # nothing left to account for: no manifest read
    reads.clear()
    assert segments.unused(index, ["v-000002", "v-000001"], {"v-000002": v2 + ["s-000009"]}) == [] and reads == []
    # unreadable manifest of a kept version, with a folder still unaccounted for: keep everything
    (index / "v-000001" / "manifest.json").write_text("{not json", encoding="utf-8")
    assert segments.unused(index, ["v-000002", "v-000001"], {"v-000002": v2}) == []
    # the writer's own cleanup: leaves segment folders alone when told to
    assert store.cleanup(index, {"v-000002"}, unused_segments=False) == ["v-000001"]
    assert (index / "segments" / "s-000009").is_dir()


def test_plan_never_folds_a_segment_far_larger_than_what_the_version_writes():
    def doc(i, seg=None, chunks=2, sha="a"):
        d = {"id": i, "title": i, "sha256": sha * 64, "chunks": chunks, "sentences": 3}
        return dict(d, segment=seg) if seg else d
    n = store_plan.MAX_SEGMENTS
    # MAX_SEGMENTS big segments of 1,000 chunks: a new 2-chunk document is written alone, none folded
    base = {"documents": [doc(f"d{k}", f"s-{k:06d}", 1000) for k in range(n)],
            "segments": {f"s-{k:06d}": {"chunks": 1000} for k in range(n)}}
    docs = [doc(f"d{k}", chunks=1000) for k in range(n)] + [doc("new")]
    keep, todo = store_plan.plan(docs, base)
    assert len(keep) == n and todo == [n]
    # one small segment among them: the new document and that small one are folded together (count kept)
    base["documents"][0], base["segments"]["s-000000"] = doc("d0", "s-000000", 15), {"chunks": 15}
    docs[0] = doc("d0", chunks=15)
    keep, todo = store_plan.plan(docs, base)
    assert "d0" not in keep and sorted(todo) == [0, n] and len(set(keep.values())) == n - 1
