"""Which tokenizers may count spans from one pass (rag.embed.embedder._piece_tokenizer), on small
tokenizers built here: a BERT WordPiece one may, anything else counts every span with count_tokens."""
from types import SimpleNamespace

from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers, processors

from rag.embed.embedder import _piece_tokenizer

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


def test_a_bert_wordpiece_tokenizer_gives_piece_starts_without_its_truncation():
    tok = bert(truncate=True)   # the encoder's truncation must not cut the counts
    got = _piece_tokenizer(SimpleNamespace(backend_tokenizer=tok), counter(tok))
    assert got is not None
    copy, specials = got
    assert specials == 2
    enc = copy.encode("Hello worlds, hello hello world", add_special_tokens=False)
    assert [a for a, _ in enc.offsets] == [0, 6, 11, 12, 14, 20, 26]   # hello world ##s , hello hello world


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
