"""Build or refresh an index from a corpus folder: ingest, chunk, embed, store.

A refresh re-embeds only documents whose sha256 changed; unchanged documents
keep their chunks and vectors (and stay in their segments on disk: rag.storage.writer
writes only the changed ones, plus the manifest and BM25), deleted files drop
out, and nothing is written when nothing changed. A previously indexed file
that now fails to read keeps its indexed version (with a warning). A change of
model or chunker settings rebuilds everything, and so does a change of how
sentence vectors are made (rag.build.vectors: one pass, pooled, or two). Files are
read and chunked in a thread (rag.build.reading) while earlier documents are embedded,
WINDOW chunks at a time, longest first within a window. Each phase (loading
model, reading or chunking, embedding: what is left, writing) is shown by a
rag.build.progress.Progress. Does not watch the folder; run it again after edits.
"""
from __future__ import annotations

import datetime
import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from rag.build import corpus_state, vectors
from rag.build import reading as pipeline
from rag.build.progress import Progress, Silent
from rag.config import BUILD_ONLY_KEYS, Config
from rag.errors import CorpusError, IndexCorruptError, IndexMismatchError, RagError
from rag.ingest.read import SUPPORTED, Document, Skipped
from rag.ingest.sandbox import Limits
from rag.ingest.walk import Entry, safe_text
from rag.storage import writer as store
from rag.storage import lexical
from rag.storage.lexical import PARAMS
from rag.storage.lock import IndexLock, held
from rag.storage.manifest import Manifest, collector_paused

log = logging.getLogger("rag")
WINDOW = 2048   # chunks embedded together (sorted by length) while later documents are read


@dataclass(frozen=True)
class BuildReport:
    index_dir: Path
    documents: int
    chunks: int
    sentences: int
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept_stale: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    changed: bool = True


def indexed_text(chunk: dict, title: str, config: Config) -> str:
    """What is embedded and BM25-indexed for a chunk: its text, after the document
    title when the chunk does not start the document (so later chunks keep their topic)."""
    return lexical.indexed_text(chunk, title, config.title_in_chunks)


document_text = lexical.document_text   # a document's text rebuilt from its chunks


ABOUT = ("kind", "size", "indexed_at", "page_starts")   # optional per-document keys of the manifest
_KEPT = frozenset(("id", "title", "sha256", "pending", "chunks", "sentences", "segment") + ABOUT)


def _about(d: Document) -> dict:
    """What the manifest records about a document's source file besides id, title and sha256."""
    out = {"kind": d.kind or PurePosixPath(d.id).suffix.lower().lstrip("."), "size": d.size}
    if d.page_starts:
        out["page_starts"] = list(d.page_starts)
    return out


def _reusable(old: dict, preread) -> dict[str, Document]:
    """doc id -> a Document the reader may return for unchanged bytes instead of converting again:
    the previous index's (text not needed: its chunks are kept) and the preread ones."""
    out = {i: Document(i, rec["title"], "", rec["sha256"], rec.get("kind", ""), rec.get("size", 0),
                       tuple(rec.get("page_starts", ()))) for i, rec in old.items()
           if not rec.get("pending")}   # a pending document is chunked again: its text is needed
    out.update({d.id: d for d in preread})
    return out


def _previous(config: Config, rebuild: bool):
    if rebuild:
        return None
    try:
        old = store.load(config.index_dir, config.index_settings(), search=False,   # verified, not searched;
                         stamps=store.read_stamps(config.index_dir))   # files hashed by the last writer: not again
        changed = Manifest.differences(old.manifest, config.index_settings(), keys=BUILD_ONLY_KEYS)
        if changed:   # queries accept such an index; a refresh must not mix both kinds of vectors
            log.warning("rebuilding everything: the index has %s", ", ".join(
                f"{k} {have!r}, the configuration {want!r}" for k, have, want in changed))
            return None
        return old
    except IndexMismatchError as exc:
        log.warning("rebuilding everything: %s", str(exc).split(";")[0])
    except IndexCorruptError as exc:
        log.warning("the index is damaged, rebuilding everything: %s", str(exc).split("; rebuild")[0])
    except RagError:
        pass
    return None


def _old_records(old: store.IndexData) -> dict[str, dict]:
    """doc id -> its manifest entry in an old index (its rows stay there: the writer reads them
    only when it rewrites a segment holding them, so a refresh costs what changed)."""
    return {} if old is None else {meta["id"]: meta for meta in old.manifest["documents"]}


def _chunk(docs: list[Document], config: Config, embedder, progress=None) -> dict[str, tuple]:
    """doc id -> (chunk records, sentence spans, sentence texts) for documents to embed."""
    fresh = {}
    for d in docs:
        if progress is not None:
            progress.advance()
        fresh[d.id] = pipeline.chunk_document(d, config, embedder)
    return fresh


class BuildStopped(Exception):
    """A progressive build stopped on request (build_index's stop) while filling in vectors; the
    last version it wrote is current and whole, its documents still pending marked so."""


class _Tally:
    """Counts texts embedded while the reading phase is shown; once the embedding
    phase is (bar set), forwards each count to it. stop: a threading.Event checked after each batch."""

    def __init__(self, stop=None):
        self.done, self.bar, self.stop = 0, None, stop

    def advance(self, n: int = 1) -> None:
        if self.stop is not None and self.stop.is_set():
            raise BuildStopped("stopped while computing vectors")
        self.done += n
        if self.bar is not None:
            self.bar.advance(n)


def build_index(config: Config, *, embedder, rebuild: bool = False,
                documents: list[Document] | None = None, progress: Progress | bool | None = None,
                preread: list[Document] = (), overlap: bool = True, staged=(), progressive: bool = False,
                on_lexical=None, stop=None) -> BuildReport:
    """Index config.corpus_dir (or the given documents) into config.index_dir.

    Holds the index's writer lock from reading the old index to the final swap, so a
    second writer is refused at once (IndexLockedError). See the module docstring for
    what a refresh keeps. progress: a rag.build.progress.Progress; None: one on stderr
    (a bar in a terminal, plain lines in logs); False: silent. preread: documents already
    read from the corpus (rag.build.documents' uploads), used when their file is unchanged.
    When this process already holds the lock (rag.build.documents), it is not taken again.
    overlap: read and chunk in a thread while earlier documents are embedded (False:
    one after the other). staged: (path, doc id) of uploads staged outside the corpus
    (rag.build.corpus_state), read from path and indexed under doc id. Documents removed by
    rag.documents (excluded in INDEX/documents.json) are left out; what a killed upload
    left staged is finished or cleaned first (rag.build.corpus_state.recover).
    progressive: answerable first, vectors after (not with a one-call embedder such as Ray): once
    every document is read and chunked, a version whose new documents have no vectors yet
    (``pending``: BM25 ranks them, rag.retrieve.retriever) is made current and on_lexical((documents,
    chunks, sentences)) is called; then the vectors are computed WINDOW chunks at a time, each
    window made current as one more version, until none is pending. A build stopped on the way
    leaves the last of those versions (whole, like any other); the next build embeds what it left
    pending.
    """
    progress = Progress() if progress is None or progress is True else progress or Silent()
    with nullcontext() if held(config.index_dir) else IndexLock(config.index_dir):
        # what killed writers left; segments no kept version uses go once the current manifest is in
        # hand (the save's cleanup, or the one of a refresh that writes nothing): no manifest read twice
        store.cleanup(config.index_dir, unused_segments=False)
        if documents is None and not staged:   # staged: the caller recovered before staging
            _recover_uploads(config)
        try:
            return _build_index(config, embedder=embedder, rebuild=rebuild, documents=documents,
                                progress=progress, preread=preread, overlap=overlap, staged=staged,
                                progressive=progressive and not embedder.one_call, on_lexical=on_lexical,
                                stop=stop)
        finally:
            progress.end()


def _recover_uploads(config: Config) -> list[str]:
    """What killed uploads left staged: moved into the corpus when indexed, else deleted."""
    if not corpus_state.staging_dir(config.index_dir).is_dir():
        return []
    try:
        known = {d["id"] for d in store.read_manifest(config.index_dir)["documents"]}
    except RagError:
        known = set()
    return corpus_state.recover(config.index_dir, config.corpus_dir, known)


def _build_index(config: Config, *, embedder, rebuild: bool, documents: list[Document] | None,
                 progress: Progress, preread: list[Document], overlap: bool, staged=(),
                 progressive: bool = False, on_lexical=None, stop=None) -> BuildReport:
    if embedder.name != config.model:
        raise ValueError(f"embedder {embedder.name!r} is not the configured model {config.model!r}")
    backend = embedder.backend
    if backend != config.backend:
        raise ValueError(f"embedder backend {backend!r} is not the configured backend {config.backend!r}")
    t0 = time.perf_counter()
    skipped: list[Skipped] = []
    source = documents if documents is not None else pipeline.files(
        config.corpus_dir, int(config.max_file_mb * 1_000_000), skipped, Limits.from_config(config))
    if documents is None:   # removed documents stay out; staged uploads come in under their corpus id
        excluded = set(corpus_state.load(config.index_dir).excluded)
        extra = {doc_id: Entry(path=Path(path), doc_id=doc_id) for path, doc_id in staged}
        source.entries = sorted([e for e in source.entries if e.doc_id not in excluded and e.doc_id not in extra]
                                + list(extra.values()), key=lambda e: e.doc_id)
        skipped[:] = [s for s in skipped if s.path not in excluded]
    base = _previous(config, rebuild)
    old = _old_records(base)
    if documents is None:
        source.reuse = _reusable(old, preread)
    if base is None and (source if documents is not None else source.entries):
        progress.phase("loading model")   # everything is embedded; a refresh loads it when needed
        embedder.count_tokens("")   # loads the model now, so its load time is not called reading

    def keep(d: Document) -> bool:   # a document left pending by a stopped build is embedded now
        return d.id in old and old[d.id]["sha256"] == d.sha256 and not old[d.id].get("pending")

    seen, fresh, vecs, window, tally = {}, {}, {}, [], _Tally(stop if progressive else None)

    def flush():   # embed the documents of the window, longest texts first within it
        texts = {i: [indexed_text(c, seen[i].title, config) for c in fresh[i][0]] for i in window}
        cv, sv, _ = vectors.embed(fresh, window, texts, config, embedder, tally, phase=False)
        ci = si = 0
        for i in window:
            chunks, units, _ = fresh[i]
            vecs[i] = (cv[ci:ci + len(chunks)], sv[si:si + len(units)])
            ci, si = ci + len(chunks), si + len(units)
            fresh[i] = (chunks, units, None)   # sentence texts are no longer needed
        window.clear()

    pending = 0   # chunks in the window
    for item in pipeline.stream(source, config, embedder, keep=keep, progress=progress, skipped=skipped,
                                overlap=overlap):
        seen[item.id] = item.doc   # (the Document, not the item: no new object kept per document)
        if item.chunked is not None:
            fresh[item.id] = item.chunked
            window.append(item.id)
            pending += len(item.chunked[0])
            if overlap and not progressive and pending >= WINDOW:
                flush()
                pending = 0
    skipped.sort(key=lambda s: s.path)
    skipped_ids = {s.path for s in skipped}
    kept_stale = sorted(i for i in old if i in skipped_ids)
    for doc_id in kept_stale:
        log.warning("%s: keeping the previously indexed version", doc_id)
    if not seen and not kept_stale:
        raise CorpusError(f"no usable documents in {config.corpus_dir} "
                          f"({len(skipped)} skipped); supported: {' '.join(SUPPORTED)}")
    current = set(seen) | set(kept_stale)
    report = dict(added=[i for i in seen if i not in old],
                  updated=[i for i in seen if i in old and old[i]["sha256"] != seen[i].sha256],
                  removed=sorted(set(old) - current))
    listed = [{"path": x.path, "reason": x.reason} for x in skipped]
    if old and not any(report.values()) and base.manifest.get("skipped") == listed and not fresh:
        store.cleanup(config.index_dir, known={base.pointer[0]: set(base.manifest["segments"])})   # see above
        n_chunks = sum(old[i]["chunks"] for i in current)
        n_sent = sum(old[i]["sentences"] for i in current)
        return BuildReport(config.index_dir, len(current), n_chunks, n_sent, kept_stale=kept_stale,
                           skipped=skipped, seconds=time.perf_counter() - t0, changed=False)

    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    written = {"base": base}

    def write(pending: set) -> None:
        """A version of every current document; those in pending without vectors yet (zeros, marked
        pending in the manifest: rag.retrieve.retriever ranks them by BM25 and encodes what it shows).
        Unchanged documents keep their rows in the base index (rag.storage.writer reads them if it must)."""
        metas, all_chunks, cv, sp, sv, own = [], [], [], [], [], []
        with collector_paused():   # a list of every document (rag.storage.manifest)
            for doc_id in sorted(current):
                if doc_id in fresh:
                    chunks, units, _ = fresh[doc_id]
                    d = seen[doc_id]
                    meta = dict(_about(d), id=d.id, title=d.title, sha256=d.sha256, indexed_at=now)
                    units = np.asarray(units, dtype=np.int64).reshape(-1, 2)
                    if doc_id in pending:
                        meta["pending"] = True
                        vec = np.zeros((len(chunks), dim[0]), np.float32)
                        svec = np.zeros((len(units), dim[0]), np.float32)
                    else:
                        vec, svec = vecs[doc_id]
                    all_chunks.extend(chunks)
                    cv.append(vec)
                    sp.append(np.column_stack([np.full(len(units), len(metas), dtype=np.int64), units]))
                    sv.append(svec)
                    own.append(doc_id)
                    metas.append(dict(meta, chunks=len(chunks), sentences=len(units)))
                else:   # unchanged: its rows stay in the old index
                    meta = old[doc_id]
                    if meta.keys() <= _KEPT and "kind" in meta:   # the usual entry: copied as it is
                        meta = meta.copy()
                        meta.pop("segment", None)   # the writer places it
                        metas.append(meta)
                        continue
                    counts = {"chunks": meta["chunks"], "sentences": meta["sentences"]}
                    meta = dict({k: meta[k] for k in ("id", "title", "sha256", "pending") + ABOUT if k in meta})
                    if doc_id in seen and "kind" not in meta:   # indexed before these were recorded
                        meta.update(_about(seen[doc_id]), indexed_at=base.manifest.get("built_at", now))
                    metas.append(dict(meta, **counts))
        width = next((v.shape[1] for v in cv), None) or dim[0] or base.manifest["dimension"]
        data = store.IndexData(manifest={}, chunks=all_chunks,
                               chunk_vecs=np.concatenate(cv) if cv else np.zeros((0, width), np.float32),
                               sentences=np.concatenate(sp) if sp else np.zeros((0, 3), np.int64),
                               sentence_vecs=np.concatenate(sv) if sv else np.zeros((0, width), np.float32),
                               fresh=own)
        counts = {"documents": len(metas), "chunks": sum(m["chunks"] for m in metas),
                  "sentences": sum(m["sentences"] for m in metas)}
        data.manifest = Manifest.new(
            model=embedder.name, backend=backend, sentence_vectors=how, settings=config.index_settings(),
            fusion_weights=config.fusion_weights, dimension=width, counts=counts, built_at=now, skipped=listed,
            bm25=dict(PARAMS, rows=counts["chunks"], documents={"rows": counts["documents"]}),
            build_seconds=time.perf_counter() - t0, corpus=safe_text(str(Path(config.corpus_dir).absolute())),
            documents=metas)
        store.save(config.index_dir, data, base=written["base"])   # writes only what its base lacks
        written["counts"] = (counts["documents"], counts["chunks"], counts["sentences"])

    def reload_base() -> None:   # the version just written is the next write's base (its files just hashed)
        written["base"] = store.load(config.index_dir, config.index_settings(), search=False,
                                     stamps=store.read_stamps(config.index_dir))

    how = "pooled" if vectors.one_pass(config, embedder) else "encoded"
    dim = [None]
    total, unit = vectors.count(fresh, fresh, config, embedder)
    todo = sorted(i for i in fresh if i not in vecs)
    if progressive and todo:   # answerable by keywords first, then the vectors, window by window
        progress.phase("writing")
        dim[0] = embedder.dim
        write(set(todo))
        reload_base()
        if on_lexical is not None:
            on_lexical(written["counts"])
        progress.phase("embedding", total, unit)
        progress.advance(tally.done)
        tally.bar = progress
        pending, chunks_in = set(todo), 0
        window.clear()
        for i in todo:
            window.append(i)
            chunks_in += len(fresh[i][0])
            if chunks_in >= WINDOW or i == todo[-1]:
                if stop is not None and stop.is_set():
                    raise BuildStopped("stopped while computing vectors")
                flush()
                pending -= set(vecs)
                write(pending)
                if pending:
                    reload_base()
                chunks_in = 0
    else:
        progress.phase("embedding", total, unit)
        progress.advance(tally.done)   # what was embedded while reading
        tally.bar = progress
        if window:
            flush()
        progress.phase("writing")
        write(set())
    n_docs, n_chunks, n_sent = written["counts"]
    return BuildReport(config.index_dir, n_docs, n_chunks, n_sent,
                       kept_stale=kept_stale, skipped=skipped, seconds=time.perf_counter() - t0, **report)
