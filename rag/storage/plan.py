"""Which documents a new version keeps in their old segments and which it writes anew.

A document is kept where it is when the base (the verified previous version the
build started from) holds it with the same sha256 and counts and the same vector
state (``pending``: its vectors not computed yet, stored as zeros): the build reused
its records and vectors unchanged. Everything else (added or changed documents)
goes into one new segment. Merging: segments left with no live document are
dropped; a segment whose live chunks are under half of what it stores is
rewritten (its tombstones purged); and while more than MAX_SEGMENTS would
remain, the smallest are folded into the new segment, but never one holding more
than FOLD_FACTOR times the chunks the new segment has so far: a one-file refresh of
an index of ten 1M-passage segments writes that file, not another million passages
(measured at 10M: 184 s a refresh when it did), so more than MAX_SEGMENTS can remain
when all are large against what a version writes (segment sizes then grow
geometrically, so their number stays logarithmic in the index's size). Does not write anything
(rag.storage.writer does) nor merge in the background: merges happen in the writer,
under the lock, and cost a rewrite of the documents they move.
"""
from __future__ import annotations

MAX_SEGMENTS = 8
MIN_LIVE_SHARE = 0.5
FOLD_FACTOR = 10


def plan(docs: list[dict], base_manifest: dict | None) -> tuple[dict[str, str], list[int]]:
    """(doc id -> kept segment name, positions in docs of the documents to write anew)."""
    base_docs = {d["id"]: d for d in (base_manifest or {}).get("documents", []) if "segment" in d}
    stored = (base_manifest or {}).get("segments", {})
    keep: dict[str, str] = {}
    live: dict[str, int] = {}   # segment -> its live chunks
    for d in docs:
        b = base_docs.get(d["id"])
        if b is not None and b["segment"] in stored and b["sha256"] == d["sha256"] and b["title"] == d["title"] \
                and b["chunks"] == d["chunks"] and b["sentences"] == d["sentences"] \
                and bool(b.get("pending")) == bool(d.get("pending")):
            keep[d["id"]] = s = b["segment"]
            live[s] = live.get(s, 0) + d["chunks"]
    doomed = {s for s, n in live.items() if stored[s]["chunks"] and n < MIN_LIVE_SHARE * stored[s]["chunks"]}
    fresh = len(keep) < len(docs) or bool(doomed)
    written = sum(d["chunks"] for d in docs if d["id"] not in keep) + sum(live[s] for s in doomed)
    for s in sorted(live, key=lambda s: (live[s], s)):
        if len(live) - len(doomed) + (1 if fresh else 0) <= MAX_SEGMENTS:
            break
        if s not in doomed:
            if live[s] > FOLD_FACTOR * max(written, 1):
                break   # the rest are larger still: folding them would rewrite far more than this version adds
            doomed.add(s)
            written += live[s]
            fresh = True
    keep = {i: s for i, s in keep.items() if s not in doomed}
    return keep, [n for n, d in enumerate(docs) if d["id"] not in keep]
