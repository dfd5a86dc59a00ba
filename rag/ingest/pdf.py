"""Text of a PDF, page by page, with the offset where each page starts; OCR for scanned pages.

The text layer is read with pypdf. A page without text that holds images (a
scanned page) is read by OCR when the optional ``rapidocr-onnxruntime`` package
is installed (``pip install 'rag-offline[ocr]'``; its ONNX models ship inside the
wheel, nothing is downloaded): the page's images are recognised one by one and
their lines kept in the order the OCR engine reports them (top to bottom).
Without it a PDF with no text at all is skipped with that install command as the
reason; a PDF with some scanned pages keeps its text pages, with a warning.
pypdf's own warnings during a file are collected and re-emitted as one line
naming the file. Does not handle encrypted PDFs (skipped), text drawn as vector
outlines, or the layout of columns and tables (pypdf's reading order is kept).
Runs in rag.ingest.sandbox's memory- and time-limited worker when called through rag.ingest.read.
"""
from __future__ import annotations

import io
import logging
import threading
import warnings

from rag.ingest.convert import Converted, first_line_title, join_pages, shorten
from rag.ingest.walk import safe_text

log = logging.getLogger("rag")
OCR_HINT = "pip install 'rag-offline[ocr]' to read it with OCR"
_ENGINE = None
_ENGINE_LOCK = threading.Lock()


class _Refused(Exception):
    pass


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def ocr_engine():
    """The shared RapidOCR engine, or None when the optional package is not installed."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError:
                return None
            _ENGINE = RapidOCR()
        return _ENGINE


def ocr_image(engine, data: bytes) -> str:
    """The lines of text OCR finds in one image (encoded PNG/JPEG/... bytes)."""
    import numpy as np
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    with _ENGINE_LOCK:   # one inference at a time: the engine is shared between threads
        result, _ = engine(np.asarray(image)[:, :, ::-1])   # RapidOCR expects BGR like OpenCV
    return "\n".join(line[1] for line in result or [] if line[1].strip())


def _ocr_page(engine, page) -> str:
    texts = []
    for image in page.images:
        try:
            texts.append(ocr_image(engine, image.data))
        except Exception as exc:   # an undecodable image: the others may still read
            log.debug("OCR of an image failed: %s", exc)
    return "\n".join(t for t in texts if t)


def pdf_text(data: bytes, doc_id: str) -> Converted:
    """Text, title and page starts of a PDF; ValueError with a one-line reason if unusable."""
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
                blank = [n for n, p in enumerate(pages) if not p and _has_images(reader.pages[n])]
                engine = ocr_engine() if blank else None
                for n in blank if engine is not None else ():
                    pages[n] = _ocr_page(engine, reader.pages[n])
                meta_title = (reader.metadata.title if reader.metadata else None) or ""
            except (_Refused, MemoryError, RecursionError):   # over a limit: rag.ingest.sandbox says which
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
    if not any(pages):
        raise ValueError(f"no text layer (scanned?): {OCR_HINT}" if blank and engine is None
                         else "no text found" + (" (OCR found none either)" if blank else " (scanned PDF?)"))
    if blank and engine is None:
        log.warning("%s: %d page(s) without a text layer were left out: %s", doc_id, len(blank), OCR_HINT)
    text, starts = join_pages(pages)
    return Converted(text, shorten(str(meta_title)) or first_line_title(text), starts)


def _has_images(page) -> bool:
    try:
        return len(page.images) > 0
    except Exception:   # a damaged image dictionary: treat the page as having none
        return False
