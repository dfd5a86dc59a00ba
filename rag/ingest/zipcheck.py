"""Check a zip-based document by what its members really expand to, before a parser sees it.

``check(data, kind, limits)`` opens the archive and reads every member through
zipfile's decompressor in blocks, counting the bytes that come out, and refuses
the file (ValueError with a one-line reason) as soon as the total, one member,
or one member's expansion ratio (over ``RATIO_FROM`` bytes) passes its cap, or
the archive has more than ``MAX_MEMBERS`` members. The sizes the archive
declares are never trusted: a header that says 1 KB while the stream inflates
to gigabytes is stopped at the cap, having held one block at a time. Costs one
extra decompression of each member. Does not check nested archives (a zip
inside a zip is one member's bytes) or formats other than zip.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

BLOCK = 1 << 20
MAX_MEMBERS = 20_000
RATIO_FROM = 1_000_000   # the ratio cap applies to members that expand past this many bytes


@dataclass(frozen=True)
class ZipLimits:
    total: int = 400_000_000    # bytes all members may expand to together
    member: int = 200_000_000   # bytes one member may expand to
    ratio: float = 200.0        # expanded / compressed bytes of one member (over RATIO_FROM)


def check(data: bytes, kind: str, limits: ZipLimits = ZipLimits()) -> zipfile.ZipFile:
    """The opened ZipFile of data once every member has been counted; ValueError if over a cap."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ValueError(f"unreadable {kind} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    if len(infos) > MAX_MEMBERS:
        z.close()
        raise ValueError(f"{kind} has {len(infos):,} archive members (limit {MAX_MEMBERS:,}); not read")
    total = 0
    try:
        for info in infos:
            if info.is_dir():
                continue
            n = 0
            with z.open(info) as member:
                while True:
                    block = member.read(BLOCK)
                    if not block:
                        break
                    n += len(block)
                    total += len(block)
                    if n > limits.member:
                        raise ValueError(f"{kind} member {info.filename[:80]!r} expands past {limits.member:,} "
                                         "bytes (limit); not read")
                    if total > limits.total:
                        raise ValueError(f"{kind} expands past {limits.total:,} bytes (limit); not read")
                    if n > RATIO_FROM and n > limits.ratio * max(info.compress_size, 1):
                        raise ValueError(f"{kind} member {info.filename[:80]!r} expands more than "
                                         f"{limits.ratio:g} times (a compression bomb?); not read")
    except (ValueError, MemoryError):
        z.close()
        raise
    except Exception as exc:
        # damaged data, a CRC mismatch (a size header that lies), encryption, unknown compression, zlib.error
        z.close()
        raise ValueError(f"unreadable {kind} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    return z
