"""One encoder pass: sentence vectors pooled from the chunk pass (rag/pooling.py, rag/build.py)."""
import numpy as np
import pytest

from rag.embed import pooling

from rag.storage import writer as store
from rag.build.builder import _chunk, build_index, indexed_text
from rag.text.chunk import split_sentences
from rag.config import Config
from rag.ingest.read import Document, sha256_bytes

from conftest import SEED_DOC, SEEDS, FakeEmbedder


def chunk(start, end, lo, hi):
    return {"start": start, "end": end, "sent_lo": lo, "sent_hi": hi}


# ---------------------------------------------------------------- plan: one chunk per sentence

def test_plan_picks_the_most_central_chunk_and_shifts_by_the_title_prefix():
    title = "Bridges"
    text = "S0 one. S1 two. S2 three. S3 four. S4 five."
    units = split_sentences(text)
    assert [text[a:b] for a, b in units][:3] == ["S0 one.", "S1 two.", "S2 three."]
    chunks = [chunk(0, units[2][1], 0, 3), chunk(units[1][0], units[4][1], 1, 5)]   # S1, S2 shared
    texts = [text[c["start"]:c["end"]] if n == 0 else f"{title}\n{text[c['start']:c['end']]}"
             for n, c in enumerate(chunks)]
    prefixes = [0, len(title) + 1]
    got = pooling.plan(chunks, units, prefixes)
    # S1: context (1 before, 1 after) in chunk 0 vs (0, 3) in chunk 1 -> chunk 0
    # S2: (2, 0) in chunk 0 vs (1, 2) in chunk 1 -> chunk 1
    assert [j for j, _, _ in got] == [0, 0, 1, 1, 1]
    for s, (j, a, b) in enumerate(got):
        assert texts[j][a:b] == text[slice(*units[s])]
    assert got[2][1] == len(title) + 1 + units[2][0] - units[1][0]


def test_plan_ties_go_to_the_earlier_chunk_and_uncovered_sentences_are_refused():
    units = [(0, 2), (3, 5), (6, 8)]
    chunks = [chunk(0, 5, 0, 2), chunk(3, 8, 1, 3)]   # sentence 1 is an edge of both: tie
    assert [j for j, _, _ in pooling.plan(chunks, units, [0, 0])] == [0, 0, 1]
    with pytest.raises(ValueError, match="in no chunk"):
        pooling.plan([chunk(0, 5, 0, 2)], units, [0])


# ---------------------------------------------------------------- spans to word pieces

def test_token_range_on_hand_made_text_with_a_title_prefix(real_embedder):
    tok = real_embedder.model.tokenizer
    title = "Kremlin Notes"
    body = "The Kremlin spoke. Unbelievably, troops regained Kursk!"
    text = f"{title}\n{body}"
    enc = tok(text, return_offsets_mapping=True)
    offsets = np.asarray(enc["offset_mapping"])
    pieces = tok.convert_ids_to_tokens(enc["input_ids"])
    second = body.index("Unbelievably")
    a, b = len(title) + 1 + second, len(text)
    t0, t1 = pooling.token_range(offsets, a, b)
    assert pieces[t0] == "un" and pieces[t1 - 1] == "!" and t1 == len(pieces) - 1   # [SEP] excluded
    assert tok.convert_tokens_to_string(pieces[t0:t1]).replace(" ", "") == body[second:].lower().replace(" ", "")
    t0, t1 = pooling.token_range(offsets, len(title) + 1, len(title) + 1 + body.index(".") + 1)
    assert pieces[t0:t1] == ["the", "k", "##rem", "##lin", "spoke", "."]
    assert pooling.token_range(offsets, 0, len(title)) == (1, 1 + len(tok.tokenize(title)))   # after [CLS]
    assert pooling.token_range(offsets, len(text), len(text) + 5) == (0, 0)   # nothing there


def test_pool_reports_spans_without_word_pieces():
    hidden = np.arange(12, dtype=np.float32).reshape(4, 3)   # [CLS] a b [SEP]
    offsets = np.array([[0, 0], [0, 1], [2, 3], [0, 0]])
    vecs, missing = pooling.pool(hidden, offsets, [(0, 3), (2, 3), (5, 9)])
    assert missing == [2] and not vecs[2].any()
    np.testing.assert_allclose(vecs[0], pooling.normalize(hidden[1:3].mean(0)[None])[0], rtol=1e-6)
    np.testing.assert_allclose(vecs[1], pooling.normalize(hidden[2:3])[0], rtol=1e-6)


# ---------------------------------------------------------------- one pass against two on real text

def test_one_pass_sentence_vectors_are_close_to_two_pass_ones(real_embedder):
    """On the seed article (30 sentences) with the bundled model, measured: mean cosine 0.76,
    minimum 0.47; 25 of 30 pooled vectors have their own sentence's encoded vector as the
    nearest of all 30. Pooled vectors carry their chunk's context, so they are not equal."""
    text = (SEEDS / SEED_DOC).read_text(encoding="utf-8")
    doc = Document(SEED_DOC, "North Korean troops", text, sha256_bytes(text.encode()))
    config = Config()
    chunks, units, sentences = _chunk([doc], config, real_embedder)[SEED_DOC]
    texts = [indexed_text(c, doc.title, config) for c in chunks]
    prefixes = [len(t) - (c["end"] - c["start"]) for t, c in zip(texts, chunks)]
    assert any(prefixes) and len(chunks) > 2   # title prefixes and overlaps are exercised
    spans, where = [[] for _ in chunks], []
    for j, a, b in pooling.plan(chunks, units, prefixes):
        where.append((j, len(spans[j])))
        spans[j].append((a, b))
    cvecs, per_chunk = real_embedder.encode_spans(texts, spans)
    pooled = np.stack([per_chunk[j][n] for j, n in where])
    encoded = real_embedder.encode(sentences)
    np.testing.assert_allclose(cvecs, real_embedder.encode(texts), atol=1e-5)   # chunk vectors unchanged
    cos = np.sum(pooled * encoded, axis=1)
    assert cos.mean() >= 0.70 and cos.min() >= 0.35
    nearest = (pooled @ encoded.T).argmax(axis=1)
    assert np.mean(nearest == np.arange(len(units))) >= 0.75
    # and far better than using the chunk's own vector for each of its sentences
    chunk_cos = np.sum(cvecs[[j for j, _ in where]] * encoded, axis=1)
    assert cos.mean() > chunk_cos.mean() + 0.08


# ---------------------------------------------------------------- the build's one-pass path

class SpanFake(FakeEmbedder):
    """A fake with token outputs: a span's vector is the bag of words of the span's text,
    so a correct one-pass build stores exactly what the two-pass build stores."""

    token_outputs = True

    def __init__(self):
        super().__init__()
        self.span_calls = 0

    def encode_spans(self, texts, spans, *, on_batch=None):
        self.span_calls += 1
        vecs = self.encode(texts)
        return vecs, [self.encode([t[a:b] for a, b in s]) if s else np.zeros((0, self.dim), np.float32)
                      for t, s in zip(texts, spans)]


def test_build_one_pass_lines_sentences_up_with_two_pass(tmp_path):
    words = " ".join(f"Word{i} is here." for i in range(40))
    docs = [Document("b", "Bee Title", f"Bee Title\n{words}", ""),
            Document("a", "Ant", "Ants carry leaves. Colonies are big.", "")]
    docs = [Document(d.id, d.title, d.text, sha256_bytes(d.text.encode())) for d in docs]
    config = Config(index_dir=tmp_path / "one", model=FakeEmbedder.name, chunk_tokens=24, chunk_overlap=8,
                    sentence_vectors="pooled")
    fake = SpanFake()
    build_index(config, embedder=fake, documents=docs, progress=False)
    one = store.load(config.index_dir, config.index_settings())
    assert fake.span_calls == 1 and one.manifest["sentence_vectors"] == "pooled"
    assert len(one.chunks) > 4 and any(c["start"] > 0 for c in one.chunks)
    two_cfg = Config(index_dir=tmp_path / "two", model=FakeEmbedder.name, chunk_tokens=24, chunk_overlap=8,
                     sentence_vectors="encoded")
    build_index(two_cfg, embedder=SpanFake(), documents=docs, progress=False)
    two = store.load(two_cfg.index_dir, two_cfg.index_settings())
    assert two.manifest["sentence_vectors"] == "encoded"
    assert one.chunks == two.chunks and np.array_equal(one.sentences, two.sentences)
    np.testing.assert_allclose(np.asarray(one.sentence_vecs), np.asarray(two.sentence_vecs), atol=1e-6)
    np.testing.assert_allclose(store.chunk_vectors(one), store.chunk_vectors(two), atol=1e-6)


def test_embedders_without_token_outputs_use_two_passes(tmp_path, fake_embedder):
    docs = [Document("a", "Ant", "Ants carry leaves. Colonies are big.", "x" * 64)]
    config = Config(index_dir=tmp_path / "idx", model=fake_embedder.name, sentence_vectors="pooled")
    build_index(config, embedder=fake_embedder, documents=docs, progress=False)
    assert fake_embedder.encoded == ["Ants carry leaves. Colonies are big.", "Ants carry leaves.",
                                     "Colonies are big."]
    assert store.read_manifest(config.index_dir)["sentence_vectors"] == "encoded"
