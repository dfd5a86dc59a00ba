"""Which tokenizers may count spans from one pass (rag.embed.embedder._piece_tokenizer), on small
tokenizers built here: a BERT WordPiece one may, anything else counts every span with count_tokens."""
from types import SimpleNamespace

from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers, processors

from rag.embed.embedder import Embedder, _each_word, _parts, _piece_tokenizer

VOCAB = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "hello": 3, "world": 4, "##s": 5, ",": 6, "x": 7, "##y": 8}


def bert(truncate=False):
    tok = Tokenizer(models.WordPiece(VOCAB, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 1),
                                                                                             ("[SEP]", 2)])
    if truncate:
        tok.enable_truncation(4)
    return tok


def counter(tok):
    copy = Tokenizer.from_str(tok.to_str())
    copy.no_truncation()
    return lambda text: len(copy.encode(text).ids)


def test_a_bert_wordpiece_tokenizer_counts_pieces_without_its_truncation():
    tok = bert(truncate=True)   # the encoder's truncation (4 tokens) must not cut the counts
    got = _piece_tokenizer(SimpleNamespace(backend_tokenizer=tok), counter(tok))
    assert got is not None
    copy, specials, cache = got
    assert specials == 2 and cache == {}
    # by hand: hello world ##s , hello hello world ##s ##s
    assert len(copy.encode("Hello worlds, hello hello worldss", add_special_tokens=False)) == 9


def test_piece_counts_of_words_come_from_the_cache_once_seen():
    tok = bert()
    emb = Embedder.__new__(Embedder)   # no model: its tokenizer is given
    emb._pieces = _piece_tokenizer(SimpleNamespace(backend_tokenizer=tok), counter(tok))
    assert emb.piece_counts(["Hello", "worlds,", "xy", "Hello"]) == ([1, 3, 2, 1], 2)
    cache = emb._pieces[2]
    assert cache == {"Hello": 1, "worlds,": 3, "xy": 2}
    cache["xy"] = 7   # a cached word is not tokenized again
    assert emb.piece_counts(["xy", "world"]) == ([7, 1], 2)
    emb._pieces = False
    assert emb.piece_counts(["Hello"]) is None


def test_other_tokenizers_count_every_span_exactly():
    tok = bert()
    assert _piece_tokenizer(SimpleNamespace(backend_tokenizer=tok), lambda text: 99) is None   # counts disagree
    assert _piece_tokenizer(SimpleNamespace(), counter(tok)) is None                           # no fast tokenizer
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel()
    assert _piece_tokenizer(SimpleNamespace(backend_tokenizer=bpe), counter(bpe)) is None
    meta = bert()
    meta.pre_tokenizer = pre_tokenizers.Metaspace()
    assert _piece_tokenizer(SimpleNamespace(backend_tokenizer=meta), counter(meta)) is None
    spaced = bert()
    spaced.add_tokens([AddedToken("new york", single_word=False)])   # a token across a space
    assert _piece_tokenizer(SimpleNamespace(backend_tokenizer=spaced), counter(spaced)) is None
    nfkc = bert()
    nfkc.normalizer = normalizers.NFKC()
    assert _piece_tokenizer(SimpleNamespace(backend_tokenizer=nfkc), counter(nfkc)) is None


def test_new_words_are_tokenized_a_bounded_text_at_a_time():
    words = ["hello", "worlds,", "xy", "x", "hello"] * 5
    parts = list(_parts(words, chars=12))
    assert [w for p in parts for w in p] == words                       # all of them, in order
    assert all(sum(len(w) + 1 for w in p[:-1]) <= 12 for p in parts)    # each at most about 12 characters
    assert len(parts) > 5
    tok = bert()
    assert [n for p in parts for n in _each_word(tok, p)] == [1, 3, 2, 1, 1] * 5
