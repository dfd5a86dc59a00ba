"""The converter registry: the only list of file types the package reads, and what turns each into text.

``TEXT`` types are decoded in the calling process (rag.ingest.read.decode_text) and converted from
their text; ``BINARY`` types (office files, e-books, PDFs) are converted from their bytes, in a
memory- and time-limited worker (rag.ingest.sandbox) when read through rag.ingest.read. ``SUPPORTED``
is every suffix, ``LEGACY`` the formats refused with the one to save them as. To read a new type,
add its converter here. Does not read files or decode bytes itself.
"""
from __future__ import annotations

from pathlib import PurePosixPath

from rag.ingest import convert


def _plain(raw: str, doc_id: str, *, markdown: bool = False) -> convert.Converted:
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    return convert.Converted(text, convert.first_line_title(text, markdown=markdown))


def _pdf(data: bytes, doc_id: str) -> convert.Converted:
    from rag.ingest.pdf import pdf_text

    return pdf_text(data, doc_id)


TEXT = {
    ".txt": _plain,
    ".md": lambda raw, i: _plain(raw, i, markdown=True),
    ".markdown": lambda raw, i: _plain(raw, i, markdown=True),
    ".html": lambda raw, i: convert.html_text(raw),
    ".htm": lambda raw, i: convert.html_text(raw),
    ".csv": lambda raw, i: convert.csv_text(raw, PurePosixPath(i).stem),
}
BINARY = {
    ".pdf": _pdf,
    ".docx": lambda data, i: convert.docx_text(data),
    ".pptx": lambda data, i: convert.pptx_text(data),
    ".xlsx": lambda data, i: convert.xlsx_text(data, PurePosixPath(i).stem),
    ".epub": lambda data, i: convert.epub_text(data),
}
SUPPORTED = tuple(TEXT) + tuple(BINARY)
LEGACY = {".doc": ".docx", ".ppt": ".pptx", ".xls": ".xlsx or .csv", ".rtf": ".docx", ".odt": ".docx"}


def convert_binary(suffix: str, data: bytes, doc_id: str) -> convert.Converted:
    """An office file, e-book or PDF converted in this process, without limits (the sandbox's worker calls
    it); ValueError with a one-line reason when it cannot be read."""
    try:
        return BINARY[suffix](data, doc_id)
    except ImportError as exc:
        raise ValueError(f"reading {suffix} files needs the package {exc.name!r} (pip install it)") from None


def convert_text(suffix: str, raw: str, doc_id: str) -> convert.Converted:
    """A text format's content (already decoded) converted."""
    return TEXT[suffix](raw, doc_id)
