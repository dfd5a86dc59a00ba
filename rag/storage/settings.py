"""Settings belong to the index: a Config for an existing index, read from its manifest.

``for_index`` reads the current manifest of an index folder (checked, see
rag.storage.reader) and returns a Config whose model, backend, chunker settings,
sentence-vector kind and fusion weights are the ones the index was built with;
settings given explicitly win only when they agree with it. A conflicting one
is refused (IndexMismatchError with the exact rebuild command, --index
included), or, for a writer (refuse=False), kept so the build rebuilds over it.
Other fields (corpus, top_k, mode...) come from the base Config. Does not load
the index itself (Rag does, checking the same settings again) and does not
decide the default folders (rag.config does).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from rag.config import BUILD_ONLY_KEYS, INDEX_KEYS, LEGACY_SETTINGS, SEGMENT_KEYS, Config
from rag.errors import IndexMismatchError
from rag.storage.integrity import corpus_hint, rebuild_hint

STORED_KEYS = INDEX_KEYS + ("fusion_weights",)


def stored_settings(manifest: dict) -> dict:
    """The settings an index was built with (keys older manifests lack: their old value)."""
    out = {k: manifest["settings"].get(k, LEGACY_SETTINGS.get(k)) for k in INDEX_KEYS}
    out = {k: v for k, v in out.items() if v is not None}
    weights = (manifest.get("retrieval") or {}).get("fusion_weights")
    if weights is not None:
        out["fusion_weights"] = tuple(float(w) for w in weights)
    return out


def _same(key: str, a, b) -> bool:
    if key == "fusion_weights":
        return tuple(float(w) for w in a) == tuple(float(w) for w in b)
    return a == b


def for_index(index_dir, explicit: dict | None = None, base: Config | None = None, *,
              refuse: bool = True) -> Config:
    """A Config for the index in index_dir: its stored settings, then explicit ones over them.

    IndexMissingError when there is no index; IndexCorruptError / IndexMismatchError (with
    the rebuild command) when its manifest is unusable or, with refuse, when an explicit
    setting conflicts with it (build-only settings such as sentence_vectors never do)."""
    from rag.storage import writer as store

    index_dir, explicit = Path(index_dir), dict(explicit or {})
    base = dataclasses.replace(base or Config(), index_dir=index_dir)
    manifest = store.read_manifest(index_dir, corpus=base.corpus_dir)
    stored = stored_settings(manifest)
    conflicts = [k for k, v in explicit.items()
                 if k in stored and k not in BUILD_ONLY_KEYS + SEGMENT_KEYS and not _same(k, v, stored[k])]
    if conflicts and refuse:
        wanted = {**stored, **explicit}
        diffs = "; ".join(f"{k}: index has {stored[k]!r}, asked for {explicit[k]!r}" for k in conflicts)
        hint = rebuild_hint(index_dir, corpus_hint(manifest, index_dir, base.corpus_dir), wanted)
        raise IndexMismatchError(f"index at {index_dir} was built with other settings ({diffs}); "
                                 f"open it without them, or {hint}")
    return dataclasses.replace(base, **{**stored, **explicit})
