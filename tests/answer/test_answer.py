"""Answers on the seed article with the real bundled model."""
import re

import pytest

from rag import Answer, Rag
from rag.answer.base import NOT_FOUND
from rag.errors import QuestionError

from conftest import SEED_DOC, SEEDS

SEED_TEXT = (SEEDS / SEED_DOC).read_text(encoding="utf-8")


def test_twelve_thousand_is_answered_and_cited(seed_rag):
    a = seed_rag.query("How many North Korean soldiers were sent to Russia last fall?")
    assert isinstance(a, Answer) and a.found
    assert "12,000" in a.text
    assert re.search(r"\[1\]", a.text)
    c = a.citations[0]
    assert c.doc_id == SEED_DOC and c.marker == 1
    # every span points into the seed file itself
    assert SEED_TEXT[c.start:c.end] == c.passage
    assert SEED_TEXT[c.quote_start:c.quote_end] == c.quote
    assert "12,000" in c.quote and c.quote in a.text


def test_every_marker_in_the_text_has_a_citation(seed_rag):
    a = seed_rag.query("Where were most of the North Korean troops deployed?")
    assert a.found
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", a.text)}
    assert markers == {c.marker for c in a.citations}
    assert "Kursk" in a.text


@pytest.mark.parametrize("question", [
    "What is the capital of France?",
    "How do I bake sourdough bread at home?",
    "Which programming language has the best garbage collector?",
])
def test_off_topic_question_gets_not_found(seed_rag, question):
    a = seed_rag.query(question)
    assert not a.found
    assert a.text == NOT_FOUND and "do not contain" in a.text
    assert a.citations == ()
    assert a.passages, "the nearest passages are still listed"
    assert all(p.doc_id == SEED_DOC for p in a.passages)


def test_passages_are_ranked_and_point_into_documents(seed_rag):
    a = seed_rag.query("Who praised the North Korean fighters?", k=3)
    assert [p.rank for p in a.passages] == [1, 2, 3]
    scores = [p.score for p in a.passages]
    assert scores == sorted(scores, reverse=True)
    for p in a.passages:
        assert SEED_TEXT[p.start:p.end] == p.text


def test_empty_question_is_refused(seed_rag):
    with pytest.raises(QuestionError, match="empty"):
        seed_rag.query("   \n ")


def test_long_question_is_cut_with_a_notice(seed_rag):
    q = "How many North Korean soldiers were sent to Russia last fall? " * 40
    a = seed_rag.query(q)
    assert a.notice and "cut" in a.notice
    assert len(a.question) <= seed_rag.config.max_question_chars
    assert a.found and "12,000" in a.text


def test_to_dict_is_json_ready(seed_rag):
    import json

    d = seed_rag.query("How many soldiers did Pyongyang send this year?").to_dict()
    assert json.loads(json.dumps(d)) == d
    assert {"question", "answer", "found", "citations", "passages"} <= set(d)
    assert "3,000" in d["answer"]


def test_default_query_builds_the_missing_index(monkeypatch, tmp_path, seed_corpus, real_embedder):
    """rag.query on the default configuration builds the index from the corpus when it is missing."""
    import rag.api as api
    from rag import Config

    monkeypatch.setenv("RAG_CORPUS", str(seed_corpus))
    monkeypatch.setenv("RAG_INDEX", str(tmp_path / "idx"))
    monkeypatch.setattr(api, "_CACHE", {})
    assert not (tmp_path / "idx").exists()
    rag_ = api.open_default(Config(), embedder=real_embedder)
    assert (tmp_path / "idx" / "CURRENT").exists()
    assert "12,000" in rag_.query("How many North Korean soldiers were sent to Russia last fall?").text
    assert api.open_default(Config()) is rag_   # loaded once, reused


def test_explicit_index_missing_is_an_error(tmp_path, real_embedder):
    from rag.errors import IndexMissingError

    with pytest.raises(IndexMissingError, match="rag index"):
        Rag.open(tmp_path / "nowhere", embedder=real_embedder)
