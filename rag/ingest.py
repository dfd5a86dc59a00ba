"""Read a folder of documents into plain text.

Handles ``.txt``, ``.md``, ``.html``/``.htm`` (visible text only) and ``.pdf``
(text layer via pypdf). Does not handle scanned PDFs (no OCR), office formats,
or archives: such files are skipped with a warning naming the file and why.
Hidden files and folders (names starting with ".") are ignored silently.
"""
from __future__ import annotations

import hashlib
import html.parser
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError

log = logging.getLogger("rag")

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
MAX_BYTES = 50_000_000


@dataclass(frozen=True)
class Document:
    id: str        # path relative to the corpus folder, with "/" separators
    title: str
    text: str
    sha256: str


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def list_files(corpus_dir: Path) -> list[Path]:
    """Every non-hidden file under corpus_dir, sorted by relative path."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir} (pass an existing folder of documents)")
    files = []
    for path in corpus_dir.rglob("*"):
        rel = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() or path.is_symlink():
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(corpus_dir).as_posix())


def read_document(path: Path, doc_id: str) -> Document:
    """Read one file. Raises ValueError with a short reason when it cannot be used."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise ValueError(f"unsupported file type {suffix or '(none)'!r}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"unreadable ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise ValueError(f"too large ({len(data)} bytes, limit {MAX_BYTES})")
    if not data.strip():
        raise ValueError("empty file")
    if suffix == ".pdf":
        text, title = _pdf_text(data)
    else:
        if b"\x00" in data[:8192]:
            raise ValueError("binary content in a text file")
        try:
            raw = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            log.warning("%s: invalid UTF-8 at byte %d; undecodable bytes replaced", doc_id, exc.start)
            raw = data.decode("utf-8-sig", errors="replace")
        if suffix in (".html", ".htm"):
            text, title = _html_text(raw)
        else:
            text = raw.replace("\r\n", "\n").replace("\r", "\n")
            title = _first_line_title(text, markdown=suffix in (".md", ".markdown"))
    if not text.strip():
        raise ValueError("no text found" + (" (scanned PDF?)" if suffix == ".pdf" else ""))
    return Document(id=doc_id, title=title or path.stem, text=text, sha256=sha256_bytes(data))


def load_corpus(corpus_dir: Path) -> tuple[list[Document], list[Skipped]]:
    """All usable documents under corpus_dir, and the files skipped with reasons.

    One bad file never stops the run: it is logged as a warning and listed.
    """
    corpus_dir = Path(corpus_dir)
    docs, skipped = [], []
    for path in list_files(corpus_dir):
        doc_id = path.relative_to(corpus_dir).as_posix()
        try:
            docs.append(read_document(path, doc_id))
        except ValueError as exc:
            log.warning("%s: skipped: %s", doc_id, exc)
            skipped.append(Skipped(doc_id, str(exc)))
    return docs, skipped


def _first_line_title(text: str, *, markdown: bool) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if markdown:
        for line in lines:
            if line.startswith("#"):
                return shorten(line.lstrip("#").strip())
    return shorten(lines[0]) if lines else ""


def shorten(title: str, limit: int = 100) -> str:
    """title cut at a word boundary to at most limit characters, with an ellipsis if cut."""
    title = " ".join(title.split())
    if len(title) <= limit:
        return title
    return (title[: limit - 1].rsplit(" ", 1)[0] or title[: limit - 1]).rstrip(",;:—-") + "…"


def _pdf_text(data: bytes) -> tuple[str, str]:
    import io

    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ValueError("encrypted PDF")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except ValueError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise ValueError(f"unreadable PDF ({type(exc).__name__}: {exc})") from None
    text = "\n\n".join(p for p in pages if p)
    return text, shorten(str(meta_title)) or _first_line_title(text, markdown=False)


class _HTMLText(html.parser.HTMLParser):
    """Collects visible text; block elements become line breaks."""

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
        self._in_title = self._in_title or tag == "title"
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


def _html_text(raw: str) -> tuple[str, str]:
    parser = _HTMLText()
    parser.feed(raw)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\f\v]+", " ", text)
    text = re.sub(r" *\n[\n ]*", "\n", text).strip()
    title = " ".join(parser.heading.split()) or " ".join(parser.title.split())
    return text, shorten(title) or _first_line_title(text, markdown=False)
