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

from rag.config import (
    BUILD_ONLY_KEYS,
    INDEX_KEYS,
    SEGMENT_KEYS,
    Config,
)
from rag.errors import IndexMismatchError
from rag.storage.integrity import corpus_hint, rebuild_hint
from rag.storage.manifest import Manifest

STORED_KEYS = INDEX_KEYS + ("fusion_weights",)


def for_index(index_dir, explicit: dict | None = None, base: Config | None = None, *,
              refuse: bool = True) -> Config:
    """A Config for the index in index_dir: its stored settings, then explicit ones over them.

    IndexMissingError when there is no index; IndexCorruptError / IndexMismatchError (with
    the rebuild command) when its manifest is unusable or, with refuse, when an explicit
    setting conflicts with it (build-only settings such as sentence_vectors never do)."""
    from rag.storage import reader as store

    index_dir, explicit = Path(index_dir), dict(explicit or {})
    base = dataclasses.replace(base or Config(), index_dir=index_dir)
    manifest = store.read_manifest(index_dir, corpus=base.corpus_dir)
    stored = Manifest.settings(manifest)
    conflicts = [k for k, _, _ in Manifest.differences(manifest, explicit, keys=[k for k in explicit if k in stored],
                                                       skip=BUILD_ONLY_KEYS + SEGMENT_KEYS)]
    if conflicts and refuse:
        wanted = {**stored, **explicit}
        diffs = "; ".join(f"{k}: index has {stored[k]!r}, asked for {explicit[k]!r}" for k in conflicts)
        hint = rebuild_hint(index_dir, corpus_hint(manifest, index_dir, base.corpus_dir), wanted)
        raise IndexMismatchError(f"index at {index_dir} was built with other settings ({diffs}); "
                                 f"open it without them, or {hint}")
    return dataclasses.replace(base, **{**stored, **explicit})
