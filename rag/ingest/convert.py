"""Turn one file's content into plain text: HTML, office formats, tables and e-books.

``html_text`` keeps the visible text of a page; ``docx_text`` (python-docx) the
paragraphs and table rows in reading order; ``pptx_text`` (python-pptx) each
slide's text frames, tables and notes, one page per slide; ``xlsx_text``
(openpyxl) and ``csv_text`` (stdlib csv) each data row as one line
"Header: value; Header: value" under its sheet's header row; ``epub_text`` the
XHTML files of the spine in reading order (stdlib zipfile, then html_text).
Each returns a ``Converted`` (text, title, page start offsets or ()). A damaged
file raises ValueError with a one-line reason; a zip-based file is first read
through rag.zipcheck (bytes actually decompressed counted against ZIP_LIMITS,
sizes declared in the archive not trusted) and refused before parsing when over
a cap. Word paragraphs are read in one pass with styles looked up in a table
built once (python-docx's ``Paragraph.style`` scans every style per paragraph).
These functions run in a memory- and time-limited worker process (rag.ingest.sandbox)
when called through rag.ingest.read. Does not handle
images inside documents (no OCR here: rag.ingest.pdf does scanned PDFs), formulas
(cached values are read), legacy .doc/.ppt/.xls, or DRM-protected e-books.
"""
from __future__ import annotations

import csv
import html.parser
import io
import posixpath
import re
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree

from rag.ingest.zipcheck import ZipLimits, check

ZIP_LIMITS = ZipLimits()     # what a zip-based document may expand to (set per file by rag.ingest.sandbox)
MAX_CELLS = 2_000_000        # spreadsheet cells read at most


@dataclass(frozen=True)
class Converted:
    text: str
    title: str
    page_starts: tuple = ()   # offset in text where each page (PDF page, slide) starts


def shorten(title: str, limit: int = 100) -> str:
    """title cut at a word boundary to at most limit characters, with an ellipsis if cut."""
    title = " ".join(title.split())
    if len(title) <= limit:
        return title
    return (title[: limit - 1].rsplit(" ", 1)[0] or title[: limit - 1]).rstrip(",;:—-") + "…"


def first_line_title(text: str, *, markdown: bool = False) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if markdown:
        for line in lines:
            if line.startswith("#"):
                return shorten(line.lstrip("#").strip())
    return shorten(lines[0]) if lines else ""


def join_pages(pages: list[str]) -> tuple[str, tuple]:
    """Pages joined by blank lines, and the offset where each starts (an empty page starts
    where the next text does), so a position maps to its page with bisect."""
    parts, starts, pos = [], [], 0
    for p in pages:
        p = p.strip()
        if p and parts:
            pos += 2   # the "\n\n" before it
        starts.append(pos)
        if p:
            parts.append(p)
            pos += len(p)
    return "\n\n".join(parts), tuple(starts)


def _failed(kind: str, exc: Exception) -> Exception:
    if isinstance(exc, (MemoryError, RecursionError)):   # over a limit, not damage: the caller says which
        return exc
    return ValueError(f"unreadable {kind} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})")


def _zip(data: bytes, kind: str) -> zipfile.ZipFile:
    return check(data, kind, ZIP_LIMITS)


# ---------------------------------------------------------------- HTML

class _HTMLText(html.parser.HTMLParser):
    """Collects visible text; block elements become line breaks. A <title> ends at
    the next tag even without </title>, so an unclosed title cannot hide the page."""

    BLOCK = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article",
             "h1", "h2", "h3", "h4", "h5", "h6", "header", "footer", "blockquote", "pre", "hr"}
    HIDDEN = {"script", "style", "noscript", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.title, self.heading = [], "", ""
        self._hidden, self._in_title, self._in_h1 = 0, False, False

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self._hidden += 1
        self._in_title = tag == "title"
        self._in_h1 = self._in_h1 or tag == "h1"
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1
        if tag == "title":
            self._in_title = False
        if tag == "h1":
            self._in_h1 = False
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if self._in_title:
            self.title += data
            return
        if self._hidden:
            return
        if self._in_h1:
            self.heading += data
        self.parts.append(data)


_TITLE_OPEN = re.compile(r"<title\b[^>]*>", re.I)
_TITLE_CLOSE = re.compile(r"</title\s*>", re.I)


def html_text(raw: str) -> Converted:
    if _TITLE_OPEN.search(raw) and not _TITLE_CLOSE.search(raw):
        # parsers that read <title> as RCDATA would take the whole page as its title
        raw = _TITLE_OPEN.sub("", raw)
    parser = _HTMLText()
    parser.feed(raw)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\f\v]+", " ", text)
    text = re.sub(r" *\n[\n ]*", "\n", text).strip()
    title = " ".join(parser.heading.split()) or " ".join(parser.title.split())
    return Converted(text, shorten(title) or first_line_title(text))


# ---------------------------------------------------------------- tables

def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def table_lines(rows) -> list[str]:
    """The first non-empty row is the header; each later row becomes "Header: value; ...".
    Empty cells are left out; a column without a header is "Column N"."""
    header, lines = None, []
    for row in rows:
        cells = [_cell(v) for v in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        names = header + [""] * (len(cells) - len(header))
        lines.append("; ".join(f"{names[i] or f'Column {i + 1}'}: {v}" for i, v in enumerate(cells) if v))
    if header is not None and not lines:   # a one-row table: the row itself
        lines.append("; ".join(c for c in header if c))
    return lines


def csv_text(raw: str, name: str) -> Converted:
    sample = raw[:20_000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        lines = table_lines(csv.reader(io.StringIO(raw), dialect))
    except csv.Error as exc:
        raise _failed("CSV", exc) from None
    return Converted("\n".join(lines), shorten(name))


def xlsx_text(data: bytes, name: str) -> Converted:
    import openpyxl

    _zip(data, "spreadsheet").close()
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:   # openpyxl raises many types for damaged files
        raise _failed("spreadsheet", exc) from None
    parts, cells = [], 0
    try:
        for sheet in book.worksheets:
            def rows(sheet=sheet):
                nonlocal cells
                for row in sheet.iter_rows(values_only=True):
                    cells += len(row)
                    if cells > MAX_CELLS:
                        raise ValueError(f"spreadsheet has more than {MAX_CELLS:,} cells; not read")
                    yield row
            lines = table_lines(rows())
            if lines:
                parts.append("\n".join([f"{sheet.title} (sheet)"] + lines))
        title = book.properties.title if book.properties else None
    except ValueError:
        raise
    except Exception as exc:
        raise _failed("spreadsheet", exc) from None
    finally:
        book.close()
    return Converted("\n\n".join(parts), shorten(title or "") or shorten(name))


# ---------------------------------------------------------------- office documents

def docx_text(data: bytes) -> Converted:
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.table import Table

    _zip(data, "Word document").close()
    try:
        doc = docx.Document(io.BytesIO(data))
        # style id -> name once: Paragraph.style scans all styles for every paragraph
        names = {s.style_id: s.name or "" for s in doc.styles if s.type == WD_STYLE_TYPE.PARAGRAPH}
        default = doc.styles.default(WD_STYLE_TYPE.PARAGRAPH)
        default = (default.name or "") if default is not None else ""
        blocks, heading = [], ""
        for item in doc.iter_inner_content():
            if isinstance(item, Table):
                blocks.extend(table_lines([c.text for c in row.cells] for row in item.rows))
                continue
            text = item.text.strip()
            if text:
                if not heading:
                    style_id = item._p.style   # w:pPr/w:pStyle/@w:val, or None
                    style = names.get(style_id, default) if style_id is not None else default
                    if style == "Title" or style.startswith("Heading"):
                        heading = text
                blocks.append(text)
        title = doc.core_properties.title or heading
    except Exception as exc:   # python-docx/lxml raise many types for damaged files
        raise _failed("Word document", exc) from None
    text = "\n\n".join(blocks)
    return Converted(text, shorten(title) or first_line_title(text))


BULLET = "• "


def _shape_texts(shapes, title_id=None):
    """Each shape's text: the title as it is, a text frame's paragraphs as bullets, one a line (so that
    each reads as its own statement), a table's rows as "Header: value; ..." lines."""
    for shape in shapes:
        if shape.shape_type is not None and shape.shape_type == 6:   # MSO_SHAPE_TYPE.GROUP
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            yield "\n".join(table_lines([c.text for c in row.cells] for row in shape.table.rows))
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            if shape.shape_id == title_id:
                yield " ".join(shape.text_frame.text.split())
                continue
            paras = [" ".join(p.text.split()) for p in shape.text_frame.paragraphs]
            yield "\n".join(p if p[:1] in "•-*–" else BULLET + p for p in paras if p)


def pptx_text(data: bytes) -> Converted:
    import pptx

    _zip(data, "presentation").close()
    try:
        deck = pptx.Presentation(io.BytesIO(data))
        pages, first = [], ""
        for slide in deck.slides:
            title = slide.shapes.title
            title_id = title.shape_id if title is not None else None
            texts = [t.strip() for t in _shape_texts(slide.shapes, title_id) if t.strip()]
            heading = " ".join(title.text_frame.text.split()) if title is not None and title.has_text_frame else ""
            if heading and heading in texts:   # the title first, over the bullets it gives context to
                texts.remove(heading)
                texts.insert(0, heading)
            page = "\n".join(texts)
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                notes = " ".join(slide.notes_slide.notes_text_frame.text.split())
                if notes:
                    page += ("\n\n" if page else "") + "Notes: " + notes
            if not first and title is not None and title.has_text_frame:
                first = title.text_frame.text.strip()
            pages.append(page)
        title = deck.core_properties.title or first
    except Exception as exc:
        raise _failed("presentation", exc) from None
    if not pages:
        raise ValueError("presentation has no slides")
    text, starts = join_pages(pages)
    return Converted(text, shorten(title) or first_line_title(text), starts)


# ---------------------------------------------------------------- e-books

_NS = {"c": "urn:oasis:names:tc:opendocument:xmlns:container", "opf": "http://www.idpf.org/2007/opf",
       "dc": "http://purl.org/dc/elements/1.1/"}


def epub_text(data: bytes) -> Converted:
    z = _zip(data, "EPUB")
    try:
        container = ElementTree.fromstring(z.read("META-INF/container.xml"))
        opf_path = container.find(".//c:rootfile", _NS).get("full-path")
        opf = ElementTree.fromstring(z.read(opf_path))
        base = posixpath.dirname(opf_path)
        items = {i.get("id"): i for i in opf.iterfind(".//opf:manifest/opf:item", _NS)}
        chapters = []
        for ref in opf.iterfind(".//opf:spine/opf:itemref", _NS):
            item = items.get(ref.get("idref"))
            if item is None or "html" not in (item.get("media-type") or ""):
                continue
            raw = z.read(posixpath.normpath(posixpath.join(base, item.get("href")))).decode("utf-8", "replace")
            chapters.append(html_text(raw).text)
        title = opf.findtext(".//dc:title", "", _NS)
    except Exception as exc:   # missing members, bad XML, a damaged archive
        raise _failed("EPUB", exc) from None
    finally:
        z.close()
    text = "\n\n".join(c for c in chapters if c.strip())
    return Converted(text, shorten(title) or first_line_title(text))
