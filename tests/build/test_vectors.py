"""Chunk vectors pooled from the sentence pass (rag.build.vectors, Config.chunk_vectors="pooled"):
one encoder pass over the sentences and title lines gives both kinds of vectors. Fake embedder whose
token embeddings are context-free word hashes, so a chunk pooled from its sentences and title line is
exactly the chunk encoded whole: the one-pass build must store what the two-pass build stores."""
from __future__ import annotations

import re

import numpy as np
import pytest

from rag import Config
from rag.build.builder import build_index
from rag.ingest.read import Document, sha256_bytes
from rag.storage import writer as store

from conftest import FakeEmbedder


class SumFake(FakeEmbedder):
    """encode_sums: a text's token sums are its bag of words (unnormalized), one token per word."""

    token_outputs = True

    def __init__(self):
        super().__init__()
        self.sum_calls = []

    def encode_sums(self, texts, *, on_batch=None):
        self.sum_calls.append(list(texts))
        vecs = self.encode(texts, on_batch=on_batch)
        sums = np.zeros((len(texts), self.dim))
        for n, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                sums[n] += self.encode([w])[0]
        return vecs, sums, np.array([len(re.findall(r"\w+", t)) for t in texts])


def docs():
    words = " ".join(f"Word{i} is here." for i in range(40))
    out = [Document("b", "Bee Title", f"Bee Title\n{words}", ""),
           Document("a", "Ant", "Ants carry leaves. Colonies are big.", "")]
    return [Document(d.id, d.title, d.text, sha256_bytes(d.text.encode())) for d in out]


def test_chunks_pooled_from_the_sentence_pass_match_the_two_pass_build(tmp_path):
    one_cfg = Config(index_dir=tmp_path / "one", model=FakeEmbedder.name, chunk_tokens=24, chunk_overlap=8,
                     chunk_vectors="pooled")
    fake = SumFake()
    build_index(one_cfg, embedder=fake, documents=docs(), progress=False)
    one = store.load(one_cfg.index_dir, one_cfg.index_settings())
    assert len(one.chunks) > 4 and any(c["start"] > 0 for c in one.chunks)
    # one pass: the sentences and the one title line later chunks carry; no chunk text encoded
    assert len(fake.sum_calls) == 1 and fake.sum_calls[0][-1] == "Bee Title"
    assert len(fake.sum_calls[0]) == len(one.sentences) + 1
    assert one.manifest["settings"]["chunk_vectors"] == "pooled"
    two_cfg = Config(index_dir=tmp_path / "two", model=FakeEmbedder.name, chunk_tokens=24, chunk_overlap=8)
    build_index(two_cfg, embedder=FakeEmbedder(), documents=docs(), progress=False)
    two = store.load(two_cfg.index_dir, two_cfg.index_settings())
    assert one.chunks == two.chunks and np.array_equal(one.sentences, two.sentences)
    np.testing.assert_allclose(np.asarray(one.sentence_vecs), np.asarray(two.sentence_vecs), atol=1e-6)
    np.testing.assert_allclose(store.chunk_vectors(one), store.chunk_vectors(two), atol=1e-3)   # float16


def test_a_refresh_with_the_other_chunk_vectors_rebuilds(tmp_path):
    cfg = Config(index_dir=tmp_path / "idx", model=FakeEmbedder.name, chunk_vectors="pooled")
    build_index(cfg, embedder=SumFake(), documents=docs(), progress=False)
    fake = FakeEmbedder()
    report = build_index(Config(index_dir=tmp_path / "idx", model=FakeEmbedder.name, chunk_vectors="encoded"),
                         embedder=fake, documents=docs(), progress=False)
    assert report.changed and store.read_manifest(cfg.index_dir)["settings"]["chunk_vectors"] == "encoded"
    assert "Ants carry leaves. Colonies are big." in fake.encoded   # the chunk encoded whole this time


def test_both_pooled_is_refused():
    with pytest.raises(ValueError, match="cannot both be pooled"):
        Config(chunk_vectors="pooled", sentence_vectors="pooled")
