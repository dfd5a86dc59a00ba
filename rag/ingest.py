"""Read a folder of documents into plain text.

Handles ``.txt``, ``.md``, ``.html``/``.htm`` (visible text only) and ``.pdf``
(text layer via pypdf). Text files are UTF-8 (invalid bytes replaced, with a
warning) or UTF-8/UTF-16/UTF-32 with a byte-order mark. Which files are read at
all (regular files inside the folder, links checked, safe ids) is rag/walk.py.
Every file is checked against a size limit with fstat before reading, and the
read never takes more than limit + 1 bytes. Content with NUL bytes (without a
UTF-16/32 BOM) or with a high share of control, unassigned or undecodable
characters is binary and skipped. Does not handle scanned PDFs (no OCR), office
formats, archives, or text in other legacy encodings (read as UTF-8 with
replacement): such files are skipped, or read with a warning, naming the file
and why. Binary detection samples at most 32 blocks of a large text, so a long
text file with a binary part may pass.
"""
from __future__ import annotations

import codecs
import hashlib
import html.parser
import logging
import os
import re
import stat
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .walk import safe_text, walk
from .watch import slow

log = logging.getLogger("rag")

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
MAX_BYTES = 20_000_000    # default per-file limit (Config.max_file_mb, rag index --max-file-mb)
BINARY_SHARE = 0.15       # more than this share of bad characters in the sampled text: binary
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
         (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"), (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
         (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"))
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_OK_CONTROLS = set("\t\n\r\f\v")


@dataclass(frozen=True)
class Document:
    id: str        # path relative to the corpus folder, with "/" separators (see rag/walk.py)
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
    """Every file load_corpus would read (links resolved), sorted by id."""
    return [e.path for e in walk(corpus_dir)[0]]


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most limit bytes; ValueError otherwise.

    Checks fstat on the opened file before reading (no FIFO or device is ever
    read) and reads at most limit + 1 bytes, so a file that grows or reports a
    false size cannot take more memory than that."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ValueError(f"unreadable ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        if st.st_size > limit:
            raise ValueError(f"too large ({st.st_size:,} bytes, limit {limit:,}; raise it with --max-file-mb)")
        parts, got = [], 0
        while got <= limit:
            part = os.read(fd, min(1 << 20, limit + 1 - got))
            if not part:
                break
            parts.append(part)
            got += len(part)
    except OSError as exc:
        raise ValueError(f"unreadable ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if got > limit:
        raise ValueError(f"too large (more than {limit:,} bytes read, though it reported {st.st_size:,}; "
                         "raise the limit with --max-file-mb)")
    return b"".join(parts)


def _bad_share(text: str) -> float:
    """Share of control (other than whitespace), unassigned, private-use, surrogate or
    replacement characters, over up to 32 blocks of 4,096 characters spread through text."""
    n, block = len(text), 4096
    starts = range(0, n, block) if n <= 32 * block else range(0, n - block, (n - block) // 31)
    bad = total = 0
    for a in list(starts)[:32]:
        for ch in text[a:a + block]:
            total += 1
            if ch == "\ufffd" or (unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs") and ch not in _OK_CONTROLS):
                bad += 1
    return bad / total if total else 0.0


def decode_text(data: bytes, doc_id: str) -> str:
    """Text of a text file: UTF-8, or UTF-8/16/32 by byte-order mark; ValueError if binary."""
    encoding, label = next(((enc, lab) for bom, enc, lab in _BOMS if data.startswith(bom)), ("utf-8", "UTF-8"))
    if encoding in ("utf-8", "utf-8-sig") and b"\x00" in data:
        raise ValueError("binary content in a text file (NUL bytes)")
    error_at = None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        error_at = exc.start
        text = data.decode(encoding, errors="replace")
    share = _bad_share(text)
    if share > BINARY_SHARE:
        raise ValueError(f"binary content in a text file ({share:.0%} control or undecodable characters)")
    if error_at is not None:
        log.warning("%s: invalid %s at byte %d; undecodable bytes replaced", doc_id, label, error_at)
    return text


def read_document(path: Path, doc_id: str, *, max_bytes: int = MAX_BYTES) -> Document:
    """Read one file. Raises ValueError with a short reason when it cannot be used."""
    name = PurePosixPath(doc_id)   # a link's own name decides its type and fallback title
    suffix = name.suffix.lower()
    if suffix not in SUPPORTED:
        raise ValueError(f"unsupported file type {safe_text(suffix) or '(none)'!r}")
    data = read_bounded(path, max_bytes)
    if not data.strip():
        raise ValueError("empty file")
    if suffix == ".pdf":
        text, title = _pdf_text(data, doc_id)
    else:
        raw = decode_text(data, doc_id)
        if suffix in (".html", ".htm"):
            text, title = _html_text(raw)
        else:
            text = raw.replace("\r\n", "\n").replace("\r", "\n")
            title = _first_line_title(text, markdown=suffix in (".md", ".markdown"))
    if not text.strip():
        raise ValueError("no text found" + (" (scanned PDF?)" if suffix == ".pdf" else ""))
    title = title or name.stem
    return Document(id=doc_id, title=_SURROGATE.sub("\ufffd", title), text=_SURROGATE.sub("\ufffd", text),
                    sha256=sha256_bytes(data))


def load_corpus(corpus_dir: Path, *, max_bytes: int = MAX_BYTES,
                progress=None) -> tuple[list[Document], list[Skipped]]:
    """All usable documents under corpus_dir, and the files skipped with reasons.

    One bad file never stops the run: it is logged as a warning ("FILE: skipped:
    reason") and listed. A file that takes long to read is named by a watchdog.
    progress (a rag.progress.Progress) shows the "reading" phase, counted in files.
    """
    entries, skipped_walk = walk(Path(corpus_dir))
    skipped = [Skipped(doc_id, reason) for doc_id, reason in skipped_walk]
    for s in skipped:
        log.warning("%s: skipped: %s", s.path, s.reason)
    docs = []
    if progress is not None:
        progress.phase("reading", len(entries), "files")
    for entry in entries:
        if progress is not None:
            progress.advance()
        try:
            with slow("reading", entry.doc_id):
                docs.append(read_document(entry.path, entry.doc_id, max_bytes=max_bytes))
        except ValueError as exc:
            log.warning("%s: skipped: %s", entry.doc_id, exc)
            skipped.append(Skipped(entry.doc_id, str(exc)))
    return docs, sorted(skipped, key=lambda s: s.path)


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


class _Refused(Exception):
    pass


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _pdf_text(data: bytes, doc_id: str) -> tuple[str, str]:
    """Text and title of a PDF. pypdf's own warnings (logged or warnings.warn) during
    this file are collected and re-emitted as one line naming the file."""
    import io

    import pypdf

    pypdf_log = logging.getLogger("pypdf")
    collect, propagate = _Collect(), pypdf_log.propagate
    pypdf_log.addHandler(collect)
    pypdf_log.propagate = False
    caught: list = []

    def reader_warnings() -> str:
        messages = collect.messages + [str(w.message) for w in caught]
        if not messages:
            return ""
        first = safe_text(" ".join(messages[0].split())[:200])
        return f"PDF reader: {first} ({len(messages)} warning{'' if len(messages) == 1 else 's'})"

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                reader = pypdf.PdfReader(io.BytesIO(data))
                if reader.is_encrypted:
                    raise _Refused("encrypted PDF (password-protected)")
                if len(reader.pages) == 0:
                    raise _Refused("PDF has no pages")
                pages = [(page.extract_text() or "").strip() for page in reader.pages]
                meta_title = (reader.metadata.title if reader.metadata else None) or ""
            except _Refused:
                raise
            except Exception as exc:  # pypdf raises many types for damaged files
                raise _Refused(f"unreadable PDF ({type(exc).__name__}: {safe_text(str(exc))[:200]})") from None
    except _Refused as exc:   # one line for the file: the reason, then what the reader said
        extra = reader_warnings()
        raise ValueError(f"{exc}; {extra}" if extra else str(exc)) from None
    finally:
        pypdf_log.removeHandler(collect)
        pypdf_log.propagate = propagate
    extra = reader_warnings()
    if extra:
        log.warning("%s: %s", doc_id, extra)
    text = "\n\n".join(p for p in pages if p)
    return text, shorten(str(meta_title)) or _first_line_title(text, markdown=False)


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


def _html_text(raw: str) -> tuple[str, str]:
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
    return text, shorten(title) or _first_line_title(text, markdown=False)
