"""File imports of ``lineworks_history_import`` from one admin-configured place only (no Airflow here).

Whoever may trigger a DAG types the ``file`` field, so it is hostile until checked: it must be a file
*name* (or a relative path) inside the import location (setting ``import_location``, default
``$AIRFLOW_HOME/imports``). After normalisation it may not leave that place — no ``..``, no absolute
path, no scheme, no symlink that points out — and it must be a regular file (not a FIFO, a device or a
folder) of at most ``import_max_bytes``, checked before copying and again while streaming.

Errors are :class:`ImportRefused` (a ``ValueError``) naming the field or the setting; they never echo
the value typed, only its length and what is wrong with it.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from lineworks_salesforce.settings import IMPORT_SCHEMES  # the schemes setting import_location may use

CHUNK = 1 << 20
MAX_NAME_CHARS = 1024
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


class ImportRefused(ValueError):
    """The file asked for cannot be imported; ``field`` names the form field or the setting."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


@dataclass(frozen=True)
class ImportedFile:
    """A file copied from the import location: where it is now, its size and SHA-256 (its provenance id)."""

    name: str  # the name inside the import location, as validated
    local_path: Path
    size: int
    sha256: str


def import_name(value: object, field: str = "file") -> PurePosixPath:
    """The form's ``file`` value as a relative path inside the import location, or :class:`ImportRefused`."""
    if value is None:
        value = ""  # the form's empty, optional field
    if not isinstance(value, str):
        raise ImportRefused(field, f"expected a file name (text), got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise ImportRefused(field, "mode 'file' needs the name of a CSV file in the import location")
    if len(text) > MAX_NAME_CHARS:
        raise ImportRefused(field, f"the name has {len(text):,} characters (at most {MAX_NAME_CHARS:,})")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text):
        raise ImportRefused(field, "the name contains control or invisible characters")
    if _SCHEME_RE.match(text) or "://" in text:
        raise ImportRefused(
            field, "give a file name inside the import location, not a URL (the location is a setting)"
        )
    if "\\" in text:
        raise ImportRefused(field, "use '/' between folders, not '\\'")
    path = PurePosixPath(text)
    if path.is_absolute() or text.startswith("~"):
        raise ImportRefused(
            field,
            "give a file name inside the import location, not an absolute path (setting import_location)",
        )
    parts = [p for p in path.parts if p not in ("", ".")]
    if ".." in parts:
        raise ImportRefused(field, "'..' is not allowed: the file must be inside the import location")
    if not parts:
        raise ImportRefused(field, "the name names no file")
    return PurePosixPath(*parts)


def is_object_storage(location: str) -> bool:
    """An object-storage prefix (``s3://``…); a local folder or ``file://`` URL otherwise."""
    scheme, sep, _ = location.partition("://")
    return bool(sep) and scheme.lower() in IMPORT_SCHEMES and scheme.lower() != "file"


def local_root(location: str) -> Path:
    """The import location as an existing local folder (``file://`` URLs included), resolved."""
    text = location[len("file://") :] if location.startswith("file://") else location
    root = Path(text).expanduser()
    if not root.is_absolute():
        raise ImportRefused("import_location", "a local import location must be an absolute path")
    try:
        resolved = root.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise ImportRefused("import_location", "the import folder does not exist; create it first") from None
    if not resolved.is_dir():
        raise ImportRefused("import_location", "the import location is not a folder")
    return resolved


@contextmanager
def open_local(root: Path, name: PurePosixPath, max_bytes: int, field: str = "file") -> Iterator[BinaryIO]:
    """Open ``root/name`` for reading if it is a regular file inside ``root`` of at most ``max_bytes``.

    The path is resolved (symlinks followed) and must stay inside ``root``; the resolved path is then
    opened without following a symlink and without blocking (a FIFO cannot hang the task), and the open
    file itself is checked (``fstat``), so a file swapped after the check is still refused.
    """
    candidate = root.joinpath(*name.parts)
    try:
        real = Path(os.path.realpath(candidate, strict=True))
    except FileNotFoundError:
        raise ImportRefused(field, "no such file in the import location") from None
    except (OSError, RuntimeError):  # a symlink loop, a name too long...
        raise ImportRefused(field, "the name cannot be resolved in the import location") from None
    if real != root and root not in real.parents:
        raise ImportRefused(field, "the name resolves outside the import location (a symlink out?)")
    try:
        mode = os.stat(real).st_mode
    except OSError as exc:  # removed or replaced since it was resolved
        raise ImportRefused(field, f"the file cannot be read ({_errno_name(exc)})") from None
    if not stat.S_ISREG(mode):  # before opening: a socket cannot even be opened
        raise ImportRefused(field, f"not a regular file ({_kind(mode)})")
    flags = (
        os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    )
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        raise ImportRefused(field, f"the file cannot be opened ({_errno_name(exc)})") from None
    try:
        # what was opened, not what was checked: a folder swapped for a symlink in between is caught here
        opened = Path(os.path.realpath(f"/proc/self/fd/{fd}")) if os.path.isdir("/proc/self/fd") else real
        if opened != real:
            raise ImportRefused(field, "the file changed while it was opened (a symlink swapped in?)")
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImportRefused(field, f"not a regular file ({_kind(info.st_mode)})")
        check_size(info.st_size, max_bytes, field)
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def check_size(size: int, max_bytes: int, field: str = "file") -> None:
    if size > max_bytes:
        raise ImportRefused(field, f"the file has {size:,} bytes, more than import_max_bytes ({max_bytes:,})")
    if size == 0:
        raise ImportRefused(field, "the file is empty")


def copy_capped(src: BinaryIO, dest: Path, max_bytes: int, field: str = "file") -> tuple[int, str]:
    """Stream ``src`` into ``dest`` (at most ``max_bytes``); returns (bytes, SHA-256 hex).

    A source that grows past the cap while it is read (or lied about its size) is refused and the
    partial copy removed.
    """
    digest = hashlib.sha256()
    size = 0
    try:
        with open(dest, "wb") as out:
            while chunk := src.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ImportRefused(
                        field, f"the file grew past import_max_bytes ({max_bytes:,}) while read"
                    )
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    if size == 0:
        dest.unlink(missing_ok=True)
        raise ImportRefused(field, "the file is empty")
    return size, digest.hexdigest()


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symlink"),
    ):
        if test(mode):
            return name
    return "not a file"


def _errno_name(exc: OSError) -> str:
    import errno

    return errno.errorcode.get(exc.errno or 0, "error")
