"""OCR text laid out as on the page (rag.ingest.pdf.ocr_layout, _spaced): synthetic boxes and pixels,
no OCR engine needed."""
import numpy as np

from rag.ingest.pdf import _spaced, ocr_layout
from rag.text.chunk import split_sentences


def box(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_boxes_of_one_line_are_read_left_to_right_and_paragraphs_split_on_gaps():
    boxes = [(box(400, 100, 700, 130), "at 14 Harbour Road"),      # right half of line 1, reported first
             (box(100, 102, 380, 131), "This agreement leases Unit 7"),
             (box(100, 140, 600, 170), "to Northwind for a monthly rent."),
             (box(100, 230, 500, 260), "The deposit is EUR 14,400.")]   # 60 px below: a new paragraph
    text = ocr_layout(boxes)
    assert text == ("This agreement leases Unit 7 at 14 Harbour Road\nto Northwind for a monthly rent.\n\n"
                    "The deposit is EUR 14,400.")
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "This agreement leases Unit 7 at 14 Harbour Road\nto Northwind for a monthly rent.",
        "The deposit is EUR 14,400."]


def test_no_boxes_no_text():
    assert ocr_layout([]) == ""


def page_with(glyphs, height=30, width=200):
    """A white strip with a black bar per glyph (x0, x1), and the engine's character boxes for them."""
    gray = np.full((height, width), 255.0)
    for x0, x1 in glyphs:
        gray[5:25, x0:x1] = 0.0
    chars = [box(x0, 0, x1, height) for x0, x1 in glyphs]
    return gray, chars


def test_a_space_goes_where_the_page_shows_a_gap_between_words():
    # "at14" as glyphs: a, t close together; a 10 px gap (a third of the line height); 1, 4 close together
    gray, chars = page_with([(10, 20), (22, 30), (40, 48), (50, 60)])
    assert _spaced(gray, box(0, 0, 200, 30), "at14", chars) == "at 14"


def test_letter_gaps_get_no_space_and_spaces_already_read_are_kept():
    gray, chars = page_with([(10, 20), (22, 30), (32, 40)])
    assert _spaced(gray, box(0, 0, 200, 30), "abc", chars) == "abc"
    gray, chars = page_with([(10, 20), (22, 30), (31, 32), (42, 50)])   # "a b" with the space read as a glyph
    assert _spaced(gray, box(0, 0, 200, 30), "ab c", chars) == "ab c"


def test_zero_read_as_letter_o_inside_a_number_is_a_zero():
    gray, chars = page_with([(10 + 10 * k, 18 + 10 * k) for k in range(5)])
    assert _spaced(gray, box(0, 0, 200, 30), "4,8oo", chars) == "4,800"
    gray, chars = page_with([(10 + 10 * k, 18 + 10 * k) for k in range(4)])
    assert _spaced(gray, box(0, 0, 200, 30), "logo", chars) == "logo"
