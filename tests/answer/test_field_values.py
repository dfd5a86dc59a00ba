"""Short answers from "Label: value" statements: table rows, spreadsheet rows, slide bullets (rules, no model)."""
import pytest

from rag.answer.short_answer import field_match, field_value


@pytest.mark.parametrize("question, sentence, value", [
    ("How many employees work in the Lisbon office?",
     "Office: Lisbon; Country: Portugal; Employees: 42; Opened: 2019; Office manager: Ana Sousa", "42"),
    ("Who is the office manager in Toronto?",
     "Office: Toronto; Country: Canada; Employees: 55; Opened: 2018; Office manager: Emily Tremblay",
     "Emily Tremblay"),
    ("How much revenue came from North America in Q3?",
     "Region: North America; Q2 revenue: 1,040,000; Q3 revenue: 1,120,000; Growth: 7.7%", "1,120,000"),
    ("Who owns the data migration workstream?", "• Data migration: Priya Raman", "Priya Raman"),
    ("What are the payment terms?", "Payment terms: 45 days net", "45 days net"),
])
def test_the_asked_value_of_a_row_or_field(question, sentence, value):
    span = field_value(question, sentence)
    assert span is not None and span.text == value and sentence[span.start:span.end] == value


@pytest.mark.parametrize("question, sentence", [
    ("How many employees work in the Lisbon office?", "Office: Lisbon; Country: Portugal"),   # no such column
    ("Who is the office manager in Toronto?", "Office: Toronto; Employees: 55"),
    ("How many employees work in Lisbon?", "Office: Lisbon; Employees: unknown; Manager: Ana"),  # not a number
    ("What did the band release?", "In 1990 the band released its second album: Thriller"),      # prose
])
def test_no_value_when_no_label_answers(question, sentence):
    assert field_value(question, sentence) is None


def test_a_lookup_by_key_and_column_is_told_from_a_column_alone():
    row = "Office: Lisbon; Country: Portugal; Employees: 42"
    assert field_match("How many employees work in the Lisbon office?", row)[1] is True
    assert field_match("How many employees are there?", row)[1] is False
