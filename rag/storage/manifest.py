"""The index manifest: the one place that writes its fields, reads the settings in it and compares them.

A version's ``manifest.json`` is a JSON object (see rag.storage.layout for where it lives):
format and versions, the model, backend and settings the index was built with, counts, the
documents with their segments, BM25 parameters and every file's sha256. ``Manifest.new`` is
the only code that lays one out; ``Manifest.check`` verifies its shape (rag.storage.integrity);
``Manifest.settings`` reads the build settings back (keys older indexes lack take their old
value); ``Manifest.differences`` is the one rule for "does this index match these settings",
used by the reader (refuse a query with other settings), by ``rag.storage.settings`` (refuse
conflicting flags) and by the build (rebuild over build-only settings). ``collector_paused``
wraps code that parses, checks, copies or dumps a whole document list (a refresh at 100,000
documents makes hundreds of thousands of dicts, and each pass of Python's cyclic collector over
them cost 0.3-0.5 s). Does not read files.
"""
from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

from rag.config import INDEX_KEYS, LEGACY_SETTINGS
from rag.storage import integrity
from rag.storage.layout import FORMAT, FORMAT_VERSION
from rag.version import package_version


class Manifest:
    """Functions over a manifest dict (it stays plain JSON on disk and in memory)."""

    @staticmethod
    def new(*, model: str, backend: str, sentence_vectors: str, settings: dict, fusion_weights,
            dimension: int, counts: dict, built_at: str, skipped: list, bm25: dict, build_seconds: float,
            corpus: str, documents: list) -> dict:
        """A manifest for a version about to be saved (the writer adds "files" and "segments")."""
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "package_version": package_version(),
            "model": model, "backend": backend, "sentence_vectors": sentence_vectors,
            "retrieval": {"fusion_weights": [float(w) for w in fusion_weights]},
            "dimension": int(dimension), "settings": dict(settings), "counts": counts,
            "built_at": built_at, "skipped": skipped, "bm25": bm25,
            "build_seconds": round(float(build_seconds), 3), "corpus": corpus, "documents": documents,
        }

    @staticmethod
    def check(manifest) -> None:
        """IndexCorruptError unless every field the package reads has its type."""
        integrity.check_manifest(manifest)

    @staticmethod
    def settings(manifest: dict) -> dict:
        """The settings the index was built with, fusion weights included (as a tuple of floats)."""
        out = {k: manifest["settings"].get(k, LEGACY_SETTINGS.get(k)) for k in INDEX_KEYS}
        out = {k: v for k, v in out.items() if v is not None}
        weights = (manifest.get("retrieval") or {}).get("fusion_weights")
        if weights is not None:
            out["fusion_weights"] = tuple(float(w) for w in weights)
        return out

    @staticmethod
    def differences(manifest: dict, wanted: dict, *, keys=None, skip=()) -> list[tuple[str, object, object]]:
        """[(key, the index's value, the wanted value)] for the keys (default: all of wanted's, less
        skip) where the index was built otherwise; a key older indexes lack has its old value."""
        built = Manifest.settings(manifest)
        built.update({k: v for k, v in manifest["settings"].items() if k not in built})
        out = []
        for k in (keys if keys is not None else wanted):
            if k in skip or k not in wanted:
                continue
            have = built.get(k, LEGACY_SETTINGS.get(k))
            if not _same(k, have, wanted[k]):
                out.append((k, have, wanted[k]))
        return out


def _same(key: str, a, b) -> bool:
    if key == "fusion_weights" and a is not None and b is not None:
        return tuple(float(w) for w in a) == tuple(float(w) for w in b)
    return a == b


_paused = {"depth": 0, "was_enabled": False}
_paused_lock = threading.Lock()


@contextmanager
def collector_paused():
    """Python's cyclic garbage collector paused inside (nested and thread-safe: the first to enter
    pauses it, the last to leave turns it back on if it was on). Memory is still freed as usual
    (reference counting); only cycles wait for the next collection. For bounded work on manifests,
    not for embedding or segment writing."""
    with _paused_lock:
        if _paused["depth"] == 0:
            _paused["was_enabled"] = gc.isenabled()
            gc.disable()
        _paused["depth"] += 1
    try:
        yield
    finally:
        with _paused_lock:
            _paused["depth"] -= 1
            if _paused["depth"] == 0 and _paused["was_enabled"]:
                gc.enable()
