"""Generated hostile office files: compression bombs, lying zip headers, huge and deeply nested
spreadsheets, long Word documents. Each is made in memory from a small valid file whose main XML
member is replaced, so tests choose the size (small, over the small limits a test passes)."""
from __future__ import annotations

import io
import struct
import zipfile

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _base_docx() -> bytes:
    import docx

    buf = io.BytesIO()
    docx.Document().save(buf)
    return buf.getvalue()


def _base_xlsx() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.active["A1"] = "Header"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def replace_member(data: bytes, name: str, body: bytes, *, level: int = 9) -> bytes:
    """The zip data with member name's content replaced by body (deflated at level)."""
    src, buf = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as out:
        for info in src.infolist():
            out.writestr(info.filename, body if info.filename == name else src.read(info))
    return buf.getvalue()


def docx_with_body(paragraphs_xml: bytes) -> bytes:
    doc = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document ' + W.encode()
           + b"><w:body>" + paragraphs_xml + b"<w:sectPr/></w:body></w:document>")
    return replace_member(_base_docx(), "word/document.xml", doc)


def docx_paragraphs(n: int, *, heading: bool = True) -> bytes:
    """A Word document of n numbered paragraphs (the first a Title when heading)."""
    first = b'<w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr><w:r><w:t>Contract of many clauses</w:t></w:r></w:p>'
    body = b"".join(b"<w:p><w:r><w:t>Clause %d of the contract applies to party %d.</w:t></w:r></w:p>" % (i, i % 97)
                    for i in range(n))
    return docx_with_body((first if heading else b"") + body)


def docx_xml_bomb(mb: float) -> bytes:
    """A small .docx whose document.xml is mb MB of one repeated paragraph (compresses ~1000:1)."""
    p = b"<w:p><w:r><w:t>bomb</w:t></w:r></w:p>"
    return docx_with_body(p * int(mb * 1_000_000 / len(p)))


def docx_dense(mb: float) -> bytes:
    """A .docx of mb MB of distinct numbered paragraphs: compresses only ~10-20:1, so only the
    memory limit stops it (a parsed paragraph costs far more memory than its XML)."""
    out, size, i = [], 0, 0
    while size < mb * 1_000_000:
        p = b"<w:p><w:r><w:t>%d</w:t></w:r></w:p>" % (i * 7919 % 1000003)
        out.append(p)
        size += len(p)
        i += 1
    return docx_with_body(b"".join(out))


def lie_about_size(data: bytes, name: str, size: int) -> bytes:
    """data with member name's uncompressed size set to size in its local and central headers."""
    data = bytearray(data)
    pos = 0
    while True:
        pos = data.find(b"PK\x01\x02", pos)
        if pos < 0:
            raise ValueError(f"{name} not in the archive")
        n = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46:pos + 46 + n] == name.encode():
            break
        pos += 4
    struct.pack_into("<I", data, pos + 24, size)                       # central directory
    local = struct.unpack_from("<I", data, pos + 42)[0]
    struct.pack_into("<I", data, local + 22, size)                      # local header
    return bytes(data)


def docx_lying_header(mb: float) -> bytes:
    """A .docx bomb whose document.xml says it is 1,000 bytes."""
    return lie_about_size(docx_xml_bomb(mb), "word/document.xml", 1000)


def zip_lying_header(mb: float, *, declared: int = 1000) -> bytes:
    """A .docx-named archive with two bomb members each declared as `declared` bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name in ("word/document.xml", "word/styles.xml"):
            z.writestr(name, b"<a>" + b"A" * int(mb * 1_000_000) + b"</a>")
    data = buf.getvalue()
    for name in ("word/document.xml", "word/styles.xml"):
        data = lie_about_size(data, name, declared)
    return data


def xlsx_huge(rows: int, cols: int = 10) -> bytes:
    """A spreadsheet of rows x cols distinct numbers (compresses ~5:1), as raw XML: quick to make, slow to read."""
    data = b"".join(b"<row>" + b"".join(b'<c t="n"><v>%d</v></c>' % ((r * cols + c) * 7919 % 1000003)
                                        for c in range(cols)) + b"</row>" for r in range(rows))
    sheet = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet ' + S.encode() + b"><sheetData>" + data
             + b"</sheetData></worksheet>")
    return replace_member(_base_xlsx(), "xl/worksheets/sheet1.xml", sheet, level=6)


def xlsx_nested(depth: int) -> bytes:
    """A spreadsheet whose first cell holds rich text nested depth elements deep."""
    inner = b"<r>" * depth + b"<t>deep</t>" + b"</r>" * depth
    sheet = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet ' + S.encode()
             + b'><sheetData><row r="1"><c r="A1" t="inlineStr"><is>' + inner
             + b"</is></c></row></sheetData></worksheet>")
    return replace_member(_base_xlsx(), "xl/worksheets/sheet1.xml", sheet)
