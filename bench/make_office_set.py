"""Generate the office-document set: 14 everyday files of a fictional company, Northwind Analytics.

Word reports with tables, slide decks with bullets and speaker notes, two-sheet spreadsheets, CSV files,
a text PDF with hard-wrapped lines, two scanned PDFs (text drawn into an image, no text layer, read by OCR),
hard-wrapped Markdown and a plain-text note. bench/office_questions.jsonl asks about them. The same content
every run (fixed document dates; the bytes of zip-based files may differ in their zip timestamps). Usage:

    PYTHONPATH=. .venv/bin/python bench/make_office_set.py [OUT_DIR]    # default bench/.cache/office

Needs python-docx, python-pptx, openpyxl and Pillow (the `office` and `ocr` extras); a DejaVu or Liberation
font for the scanned pages (else Pillow's own font).
"""
from __future__ import annotations

import csv
import datetime
import io
import sys
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXED = datetime.datetime(2025, 10, 1, 9, 0, 0)


# ---------------------------------------------------------------- Word

def _docx_fixed(doc, title):
    doc.core_properties.title = title
    doc.core_properties.created = FIXED
    doc.core_properties.modified = FIXED
    doc.core_properties.author = "Northwind Analytics"


def _table(doc, rows):
    t = doc.add_table(rows=len(rows), cols=len(rows[0]))
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            t.cell(i, j).text = v


def quarterly_report(path):
    import docx

    doc = docx.Document()
    _docx_fixed(doc, "Quarterly Report Q3 2025")
    doc.add_heading("Quarterly Report Q3 2025", 0)
    doc.add_paragraph("Northwind Analytics closed the third quarter with total revenue of 2,867,000 dollars, "
                      "up 6.4 percent on the second quarter. Growth came mostly from subscriptions.")
    doc.add_heading("Revenue by region", 1)
    doc.add_paragraph("The table below gives revenue in US dollars for each sales region.")
    _table(doc, [["Region", "Q2 revenue", "Q3 revenue", "Growth"],
                 ["North America", "1,040,000", "1,120,000", "7.7%"],
                 ["Europe", "830,000", "905,000", "9.0%"],
                 ["Asia Pacific", "610,000", "644,000", "5.6%"],
                 ["Latin America", "210,000", "198,000", "-5.7%"]])
    doc.add_heading("Headcount by department", 1)
    _table(doc, [["Department", "Head", "Headcount"],
                 ["Engineering", "Maria Lopez", "48"],
                 ["Sales", "Tom Becker", "31"],
                 ["Customer Support", "Aisha Khan", "17"]])
    doc.add_heading("Outlook", 1)
    doc.add_paragraph("Prepared by: Finance team")
    doc.add_paragraph("Next review: 15 January 2026")
    doc.add_paragraph("The board expects fourth-quarter revenue between 2.9 and 3.1 million dollars.")
    doc.save(path)


def vendor_contracts(path):
    import docx

    doc = docx.Document()
    _docx_fixed(doc, "Vendor Contracts Overview")
    doc.add_heading("Vendor Contracts Overview", 0)
    doc.add_paragraph("Contract owner: Daniel Okafor")
    doc.add_paragraph("Review cycle: every 12 months")
    doc.add_paragraph("This overview lists the contracts that procurement renews each year.")
    doc.add_heading("Active contracts", 1)
    _table(doc, [["Vendor", "Service", "Annual cost", "Renewal date"],
                 ["Cloudora", "Cloud hosting", "EUR 312,000", "30 June 2026"],
                 ["PayFlux", "Payment processing", "EUR 96,500", "1 February 2026"],
                 ["Linguist AG", "Translation services", "EUR 41,200", "15 September 2026"],
                 ["SecureNet", "Penetration testing", "EUR 58,000", "31 March 2026"]])
    doc.add_heading("Notes", 1)
    doc.add_paragraph("Termination notice: 90 days before the renewal date")
    doc.save(path)


# ---------------------------------------------------------------- PowerPoint

def _slide(deck, title, bullets, notes=None):
    s = deck.slides.add_slide(deck.slide_layouts[1])
    s.shapes.title.text = title
    body = s.placeholders[1].text_frame
    body.text = bullets[0]
    for b in bullets[1:]:
        body.add_paragraph().text = b
    if notes:
        s.notes_slide.notes_text_frame.text = notes
    return s


def roadmap(path):
    import pptx

    deck = pptx.Presentation()
    deck.core_properties.title = "Product Roadmap 2026"
    deck.core_properties.created = FIXED
    deck.core_properties.modified = FIXED
    t = deck.slides.add_slide(deck.slide_layouts[0])
    t.shapes.title.text = "Product Roadmap 2026"
    t.placeholders[1].text = "Steering committee, October 2025"
    _slide(deck, "Workstream owners", ["Data migration: Priya Raman", "Billing rewrite: Jonas Weber",
                                        "Analytics dashboards: Mei Chen", "Security review: Omar Haddad"])
    _slide(deck, "Mobile app", ["Beta opens to 500 customers in January 2026",
                                "Store review takes about two weeks",
                                "General availability: March 2026"],
           notes="The iOS and Android apps ship on the same day.")
    _slide(deck, "Risks", ["Vendor API deprecation could delay the billing rewrite by six weeks",
                           "Two senior engineers leave the data team in the first quarter",
                           "The new data centre contract is not yet signed"],
           notes="The steering committee reviews these risks every second Tuesday.")
    _slide(deck, "Budget", ["Total roadmap budget: EUR 4.2 million",
                            "Contingency reserve: 10 percent of the budget"])
    deck.save(path)


def sales_kickoff(path):
    import pptx

    deck = pptx.Presentation()
    deck.core_properties.title = "Sales Kickoff 2026"
    deck.core_properties.created = FIXED
    deck.core_properties.modified = FIXED
    t = deck.slides.add_slide(deck.slide_layouts[0])
    t.shapes.title.text = "Sales Kickoff 2026"
    t.placeholders[1].text = "Lisbon, 12-13 February 2026"
    _slide(deck, "Targets for 2026", ["New annual recurring revenue target: 3.5 million dollars",
                                       "Win rate goal: 28 percent",
                                       "Each account executive carries a quota of 600,000 dollars"],
           notes="Quotas are reviewed at the end of June.")
    _slide(deck, "Key accounts", ["Harbor Logistics renews in April",
                                  "Greenfield Foods expands to 1,200 seats",
                                  "Atlas Insurance pilot starts in May"])
    _slide(deck, "Awards", ["Top seller of 2025: Sofia Martins",
                            "Best newcomer: Kenji Watanabe"],
           notes="Award winners join the President's Club trip to Madeira.")
    deck.save(path)


# ---------------------------------------------------------------- Excel and CSV

def _book(path, sheets):
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets:
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
    book.properties.created = FIXED
    book.properties.modified = FIXED
    book.save(path)


def offices(path):
    _book(path, [
        ("Offices", [["Office", "Country", "Employees", "Opened", "Office manager"],
                     ["Lisbon", "Portugal", 42, 2019, "Ana Sousa"],
                     ["Berlin", "Germany", 67, 2016, "Lukas Braun"],
                     ["Toronto", "Canada", 55, 2018, "Emily Tremblay"],
                     ["Singapore", "Singapore", 23, 2021, "Wei Ling Tan"]]),
        ("Leases", [["Office", "Monthly rent (EUR)", "Lease ends", "Floor area (m2)"],
                    ["Lisbon", 4800, "March 2029", 610],
                    ["Berlin", 9100, "December 2027", 1150],
                    ["Toronto", 7300, "August 2028", 890],
                    ["Singapore", 6200, "May 2026", 400]]),
    ])


def budget(path):
    _book(path, [
        ("Budget 2026", [["Department", "Budget (EUR)", "Change vs 2025"],
                         ["Engineering", 2400000, "+12%"],
                         ["Marketing", 850000, "+4%"],
                         ["Customer Support", 520000, "-2%"],
                         ["Facilities", 1300000, "+7%"]]),
        ("Hiring plan", [["Role", "Department", "Openings", "Start quarter"],
                         ["Backend engineer", "Engineering", 6, "Q1"],
                         ["Product designer", "Engineering", 2, "Q2"],
                         ["Account executive", "Sales", 4, "Q1"],
                         ["Support specialist", "Customer Support", 3, "Q3"]]),
    ])


def price_list(path):
    rows = [["Product", "SKU", "Monthly price", "Included users"],
            ["Starter", "NW-100", "49 USD", "5"],
            ["Team", "NW-200", "199 USD", "25"],
            ["Business", "NW-300", "599 USD", "100"],
            ["Enterprise", "NW-900", "custom quote", "unlimited"]]
    _csv(path, rows)


def support_contacts(path):
    rows = [["Name", "Role", "Phone extension", "Region"],
            ["Grace Holm", "Support lead", "4410", "Europe"],
            ["Diego Alvarez", "Escalation engineer", "4425", "Latin America"],
            ["Hana Sato", "Support specialist", "4437", "Asia Pacific"],
            ["Liam O'Brien", "On-call manager", "4402", "North America"]]
    _csv(path, rows)


def _csv(path, rows):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    Path(path).write_text(buf.getvalue())


# ---------------------------------------------------------------- PDF (text layer and scanned)

TRAVEL = [
    ("Travel Policy", None),
    (None, "This policy applies to all employees of Northwind Analytics who travel for work. Employees "
           "may book business class only for flights longer than six hours; all other flights are booked "
           "in economy class."),
    (None, "The daily meal allowance is EUR 45 within Europe and EUR 60 elsewhere. Hotel bookings must "
           "be made through the travel desk, which is run by Clara Jensen, at least ten days before "
           "departure."),
    (None, "Expense reports must be submitted within 30 days of the end of a trip, together with the "
           "original receipts. Travel to countries on the security watch list needs the written approval "
           "of the chief operating officer."),
    (None, "Mileage for private cars is reimbursed at EUR 0.30 per kilometre."),
]


def _pdf_bytes(lines):
    """A one-page PDF (Helvetica) showing the given lines, written by hand (no library)."""
    def esc(s):
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    content = ("BT /F1 11 Tf 14 TL 60 740 Td " + " ".join(f"({esc(line)}) '" for line in lines)
               + " ET").encode("latin-1")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref_at)
    return bytes(out)


def _wrapped(blocks, width):
    lines = []
    for heading, para in blocks:
        if lines:
            lines.append("")
        lines.extend([heading] if heading else textwrap.wrap(para, width))
    return lines


def travel_policy(path):
    Path(path).write_bytes(_pdf_bytes(_wrapped(TRAVEL, 88)))


LEASE = [
    ("Lease Agreement", None),
    (None, "This agreement leases Unit 7 at 14 Harbour Road, Lisbon, to Northwind Analytics for a monthly "
           "rent of EUR 4,800. The lease runs from 1 April 2024 to 31 March 2029."),
    (None, "The tenant pays a deposit of EUR 14,400, returned within 60 days after the keys are handed "
           "back. The landlord is Porto Atlantico Properties."),
    (None, "Either party may end the lease with six months of written notice after the third year."),
]
INVOICE = [
    ("Invoice INV-20931", None),
    (None, "Supplier: Cloudora Hosting"),
    (None, "Invoice date: 3 September 2025"),
    (None, "Total due: EUR 186,000"),
    (None, "Payment terms: 45 days net"),
    (None, "The amount covers cloud hosting for the second half of 2025, including the new backup "
           "region in Frankfurt."),
]


def _font(size):
    from PIL import ImageFont

    for name in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                 "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"):
        if Path(name).exists():
            return ImageFont.truetype(name, size)
    return ImageFont.load_default(size)


def _scanned(path, blocks):
    """Text drawn onto a white A4-ish page image (150 dpi), saved as an image-only PDF."""
    from PIL import Image, ImageDraw

    page = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(page)
    font, y = _font(26), 120
    for line in _wrapped(blocks, 70):
        if line:
            draw.text((110, y), line, fill=0, font=font)
        y += 40
    stamp = time.gmtime(FIXED.timestamp())
    page.save(path, "PDF", resolution=150.0, creationDate=stamp, modDate=stamp)


# ---------------------------------------------------------------- Markdown and text

POSTMORTEM = """# Post-mortem: checkout outage of 14 August 2025

## Summary

On 14 August 2025 the checkout service was unavailable for 47 minutes. Customers
could browse the shop but every payment failed with a timeout. The incident was
declared at 10:12 and resolved at 10:59.

## Root cause

The on-call engineer was paged late because the error-rate alert
was routed to a pager rotation that had been retired in July. A database
connection pool limit of 50, set during a load test, was never raised back
to 400.

## Impact

- Failed payments: about 3,900
- Lost revenue estimate: EUR 72,000
- Support tickets opened: 214

## Action items

- Owner of the alert routing fix: Nadia Petrova
- Connection pool limits are now checked by the deploy pipeline.
- A monthly review of pager rotations starts in October.
"""

ONBOARDING = """# Onboarding guide for new engineers

Welcome to Northwind Analytics. During your first week you pair with a buddy
from your team, who shows you the code base, the deploy pipeline and the
on-call handbook. Laptops are handed out by the IT desk on the second floor
on your first morning.

## Accounts

- Code hosting: request access from your team lead
- VPN: installed on your laptop before you arrive
- Expense tool: Spendwise, with your company email as the login

## First month

You ship your first change to production within two weeks. At the end of the
first month your manager holds a check-in meeting about goals for the first
quarter.
"""

MEETING = """Leadership meeting notes, 22 September 2025

Attendees: Sara Lind, Daniel Okafor, Priya Raman, Tom Becker

The team agreed to move the annual customer conference from Porto to
Amsterdam because the Porto venue could not host more than 400 guests.
The conference will take place on 9 and 10 June 2026.

Decision: the hiring freeze for non-engineering roles ends on 1 November.
Decision: the company offsite is cancelled this year.

Action items:
- Tom Becker sends the revised sales forecast by 6 October.
- Priya Raman prepares the data migration plan for the board.
"""


def main(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    makers = {
        "quarterly_report.docx": quarterly_report, "vendor_contracts.docx": vendor_contracts,
        "roadmap_2026.pptx": roadmap, "sales_kickoff.pptx": sales_kickoff,
        "offices.xlsx": offices, "budget_2026.xlsx": budget,
        "price_list.csv": price_list, "support_contacts.csv": support_contacts,
        "travel_policy.pdf": travel_policy,
        "lease_scan.pdf": lambda p: _scanned(p, LEASE), "invoice_scan.pdf": lambda p: _scanned(p, INVOICE),
    }
    written = []
    for name, make in makers.items():
        make(out / name)
        written.append(out / name)
    for name, text in (("postmortem_checkout.md", POSTMORTEM), ("onboarding.md", ONBOARDING),
                       ("meeting_notes.txt", MEETING)):
        (out / name).write_text(text)
        written.append(out / name)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / ".cache" / "office"
    files = main(target)
    print(f"{len(files)} files, {sum(f.stat().st_size for f in files):,} bytes in {target}")
