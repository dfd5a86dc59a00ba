"""Text of a PDF, page by page, with the offset where each page starts; OCR for scanned pages.

The text layer is read with pypdf. A page without text that holds images (a
scanned page) is read by OCR when the optional ``rapidocr-onnxruntime`` package
is installed (``pip install 'rag-offline[ocr]'``; its ONNX models ship inside the
wheel, nothing is downloaded): the page's images are recognised one by one and
laid out as on the page from the engine's boxes: boxes of one line joined left to right, a space
wherever the page shows a gap between two characters, a blank line where the vertical gap says a
new paragraph starts (ocr_layout).
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
import re
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
    """The text OCR finds in one image (encoded PNG/JPEG/... bytes), laid out as on the page: boxes on
    one line joined left to right, words separated where the page shows a gap (ocr_layout)."""
    import numpy as np
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    pixels = np.asarray(image)
    with _ENGINE_LOCK:   # one inference at a time: the engine is shared between threads
        # no angle classifier: it turns upright lines of a scanned page upside down now and then
        result, _ = engine(pixels[:, :, ::-1], use_cls=False, return_word_box=True)   # RapidOCR expects BGR
    gray = pixels.astype(np.float32).mean(axis=2)
    boxes = [(line[0], _spaced(gray, line[0], line[1], line[3] if len(line) > 3 else None))
             for line in result or [] if line[1].strip()]
    return ocr_layout(boxes)


def _spaced(gray, box, text: str, char_boxes) -> str:
    """The recognised text of one box with a space put wherever the page shows a word gap between two
    characters: a run of ink-free columns inside the box at least a fifth of its height wide, at the
    character boundary nearest to it (the engine's character boxes). Spaces already there are kept."""
    import numpy as np

    if not char_boxes or len(char_boxes) != len(text):
        return text
    xs, ys = [p[0] for p in box], [p[1] for p in box]
    x0, x1 = max(0, int(min(xs))), min(gray.shape[1], int(max(xs)) + 1)
    y0, y1 = max(0, int(min(ys))), min(gray.shape[0], int(max(ys)) + 1)
    crop = gray[y0:y1, x0:x1]
    if crop.size == 0 or x1 - x0 < 3:
        return text
    lo, hi = float(crop.min()), float(crop.max())
    if hi - lo < 40:   # no contrast: nothing to measure
        return text
    ink = (crop < (lo + hi) / 2).any(axis=0)
    cols = np.flatnonzero(ink)
    if len(cols) < 2:
        return text
    min_gap = max(3.0, 0.25 * (y1 - y0))
    gaps = [x0 + (a + b) / 2 for a, b in zip(cols, cols[1:]) if b - a - 1 >= min_gap]
    centers = [(min(p[0] for p in cb) + max(p[0] for p in cb)) / 2 for cb in char_boxes]
    bounds = [(centers[k - 1] + centers[k]) / 2 for k in range(1, len(centers))]
    cut = {1 + min(range(len(bounds)), key=lambda k: abs(bounds[k] - g)) for g in gaps} if bounds else set()
    out = []
    for k, ch in enumerate(text):
        if k in cut and not ch.isspace() and not text[k - 1].isspace():
            out.append(" ")
        out.append(ch)
    return _DIGIT_O.sub(lambda m: m.group().replace("o", "0").replace("O", "0"), "".join(out))


# a number read with a letter o for a zero ("4,8oo"): digits, separators and o's, at least one digit first
_DIGIT_O = re.compile(r"(?<![\w])\d[\d,.]*[oO][\d,.oO]*(?![\w])")


def ocr_layout(boxes) -> str:
    """Lines of text from OCR boxes ((four corner points, text), any order): boxes whose vertical centres
    lie within half a line height of each other form one line, read left to right; a vertical gap between
    lines wider than the page's usual one (its lower median) by half a line height, and than 0.9 line
    heights, starts a new paragraph (a blank line): double-spaced lines stay one paragraph."""
    items = []
    for pts, text in boxes:
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        items.append((min(ys), max(ys), min(xs), text.strip()))
    items.sort()
    lines = []   # [top, bottom, [(x, text)]]
    for top, bottom, x, text in items:
        mid, h = (top + bottom) / 2, bottom - top
        if lines:
            ltop, lbottom, parts = lines[-1]
            if abs(mid - (ltop + lbottom) / 2) <= 0.5 * max(h, lbottom - ltop):
                parts.append((x, text))
                lines[-1][0], lines[-1][1] = min(ltop, top), max(lbottom, bottom)
                continue
        lines.append([top, bottom, [(x, text)]])
    if not lines:
        return ""
    heights = sorted(b - t for t, b, _ in lines)
    height = heights[len(heights) // 2]
    gaps = sorted(lines[k][0] - lines[k - 1][1] for k in range(1, len(lines)))
    usual = gaps[(len(gaps) - 1) // 2] if gaps else 0.0   # the gap between the lines of a paragraph
    out, prev_bottom = [], None
    for top, bottom, parts in lines:
        gap = top - prev_bottom if prev_bottom is not None else 0.0
        if prev_bottom is not None and gap > usual + 0.5 * height and gap > 0.9 * height:
            out.append("")
        out.append(" ".join(t for _, t in sorted(parts)))
        prev_bottom = bottom
    return "\n".join(out)


def _ocr_page(engine, page) -> str:
    texts = []
    for image in page.images:
        try:
            texts.append(ocr_image(engine, image.data))
        except Exception as exc:   # an undecodable image: the others may still read
            log.debug("OCR of an image failed: %s", exc)
    return "\n\n".join(t for t in texts if t)


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
