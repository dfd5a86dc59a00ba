"""Sentences across hard line breaks (PDF lines, wrapped Markdown, OCR lines), units, headings over them."""
import pytest

from rag.text.chunk import field_line, split_sentences, units
from rag.text.evidence import heading_before, headings, sentence_kind, with_context


def sentences(text):
    return [text[a:b] for a, b in split_sentences(text)]


def test_pdf_lines_are_joined_into_whole_sentences():
    text = ("Travel Policy\n"
            "Employees may book business class only for flights longer than six hours; all other\n"
            "flights are booked in economy class. The travel desk is run by Clara Jensen and\n"
            "Egypt joined the members of the Organization of Arab\n"
            "States in 1945.")
    assert sentences(text) == [
        "Travel Policy",
        "Employees may book business class only for flights longer than six hours; all other\n"
        "flights are booked in economy class.",
        "The travel desk is run by Clara Jensen and\nEgypt joined the members of the Organization of Arab\n"
        "States in 1945."]


def test_wrapped_markdown_breaks_only_at_blank_lines_items_and_headings():
    text = ("## Root cause\n"
            "The on-call engineer was paged late because the error-rate alert\n"
            "was routed to a retired pager rotation.\n"
            "\n"
            "- Failed payments: about 3,900\n"
            "- Owner of the fix: Nadia Petrova, who reviews the\n"
            "  pager rotations every month\n"
            "1. Restart the pool\n"
            "# Next")
    assert sentences(text) == [
        "## Root cause",
        "The on-call engineer was paged late because the error-rate alert\nwas routed to a retired pager rotation.",
        "- Failed payments: about 3,900",
        "- Owner of the fix: Nadia Petrova, who reviews the\n  pager rotations every month",
        "1. Restart the pool",
        "# Next"]


def test_ocr_lines_are_joined_and_paragraphs_kept():
    text = ("Lease Agreement\n\n"
            "This agreement leases Unit 7 at 14 Harbour Road, Lisbon, to Northwind\n"
            "Analytics for a monthly rent of EUR 4,800. The lease runs from 1 April\n"
            "2024 to 31 March 2029.\n\n"
            "Total due: EUR 186,000")
    assert sentences(text) == [
        "Lease Agreement",
        "This agreement leases Unit 7 at 14 Harbour Road, Lisbon, to Northwind\n"
        "Analytics for a monthly rent of EUR 4,800.",
        "The lease runs from 1 April\n2024 to 31 March 2029.",
        "Total due: EUR 186,000"]


def test_label_value_lines_and_rows_are_units_of_their_own():
    text = ("Revenue by region\n"
            "Region: North America; Q3 revenue: 1,120,000\n"
            "Region: Europe; Q3 revenue: 905,000\n"
            "Attendees: Sara Lind, Daniel Okafor,\n"
            "Priya Raman")
    assert sentences(text) == ["Revenue by region", "Region: North America; Q3 revenue: 1,120,000",
                               "Region: Europe; Q3 revenue: 905,000",
                               "Attendees: Sara Lind, Daniel Okafor,\nPriya Raman"]


def test_a_line_per_sentence_is_not_joined_even_where_a_line_lacks_a_full_stop():
    text = ("The Harbour Cup is a rowing race between the clubs of Tamsin.\n"
            "A crew crossing the line at the old bridge. Photo: J. Doe for the Tamsin Herald\n"
            "The Northern club won the race by two lengths, its ninth win.\n"
            "About 4,000 people watched from the banks of the river Tamsin.")
    got = sentences(text)
    assert "The Northern club won the race by two lengths, its ninth win." in got
    assert len(got) == 5


def test_units_end_at_blank_lines():
    text = "One line of a paragraph\nthat wraps here.\n\nNext paragraph starts\nhere."
    assert [text[a:b] for a, b in units(text)] == ["One line of a paragraph\nthat wraps here.",
                                                   "Next paragraph starts\nhere."]


@pytest.mark.parametrize("line, is_field", [
    ("Region: North America; Q3 revenue: 1,120,000", True),
    ("• Data migration: Priya Raman", False),          # the bullet is stripped by the caller
    ("Data migration: Priya Raman", True),
    ("said: the minister would resign", False),       # a wrapped line of prose
    ("The minister, speaking to the assembled reporters at length, said: no", False),   # label too long
])
def test_field_line(line, is_field):
    assert field_line(line) == is_field


@pytest.mark.parametrize("sentence, line", [
    ("Region: North America; Q3 revenue: 1,120,000", "Region: North America; Q3 revenue: 1,120,000"),
    ("Office: Lisbon; Employees: 42", "Office: Lisbon; Employees: 42"),
    ("• Data migration: Priya Raman", "• Data migration: Priya Raman"),
    ("Total due: EUR 186,000", "Total due: EUR 186,000"),
])
def test_rows_bullets_and_fields_are_statements(sentence, line):
    assert sentence_kind(sentence, line) == "statement"
    assert sentence_kind(sentence, line, first_line=True) == "statement"   # a CSV's first row too


def test_headings_give_context_to_the_rows_and_bullets_under_them():
    text = ("Workstream owners\n• Data migration: Priya Raman\n\nOffices (sheet)\n"
            "Office: Lisbon; Employees: 42\nA plain sentence follows here.")
    heads = headings(text)
    assert [h for _, h in heads] == ["Workstream owners", "Offices (sheet)"]
    assert heading_before(heads, text.index("Office: Lisbon")) == "Offices (sheet)"
    assert heading_before(heads, 0) == ""
    assert with_context(text, split_sentences(text)) == [
        "Workstream owners", "Workstream owners — • Data migration: Priya Raman", "Offices (sheet)",
        "Offices (sheet) — Office: Lisbon; Employees: 42", "A plain sentence follows here."]
