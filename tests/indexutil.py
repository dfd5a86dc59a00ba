"""Helpers for tests that look inside index folders (layout: see rag/store.py).

They also accept the format-2 layout (files straight in INDEX, no CURRENT), so the
tests can be run against the code before issue 10 to see which of them fail there."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path


def version_dir(index_dir: Path) -> Path:
    """The folder of the version CURRENT names (INDEX itself in the format-2 layout)."""
    if not (Path(index_dir) / "CURRENT").exists():
        return Path(index_dir)
    return Path(index_dir) / json.loads((Path(index_dir) / "CURRENT").read_text())["version"]


def segment_dir(index_dir: Path) -> Path:
    """The folder holding the chunks and vectors: the current version's only segment (its
    newest when several), or INDEX or the version folder in older layouts."""
    folder = version_dir(index_dir)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if "segments" not in manifest:
        return folder
    return Path(index_dir) / "segments" / max(manifest["segments"])


def reseal(index_dir: Path) -> None:
    """Record the current manifest's sha256 in CURRENT again, as if the edit had been built,
    so a test reaches the checks behind the checksum."""
    if not (Path(index_dir) / "CURRENT").exists():
        return
    pointer = json.loads((Path(index_dir) / "CURRENT").read_text())
    raw = (version_dir(index_dir) / "manifest.json").read_bytes()
    pointer["manifest_sha256"] = hashlib.sha256(raw).hexdigest()
    (Path(index_dir) / "CURRENT").write_text(json.dumps(pointer))


def edit_manifest(index_dir: Path, change, *, sealed: bool = True) -> None:
    """change(manifest) may edit in place or return a replacement; sealed: reseal CURRENT."""
    path = version_dir(index_dir) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    out = change(manifest)
    path.write_text(json.dumps(manifest if out is None else out), encoding="utf-8")
    if sealed:
        reseal(index_dir)


def snapshot(index_dir: Path) -> dict:
    """Every file of the index folder (recursively) with its bytes, but the lock file."""
    return {p.relative_to(index_dir).as_posix(): p.read_bytes() for p in Path(index_dir).rglob("*")
            if p.is_file() and p.name != ".lock"}


def leftovers(index_dir: Path) -> list[str]:
    """Entries of the index folder other than CURRENT, .lock, .verified, segments/, the current version
    and the newest older one (which a writer keeps for readers still loading it), plus
    "segments/NAME" for each segment neither of those versions references."""
    index_dir = Path(index_dir)
    if not (index_dir / "CURRENT").exists():   # format 2: leftovers were hidden siblings
        return sorted(p.name for p in index_dir.parent.glob(f".{index_dir.name}.*"))
    current = version_dir(index_dir).name
    older = sorted(p.name for p in index_dir.glob("v-*") if p.name < current)
    keep = {"CURRENT", ".lock", ".verified", "segments", current, *older[-1:]}
    used = set()
    for v in (current, *older[-1:]):
        used |= set(json.loads((index_dir / v / "manifest.json").read_text()).get("segments", {}))
    stored = sorted(p.name for p in (index_dir / "segments").iterdir()) if (index_dir / "segments").is_dir() else []
    return sorted([p.name for p in index_dir.iterdir() if p.name not in keep]
                  + [f"segments/{n}" for n in stored if n not in used])
