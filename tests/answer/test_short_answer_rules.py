"""Two rule bugs of rag.answer.short_answer: a number that opens a sentence, and a number with thousands separators."""
from rag.answer import short_answer


def test_number_opening_a_sentence_is_a_candidate():
    span = short_answer.find("What share of voters backed the plan?", "71% of voters backed the plan in 2019.",
                             "NUMBER")
    assert span is not None and span.text == "71%" and span.start == 0


def test_common_word_opening_a_sentence_is_still_dropped():
    assert short_answer.find("Who backed the plan?", "Cooperation backed the plan.", "PERSON") is None


def test_thousands_separator_stays_inside_the_number():
    sentence = "North Korea dispatched around 12,000 soldiers to Russia."
    span = short_answer.phrase("How many soldiers did North Korea dispatch?", sentence, any_question=True)
    assert span is not None and "12,000" in span.text
    assert sentence[span.start:span.end] == span.text
