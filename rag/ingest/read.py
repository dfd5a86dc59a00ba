"""Read a folder of documents into plain text.

Handles ``.txt``, ``.md``, ``.html``/``.htm`` (visible text only) and ``.csv``
as text, and through rag.ingest.convert ``.docx``, ``.pptx`` (one page per slide),
``.xlsx`` (rows as "Header: value; ..." lines) and ``.epub`` (spine order), and
through rag.ingest.pdf ``.pdf`` (text layer via pypdf, page starts recorded; scanned
pages by OCR with the optional ``ocr`` extra). Text files are UTF-8 (invalid
bytes replaced, with a warning) or UTF-8/UTF-16/UTF-32 with a byte-order mark.
Which files are read at all (regular files inside the folder, links checked,
safe ids) is rag/walk.py. A corpus file is opened without following links
(O_NOFOLLOW) and checked with fstat to be the regular file the walk saw (same
device and inode), so a file swapped for a link or another file meanwhile is
skipped; a file with more than one hard link is skipped unless allowed
(``Limits.allow_hard_links``: it may be a link to a file outside the folder).
Every file is checked against a size limit with fstat before reading, and the
read never takes more than limit + 1 bytes. Office files, e-books and PDFs are
converted from those bytes in a memory- and time-limited worker process
(rag.ingest.sandbox; ``Limits``); text, Markdown, HTML and CSV in this process. Content with
NUL bytes (without a UTF-16/32 BOM) or with a high share of control, unassigned
or undecodable characters is binary and skipped. A file whose bytes match a
Document passed as ``reuse`` is not converted again. Does not handle legacy
.doc/.ppt/.xls, archives, images, scanned PDFs without the ``ocr`` extra, or text
in other legacy encodings (read as UTF-8 with replacement): such files are
skipped, or read with a warning, naming the file and why. Binary detection
samples at most 32 blocks of a large text, so a long text file with a binary
part may pass.
"""
from __future__ import annotations

import codecs
import errno
import hashlib
import logging
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from rag.ingest.convert import shorten  # noqa: F401  (re-exported: callers import it from here)
from rag.ingest.converters import BINARY, LEGACY, SUPPORTED, convert_binary, convert_text  # noqa: F401
from rag.ingest.sandbox import Limits
from rag.ingest.walk import Entry, safe_text, walk
from rag.ingest.watchdog import slow

log = logging.getLogger("rag")

_LEGACY = LEGACY
MAX_BYTES = 20_000_000    # default per-file limit (Config.max_file_mb, rag index --max-file-mb)
BINARY_SHARE = 0.15       # more than this share of bad characters in the sampled text: binary
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
         (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"), (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
         (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"))
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_OK_CONTROLS = set("\t\n\r\f\v")
_SUSPECT = re.compile(r"[^\x20-\x7e\t\n\r\f\v]")


@dataclass(frozen=True)
class Document:
    id: str        # path relative to the corpus folder, with "/" separators (see rag/walk.py)
    title: str
    text: str
    sha256: str
    kind: str = ""            # lower-case extension without the dot: "pdf", "docx", "md"...
    size: int = 0             # bytes of the source file
    page_starts: tuple = ()   # offset in text where each page (PDF page, slide) starts; () if not paged


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def list_files(corpus_dir: Path) -> list[Path]:
    """Every file load_corpus would read (links resolved), sorted by id."""
    return [e.path for e in walk(corpus_dir)[0]]


def read_bounded(path: Path, limit: int, *, expect: Entry | None = None, allow_hard_links: bool = True) -> bytes:
    """The bytes of a regular file of at most limit bytes; ValueError otherwise.

    Checks fstat on the opened file before reading (no FIFO or device is ever
    read) and reads at most limit + 1 bytes, so a file that grows or reports a
    false size cannot take more memory than that. expect: the walk's entry for a
    corpus file: then the file is opened without following a link (O_NOFOLLOW)
    and must be the file the walk saw (its st_dev and st_ino); not
    allow_hard_links: a file with more than one hard link is refused."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    if expect is not None:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if expect is not None and exc.errno == errno.ELOOP:
            raise ValueError("changed into a link since the folder was listed; not followed") from None
        raise ValueError(f"unreadable ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file" + (" (changed since the folder was listed)" if expect else ""))
        if expect is not None and expect.ino and (st.st_dev, st.st_ino) != (expect.dev, expect.ino):
            raise ValueError("replaced by another file since the folder was listed; not read (index again)")
        if not allow_hard_links and st.st_nlink > 1:
            raise ValueError(f"has {st.st_nlink} hard links; may be a link to a file outside the folder; "
                             "pass --allow-hard-links")
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
        part = text[a:a + block]
        total += len(part)
        for ch in _SUSPECT.findall(part):   # printable ASCII and whitespace controls are never bad
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


def read_document(path: Path, doc_id: str, *, max_bytes: int = MAX_BYTES,
                  reuse: "Document | None" = None, entry: Entry | None = None,
                  limits: Limits | None = None) -> Document:
    """Read one file. Raises ValueError with a short reason when it cannot be used.
    reuse: a Document already made from this id; returned as is when the bytes still
    have its sha256 (so a refresh does not convert or OCR unchanged files again).
    entry: the walk's entry for path (checked: see read_bounded); limits: see Limits."""
    name = PurePosixPath(doc_id)   # a link's own name decides its type and fallback title
    suffix = name.suffix.lower()
    if suffix not in SUPPORTED:
        hint = _LEGACY.get(suffix)
        raise ValueError(f"unsupported file type {safe_text(suffix) or '(none)'!r}"
                         + (f" (save it as {hint})" if hint else ""))
    limits = limits or Limits()
    data = read_bounded(path, max_bytes, expect=entry, allow_hard_links=limits.allow_hard_links or entry is None)
    if not data.strip():
        raise ValueError("empty file")
    sha = sha256_bytes(data)
    if reuse is not None and reuse.sha256 == sha:
        return replace(reuse, size=len(data))
    return parse_document(data, doc_id, sha, limits=limits)


def parse_document(data: bytes, doc_id: str, sha: str | None = None, *, limits: Limits | None = None) -> Document:
    """The Document of a file's bytes, by its id's extension; ValueError if unusable. Office files,
    e-books and PDFs are converted in a limited worker process (rag.ingest.sandbox) unless limits.isolate is off."""
    name = PurePosixPath(doc_id)
    suffix = name.suffix.lower()
    limits = limits or Limits()
    if suffix in BINARY:
        if limits.isolate:
            from rag.ingest import sandbox

            c = sandbox.convert(suffix, data, doc_id, limits)
        else:
            c = convert_binary(suffix, data, doc_id)
    else:
        c = convert_text(suffix, decode_text(data, doc_id), doc_id)
    if not c.text.strip():
        raise ValueError("no text found")
    title = c.title or name.stem
    return Document(id=doc_id, title=_SURROGATE.sub("\ufffd", title), text=_SURROGATE.sub("\ufffd", c.text),
                    sha256=sha or sha256_bytes(data), kind=suffix[1:], size=len(data),
                    page_starts=tuple(c.page_starts))


def load_corpus(corpus_dir: Path, *, max_bytes: int = MAX_BYTES, progress=None,
                reuse: dict[str, Document] | None = None,
                limits: Limits | None = None) -> tuple[list[Document], list[Skipped]]:
    """All usable documents under corpus_dir, and the files skipped with reasons.

    One bad file never stops the run: it is logged as a warning ("FILE: skipped:
    reason") and listed. A file that takes long to read is named by a watchdog.
    progress (a rag.build.progress.Progress) shows the "reading" phase, counted in files.
    reuse: doc id -> Document already made (see read_document). limits: see Limits.
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
                docs.append(read_document(entry.path, entry.doc_id, max_bytes=max_bytes,
                                          reuse=(reuse or {}).get(entry.doc_id), entry=entry, limits=limits))
        except ValueError as exc:
            log.warning("%s: skipped: %s", entry.doc_id, exc)
            skipped.append(Skipped(entry.doc_id, str(exc)))
    return docs, sorted(skipped, key=lambda s: s.path)
