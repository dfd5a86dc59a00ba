"""Follow-up questions: resolution rules, and Rag.chat on the seed article."""
import pytest

from rag.errors import QuestionError
from rag.answer.followup import resolve, resolve_conversation


@pytest.mark.parametrize("question, previous, answer, expected", [
    ("what is his position?", "Who said the troops let Putin claim an attack?", "Hong Min\n\nquote [1]",
     "What is Hong Min's position?"),
    ("Who was his father?", "What ethnicity was Shi Tianze?", "quote [1]", "Who was Shi Tianze's father?"),
    ("What are its committees like?", "Where is the work of the Scottish Parliament done?", "quote [1]",
     "What are Scottish Parliament's committees like?"),
    ("when is he expected in Russia?", "Who is the leader of North Korea?", "Kim Jong Un\n\nquote [1]",
     "When is Kim Jong Un expected in Russia?"),
])
def test_pronouns_are_replaced_by_the_previous_turn(question, previous, answer, expected):
    r = resolve(question, previous, answer)
    assert r.depends and r.question == expected


@pytest.mark.parametrize("question, previous, answer, start, context", [
    ("when did they retreat from there?", "Where were most of the troops deployed?", "Kursk\n\nquote [1]",
     "When did they retreat from Kursk?", "troops"),
    ("Who originally produced it?", "Who created Wide World of Sports?", "Ed Smith\n\nquote [1]",
     "Who originally produced it?", "Wide World"),
])
def test_it_and_they_keep_their_place_and_get_the_previous_question_added(question, previous, answer, start,
                                                                            context):
    r = resolve(question, previous, answer)
    assert r.depends and r.question.startswith(start) and context in r.question


def test_elided_follow_up_gets_the_previous_names():
    r = resolve("and how many were killed?", "How many North Korean soldiers were sent to Russia?", "12,000\n\nq [1]")
    assert r.depends and r.question.startswith("How many were killed?") and "North Korean" in r.question


@pytest.mark.parametrize("question", ["Where is St Aloysius' College located?", "Who wrote this article?",
                                      "What is the capital of Australia?",
                                      "How many North Korean soldiers were sent to Russia last fall?"])
def test_self_contained_question_is_left_alone(question):
    r = resolve(question, "When was Manning picked first in the NFL Draft?", "1998\n\nquote [1]")
    assert not r.depends and r.question == question


def test_first_question_is_left_alone():
    assert resolve_conversation([{"role": "user", "content": "and how many?"}]).question == "and how many?"


def test_chat_resolves_a_follow_up_on_the_seed_article(seed_rag):
    q1 = "How many North Korean soldiers were sent to Russia last fall?"
    a1 = seed_rag.chat([{"role": "user", "content": q1}])
    assert "12,000" in a1.text and a1.notice is None
    a2 = seed_rag.chat([{"role": "user", "content": q1}, {"role": "assistant", "content": a1.text},
                        {"role": "user", "content": "and how many were killed?"}])
    assert a2.found and "a third" in a2.text.lower()
    assert a2.notice and "Read as" in a2.notice
    assert "North Korean" in a2.question   # read with the previous question's names


def test_chat_follow_up_about_a_place(seed_rag):
    q1 = "Where were most of the North Korean troops deployed?"
    a1 = seed_rag.chat([{"role": "user", "content": q1}])
    a2 = seed_rag.chat([{"role": "user", "content": q1}, {"role": "assistant", "content": a1.text},
                        {"role": "user", "content": "when did Ukrainian forces retreat from there?"}])
    assert a2.short == "March"


def test_chat_needs_a_final_user_message(seed_rag):
    with pytest.raises(QuestionError):
        seed_rag.chat([{"role": "assistant", "content": "hi"}])
    with pytest.raises(QuestionError):
        seed_rag.chat([])
