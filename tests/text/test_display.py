"""rag.text.display.clean_for_display: PDF lines joined into paragraphs, Markdown syntax removed."""
from rag.text.display import clean_for_display


def test_pdf_lines_are_joined_keeping_paragraphs_and_dehyphenating():
    raw = ("The committee met on a cold\nmorning to discuss the exam-\nple budget.\n\n"
           "A second paragraph starts\nhere.\n- first item\n- second item\n")
    assert clean_for_display(raw, "pdf") == (
        "The committee met on a cold morning to discuss the example budget.\n\n"
        "A second paragraph starts here.\n- first item\n- second item")


def test_pdf_hyphen_before_a_capital_is_kept():
    assert clean_for_display("a Franco-\nPrussian war", "pdf") == "a Franco- Prussian war"


def test_markdown_markers_are_removed():
    raw = ("# Title\n\nSome **bold** and *italic* text with `code` and a [link](http://x.y/z).\n\n"
           "## Section ##\n\n> quoted line\n\n* item one\n* item two\n\n---\n\n![a chart](c.png)\n")
    out = clean_for_display(raw, "md")
    assert "#" not in out and "**" not in out and "`" not in out and "](" not in out
    assert out.splitlines()[0] == "Title"
    assert "Some bold and italic text with code and a link." in out
    assert "Section" in out and "quoted line" in out and "• item one" in out and "a chart" in out


def test_snake_case_and_plain_text_are_left_alone():
    assert clean_for_display("use my_var_name here", "md") == "use my_var_name here"
    raw = "Line one\nline two\n\n\n\nLine three   \n"
    assert clean_for_display(raw, "txt") == "Line one\nline two\n\nLine three"


def test_wrapped_markdown_is_shown_as_paragraphs():
    raw = ("## Root cause\n\nThe on-call engineer was paged late because the error-rate alert\n"
           "was routed to a retired pager.\n\n- Failed payments: about 3,900\n- Owner: Nadia Petrova, who\n"
           "  reviews it\n\n```\ncode line one\ncode line two\n```\n")
    assert clean_for_display(raw, "md") == (
        "Root cause\nThe on-call engineer was paged late because the error-rate alert was routed to a retired "
        "pager.\n\n- Failed payments: about 3,900\n- Owner: Nadia Petrova, who reviews it\n\ncode line one\n"
        "code line two")
