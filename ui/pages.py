"""The original page: a PNG of one page of a PDF (or of the PDF export beside a slide deck),
for the document view, rendered with pypdfium2.

Rendering is bounded: the file must be a PDF of at most Config.max_file_mb inside the corpus
folder; each page is drawn in a separate worker process (``python -I -c``) with a memory
limit (RLIMIT_AS), a CPU-time limit and a wall-clock timeout after which it is killed, so a
hostile PDF cannot hang or exhaust the server; at most RENDERS at once in this process, and
the caller (a Gradio handler) already runs off the event loop. The image is at most WIDTH
pixels wide and MAX_PIXELS in all, quantized to 64 colours, and cached in the index folder
(``INDEX/page-images/``, at most CACHE_FILES files, oldest dropped), never in the corpus.
The cache key is the document id, the file's size and modification time, the page and width,
so a changed file is drawn again. Errors are one plain line (PageImageError).
Does not extract text (rag.ingest.pdf does) or convert slides to PDF.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path, PurePosixPath

WIDTH = 800                 # pixels, the widest image drawn
MAX_PIXELS = 2_500_000      # width x height at most (a very tall page is drawn narrower)
TIMEOUT_S = 15.0            # wall clock for one page, start of the worker included
MEMORY_MB = 1024            # the worker's address-space limit
MAX_PNG = 4_000_000         # bytes; a larger image is refused
CACHE = "page-images"       # sub-folder of the index folder
CACHE_FILES = 500
RENDERS = 2
SLIDES = (".pptx", ".ppt", ".odp", ".key")
_SLOTS = threading.BoundedSemaphore(RENDERS)

# the worker: argv = pdf path, 1-based page, width, output path; prints the page count; exit 3: no such page
WORKER = r"""
import sys
import pypdfium2 as pdfium
path, page, width, out, max_pixels = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
pdf = pdfium.PdfDocument(path)
n = len(pdf)
print(n, flush=True)
if not 1 <= page <= n:
    sys.exit(3)
pg = pdf[page - 1]
w, h = pg.get_size()
if w <= 0 or h <= 0:
    sys.exit(4)
scale = min(width / w, 4.0)
if w * h * scale * scale > max_pixels:
    scale = (max_pixels / (w * h)) ** 0.5
image = pg.render(scale=scale).to_pil().convert("RGB").quantize(64)
image.save(out, format="PNG", optimize=True)
"""


class PageImageError(Exception):
    """A page could not be drawn; the message is one plain line."""


def _limits():   # in the worker, before it runs (POSIX)
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_MB << 20, MEMORY_MB << 20))
    cpu = int(TIMEOUT_S) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def page_at(rag, doc_id: str, offset: int | None) -> int | None:
    """The 1-based page of doc_id on which character offset lies (the index's page starts), or
    None for a document without pages."""
    import bisect

    if offset is None:
        return None
    doc = next((d for d in rag.retriever.manifest["documents"] if d["id"] == doc_id), None)
    starts = (doc or {}).get("page_starts")
    return max(1, bisect.bisect_right(starts, int(offset))) if starts else None


def corpus_folder(rag) -> Path | None:
    named = rag.retriever.manifest.get("corpus")
    if isinstance(named, str) and os.path.isabs(named) and os.path.isdir(named):
        return Path(named)
    folder = getattr(rag.config, "corpus_dir", None)
    return Path(folder) if folder and Path(folder).is_dir() else None


def source_pdf(rag, doc_id: str) -> Path | None:
    """The PDF whose pages show doc_id: the file itself for a .pdf, the PDF export of the same
    name beside a slide deck (deck.pptx -> deck.pdf), else None. Only a regular file inside
    the corpus folder (no link leading out of it)."""
    corpus = corpus_folder(rag)
    if corpus is None or not isinstance(doc_id, str) or not doc_id:
        return None
    rel = PurePosixPath(doc_id)
    if rel.is_absolute() or ".." in rel.parts:
        return None
    suffix = rel.suffix.lower()
    if suffix == ".pdf":
        candidates = [corpus / rel]
    elif suffix in SLIDES:
        folder = corpus / rel.parent
        candidates = [folder / (rel.stem + ext) for ext in (".pdf", ".PDF", ".Pdf")]
    else:
        return None
    root = os.path.realpath(corpus)
    for path in candidates:
        real = os.path.realpath(path)
        if os.path.commonpath([root, real]) == root and os.path.isfile(real):
            return Path(real)
    return None


def _cache_dir(rag) -> Path:
    return Path(rag.config.index_dir) / CACHE


def _key(doc_id: str, path: Path, page: int, width: int) -> str:
    st = path.stat()
    raw = f"{doc_id}\0{st.st_size}\0{st.st_mtime_ns}\0{page}\0{width}".encode("utf-8", "replace")
    return hashlib.sha256(raw).hexdigest()[:32]


def _prune(folder: Path) -> None:
    try:
        files = sorted(folder.glob("*.png"), key=lambda p: p.stat().st_mtime)
        for p in files[:max(0, len(files) - CACHE_FILES)]:
            p.unlink(missing_ok=True)
    except OSError:
        pass


def render(path: Path, page: int, out: Path, width: int = WIDTH, timeout: float = TIMEOUT_S) -> int:
    """Draw page (1-based) of the PDF at path into out (PNG) in a limited worker; the page count."""
    cmd = [sys.executable, "-I", "-c", WORKER, str(path), str(int(page)), str(int(width)), str(out),
           str(MAX_PIXELS)]
    with _SLOTS:
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                                  preexec_fn=_limits if os.name == "posix" else None)
        except subprocess.TimeoutExpired:
            raise PageImageError(f"drawing the page took longer than {timeout:g} s; open the file itself") from None
    count = done.stdout.decode("ascii", "replace").strip().splitlines()
    pages = int(count[0]) if count and count[0].isdigit() else 0
    if done.returncode == 3:
        raise PageImageError(f"the PDF has {pages} page{'s' if pages != 1 else ''}, not a page {page}")
    if done.returncode != 0:
        raise PageImageError("this PDF's page could not be drawn (the file may be damaged or too complex)")
    return pages


def page_png(rag, doc_id: str, page: int | None, width: int = WIDTH) -> tuple[bytes, int, Path]:
    """(PNG bytes, page drawn, the PDF) of page of doc_id, from the cache or drawn now;
    PageImageError when there is no PDF for it or the page cannot be drawn."""
    path = source_pdf(rag, doc_id)
    if path is None:
        raise PageImageError("no PDF of this document to show its pages")
    limit = float(getattr(rag.config, "max_file_mb", 20.0)) * 1_000_000
    if path.stat().st_size > limit:
        raise PageImageError(f"the PDF is larger than {limit / 1e6:g} MB; open the file itself")
    page = max(1, int(page or 1))
    folder = _cache_dir(rag)
    target = folder / f"{_key(doc_id, path, page, width)}.png"
    if target.is_file():
        return target.read_bytes(), page, path
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".tmp-{os.getpid()}-{threading.get_ident()}-{target.name}"
    try:
        render(path, page, tmp, width)
        if tmp.stat().st_size > MAX_PNG:
            raise PageImageError("the page image is too large to show; open the file itself")
        os.replace(tmp, target)   # whole or absent: a reader never sees half a file
    finally:
        tmp.unlink(missing_ok=True)
    _prune(folder)
    return target.read_bytes(), page, path


def page_count(rag, doc_id: str) -> int | None:
    """How many pages the index knows doc_id to have (its page starts), or None."""
    doc = next((d for d in rag.retriever.manifest["documents"] if d["id"] == doc_id), None)
    starts = (doc or {}).get("page_starts")
    return len(starts) if starts else None


def figure_html(rag, doc_id: str, page: int | None, title: str = "", browse: bool = False) -> str:
    """The page image as a <figure> (a data: URL: the page loads nothing else), a one-line hint
    when it cannot be drawn, or "" when the document has no PDF. browse: with Previous/Next page
    buttons (``data-docs-act="page:ID:N"``, handled by the Documents tab, ui/docs_tab.py)."""
    import base64
    import html
    from urllib.parse import quote

    if source_pdf(rag, doc_id) is None:
        return ""
    try:
        png, page, path = page_png(rag, doc_id, page)
    except PageImageError as exc:
        return f"<p class='hint pageimg'>Original page not shown: {html.escape(str(exc))}.</p>"
    except OSError:
        return "<p class='hint pageimg'>Original page not shown: the file could not be read.</p>"
    name = html.escape(path.name)
    what = html.escape(title or doc_id)
    nav = ""
    if browse:
        total, q = page_count(rag, doc_id), quote(doc_id, safe="")
        if page > 1:
            nav += (f"<button type='button' class='docs-act' data-docs-act='page:{q}:{page - 1}'>"
                    f"Previous page</button> ")
        if total is None or page < total:
            nav += f"<button type='button' class='docs-act' data-docs-act='page:{q}:{page + 1}'>Next page</button>"
    of = f" of {page_count(rag, doc_id)}" if page_count(rag, doc_id) else ""
    return (f"<figure class='pageimg'><img src='data:image/png;base64,{base64.b64encode(png).decode()}' "
            f"alt='Page {page} of {what} as printed'>"
            f"<figcaption>Page {page}{of}, as printed ({name}) {nav}</figcaption></figure>")
