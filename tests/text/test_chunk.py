"""Sentence splitting and token-bounded chunking, including the real model's own limit."""
import itertools
import random
import re
import string

import pytest

from rag.text import chunk as chunk_module
from rag.text.chunk import chunk_text, count_tokens, piece_counter, split_sentences
from rag.config import Config

from conftest import SEED_DOC, SEEDS, FakeEmbedder

WORDS = ("river stone garden window table chair lamp harbor village engineer museum railway "
         "contract budget committee mountain valley bridge market school").split()


def prose(seed=1, paragraphs=40, headings=True):
    """Paragraphs of short sentences, with headings that have no final punctuation."""
    rng = random.Random(seed)
    out = []
    for p in range(paragraphs):
        if headings and p % 5 == 0:
            out.append(f"Section {p // 5 + 1} {rng.choice(WORDS)}")
        sentences = []
        for _ in range(rng.randint(2, 7)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(3, 14))]
            sentences.append(words[0].capitalize() + " " + " ".join(words[1:]) + rng.choice(".!?"))
        out.append(" ".join(sentences))
    return "\n\n".join(out)


def check_chunks(text, units, chunks, chunk_tokens, chunk_overlap, fits=None):
    """Every invariant chunk_text promises, checked from its outputs alone."""
    sentences = split_sentences(text)
    # units: ordered, disjoint, stripped, inside one sentence each, covering all sentence text
    assert units, "non-blank text gives at least one unit"
    for (a, b), (c, _) in zip(units, units[1:]):
        assert b <= c
    for a, b in units:
        piece = text[a:b]
        assert piece and piece == piece.strip()
        assert any(sa <= a and b <= sb for sa, sb in sentences)
    covered = "".join(re.sub(r"\s", "", text[a:b]) for a, b in units)
    assert covered == "".join(re.sub(r"\s", "", text[a:b]) for a, b in sentences)

    sizes = [count_tokens(text[a:b]) for a, b in units]
    assert all(s <= chunk_tokens for s in sizes)
    assert chunks[0].sent_lo == 0 and chunks[-1].sent_hi == len(units)
    seen = set()
    for n, c in enumerate(chunks):
        assert 0 <= c.sent_lo < c.sent_hi <= len(units)
        # offsets round trip and the span is exactly its sentence range
        assert c.start == units[c.sent_lo][0] and c.end == units[c.sent_hi - 1][1]
        chunk = text[c.start:c.end]
        assert chunk == chunk.strip()
        seen.update(range(c.sent_lo, c.sent_hi))
        # The guarantee is on the sum of the sentences' tokens; the text between
        # sentences (e.g. a "\n\n" after a heading) may add at most one token per gap.
        assert sum(sizes[c.sent_lo:c.sent_hi]) <= chunk_tokens
        assert count_tokens(chunk) <= chunk_tokens + (c.sent_hi - c.sent_lo - 1)
        if fits is not None:
            assert fits(chunk)
        else:
            # greedy: the next sentence would not have fitted
            assert c.sent_hi == len(units) or sum(sizes[c.sent_lo:c.sent_hi + 1]) > chunk_tokens
        if n:
            prev = chunks[n - 1]
            assert prev.sent_lo < c.sent_lo <= prev.sent_hi
            carried = sum(sizes[c.sent_lo:prev.sent_hi])
            assert carried <= chunk_overlap
            # as much overlap as allowed: one more sentence would exceed it (or restart prev)
            assert c.sent_lo == prev.sent_lo + 1 or carried + sizes[c.sent_lo - 1] > chunk_overlap
    assert seen == set(range(len(units))), "every sentence is in some chunk"


# ---------------------------------------------------------------- sentences

def test_split_sentences_by_hand():
    text = "  First one. Second one!  Third one?\n\nFourth \"quoted.\" Fifth (aside.) Sixth\n   \nlast line  "
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == [
        "First one.", "Second one!", "Third one?", "Fourth \"quoted.\"", "Fifth (aside.)", "Sixth",
        "last line"]
    for a, b in spans:
        assert text[a:b] == text[a:b].strip()


def test_abbreviations_and_initials_do_not_split():
    text = ("Gen. Valery Gerasimov met Dr. Smith and Mr. Jones at 5 p.m. in the U.S. embassy. "
            "They spoke with J. R. Tolkien. Prices rose 3.5 percent. Then it ended.")
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Gen. Valery Gerasimov met Dr. Smith and Mr. Jones at 5 p.m. in the U.S. embassy.",
        "They spoke with J. R. Tolkien.",
        "Prices rose 3.5 percent.",
        "Then it ended."]


def test_seed_sentences_round_trip():
    text = (SEEDS / SEED_DOC).read_text(encoding="utf-8")
    spans = split_sentences(text)
    assert len(spans) > 10
    for (a, b), (c, d) in zip(spans, spans[1:]):
        assert a < b <= c < d
        assert text[b:c].strip() == ""          # nothing but whitespace between sentences
    assert text[:spans[0][0]].strip() == "" and text[spans[-1][1]:].strip() == ""
    joined = [text[a:b] for a, b in spans]
    assert any("Gen. Valery" in s for s in joined)        # the seed's own abbreviation
    assert not any(s.endswith("Gen.") for s in joined)


def test_blank_text_has_no_chunks():
    assert chunk_text("", chunk_tokens=64, chunk_overlap=8) == ([], [])
    assert chunk_text(" \n\n\t ", chunk_tokens=64, chunk_overlap=8) == ([], [])


# ---------------------------------------------------------------- chunks

@pytest.mark.parametrize("chunk_tokens,chunk_overlap", [(180, 40), (64, 16), (32, 10), (16, 0)])
def test_chunk_invariants(chunk_tokens, chunk_overlap):
    text = prose(seed=chunk_tokens)
    units, chunks = chunk_text(text, chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap)
    assert len(chunks) > 3
    check_chunks(text, units, chunks, chunk_tokens, chunk_overlap)


def test_consecutive_chunks_overlap_when_sentences_are_short():
    rng = random.Random(5)
    text = " ".join(f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} {rng.choice(WORDS)}."
                    for _ in range(300))
    units, chunks = chunk_text(text, chunk_tokens=64, chunk_overlap=16)
    sizes = [count_tokens(text[a:b]) for a, b in units]
    assert max(sizes) <= 16 and len(chunks) > 10
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.sent_lo < prev.sent_hi
        assert nxt.start < prev.end                       # character spans overlap too
        assert text[nxt.start:prev.end] == text[units[nxt.sent_lo][0]:units[prev.sent_hi - 1][1]]
    check_chunks(text, units, chunks, 64, 16)


def test_no_overlap_when_overlap_is_zero():
    text = prose(seed=9, headings=False)
    units, chunks = chunk_text(text, chunk_tokens=48, chunk_overlap=0)
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.sent_lo == prev.sent_hi
    check_chunks(text, units, chunks, 48, 0)


def test_long_sentence_without_punctuation_is_cut_at_words():
    rng = random.Random(2)
    words = [rng.choice(WORDS) for _ in range(3000)]
    text = "A short start. " + " ".join(words) + " and no full stop at all"
    units, chunks = chunk_text(text, chunk_tokens=180, chunk_overlap=40)
    assert len(units) >= 1 + 3000 // 180
    for a, b in units:
        assert count_tokens(text[a:b]) <= 180
        assert a == 0 or text[a - 1].isspace()               # cut between words
        assert b == len(text) or text[b].isspace()
    assert " ".join(text[a:b] for a, b in units).split() == text.split()
    check_chunks(text, units, chunks, 180, 40)


def test_single_huge_word_is_cut_into_pieces_that_fit():
    rng = random.Random(3)
    word = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(5000))
    assert count_tokens(word) > 1000
    text = "Before the word. " + word + " After the word."
    units, chunks = chunk_text(text, chunk_tokens=64, chunk_overlap=16)
    start = text.index(word)
    pieces = [(a, b) for a, b in units if start <= a and b <= start + len(word)]
    assert len(pieces) > 1
    assert pieces[0][0] == start and pieces[-1][1] == start + len(word)
    for (a, b), (c, _) in zip(pieces, pieces[1:]):
        assert b == c                                         # contiguous, nothing lost
    assert all(count_tokens(text[a:b]) <= 64 for a, b in pieces)
    check_chunks(text, units, chunks, 64, 16)


def test_fits_callback_bounds_every_chunk_and_unit():
    text = prose(seed=4)
    fits = lambda t: len(t) <= 300   # noqa: E731  a stricter "model" than the token budget
    units, chunks = chunk_text(text, chunk_tokens=180, chunk_overlap=40, fits=fits)
    assert all(fits(text[a:b]) for a, b in units)
    check_chunks(text, units, chunks, 180, 40, fits=fits)
    _, unbounded = chunk_text(text, chunk_tokens=180, chunk_overlap=40)
    assert any(not fits(text[c.start:c.end]) for c in unbounded), "the callback must matter here"


# ---------------------------------------------------------------- the real model's limit

CYRILLIC = "Комитет рассмотрел годовой бюджет и утвердил несколько новых проектов в регионе".split()
GREEK = "Η επιτροπή εξέτασε τον ετήσιο προϋπολογισμό και ενέκρινε νέα έργα".split()


def hard_text(seed=7, paragraphs=60):
    """Thousands of words that cost the model many more word pieces than cl100k tokens."""
    rng = random.Random(seed)
    kinds = ["prose", "number", "url", "cyrillic", "greek", "cjk", "emoji"]
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(rng.randint(4, 8)):
            kind = rng.choices(kinds, weights=[1, 2, 2, 4, 1, 1, 1])[0]
            if kind == "prose":
                sentences.append("The " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))) + ".")
            elif kind == "number":
                sentences.append("Record " + " ".join(str(rng.randrange(10**11, 10**12))
                                                      for _ in range(rng.randint(4, 10))) + " was filed.")
            elif kind == "url":
                sentences.append(f"See https://www.example-{rng.randrange(1000)}.org/path/{rng.randrange(10**6)}"
                                 f"/item?id={rng.randrange(10**8)}&ref=x{rng.randrange(10**5)} for details.")
            elif kind == "cyrillic":
                sentences.append("Отчёт " + " ".join(rng.choice(CYRILLIC) for _ in range(rng.randint(8, 16))) + ".")
            elif kind == "greek":
                sentences.append("Η " + " ".join(rng.choice(GREEK) for _ in range(rng.randint(8, 16))) + ".")
            elif kind == "cjk":
                sentences.append("委员会审查了年度预算并批准了来年的几个新项目。")
            else:
                sentences.append("Launch day 🚀🔥🎉 went well 👍🏽 for the team 😀.")
        out.append(" ".join(sentences))
    # and one long run-on paragraph of Cyrillic with no sentence end at all
    out.append(" ".join(rng.choice(CYRILLIC) for _ in range(600)))
    return "\n\n".join(out)


def model_chunks(text, embedder, config, *, with_fits=True):
    """Exactly what rag/build.py does for one document."""
    fits = lambda t: embedder.count_tokens(t) <= config.max_model_tokens  # noqa: E731
    return chunk_text(text, chunk_tokens=config.chunk_tokens, chunk_overlap=config.chunk_overlap,
                      fits=fits if with_fits else None)


def test_seed_chunks_fit_the_model(real_embedder):
    config = Config()
    text = (SEEDS / SEED_DOC).read_text(encoding="utf-8")
    units, chunks = model_chunks(text, real_embedder, config)
    assert real_embedder.max_tokens == 256 and config.max_model_tokens <= real_embedder.max_tokens
    assert chunks
    for c in chunks:
        assert real_embedder.count_tokens(text[c.start:c.end]) <= real_embedder.max_tokens
    for a, b in units:
        assert real_embedder.count_tokens(text[a:b]) <= real_embedder.max_tokens
    check_chunks(text, units, chunks, config.chunk_tokens, config.chunk_overlap,
                 fits=lambda t: real_embedder.count_tokens(t) <= config.max_model_tokens)


def test_hard_text_chunks_fit_the_model_only_thanks_to_the_check(real_embedder):
    config = Config()
    text = hard_text()
    assert len(text.split()) > 3000
    for needle in ("123", "https://", "Комитет", "επιτροπή", "委员会", "🚀"):
        assert needle in text

    # without the model check, some chunk would be truncated by the model
    _, unchecked = model_chunks(text, real_embedder, config, with_fits=False)
    assert max(real_embedder.count_tokens(text[c.start:c.end]) for c in unchecked) > real_embedder.max_tokens

    units, chunks = model_chunks(text, real_embedder, config)
    worst = max(real_embedder.count_tokens(text[c.start:c.end]) for c in chunks)
    assert worst <= real_embedder.max_tokens
    assert max(real_embedder.count_tokens(text[a:b]) for a, b in units) <= real_embedder.max_tokens
    check_chunks(text, units, chunks, config.chunk_tokens, config.chunk_overlap,
                 fits=lambda t: real_embedder.count_tokens(t) <= config.max_model_tokens)


class ModelTokenFake(FakeEmbedder):
    """Fake vectors, but the real model's tokenizer: build_index's own check must use it."""

    def __init__(self, real):
        super().__init__()
        self.count_tokens = real.count_tokens


def test_build_index_stores_only_texts_the_model_reads_whole(real_embedder, tmp_path):
    from rag.storage import writer as store
    from rag.build.builder import build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "hard.txt").write_text(hard_text(seed=11), encoding="utf-8")
    (corpus / SEED_DOC).write_text((SEEDS / SEED_DOC).read_text(encoding="utf-8"), encoding="utf-8")
    embedder = ModelTokenFake(real_embedder)
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "index", model=embedder.name)
    build_index(config, embedder=embedder)
    # everything that was embedded (chunks and sentences) fits the model
    assert embedder.encoded
    assert max(real_embedder.count_tokens(t) for t in embedder.encoded) <= real_embedder.max_tokens
    data = store.load(config.index_dir, config.index_settings())
    assert max(real_embedder.count_tokens(c["text"]) for c in data.chunks) <= real_embedder.max_tokens


# ---------------------------------------------------------------- counting spans from one tokenizer pass

PIECE = re.compile(r"\w+|[^\w\s]")   # the FakeEmbedder's pieces: words split at whitespace, then on their own


def fake_pieces(words):
    return [len(PIECE.findall(w)) for w in words], 2


def fake_count(text):
    return len(PIECE.findall(text)) + 2   # FakeEmbedder.count_tokens


def counted(text, prefix, pieces=fake_pieces):
    """piece_counter over text, and the spans it had to count exactly."""
    exact_calls = []

    def exact(a, b):
        exact_calls.append((a, b))
        return fake_count(prefix + text[a:b])

    return piece_counter(text, prefix, pieces, exact), exact_calls


def test_piece_counter_counts_spans_at_separators_from_their_words():
    text = "Hello world. Foo-bar baz\n\nnext\tline"
    count, exact_calls = counted(text, "T\n")
    # by hand: T | Hello world . | Foo - bar baz | next line, plus 2 special tokens
    assert count(0, 12) == 1 + 3 + 2
    assert count(13, 24) == 1 + 4 + 2
    assert count(0, len(text)) == 1 + 9 + 2
    assert count(26, 30) == 1 + 1 + 2
    assert exact_calls == []
    # a span cut inside a word is not at a separator: counted exactly
    assert count(1, 12) == fake_count("T\n" + text[1:12]) and exact_calls == [(1, 12)]
    assert count(13, 16) == fake_count("T\n" + text[13:16]) and exact_calls[-1] == (13, 16)


def test_piece_counter_without_pieces_or_with_an_unseparated_prefix_counts_exactly():
    text = "alpha beta. gamma delta."
    count, exact_calls = counted(text, "T\n", pieces=lambda words: None)
    assert count(0, 11) == fake_count("T\nalpha beta.") and exact_calls == [(0, 11)]
    count, exact_calls = counted(text, "Title: ")   # ends in a space: its pieces stay its own
    assert count(0, 11) == 2 + 3 + 2 and exact_calls == []
    count, exact_calls = counted(text, "Title-")    # glued to the text: every span exactly
    assert count(0, 11) == fake_count("Title-alpha beta.") and exact_calls == [(0, 11)]


@pytest.mark.parametrize("text,by_words", [
    (" ".join(f"w{n}." for n in range(20_000)), True),
    ("x" * 9_000 + " tail. " + "y" * 5 + "\n" * 3 + "z", True),     # a long word
    ("x" * 4_000, True),                                            # no separator at all
    ("ab\u2028cd\x0bef\u00a0gh\tij\r\nkl " * 3000, True),           # other whitespace is not a separator
    ("short words " * 100 + "x" * 10_001 + " more words", False),   # a run over LONG_RUN: span by span
])
def test_piece_counter_agrees_with_exact_counts_on_every_kind_of_span(text, by_words):
    count, exact_calls = counted(text, "Doc title\n")
    rng = random.Random(3)
    spans = [(0, len(text))] + [tuple(sorted(rng.sample(range(len(text) + 1), 2))) for _ in range(300)]
    spans += [(m.start(), m.end()) for m in itertools.islice(re.finditer(r"\S+(?:\s+\S+){0,9}", text), 300)]
    spans = [(a, b) for a, b in spans if a < b]
    for a, b in spans:
        assert count(a, b) == fake_count("Doc title\n" + text[a:b]), (a, b)
    # word-aligned spans were counted from their words, unless the text is counted span by span
    assert (len(exact_calls) < len(spans)) == by_words and (len(exact_calls) == len(spans)) == (not by_words)


def test_piece_counter_counts_a_very_long_text_span_by_span(monkeypatch):
    monkeypatch.setattr(chunk_module, "LONG_TEXT", 1_000)
    count, exact_calls = counted("word " * 200, "T\n")   # 1,000 characters: by words
    assert count(0, 4) == 1 + 1 + 2 and exact_calls == []
    count, exact_calls = counted("word " * 201, "T\n")   # one more: span by span
    assert count(0, 4) == 1 + 1 + 2 and exact_calls == [(0, 4)]


def varied_text(seed=5):
    """Prose with long words, unicode, odd whitespace between sentences and very long sentences."""
    rng = random.Random(seed)
    parts = []
    for _ in range(120):
        kind = rng.randrange(6)
        if kind == 0:
            parts.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 30))).capitalize() + ".")
        elif kind == 1:
            parts.append("Word " + "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(50, 900))))
        elif kind == 2:
            parts.append("Naïve café İstanbul Ωmega 委员会审查了 🚀🔥 x\x1cy [MASK] don't re-do.")
        elif kind == 3:
            parts.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(200, 500))) + ".")
        elif kind == 4:
            parts.append("- item " + rng.choice(WORDS) + "\n- item two")
        else:
            parts.append("Heading " + rng.choice(WORDS))
        parts.append(rng.choice([" ", "\n", "\n\n", "\u2028", "\u00a0", "\x0b", " \x1c ", "\t"]))
    return "".join(parts)


@pytest.mark.parametrize("chunk_tokens,chunk_overlap,limit", [(180, 40, 48), (32, 8, 16)])
def test_chunk_text_by_spans_gives_the_chunks_of_the_per_piece_check(chunk_tokens, chunk_overlap, limit):
    mattered = []
    for text in (varied_text(), hard_text(seed=3, paragraphs=20), prose(seed=2)):
        def fits(t):
            return fake_count("Title\n" + t) <= limit

        count = piece_counter(text, "Title\n", fake_pieces, lambda a, b: fake_count("Title\n" + text[a:b]))
        old = chunk_text(text, chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap, fits=fits)
        new = chunk_text(text, chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap,
                         fits_span=lambda a, b: count(a, b) <= limit)
        assert new == old
        mattered.append(chunk_text(text, chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap) != old)
    assert any(mattered), "the check must matter here"


def test_real_tokenizer_counts_spans_by_words_and_chunks_alike(real_embedder):
    """The default model's tokenizer: counting by words gives what count_tokens gives, for every unit and
    chunk the chunker checks, and the chunks are those of the per-piece check on hard text."""
    from rag.build.reading import chunk_document
    from rag.ingest.read import Document

    config = Config()
    assert real_embedder.piece_counts(["a", "b"]) is not None
    for n, text in enumerate((varied_text(), varied_text(seed=9), hard_text(seed=4, paragraphs=30),
                              "x" * 30_000 + " end.", " ".join(["Ωmega-café."] * 6000))):
        title = ["Naïve title", "", "委员会 [MASK]", "T", "Long " * 40][n]
        prefix = f"{title}\n"
        exact = lambda a, b: real_embedder.count_tokens(prefix + text[a:b])  # noqa: E731
        count = piece_counter(text, prefix, real_embedder.piece_counts, exact)
        old = chunk_text(text, chunk_tokens=config.chunk_tokens, chunk_overlap=config.chunk_overlap,
                         fits=lambda t: real_embedder.count_tokens(prefix + t) <= config.max_model_tokens)
        units, chunks = old
        for a, b in units + [(c.start, c.end) for c in chunks]:
            assert count(a, b) == exact(a, b), (n, a, b)
        doc = Document(id="d.txt", title=title, text=text, sha256="")
        records, new_units, _ = chunk_document(doc, config, real_embedder)
        assert new_units == units
        assert [(r["start"], r["end"], r["sent_lo"], r["sent_hi"]) for r in records] == \
            [(c.start, c.end, c.sent_lo, c.sent_hi) for c in chunks]
