"""The installed package's version, read from its metadata (pyproject.toml is the one place it is written)."""
from __future__ import annotations

import functools
from importlib import metadata

DISTRIBUTION = "rag-offline"


@functools.lru_cache(maxsize=1)
def package_version() -> str:
    """The version of the installed distribution; "0+unknown" when run from a tree that was never installed."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"
