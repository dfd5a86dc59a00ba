"""Short answers for "what/which X" questions and the boundary / fallback rules (issue 6), on hand-made sentences."""
import pytest

from rag.text.evidence import answer_type
from rag.answer.extractive import Candidate, short_answer_of
from rag.retrieve.retriever import Passage, Sentence
from rag.answer.short_answer import find, phrase


@pytest.mark.parametrize("question, sentence, expected", [
    # the object after the matched verb ("built" meets "build")
    ("What did the club build in 1990?", "In 1990 the club built a new boathouse on the river.", "new boathouse"),
    # the phrase after "called"
    ("What is the rowing trophy called?", "The winners receive a rowing trophy called the Tamsin Cup.", "Tamsin Cup"),
    # the modifier right before the matched noun
    ("What nationality is the architect Enric Miralles?",
     "The building was designed by Spanish architect Enric Miralles.", "Spanish"),
    # "which X" too, and the question may put its wh-word late
    ("The boathouse was paid for by which lender?", "The boathouse was paid for by the Tamsin Savings Bank.",
     "Tamsin Savings Bank"),
])
def test_phrase_next_to_the_question_words(question, sentence, expected):
    span = phrase(question, sentence)
    assert span is not None and span.text == expected
    assert sentence[span.start:span.end] == expected


def test_phrase_is_cut_at_punctuation_and_at_most_six_words():
    s = "The club bought boats, oars, and a trailer with money from the long summer fair of 1990 in Kent."
    span = phrase("What did the club buy?", s)
    assert span is not None and span.text == "boats"
    long = "The club bought seven long narrow white racing boats built nearby in the west."
    span = phrase("What did the club buy?", long)
    assert span is not None and span.text == "seven long narrow white racing boats"


@pytest.mark.parametrize("question, sentence", [
    ("Why did the race start late?", "The race started late because of fog."),        # why: no short answer
    ("How did the crew train?", "The crew trained hard on the river every morning."), # how (manner): none
    ("What did the club build?", "Rain fell on the town for a week."),                # no question word in it
    # a verb-like run ("collapsed dramatically") is not the thing asked for
    ("What happened to the boathouse roof?", "The boathouse roof collapsed dramatically."),
])
def test_no_phrase(question, sentence):
    assert phrase(question, sentence) is None


def test_typed_question_falls_back_to_a_phrase_only_when_asked():
    q, s = "Who may submit a private bill?", "A private bill may be submitted by an outside proposer."
    assert find(q, s, answer_type(q)) is None            # no capitalised name to give
    assert phrase(q, s) is None                           # not a what/which question...
    span = phrase(q, s, any_question=True)                # ...but allowed as the fallback of a typed one
    assert span is not None and span.text == "outside proposer"


def test_name_at_the_end_of_a_sentence_loses_its_full_stop():
    span = find("Who submitted the bill?", "The bill was submitted by the Scottish Government.",
                "PERSON")
    assert span is not None and span.text == "Scottish Government"


def test_agent_of_a_passive_answers_who():
    q = "Who founded the Ming dynasty?"
    s = "The Ming dynasty of China was founded by Zhu Yuanzhang."   # "China" sits nearer the question's words
    assert find(q, s, "PERSON").text == "Zhu Yuanzhang"


def test_name_near_more_question_words_wins():
    q = "Who coached the Tamsin crew to the river title?"
    # "Lena Ortiz" is nearest one question word ("Tamsin"); "Anna Berg" is near most of them
    s = "Lena Ortiz, Tamsin's mayor, said Anna Berg, who coached the crew to the river title, had won."
    assert find(q, s, "PERSON").text == "Anna Berg"


def _cand(text, short, row):
    p = Passage(1, 0, "d1", "Rowing", text, 0, len(text), 1.0, 0.5)
    return Candidate(p, Sentence(row, 0, len(text), text), short)


def test_short_answer_comes_from_the_second_quoted_sentence_when_the_first_has_none():
    q = "When did the club open?"
    first = "The club opened to great acclaim."
    second = "Its doors were first opened on May 3, 1871."
    picked = [_cand(first, find(q, first, "DATE"), 0), _cand(second, find(q, second, "DATE"), 1)]
    top, span = short_answer_of(q, picked, None)
    assert top is picked[1] and span.text == "May 3, 1871"


def test_yes_no_question_gets_no_phrase():
    q = "Is the Tamsin Cup a rowing trophy?"
    s = "The Tamsin Cup is a rowing trophy for crews."
    assert short_answer_of(q, [_cand(s, None, 0)], "yes/no") == (_cand(s, None, 0), None)


def test_negated_verb_is_not_a_phrase():
    q = "What did the club promise for its fallen rowers?"
    s = "The club didn’t say how many boats it had lost, promising a monument for the fallen rowers."
    assert phrase(q, s).text == "monument"


def test_half_a_name_is_never_the_short_answer():
    """A phrase that stops inside a run of capitalised words would show part of a name as the answer."""
    s = "\u201cWe are staying,\u201d said Ukrainian President Volodymyr Zelensky in a video address Sunday evening."
    assert phrase("What did Zelensky say in his Sunday video address?", s) is None
    # a whole name next to the question's words is still given
    span = phrase("What is the rowing trophy called?", "The winners receive a rowing trophy called the Tamsin Cup.")
    assert span is not None and span.text == "Tamsin Cup"
