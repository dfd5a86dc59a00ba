"""Damaged indexes: every bad manifest shape and every same-shape file edit is an
IndexCorruptError naming the exact rebuild command; a refresh over damage rebuilds."""
import dataclasses
import json
import logging
import shlex

import numpy as np
import pytest

from rag import Rag

from rag.storage import writer as store
from rag.build.builder import build_index
from rag.config import Config
from rag.errors import IndexCorruptError, IndexMismatchError

from conftest import FakeEmbedder
from indexutil import edit_manifest, leftovers, segment_dir, version_dir

FILES = {"alpha.txt": "Alpha apples grow in the orchard. The orchard is north of the river.\n",
         "beta.md": "# Beta Notes\n\nThe bridge was built in 1901. It has three arches. Trains crossed it.\n"}


@pytest.fixture
def config(tmp_path):
    corpus = tmp_path / "my corpus"   # a space: the command must be shell-quoted
    corpus.mkdir()
    for name, text in FILES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "the index", model=FakeEmbedder.name)
    build_index(config, embedder=FakeEmbedder())
    return config


def command(config, corpus=None):
    corpus = corpus or config.corpus_dir.parent / "elsewhere"   # see open_elsewhere
    return shlex.join(["rag", "index", str(corpus), "--index", str(config.index_dir),
                       "--model", FakeEmbedder.name, "--rebuild"])


def open_elsewhere(config):
    """Open the index as `rag ask --index` would with the default corpus configured: the
    command must still name the corpus the index was built from (when the manifest says)."""
    return Rag(dataclasses.replace(config, corpus_dir=config.corpus_dir.parent / "elsewhere"),
               embedder=FakeEmbedder())


def set_(path, value):
    def change(m):
        *parents, last = path
        for key in parents:
            m = m[key]
        m[last] = value
    return change


BAD_SHAPES = {
    "manifest is a list": lambda m: [m],
    "documents is an object": set_(["documents"], {"alpha.txt": {}}),
    "a document is a string": set_(["documents", 0], "alpha.txt"),
    "a document's chunks is a string": set_(["documents", 0, "chunks"], "1"),
    "a document has no sha256": lambda m: m["documents"][0].pop("sha256") and None,
    "a document id is a number": set_(["documents", 1, "id"], 7),
    "counts is null": set_(["counts"], None),
    "counts.chunks is a float": set_(["counts", "chunks"], 2.0),
    "settings is a string": set_(["settings"], "model=fake-hash-64"),
    "dimension is zero": set_(["dimension"], 0),
    "dimension is a string": set_(["dimension"], "64"),
    "model is null": set_(["model"], None),
    "bm25 is a list": set_(["bm25"], [1, 2]),
    "bm25 has no documents block": lambda m: m["bm25"].pop("documents") and None,
    "files is a list": set_(["files"], []),
    "files leaves the folder": lambda m: m["files"].__setitem__("../escape", "0" * 64),
    "format_version is a string": set_(["format_version"], "3"),
    "segments is a list": set_(["segments"], ["s-000001"]),
    "a document's segment is not listed": set_(["documents", 0, "segment"], "s-000009"),
    "a segment lists no chunk vectors": lambda m: m["segments"]["s-000001"]["files"].pop("chunk_vecs.npy") and None,
    "a segment name leaves the folder": lambda m: m["segments"].__setitem__("../s-000001", {}),
}


@pytest.mark.parametrize("name", BAD_SHAPES)
def test_bad_manifest_shape_is_corrupt_with_the_rebuild_command(config, name):
    edit_manifest(config.index_dir, BAD_SHAPES[name])   # resealed: the shape check must catch it
    with pytest.raises(IndexCorruptError) as err:
        open_elsewhere(config)
    message = str(err.value)
    # the corpus comes from the manifest when it is an object, else from the configuration
    corpus = None if name == "manifest is a list" else config.corpus_dir
    assert message.endswith("rebuild it with: " + command(config, corpus)), message
    assert "\n" not in message


def flip_last(relpath, back=1):
    def damage(folder):
        path = folder / relpath
        raw = bytearray(path.read_bytes())
        raw[-back] ^= 0x01
        path.write_bytes(bytes(raw))
    return damage


def edit_chunk_text(folder):
    path = folder / "chunk_text.bin"
    text = path.read_text(encoding="utf-8")
    assert "orchard" in text
    path.write_text(text.replace("orchard", "orchid!", 1), encoding="utf-8")   # same length


def edit_chunk_span(folder):
    path = folder / "chunks.npy"
    cols = np.load(path)
    cols[0, 2] += 1   # same shape and dtype, wrong end
    np.save(path, cols)


def swap_spans(folder):
    path = folder / "sentences.npy"
    spans = np.load(path)
    spans[0] = spans[1]   # same shape and dtype, wrong span
    np.save(path, spans)


def bm25_array(folder_name):
    def damage(folder):
        arrays = sorted((folder / folder_name).glob("*.npy"))
        assert arrays
        flip_last(arrays[0].relative_to(folder).as_posix())(folder)
    return damage


def manifest_sha(folder):
    path = folder / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    sha = m["documents"][0]["sha256"]
    m["documents"][0]["sha256"] = ("0" if sha[0] != "0" else "1") + sha[1:]
    path.write_text(json.dumps(m, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def in_segment(damage):
    """Apply damage to the segment's folder instead of the version folder."""
    def apply(folder):
        damage(segment_dir(folder.parent))
    return apply


SAME_SHAPE_EDITS = {
    "chunk text, same length": in_segment(edit_chunk_text),
    "chunk vector bytes": in_segment(flip_last("chunk_vecs.npy", back=5)),
    "sentence vector bytes": in_segment(flip_last("sentence_vecs.npy", back=3)),
    "sentence spans": in_segment(swap_spans),
    "segment document list": in_segment(lambda f: (f / "documents.json").write_text(
        (f / "documents.json").read_text().replace('"chunks": 1', '"chunks": 2', 1))),
    "chunk record columns": in_segment(edit_chunk_span),
    "bm25 chunk arrays": in_segment(bm25_array("bm25")),
    "bm25 document arrays": in_segment(bm25_array("bm25_docs")),
    "bm25 vocabulary": in_segment(flip_last("bm25/terms.npy")),
    "manifest document sha256": manifest_sha,
}


@pytest.mark.parametrize("name", SAME_SHAPE_EDITS)
def test_same_shape_edit_is_detected_on_load(config, name):
    SAME_SHAPE_EDITS[name](version_dir(config.index_dir))
    with pytest.raises(IndexCorruptError) as err:
        open_elsewhere(config)
    assert str(err.value).endswith("rebuild it with: " + command(config, config.corpus_dir)), str(err.value)


@pytest.mark.parametrize("name", ["chunk text, same length", "manifest document sha256"])
def test_refresh_over_a_damaged_index_rebuilds_it(config, name, caplog):
    expected = list(store.load(config.index_dir).chunks)   # records are read from disk on access
    SAME_SHAPE_EDITS[name](version_dir(config.index_dir))
    embedder = FakeEmbedder()
    with caplog.at_level(logging.WARNING, logger="rag"):
        report = build_index(config, embedder=embedder)   # a plain refresh, no --rebuild
    assert report.changed and embedder.encoded   # not "nothing to do"
    assert any("damaged" in r.getMessage() for r in caplog.records)
    assert store.load(config.index_dir, config.index_settings()).chunks == expected
    assert leftovers(config.index_dir) == []


def test_damaged_pointer_names_the_configured_corpus(config):
    (config.index_dir / "CURRENT").write_text("v-000001 garbage")
    with pytest.raises(IndexCorruptError) as err:
        Rag(config, embedder=FakeEmbedder())
    assert str(err.value).endswith("rebuild it with: " + command(config, config.corpus_dir))
    assert build_index(config, embedder=FakeEmbedder()).changed   # and a refresh rebuilds


def test_old_layout_index_is_refused_then_rebuilt_by_a_refresh(config):
    # a format-2 index: the files straight in INDEX, no CURRENT
    folder = version_dir(config.index_dir)
    for p in folder.iterdir():
        p.rename(config.index_dir / p.name)
    folder.rmdir()
    (config.index_dir / "CURRENT").unlink()
    edit = config.index_dir / "manifest.json"
    edit.write_text(edit.read_text().replace(f'"format_version": {store.FORMAT_VERSION}', '"format_version": 2'))
    with pytest.raises(IndexMismatchError) as err:
        open_elsewhere(config)
    assert "older layout" in str(err.value) and str(err.value).endswith(command(config, config.corpus_dir))
    report = build_index(config, embedder=FakeEmbedder())
    assert report.changed
    assert {p.name for p in config.index_dir.iterdir()} == {"CURRENT", ".lock", ".verified", "v-000001", "segments"}
    store.load(config.index_dir, config.index_settings())
