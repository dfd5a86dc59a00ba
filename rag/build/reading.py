"""The front of a build, overlapped with embedding: read and chunk documents in a thread.

``files`` walks the corpus folder (rag.ingest.walk: which files, safe ids; warnings
for what it skips) in the caller's thread, so a missing folder fails at once.
``stream`` then reads those files (rag.ingest.read.read_document: each checked to be
the file the walk saw; office files and PDFs converted in rag.ingest.sandbox's limited
worker, as ``Files.limits`` says) or takes the given
documents, and chunks each one the build must embed (``keep(doc)`` false), in a
producer thread; the caller receives ``Read`` items in corpus order through a
queue of at most QUEUE batches (each at most one document to embed, or BATCH documents kept
as indexed), and embeds earlier ones meanwhile. Items hold
a document without its text, and its chunks, so a
large corpus's texts are not all held at once. A file that cannot be read is
logged (``FILE: skipped: reason``) and listed in ``skipped``, as
rag.ingest.read.load_corpus does; any other exception in the producer (a RagError, a
bug) is raised again in the caller's thread, unchanged; a caller that stops
early (an error while embedding, Ctrl-C) stops the producer. The progress phase
is ``reading`` (files) or ``chunking`` (given documents), counted by the
producer. ``overlap=False`` runs the same steps in the caller's thread, for
comparison. Does not embed, decide what a refresh keeps (rag.build.builder), or chunk
in parallel (one producer).
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from rag.ingest.read import Document, Limits, Skipped, read_document
from rag.ingest.walk import Entry, walk
from rag.ingest.watchdog import slow
from rag.text.chunk import chunk_text, piece_counter
from rag.text.evidence import with_context

log = logging.getLogger("rag")
QUEUE = 256        # batches read ahead of the embedder at most (each ends with a document to embed,
BATCH = 256        # or holds up to BATCH documents kept as indexed)
_END = object()


class Read(NamedTuple):   # a tuple: cheap to make for each of 100,000 documents a refresh keeps
    doc: Document           # its text dropped ("")
    chunked: tuple | None   # (chunk records, sentence spans, sentence texts); None: kept as indexed

    @property
    def id(self) -> str:
        return self.doc.id


@dataclass
class Files:
    entries: list[Entry]
    max_bytes: int
    reuse: dict = field(default_factory=dict)   # doc id -> Document to keep for unchanged bytes
    limits: Limits = field(default_factory=Limits)   # hard links, conversion memory and time (rag.ingest.sandbox)


def files(corpus_dir: Path, max_bytes: int, skipped: list[Skipped], limits: Limits | None = None) -> Files:
    """The corpus's files to read; what the walk skips is logged and added to skipped."""
    entries, walk_skipped = walk(Path(corpus_dir))
    for doc_id, reason in walk_skipped:
        log.warning("%s: skipped: %s", doc_id, reason)
        skipped.append(Skipped(doc_id, reason))
    return Files(entries, max_bytes, limits=limits or Limits())


def chunk_document(d: Document, config, embedder) -> tuple:
    """(chunk records, sentence spans, sentence texts) of one document."""
    prefix = f"{d.title}\n" if config.title_in_chunks else ""   # see rag.build.builder.indexed_text

    def exact(a, b):
        return embedder.count_tokens(prefix + d.text[a:b])

    with slow("chunking", d.id):
        # the model's tokens of every span the chunker checks, from its words' pieces where it allows
        count = piece_counter(d.text, prefix, getattr(embedder, "piece_counts", lambda words: None), exact)
        units, spans = chunk_text(d.text, chunk_tokens=config.chunk_tokens, chunk_overlap=config.chunk_overlap,
                                  fits_span=lambda a, b: count(a, b) <= config.max_model_tokens)
    chunks = [{"doc": d.id, "ordinal": n, "start": c.start, "end": c.end, "sent_lo": c.sent_lo,
               "sent_hi": c.sent_hi, "text": d.text[c.start:c.end]} for n, c in enumerate(spans)]
    # a bullet or a row is embedded with the heading it sits under (rag.text.evidence.with_context)
    return chunks, units, with_context(d.text, units)


def _documents(source, skipped: list[Skipped]):
    if not isinstance(source, Files):
        yield from source
        return
    for entry in source.entries:
        try:
            with slow("reading", entry.doc_id):
                doc = read_document(entry.path, entry.doc_id, max_bytes=source.max_bytes,
                                    reuse=source.reuse.get(entry.doc_id), entry=entry, limits=source.limits)
        except ValueError as exc:
            log.warning("%s: skipped: %s", entry.doc_id, exc)
            skipped.append(Skipped(entry.doc_id, str(exc)))
            doc = None
        yield doc


def _items(source, config, embedder, keep, progress, skipped):
    for d in _documents(source, skipped):
        progress.advance()
        if d is not None:
            yield Read(_textless(d), None if keep(d) else chunk_document(d, config, embedder))


def _textless(d: Document) -> Document:
    """d without its text (d itself when it has none: no copy)."""
    return replace(d, text="") if d.text else d


def stream(source, config, embedder, *, keep, progress, skipped: list[Skipped], overlap: bool = True):
    """Read items for source (a Files or a list of Documents); see the module docstring."""
    if isinstance(source, Files):
        progress.phase("reading", len(source.entries), "files")
    else:
        progress.phase("chunking", len(source), "documents")
    if not overlap:
        yield from _items(source, config, embedder, keep, progress, skipped)
        return
    if isinstance(source, Files):
        ahead, stop = _ahead(_items(source, config, embedder, keep, progress, skipped))
        try:
            yield from ahead
        finally:
            stop()
        return
    # given documents: which are kept is known without reading anything, so only those to chunk go
    # through the thread (started now: it chunks while the others, nearly all in a refresh, pass
    # here, in order between them)
    kept = [keep(d) for d in source]
    ahead, stop = _ahead(_items([d for d, k in zip(source, kept) if not k], config, embedder,
                                lambda d: False, progress, skipped))
    counted = 0   # kept documents not yet counted in progress (counted 1,024 at a time)
    try:
        for d, k in zip(source, kept):
            if k:
                counted += 1
                if counted == 1024:
                    progress.advance(counted)
                    counted = 0
                yield Read(_textless(d), None)
            else:
                if counted:
                    progress.advance(counted)
                    counted = 0
                yield next(ahead)
        if counted:
            progress.advance(counted)
    finally:
        stop()


def _ahead(items):
    """(the items, stop): items produced in a thread, started now, up to QUEUE batches ahead of
    the caller; stop() ends the thread (at its next item) and must be called."""
    q: queue.Queue = queue.Queue(QUEUE)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def run():   # items go over in batches: a document to embed ends its batch at once, while
        batch = []   # documents kept as indexed (nothing to do) go BATCH at a time
        try:
            for item in items:
                batch.append(item)
                if item.chunked is not None or len(batch) >= BATCH:
                    if not put(batch):
                        return
                    batch = []
            if batch and not put(batch):
                return
            put(_END)
        except BaseException as exc:   # handed to the caller's thread, raised there
            if not batch or put(batch):   # what was read before it, then the error
                put(exc)

    def drain():
        while True:
            item = q.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            yield from item

    def end():
        stop.set()
        thread.join(timeout=10)   # it stops at its next document; a daemon, never waited on at exit

    thread = threading.Thread(target=run, name="rag-reader", daemon=True)
    thread.start()
    return drain(), end
