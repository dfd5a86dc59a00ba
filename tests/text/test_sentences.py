"""Sentence choice and short answers: rules on hand-made text (no model needed)."""
import pytest

from rag.text.evidence import answer_type, question_terms, sentence_kind
from rag.answer.short_answer import find


@pytest.mark.parametrize("sentence, line, first, kind", [
    ("# Harbour Cup 2016", "# Harbour Cup 2016", False, "heading"),
    ("Harbour Cup 2016", "Harbour Cup 2016", True, "title"),
    ("Team meeting notes, 3 March", "Team meeting notes, 3 March", True, "title"),
    ("Results And Standings Of The Season", "Results And Standings Of The Season", False, "heading"),
    ("Budget Review", "Budget Review", False, "heading"),
    ("A rower crossing the line in Tamsin.", "A rower crossing the line in Tamsin. Photo: J. Doe for the Herald",
     False, "caption"),
    ("Photo: J. Doe for the Herald", "A rower crossing the line. Photo: J. Doe for the Herald", False, "caption"),
    ("Figure 2: Lap times by crew", "Figure 2: Lap times by crew", False, "caption"),
    ("See below.", "See below.", False, "fragment"),
    ("Tamsin, Harbour Cup.", "Tamsin, Harbour Cup.", False, "fragment"),
    ("The race was held on February 7, 2016.", "The race was held on February 7, 2016.", False, "statement"),
    ("- the budget for the new boat was approved", "- the budget for the new boat was approved", False,
     "statement"),
    ("The 2016 race was won by the Northern club", "The 2016 race was won by the Northern club and its crew "
     "of eight", True, "statement"),
])
def test_sentence_kind(sentence, line, first, kind):
    assert sentence_kind(sentence, line, first_line=first) == kind


@pytest.mark.parametrize("question, kind", [
    ("When was the race held?", "DATE"),
    ("In what year did the club open?", "DATE"),
    ("How many rowers were in the crew?", "NUMBER"),
    ("What percentage of votes did she get?", "NUMBER"),
    ("Who coached the winning crew?", "PERSON"),
    ("Where was the race held?", "PLACE"),
    ("In which city is the club based?", "PLACE"),
    ("Who wrote this article?", "AUTHOR"),
    ("Who is Anna Berg?", None),
    ("Why did the race start late?", None),
    ("What did the coach say?", None),
])
def test_answer_type(question, kind):
    assert answer_type(question) == kind


@pytest.mark.parametrize("question, sentence, expected", [
    ("When was the race held?", "The 2016 race was held on February 7, 2016, on the river Tamsin.",
     "February 7, 2016"),
    ("When did the club sign the lease?", "The club signed the lease last June with the city.", "last June"),
    ("In what year did the club open?", "The club opened in 1871 after a long campaign.", "1871"),
    ("How many rowers took part?", "Officials said around 1,200 rowers took part in the race.", "1,200"),
    ("What share of the boats finished?", "About a third of the boats did not finish the race.", "a third"),
    ("How much did the new boathouse cost?", "The new boathouse cost $4.5 million to build.", "$4.5 million"),
    ("Who coached the winning crew?", "The winning crew was coached by Anna Berg, a former champion.",
     "Anna Berg"),
    ("Who praised the crews after the race with Mayor Tom Hale?",
     "During a call with Mayor Tom Hale, Coach Lena Ortiz praised the crews.", "Coach Lena Ortiz"),
    ("Where was the race held?", "The race was held in Tamsin, a town on the river.", "Tamsin"),
    ("Who wrote this article?", "Write to Mara Quill at mara@example.com", "Mara Quill"),
])
def test_short_answer_of_the_asked_type(question, sentence, expected):
    span = find(question, sentence, answer_type(question))
    assert span is not None and span.text == expected
    assert sentence[span.start:span.end] == expected


@pytest.mark.parametrize("question, sentence", [
    ("Why did the race start late?", "The race started late because of fog."),         # not a typed question
    ("When was the race held?", "The race was held on the river Tamsin."),              # no date to give
    ("How many rowers took part?", "Many rowers took part in the race."),               # no number
    ("Who coached Anna Berg?", "Anna Berg won the race."),                               # only the question's name
])
def test_no_short_answer_when_not_confident(question, sentence):
    assert find(question, sentence, answer_type(question)) is None


def test_term_weights_come_from_general_english_not_the_corpus():
    w = question_terms("How many soldiers did Pyongyang send to the front?")
    assert "the" not in w and "mani" not in w
    assert w["pyongyang"] > w["soldier"] > w["send"]   # rarer words weigh more, with no index involved


def test_which_team_question_gets_a_name():
    q = "Which club won the 2016 race?"
    assert answer_type(q) == "ENTITY"
    span = find(q, "In 2016 the race was won by the Northern Rowing Club of Tamsin.", "ENTITY")
    assert span is not None and span.text.startswith("Northern Rowing Club")


def test_nationality_is_not_a_person():
    q = "Who said the alliance guards against weakening?"
    span = find(q, "The North Korean alliance guards against any weakening, said Hong Min, a fellow.", "PERSON")
    assert span is not None and span.text == "Hong Min"


def test_sentence_opening_word_is_not_a_name():
    q = "Who signed the pact for the north?"
    assert find(q, "Cooperation grew after the pact was signed by the north.", "PERSON") is None
