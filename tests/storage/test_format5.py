"""An index written in format 5 (chunk records as chunks.jsonl, BM25 rebuilt per version) is still
read, answers as it did, and its first refresh rewrites it in the current format."""
from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np

from conftest import FakeEmbedder
from indexutil import reseal, version_dir
from rag.build.builder import build_index, document_text, indexed_text
from rag.config import Config
from rag.retrieve.retriever import Retriever
from rag.storage import writer as store
from rag.storage.layout import SEGMENT_FILES_V5
from rag.storage.lexical import BM25, PARAMS

TEXTS = {
    "apples.txt": "Apples\n\nApples grow in orchards. An orchard needs bees. Cider is made of apples.",
    "comets.txt": "Comets\n\nA comet has a tail of dust. Comets orbit the sun. Halley returns every 76 years.",
    "rivers.md": "# Rivers\n\nRivers carry water to the sea. The Nile is long. Deltas form at river mouths.",
}


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def to_format5(index_dir, config):
    """Rewrite the current version as the previous code wrote it: each segment's records as
    chunks.jsonl (no record arrays, no postings), BM25 (bm25s) in the version folder, format 5."""
    data = store.load(index_dir)
    chunks, folder = list(data.chunks), version_dir(index_dir)
    m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for name, info in m["segments"].items():
        seg = index_dir / "segments" / name
        ids = [d["id"] for d in json.loads((seg / "documents.json").read_text())]
        with open(seg / "chunks.jsonl", "w", encoding="utf-8") as f:
            for c in sorted((c for c in chunks if c["doc"] in ids), key=lambda c: (ids.index(c["doc"]), c["ordinal"])):
                f.write(json.dumps(c, ensure_ascii=False) + "\n")
        for old in ("chunks.npy", "chunk_text.npy", "chunk_text.bin"):
            (seg / old).unlink()
        shutil.rmtree(seg / "bm25")
        shutil.rmtree(seg / "bm25_docs")
        info["files"] = {f: sha(seg / f) for f in SEGMENT_FILES_V5}
    titles = {d["id"]: d["title"] for d in m["documents"]}
    bm25 = BM25.build([indexed_text(c, titles[c["doc"]], config) for c in chunks])
    docs = BM25.build([document_text([c for c in chunks if c["doc"] == d["id"]]) for d in m["documents"]])
    bm25.save(folder / "bm25")
    docs.save(folder / "bm25_docs")
    m["files"] = {p.relative_to(folder).as_posix(): sha(p) for p in sorted(folder.rglob("*"))
                  if p.is_file() and p.name != "manifest.json"}
    m["bm25"] = dict(PARAMS, rows=bm25.size, vocabulary=bm25.vocab_size,
                     documents={"rows": docs.size, "vocabulary": docs.vocab_size})
    m["format_version"] = 5
    (folder / "manifest.json").write_text(json.dumps(m, indent=1), encoding="utf-8")
    reseal(index_dir)


def test_format5_index_is_read_and_refreshed_into_the_current_format(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in TEXTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    config = Config(index_dir=tmp_path / "idx", corpus_dir=corpus, model=FakeEmbedder.name)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    now = store.load(config.index_dir)
    expected, emb = list(now.chunks), FakeEmbedder()
    questions = ["which orchard needs bees", "when does Halley return", "where do deltas form"]

    def ranked(data):
        r = Retriever(data, weights=config.fusion_weights, depth=10)
        return [[(p.doc_id, p.start, round(p.score, 5)) for p in r.search(q, emb.encode([q])[0], 3)]
                for q in questions]
    before = ranked(now)

    to_format5(config.index_dir, config)
    old = store.load(config.index_dir, config.index_settings())
    assert old.manifest["format_version"] == 5 and (version_dir(config.index_dir) / "bm25").is_dir()
    assert list(old.chunks) == expected
    assert ranked(old) == before   # the same answers from the old layout

    (corpus / "rivers.md").write_text(TEXTS["rivers.md"] + " The Amazon is wide.", encoding="utf-8")
    report = build_index(config, embedder=(counted := FakeEmbedder()), progress=False)
    assert report.updated == ["rivers.md"] and len(counted.encoded) < 10   # unchanged files not re-embedded
    new = store.load(config.index_dir, config.index_settings())
    assert new.manifest["format_version"] == store.FORMAT_VERSION
    assert not (version_dir(config.index_dir) / "bm25").exists()
    for name in new.manifest["segments"]:   # every segment rewritten in the current layout
        assert (config.index_dir / "segments" / name / "chunks.npy").is_file()
        assert not (config.index_dir / "segments" / name / "chunks.jsonl").exists()
    assert [c for c in new.chunks if c["doc"] != "rivers.md"] == [c for c in expected if c["doc"] != "rivers.md"]
    assert any("Amazon" in c["text"] for c in new.chunks)
    np.testing.assert_array_equal(np.asarray(new.sentence_vecs)[:3], np.asarray(old.sentence_vecs)[:3])
