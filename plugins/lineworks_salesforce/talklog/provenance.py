"""A file's provenance id: the SHA-256 of its bytes.

The doctor prints it at the top of its report; ``lineworks-salesforce archive forget --source <sha256>``
names a file by it. Pure Python (hashlib), streaming: a file of any size is read in 1 MiB blocks, and
files whose size the system does not know in advance (``/proc``, pipes) are hashed all the same.
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["file_digest", "file_sha256"]

_BLOCK = 1 << 20


def file_digest(path: str | os.PathLike) -> tuple[str, int]:
    """(SHA-256 as 64 lower-case hex digits, number of bytes hashed) of the file at ``path``."""
    h = hashlib.sha256()
    size = 0
    buf = bytearray(_BLOCK)
    view = memoryview(buf)
    with open(path, "rb") as fh:
        while n := fh.readinto(view):
            h.update(view[:n])
            size += n
    return h.hexdigest(), size


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of the file's bytes, 64 lower-case hex digits (``sha256sum`` prints the same)."""
    return file_digest(path)[0]
