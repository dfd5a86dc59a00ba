"""Rag wires retriever, embedder and answer step; the answer step is swappable."""
from rag import Answer, Answerer, Rag
from rag.answer.base import cite


class FirstSentence(Answerer):
    """A minimal Answerer: quote the first sentence of the best passage."""

    def __init__(self):
        self.calls = []

    def answer(self, question, qvec, passages, source, *, notice=None):
        self.calls.append((question, len(passages)))
        p = passages[0]
        text, citations = cite([(p, source.sentences(p)[0])])
        return Answer(question, text, True, citations, tuple(passages), notice)


def test_search_returns_ranked_passages(seed_rag):
    ps = seed_rag.search("Where were the troops deployed?", k=3)
    assert [p.rank for p in ps] == [1, 2, 3]
    assert ps == seed_rag.search("Where were the troops deployed?", k=3,
                                 qvec=seed_rag.embed("Where were the troops deployed?"))


def test_answerer_plugs_in(seed_index, real_embedder):
    answerer = FirstSentence()
    rag = Rag.open(seed_index, embedder=real_embedder, answerer=answerer)
    a = rag.query("Where were the troops deployed?", k=2)
    assert answerer.calls == [("Where were the troops deployed?", 2)]
    assert a.found and a.text.endswith("[1]") and a.citations[0].marker == 1
