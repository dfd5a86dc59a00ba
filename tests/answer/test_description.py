"""rag.answer.description: what a question asked for, as a noun phrase of its own words (oracles written by hand)."""
import pytest

from rag.answer.description import described


@pytest.mark.parametrize("question, plural, expected", [
    ("Who was the Super Bowl 50 MVP?", False, "the Super Bowl 50 MVP"),                 # copular: the noun phrase
    ("Who voted on the venue?", False, "the person who voted on the venue"),             # subject question
    ("Who voted on the venue?", True, "those who voted on the venue"),
    ("Who was appointed to head the team?", False, "the person who was appointed to head the team"),
    ("Who had Kublai wanted to succeed him?", False, "the person Kublai had wanted to succeed him"),
    ("What theorem states that primes thin out?", False, "the theorem that states that primes thin out"),
    ("Which law was passed in 1832?", False, "the law that was passed in 1832"),
    ("What crew sent the first live images?", False, "the crew that sent the first live images"),   # irregular past
    ("What is the capital of France?", False, "the capital of France"),
    ("What is the name of the property that makes a number prime?", False, "the property that makes a number prime"),
    ("What is the term for a model of a computing machine?", False, "a model of a computing machine"),
    ("What title had Rollo been given?", False, "the title Rollo had been given"),
    ("Which Florida city has the biggest population?", False, "the Florida city that has the biggest population"),
])
def test_described(question, plural, expected):
    assert described(question, plural=plural) == expected


@pytest.mark.parametrize("question, plural", [
    ("Who did Rollo sign the treaty with?", False),   # do-support: the verb would need another form
    ("What did Rollo sign?", False),
    ("Who is Hong Min?", False),                      # asks about a name: the name is bound elsewhere
    ("What type of Lord is Doctor Who?", False),      # object question with a name as subject
    ("What title was the king given?", False),        # object question: a subject and a participle
    ("What is the Doctor's space ship called?", False),   # ends in a participle: not a noun phrase
    ("What states border Texas?", False),             # no verb found after the noun words
    ("Where did the leader teach?", False),
    ("When was the treaty signed?", False),
    ("Who sets the agenda?", True),                   # "those who sets": singular verb
    ("What law justified it?", True),                 # "they" only after "who"
    ("Who?", False),
    ("Who " + "very " * 30 + "long?", False),
])
def test_other_shapes_are_not_described(question, plural):
    assert described(question, plural=plural) is None
