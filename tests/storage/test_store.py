"""Index folders: layout, round trip, refusal of mismatches, refresh and crash safety."""
import dataclasses
import datetime
import hashlib
import json
import logging
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

import rag
from rag import Rag
from rag.storage import writer as store
from rag.answer.base import Answer
from rag.build.builder import build_index
from rag.text.chunk import chunk_text
from rag.config import Config
from rag.storage.lexical import Postings
from rag.errors import CorpusError, IndexCorruptError, IndexMismatchError, IndexMissingError

from conftest import FakeEmbedder
from indexutil import edit_manifest, leftovers, segment_dir, snapshot, version_dir

FILES = {
    "alpha.txt": "Alpha apples grow in the orchard. The orchard is north of the river. "
                 "Farmers pick them in autumn.\n\nThe harvest festival is in October. Everyone brings a pie.\n",
    "beta.md": "# Beta Notes\n\nThe bridge was built in 1901. It has three arches. "
               "Trains crossed it until 1970.\n",
    "sub/gamma.txt": "Gamma rays are energetic. Lead blocks them well. Doctors use them carefully.\n",
}
LAYOUT = {"manifest.json"}   # chunks, vectors and BM25 postings live in segments/
POSTINGS = ("terms.npy", "starts.npy", "rows.npy", "tf.npy", "lengths.npy")
SEGMENT_LAYOUT = {"documents.json", "chunks.npy", "chunk_text.npy", "chunk_text.bin", "chunk_vecs.npy",
                  "sentences.npy", "sentence_vecs.npy"} | {f"{d}/{f}" for d in ("bm25", "bm25_docs") for f in POSTINGS}


def write_corpus(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "corpus", FILES)


@pytest.fixture
def config(tmp_path, corpus):
    # The manifest's "settings" hold config.index_settings(), whose "model" is config.model:
    # name the fake embedder there so the index can be opened again with the same Config.
    return Config(corpus_dir=corpus, index_dir=tmp_path / "out" / "index", model=FakeEmbedder.name,
                  chunk_tokens=24, chunk_overlap=6)


def expected_doc(config, doc_id, text):
    """(chunk records, sentence spans) for one document, computed as build.py documents it.

    The documents here are far below the model limit, so the model check (fits) cannot bind.
    """
    assert len(text.split()) < 100
    units, spans = chunk_text(text, chunk_tokens=config.chunk_tokens, chunk_overlap=config.chunk_overlap)
    chunks = [{"doc": doc_id, "ordinal": n, "start": c.start, "end": c.end, "sent_lo": c.sent_lo,
               "sent_hi": c.sent_hi, "text": text[c.start:c.end]} for n, c in enumerate(spans)]
    return chunks, units


def embedded(chunks, title, config):
    """What is embedded for each chunk: its text, after the document title when the chunk
    does not start the document and config.title_in_chunks is on (see rag/build.py)."""
    with_title = getattr(config, "title_in_chunks", False)
    return [f"{title}\n{c['text']}" if with_title and c["start"] > 0 and title else c["text"]
            for c in chunks]


def load(config):
    return store.load(config.index_dir, config.index_settings())


def chunks_of(data, doc_id):
    return [c for c in data.chunks if c["doc"] == doc_id]


def hidden_siblings(index_dir):
    """Hidden entries beside the index folder and leftovers inside it (none after a clean save)."""
    return sorted(p.name for p in index_dir.parent.iterdir() if p.name.startswith(".")) + leftovers(index_dir)


def rebuild_command(config):
    return shlex.join(["rag", "index", str(config.corpus_dir), "--index", str(config.index_dir),
                       "--model", config.model, "--rebuild"])


# ---------------------------------------------------------------- round trip and layout

def test_build_then_load_round_trip(config, fake_embedder):
    report = build_index(config, embedder=fake_embedder)
    assert report.changed and sorted(report.added) == sorted(FILES)
    data = load(config)
    m = data.manifest
    assert m["format"] == "rag-index" and m["format_version"] == store.FORMAT_VERSION
    assert m["package_version"] == rag.__version__
    assert m["model"] == "fake-hash-64" and m["dimension"] == 64
    assert m["settings"] == config.index_settings()
    assert {k: m["settings"][k] for k in ("model", "chunk_tokens", "chunk_overlap", "max_model_tokens")} == \
        {"model": "fake-hash-64", "chunk_tokens": 24, "chunk_overlap": 6, "max_model_tokens": 256}
    built = datetime.datetime.fromisoformat(m["built_at"])
    assert built.tzinfo is not None
    assert abs((datetime.datetime.now(datetime.timezone.utc) - built).total_seconds()) < 600

    ids = sorted(FILES)
    assert [d["id"] for d in m["documents"]] == ids
    expected_chunks, expected_sents, expected_embedded = [], [], []
    for doc_no, meta in enumerate(m["documents"]):
        raw = (config.corpus_dir / meta["id"]).read_bytes()
        assert meta["sha256"] == hashlib.sha256(raw).hexdigest()
        chunks, units = expected_doc(config, meta["id"], FILES[meta["id"]])
        assert meta["chunks"] == len(chunks) and meta["sentences"] == len(units)
        expected_chunks += chunks
        expected_embedded += embedded(chunks, meta["title"], config)
        expected_sents += [(doc_no, a, b) for a, b in units]
    assert {d["id"]: d["title"] for d in m["documents"]}["beta.md"] == "Beta Notes"
    assert data.chunks == expected_chunks
    assert len({c["doc"] for c in data.chunks}) == 3 and len(data.chunks) > 3
    assert data.sentences.tolist() == [list(s) for s in expected_sents]
    assert m["counts"] == {"documents": 3, "chunks": len(expected_chunks), "sentences": len(expected_sents)}
    assert (report.documents, report.chunks, report.sentences) == (3, len(expected_chunks), len(expected_sents))

    # vectors are the embedder's, in the same order as the records
    ref = FakeEmbedder()
    half = lambda x: x.astype(np.float16).astype(np.float32)   # noqa: E731 (stored as float16)
    np.testing.assert_array_equal(store.chunk_vectors(data)[np.arange(len(data.chunks))],
                                  half(ref.encode(expected_embedded)))
    sent_texts = [FILES[ids[d]][a:b] for d, a, b in expected_sents]
    np.testing.assert_array_equal(np.asarray(data.sentence_vecs), half(ref.encode(sent_texts)))


def test_save_load_preserves_index_data_exactly(tmp_path):
    rng = np.random.default_rng(0)
    chunk_vecs = rng.standard_normal((4, 8)).astype(np.float16).astype(np.float32)   # float16 on disk
    sentence_vecs = rng.standard_normal((6, 8)).astype(np.float16).astype(np.float32)
    sentences = np.array([[0, 0, 5], [0, 6, 9], [0, 10, 20], [1, 0, 3], [1, 4, 8], [1, 9, 12]], dtype=np.int64)
    chunks = [{"doc": "a", "ordinal": i, "start": 0, "end": 5, "sent_lo": 0, "sent_hi": 1,
               "text": f"ünïcødé chunk {i} \"quoted\"\nline"} for i in range(4)]
    manifest = {"format": store.FORMAT, "format_version": store.FORMAT_VERSION, "dimension": 8, "model": "m",
                "settings": {"model": "m"}, "counts": {"documents": 2, "chunks": 4, "sentences": 6},
                "documents": [{"id": "a", "title": "A", "sha256": "0" * 64, "chunks": 4, "sentences": 3},
                              {"id": "b", "title": "B", "sha256": "1" * 64, "chunks": 0, "sentences": 3}],
                "note": "ключ"}
    store.save(tmp_path / "idx", store.IndexData(manifest, chunks, chunk_vecs, sentences, sentence_vecs))
    data = store.load(tmp_path / "idx", {"model": "m"})
    assert data.manifest.pop("files") == {}   # BM25 lives in the segments
    assert data.manifest.pop("bm25") == {"k1": 1.2, "b": 0.75, "method": "lucene", "stemmer": "english",
                                         "stopwords": "en", "rows": 4, "documents": {"rows": 2}}
    segs = data.manifest.pop("segments")
    assert list(segs) == ["s-000001"] and set(segs["s-000001"]["files"]) == SEGMENT_LAYOUT
    assert [d.pop("segment") for d in data.manifest["documents"]] == ["s-000001", "s-000001"]
    assert data.manifest == manifest and data.chunks == chunks
    assert data.sentences.dtype == np.int64 and np.array_equal(data.sentences, sentences)
    assert np.array_equal(np.asarray(data.sentence_vecs), sentence_vecs)
    assert np.array_equal(np.asarray(store.chunk_vectors(data)), chunk_vecs)


def test_index_folder_layout_is_plain_files(config, fake_embedder):
    build_index(config, embedder=fake_embedder)
    # INDEX holds the pointer, the lock file, one immutable version folder and its segment
    assert {p.name for p in config.index_dir.iterdir()} == {"CURRENT", ".lock", ".verified", "v-000001", "segments"}
    assert [p.name for p in (config.index_dir / "segments").iterdir()] == ["s-000001"]
    pointer = json.loads((config.index_dir / "CURRENT").read_text())
    folder, seg = version_dir(config.index_dir), config.index_dir / "segments" / "s-000001"
    raw = (folder / "manifest.json").read_bytes()
    assert pointer == {"version": "v-000001", "manifest_sha256": hashlib.sha256(raw).hexdigest()}
    manifest = json.loads(raw)
    # the documented files
    assert {p.name for p in folder.iterdir()} == LAYOUT
    assert {p.relative_to(seg).as_posix() for p in seg.rglob("*") if p.is_file()} == SEGMENT_LAYOUT
    # every other file is listed in the manifest with its sha256, segment files per segment
    assert manifest["files"] == {} and manifest["bm25"]["rows"] == manifest["counts"]["chunks"]
    assert manifest["segments"]["s-000001"]["files"] == {
        p.relative_to(seg).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in seg.rglob("*") if p.is_file()}
    assert {d["segment"] for d in manifest["documents"]} == {"s-000001"}
    # never pickles: every array in the folder loads without pickle support
    arrays = list(config.index_dir.rglob("*.npy"))
    assert len(arrays) >= 3
    for path in arrays:
        np.load(path, allow_pickle=False)
    assert not [p for p in config.index_dir.rglob("*") if p.suffix in (".pkl", ".pickle")]
    cols = np.load(seg / "chunks.npy", allow_pickle=False)   # ordinal, start, end, sent_lo, sent_hi
    offsets = np.load(seg / "chunk_text.npy", allow_pickle=False)
    texts = (seg / "chunk_text.bin").read_bytes()
    records = load(config).chunks
    assert cols.dtype == np.int64 and cols.shape == (manifest["counts"]["chunks"], 5) == (len(records), 5)
    assert [texts[a:b].decode() for a, b in zip(offsets[:-1], offsets[1:])] == [c["text"] for c in records]
    assert cols.tolist() == [[c[k] for k in ("ordinal", "start", "end", "sent_lo", "sent_hi")] for c in records]
    assert set(records[0]) == {"doc", "ordinal", "start", "end", "sent_lo", "sent_hi", "text"}
    sentences = np.load(seg / "sentences.npy", allow_pickle=False)
    vecs = np.load(seg / "sentence_vecs.npy", allow_pickle=False)
    assert sentences.dtype == np.int64 and sentences.shape == (manifest["counts"]["sentences"], 2)
    assert vecs.dtype == np.float16 and vecs.shape == (manifest["counts"]["sentences"], 64)
    cvecs = np.load(seg / "chunk_vecs.npy", allow_pickle=False)
    assert cvecs.dtype == np.float16 and cvecs.shape == (len(records), 64)
    assert hidden_siblings(config.index_dir) == []


def test_load_missing_index(tmp_path):
    with pytest.raises(IndexMissingError):
        store.load(tmp_path / "nothing-here")


# ---------------------------------------------------------------- refusals

@pytest.mark.parametrize("change", [dict(chunk_tokens=100), dict(chunk_overlap=2), dict(max_model_tokens=128),
                                    dict(model="all-MiniLM-L6-v2")])
def test_settings_mismatch_is_refused(config, fake_embedder, change):
    build_index(config, embedder=fake_embedder)
    other = dataclasses.replace(config, **change)
    with pytest.raises(IndexMismatchError) as err:
        load(other)
    # the exact command: this corpus (from the manifest), this index, the configured model
    expected = shlex.join(["rag", "index", str(config.corpus_dir), "--index", str(config.index_dir)]
                          + (["--model", other.model] if other.model != "all-MiniLM-L6-v2" else [])
                          + ["--rebuild"])
    assert str(err.value).endswith("rebuild it with: " + expected)
    assert next(iter(change)) in str(err.value)
    with pytest.raises(IndexMismatchError):
        Rag(other, embedder=fake_embedder)
    load(config)   # the matching configuration still loads


@pytest.mark.parametrize("key", ["chunks", "sentences", "documents"])
def test_tampered_count_is_corrupt(config, fake_embedder, key):
    build_index(config, embedder=fake_embedder)
    edit_manifest(config.index_dir, lambda m: m["counts"].__setitem__(key, m["counts"][key] + 1))
    with pytest.raises(IndexCorruptError) as err:
        load(config)
    assert "counts say" in str(err.value)   # resealed: the count check itself caught it
    assert str(err.value).endswith(rebuild_command(config))


def test_tampered_dimension_or_records_are_corrupt(config, fake_embedder):
    build_index(config, embedder=fake_embedder)
    edit_manifest(config.index_dir, lambda m: m.__setitem__("dimension", 32))
    with pytest.raises(IndexCorruptError):
        load(config)
    build_index(config, embedder=fake_embedder, rebuild=True)
    path = segment_dir(config.index_dir) / "chunk_text.bin"
    path.write_bytes(path.read_bytes()[:-1])   # one byte short: checksum and offsets disagree
    with pytest.raises(IndexCorruptError):
        load(config)
    (version_dir(config.index_dir) / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError):
        load(config)


@pytest.mark.parametrize("field,value", [("format_version", store.FORMAT_VERSION + 1), ("format", "other")])
def test_other_format_is_refused(config, fake_embedder, field, value):
    build_index(config, embedder=fake_embedder)
    edit_manifest(config.index_dir, lambda m: m.__setitem__(field, value))
    with pytest.raises(IndexMismatchError) as err:
        load(config)
    assert str(err.value).endswith(rebuild_command(config))


def test_manifest_model_agrees_with_its_settings(tmp_path, corpus, fake_embedder):
    # An index whose vectors come from one model must not claim another in the settings
    # that loads are checked against (else a later load/refresh mixes models).
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx")   # default model name
    with pytest.raises(ValueError, match="embedder 'fake-hash-64' is not the configured model"):
        build_index(config, embedder=fake_embedder)   # vectors of another model are refused
    assert not (config.index_dir / "CURRENT").exists()
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", model=fake_embedder.name)
    build_index(config, embedder=fake_embedder)
    manifest = store.read_manifest(config.index_dir)
    assert manifest["settings"]["model"] == manifest["model"] == fake_embedder.name


# ---------------------------------------------------------------- refresh

def test_refresh_without_changes_does_nothing(config, fake_embedder):
    build_index(config, embedder=fake_embedder)
    manifest_path = version_dir(config.index_dir) / "manifest.json"
    before, mtime, inode = snapshot(config.index_dir), manifest_path.stat().st_mtime_ns, manifest_path.stat().st_ino
    n_encoded = len(fake_embedder.encoded)
    report = build_index(config, embedder=fake_embedder)
    assert report.changed is False
    assert (report.added, report.updated, report.removed) == ([], [], [])
    assert report.documents == 3 and report.chunks == len(load(config).chunks)
    assert len(fake_embedder.encoded) == n_encoded
    assert manifest_path.stat().st_mtime_ns == mtime and manifest_path.stat().st_ino == inode
    assert snapshot(config.index_dir) == before
    assert hidden_siblings(config.index_dir) == []


def test_refresh_reembeds_only_the_edited_file(config, fake_embedder):
    build_index(config, embedder=fake_embedder)
    old = load(config)
    old_vecs = store.chunk_vectors(old)
    new_text = "Beta was rebuilt in 2001. It now has four arches. Cyclists use it daily.\n"
    (config.corpus_dir / "beta.md").write_text(new_text, encoding="utf-8")
    embedder = FakeEmbedder()
    report = build_index(config, embedder=embedder)
    assert report.changed and report.updated == ["beta.md"]
    assert (report.added, report.removed, report.kept_stale) == ([], [], [])
    chunks, units = expected_doc(config, "beta.md", new_text)
    title = "Beta was rebuilt in 2001. It now has four arches. Cyclists use it daily."   # its first line
    assert embedder.encoded == embedded(chunks, title, config) + [new_text[a:b] for a, b in units]

    new = load(config)
    assert chunks_of(new, "beta.md") == chunks
    new_vecs = store.chunk_vectors(new)
    for doc_id in ("alpha.txt", "sub/gamma.txt"):
        assert chunks_of(new, doc_id) == chunks_of(old, doc_id)
        rows_old = [i for i, c in enumerate(old.chunks) if c["doc"] == doc_id]
        rows_new = [i for i, c in enumerate(new.chunks) if c["doc"] == doc_id]
        assert np.array_equal(new_vecs[rows_new], old_vecs[rows_old])
    meta = {d["id"]: d for d in new.manifest["documents"]}
    assert meta["beta.md"]["sha256"] == hashlib.sha256(new_text.encode()).hexdigest()
    assert meta["beta.md"]["title"] == title
    assert new.manifest["counts"]["sentences"] == len(new.sentences)
    # sentence rows still line up with their documents' text
    for doc_no, a, b in new.sentences.tolist():
        doc_id = new.manifest["documents"][doc_no]["id"]
        text = new_text if doc_id == "beta.md" else FILES[doc_id]
        assert text[a:b] and text[a:b] == text[a:b].strip()


def test_refresh_adds_and_removes_files(config, fake_embedder):
    build_index(config, embedder=fake_embedder)
    added = "Delta is a new file. It talks about deltas.\n"
    (config.corpus_dir / "delta.txt").write_text(added, encoding="utf-8")
    embedder = FakeEmbedder()
    report = build_index(config, embedder=embedder)
    assert report.added == ["delta.txt"] and report.updated == [] and report.removed == []
    chunks, units = expected_doc(config, "delta.txt", added)
    title = "Delta is a new file. It talks about deltas."
    assert embedder.encoded == embedded(chunks, title, config) + [added[a:b] for a, b in units]
    data = load(config)
    assert chunks_of(data, "delta.txt") == chunks
    assert [d["id"] for d in data.manifest["documents"]] == sorted([*FILES, "delta.txt"])

    (config.corpus_dir / "sub" / "gamma.txt").unlink()
    embedder = FakeEmbedder()
    report = build_index(config, embedder=embedder)
    assert report.removed == ["sub/gamma.txt"] and report.added == [] and report.updated == []
    assert embedder.encoded == []
    after = load(config)
    assert chunks_of(after, "sub/gamma.txt") == []
    assert "sub/gamma.txt" not in [d["id"] for d in after.manifest["documents"]]
    assert after.manifest["counts"]["documents"] == 3
    gamma_sentences = sum(1 for d, _, _ in data.sentences.tolist()
                          if data.manifest["documents"][d]["id"] == "sub/gamma.txt")
    assert len(after.sentences) == len(data.sentences) - gamma_sentences
    assert len(after.chunks) == len(data.chunks) - len(chunks_of(data, "sub/gamma.txt"))
    assert store.chunk_vectors(after).shape == (len(after.chunks), 64)


def test_previously_indexed_file_that_turns_bad_keeps_its_chunks(config, fake_embedder, caplog):
    build_index(config, embedder=fake_embedder)
    old = load(config)
    (config.corpus_dir / "beta.md").write_bytes(b"\x00\x01binary now\x00")
    with caplog.at_level(logging.WARNING, logger="rag"):
        report = build_index(config, embedder=FakeEmbedder())
    assert report.kept_stale == ["beta.md"] and [s.path for s in report.skipped] == ["beta.md"]
    # no document changed, but the manifest's list of skipped files did (issue 8): a new version
    assert report.removed == [] and report.updated == [] and report.changed is True
    assert load(config).manifest["skipped"] == [{"path": "beta.md", "reason": report.skipped[0].reason}]
    assert any("beta.md" in r.getMessage() and "previously indexed" in r.getMessage() for r in caplog.records)
    assert chunks_of(load(config), "beta.md") == chunks_of(old, "beta.md")

    # unreadable (broken symlink) while another file changes: the index is rewritten, beta kept
    (config.corpus_dir / "beta.md").unlink()
    (config.corpus_dir / "beta.md").symlink_to(config.corpus_dir / "gone.md")
    (config.corpus_dir / "alpha.txt").write_text("Alpha changed. Completely new text.\n", encoding="utf-8")
    caplog.clear()
    embedder = FakeEmbedder()
    with caplog.at_level(logging.WARNING, logger="rag"):
        report = build_index(config, embedder=embedder)
    assert report.changed and report.updated == ["alpha.txt"] and report.kept_stale == ["beta.md"]
    new_alpha = "Alpha changed. Completely new text.\n"
    chunks, units = expected_doc(config, "alpha.txt", new_alpha)
    assert embedder.encoded == embedded(chunks, new_alpha.strip(), config) + [new_alpha[a:b] for a, b in units]
    assert any("beta.md" in r.getMessage() and "unreadable" in r.getMessage() for r in caplog.records)
    new = load(config)
    assert chunks_of(new, "beta.md") == chunks_of(old, "beta.md")
    assert {d["id"]: d["sha256"] for d in new.manifest["documents"]}["beta.md"] == \
        {d["id"]: d["sha256"] for d in old.manifest["documents"]}["beta.md"]


def test_empty_corpus_raises_and_keeps_the_index(tmp_path, config, fake_embedder):
    build_index(config, embedder=fake_embedder)
    before = snapshot(config.index_dir)
    shutil.rmtree(config.corpus_dir)
    config.corpus_dir.mkdir()
    (config.corpus_dir / "empty.txt").write_text("   \n")
    with pytest.raises(CorpusError):
        build_index(config, embedder=fake_embedder)
    assert snapshot(config.index_dir) == before
    assert len(load(config).chunks) > 0

    fresh = dataclasses.replace(config, index_dir=tmp_path / "never-built")
    with pytest.raises(CorpusError):
        build_index(fresh, embedder=fake_embedder)
    assert not fresh.index_dir.exists()


# ---------------------------------------------------------------- crash safety

def edit_for_rebuild(config):
    (config.corpus_dir / "alpha.txt").write_text("Completely different alpha text. Nothing old.\n",
                                                 encoding="utf-8")


def test_crash_while_writing_bm25_keeps_the_old_index(config, fake_embedder, monkeypatch):
    build_index(config, embedder=fake_embedder)
    old = load(config)
    before = snapshot(config.index_dir)
    edit_for_rebuild(config)

    def boom(self, folder):
        folder.mkdir()
        (folder / "part.npy").write_bytes(b"half")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(Postings, "save", boom)   # inside the new segment, after its records
    with pytest.raises(OSError, match="simulated"):
        build_index(config, embedder=fake_embedder, rebuild=True)
    monkeypatch.undo()
    assert snapshot(config.index_dir) == before
    assert load(config).chunks == old.chunks
    assert hidden_siblings(config.index_dir) == []


def test_crash_midway_through_numpy_saves_keeps_the_old_index(config, fake_embedder, monkeypatch):
    build_index(config, embedder=fake_embedder)
    old = load(config)
    before = snapshot(config.index_dir)
    edit_for_rebuild(config)
    real_save, calls = np.save, []

    def second_save_fails(path, *args, **kwargs):
        calls.append(str(path))
        if len(calls) == 2:
            raise KeyboardInterrupt   # not even an Exception: an interrupted process
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr(store.np, "save", second_save_fails)
    with pytest.raises(KeyboardInterrupt):
        build_index(config, embedder=fake_embedder)
    monkeypatch.undo()
    assert len(calls) == 2
    assert snapshot(config.index_dir) == before
    assert load(config).chunks == old.chunks
    assert hidden_siblings(config.index_dir) == []


def test_crash_before_the_pointer_swap_keeps_the_old_index(config, fake_embedder, monkeypatch):
    build_index(config, embedder=fake_embedder)
    before = snapshot(config.index_dir)
    old_chunks = load(config).chunks
    edit_for_rebuild(config)

    def die(*args, **kwargs):
        raise KeyboardInterrupt   # the new version folder is in place, CURRENT not yet replaced

    monkeypatch.setattr(store, "_write_pointer", die)
    with pytest.raises(KeyboardInterrupt):
        build_index(config, embedder=fake_embedder)
    monkeypatch.undo()
    assert (config.index_dir / "v-000002" / "manifest.json").exists()   # the orphan
    assert load(config).chunks == old_chunks
    assert {k: v for k, v in snapshot(config.index_dir).items()
            if not k.startswith(("v-000002/", "segments/s-000002/"))} == before
    (config.index_dir / "v-000002" / "marker").write_text("orphan")
    # the next writer removes the orphan (its number is free again) and is not blocked
    report = build_index(config, embedder=fake_embedder)
    assert report.changed and report.updated == ["alpha.txt"]
    assert sorted(p.name for p in config.index_dir.glob("v-*")) == ["v-000001", "v-000002"]
    assert not (config.index_dir / "v-000002" / "marker").exists()
    assert leftovers(config.index_dir) == [] and hidden_siblings(config.index_dir) == []
    assert load(config).chunks != old_chunks


def test_crash_after_the_pointer_swap_serves_the_new_index(config, fake_embedder, monkeypatch):
    build_index(config, embedder=fake_embedder)
    for n in range(2):   # three versions, so the cleanup has something to remove
        (config.corpus_dir / "beta.md").write_text(f"# Beta {n}\n\nVersion {n} of beta.\n", encoding="utf-8")
        build_index(config, embedder=fake_embedder)
    edit_for_rebuild(config)
    real_cleanup = store.cleanup

    def die_after_swap(*args, **kwargs):
        if kwargs.get("old_layout"):   # the cleanup save() runs after replacing CURRENT
            (config.index_dir / ".tmp-killed").mkdir()   # as if another killed writer left it
            raise KeyboardInterrupt
        return real_cleanup(*args, **kwargs)

    monkeypatch.setattr(store, "cleanup", die_after_swap)
    with pytest.raises(KeyboardInterrupt):
        build_index(config, embedder=fake_embedder, rebuild=True)
    monkeypatch.undo()
    new = load(config)
    assert version_dir(config.index_dir).name == "v-000004"
    assert any("Completely different alpha" in c["text"] for c in new.chunks)
    # v-000002 and the segment only it used (beta's first edit) are left for the next writer
    assert leftovers(config.index_dir) == [".tmp-killed", "segments/s-000002", "v-000002"]
    before = snapshot(config.index_dir / "v-000004")
    report = build_index(config, embedder=fake_embedder)   # a refresh: nothing to do, but it cleans
    assert report.changed is False
    assert leftovers(config.index_dir) == [] and snapshot(config.index_dir / "v-000004") == before
    assert sorted(p.name for p in config.index_dir.glob("v-*")) == ["v-000003", "v-000004"]


# ---------------------------------------------------------------- the Python API on a fake index

def test_rag_open_answers_from_a_fake_index(config, fake_embedder):
    build_index(config, embedder=fake_embedder)
    r = Rag.open(config.index_dir, embedder=fake_embedder, model="fake-hash-64",
                 chunk_tokens=config.chunk_tokens, chunk_overlap=config.chunk_overlap)
    assert r.status["documents"] == 3 and r.status["model"] == "fake-hash-64"
    answer = r.query("When is the harvest festival?")
    assert isinstance(answer, Answer)
    assert answer.passages and answer.passages[0].doc_id in FILES
    for p in answer.passages:
        assert FILES[p.doc_id][p.start:p.end] == p.text
    # the index's settings are read from its manifest: the index folder alone opens it
    alone = Rag.open(config.index_dir, embedder=fake_embedder)
    assert alone.config.model == "fake-hash-64" and alone.config.chunk_tokens == config.chunk_tokens
    assert alone.query("When is the harvest festival?").passages == answer.passages
    with pytest.raises(IndexMismatchError) as err:   # an explicit conflicting model: refused
        Rag.open(config.index_dir, embedder=fake_embedder, model="all-MiniLM-L6-v2")
    assert str(err.value).endswith(shlex.join(["rag", "index", str(config.corpus_dir), "--index",
                                               str(config.index_dir), "--rebuild"]))


def test_refresh_hashes_only_files_changed_since_the_last_writer(config, fake_embedder, monkeypatch):
    """The writer keeps stamps (inode, size, mtime, ctime, sha256) of the segment files it hashed
    (INDEX/.verified); the next refresh does not hash those again, but one that was edited is."""
    from rag.storage import integrity

    build_index(config, embedder=fake_embedder)
    first = segment_dir(config.index_dir)
    hashed = []
    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda p: hashed.append(Path(p)) or real(p))
    (config.corpus_dir / "alpha.txt").write_text("Alpha changed. A new first sentence here.", encoding="utf-8")
    build_index(config, embedder=fake_embedder)
    assert not [p for p in hashed if p.parent == first]   # the kept segment: not hashed again
    assert load(config).chunks   # a reader still checks everything
    hashed.clear()
    edit = segment_dir(config.index_dir) / "chunk_text.bin"   # the new segment, edited (same length)
    edit.write_bytes(edit.read_bytes()[:-1] + b"?")
    (config.corpus_dir / "beta.md").write_text("# Beta\n\nBeta changed too.", encoding="utf-8")
    build_index(config, embedder=fake_embedder)   # detects it: rebuilds everything, with a warning
    assert edit in hashed
    assert edit.parent.name not in load(config).manifest["segments"]   # the damaged segment was replaced
