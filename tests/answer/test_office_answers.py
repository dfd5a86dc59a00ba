"""Slide bullets, Word table rows, spreadsheet cells and CSV rows as answers (real model): each is quoted
as a statement, ranked with the heading over it, and gives the short answer."""
import io

import pytest

from rag import Config, Rag
from rag.build.builder import build_index

pytestmark = pytest.mark.subprocess   # office files are converted in worker processes


def deck() -> bytes:
    import pptx

    d = pptx.Presentation()
    for title, bullets in (("Workstream owners", ["Data migration: Priya Raman", "Billing rewrite: Jonas Weber"]),
                           ("Mobile app", ["Beta opens to 500 customers in January", "Store review takes two weeks",
                                           "General availability: March 2026"])):
        s = d.slides.add_slide(d.slide_layouts[1])
        s.shapes.title.text = title
        body = s.placeholders[1].text_frame
        body.text = bullets[0]
        for b in bullets[1:]:
            body.add_paragraph().text = b
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def report() -> bytes:
    import docx

    d = docx.Document()
    d.add_heading("Quarterly report", 0)
    d.add_paragraph("Total revenue in the third quarter was 2,867,000 dollars.")
    d.add_heading("Revenue by region", 1)
    rows = [["Region", "Q2 revenue", "Q3 revenue"], ["North America", "1,040,000", "1,120,000"],
            ["Europe", "830,000", "905,000"]]
    t = d.add_table(rows=3, cols=3)
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            t.cell(i, j).text = v
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def book() -> bytes:
    import openpyxl

    b = openpyxl.Workbook()
    b.remove(b.active)
    for name, rows in (("Offices", [["Office", "Country", "Employees"], ["Lisbon", "Portugal", 42],
                                    ["Berlin", "Germany", 67]]),
                       ("Leases", [["Office", "Monthly rent (EUR)"], ["Lisbon", 4800], ["Berlin", 9100]])):
        ws = b.create_sheet(name)
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    b.save(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def office(tmp_path_factory, real_embedder):
    root = tmp_path_factory.mktemp("office")
    docs = root / "docs"
    docs.mkdir()
    (docs / "roadmap.pptx").write_bytes(deck())
    (docs / "report.docx").write_bytes(report())
    (docs / "offices.xlsx").write_bytes(book())
    (docs / "prices.csv").write_text("Product,SKU,Monthly price\nStarter,NW-100,49 USD\nTeam,NW-200,199 USD\n")
    (docs / "policy.txt").write_text("Vacation policy\n\nEmployees get 25 vacation days a year. Unused days\n"
                                     "expire at the end of March of the following year.\n")
    config = Config(corpus_dir=docs, index_dir=root / "index")
    build_index(config, embedder=real_embedder)
    return Rag(config, embedder=real_embedder)


@pytest.mark.parametrize("question, doc, short, quote", [
    ("Who owns the data migration workstream?", "roadmap.pptx", "Priya Raman", "Data migration: Priya Raman"),
    ("How much revenue came from North America in Q3?", "report.docx", "1,120,000",
     "Region: North America; Q2 revenue: 1,040,000; Q3 revenue: 1,120,000"),
    ("How many employees work in the Lisbon office?", "offices.xlsx", "42",
     "Office: Lisbon; Country: Portugal; Employees: 42"),
    ("What is the monthly price of the Team plan?", "prices.csv", "199 USD",
     "Product: Team; SKU: NW-200; Monthly price: 199 USD"),
])
def test_bullets_rows_and_cells_are_answers(office, question, doc, short, quote):
    a = office.query(question)
    assert a.found and a.short == short and a.short_doc == doc
    assert any(c.doc_id == doc and c.quote.endswith(quote) for c in a.citations)


def test_slide_titles_are_context_never_quotes(office):
    a = office.query("When will the mobile app be generally available?")
    assert a.found and "March 2026" in a.text
    assert all(c.quote not in ("Mobile app", "Workstream owners") for c in a.citations)


def test_a_sentence_across_a_line_break_is_quoted_whole(office):
    a = office.query("When do unused vacation days expire?")
    assert a.found
    assert any(c.quote == "Unused days\nexpire at the end of March of the following year." for c in a.citations)
    assert "[1]" in a.text
