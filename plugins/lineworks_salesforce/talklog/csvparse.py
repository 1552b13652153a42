"""Streaming parser for the Monitoring API message-contents CSV (and admin-console exports).

``parse_message_csv(path, settings)`` yields :class:`ParsedChunk` objects: the messages of up to
``settings.chunk_rows`` CSV records as a DataFrame (:data:`MESSAGE_COLUMNS`) and the records that
could not be used (:data:`QUARANTINE_COLUMNS`) with a reason code. Nothing is dropped silently:
every non-blank record of the file ends up in exactly one of the two.

Format (DESIGN §4, ``docs/architecture.md`` "Format assumptions"):

- header, matched case-insensitively after stripping BOMs and spaces, columns found by name (so the
  order may vary and unknown extra columns are ignored; the doctor reports them):
  ``日時,送信者,受信者,チャンネルID,トーク`` (ja_JP), ``日時,送信者,受信者,トークルームID,トーク``
  (older ja), ``Date,Sender,Recipient,Channel ID,Message`` (en_US), ``Date,Sender,Recipient,Message``
  (older en_US, no channel: ``channel_id`` is ""). Anything else raises :class:`UnknownHeaderError`
  - the raw file stays staged, and failing loudly beats quarantining a whole tenant's talk (the
  doctor explains the file);
- UTF-8 with or without (repeated) BOM; RFC 4180 quoting with multi-line cells; LF or CRLF;
- a ``downloadLogs error`` trailer raises :class:`DownloadTrailerError` before any chunk is yielded;
- dates: ISO 8601 with offset or ``Z`` (optional fraction), or ``YYYY/MM/DD HH:MM[:SS]`` /
  ``YYYY-MM-DD HH:MM[:SS]`` / ``YYYY-MM-DDTHH:MM:SS`` in ``settings.timezone`` (a DST-ambiguous wall
  time is taken as the first, summer-time, occurrence; a non-existent one is shifted forward).

Quarantine reasons (:data:`REASONS`): ``bad_quoting``, ``bad_columns``, ``bad_encoding`` (invalid
UTF-8 or NUL), ``too_long`` (a cell over ``max_cell_chars``), ``bad_date``, ``missing_sender``,
``empty_message``. ``raw`` is the record's text decoded as UTF-8 with invalid bytes shown as ``\\xNN``
and NUL as ``\\x00`` (so it can be stored in any database); ``row_number`` is the line of the file
where the record starts (the header is line 1, blank lines count).

No text of the file in messages: no cell, header or line of the input appears in an exception
message, a log line or a quarantine ``detail`` (a file with no line break is one whole "header"; a
worker's ``/proc/self/environ`` would be all its secrets). They name the line, the column by position
and role (``column 5 (text)``), lengths, byte offsets, a guess of the encoding and the reason instead;
a ``downloadLogs error`` code is named only when it looks like one (``INTERNAL_ERROR``: capital
letters and underscores). Only the quarantine's ``raw`` column keeps the record, so nothing is lost. An
unexpected failure inside the parser (a bug) is raised as :class:`TalkLogInternalError` naming the
exception type and the code location, with the original message (which may quote the file) withheld.

Cell rules: control characters other than TAB/LF/CR are removed from every cell (the raw record keeps
them); CRLF and lone CR inside cells become LF; formula-looking text (``=SUM(A1)``) is data and kept
verbatim; emoji, ZWJ sequences, variation selectors and bidi marks are kept.

How it is fast, and safe: records are found with numpy on the raw bytes (a newline ends a record
when an even number of quotes precedes it), each chunk is checked for strict RFC 4180 quoting with
numpy, then tokenised by pandas' C parser (which would silently accept ``"a"b`` or swallow rows
after a stray quote, hence the checks). A chunk that fails a check (quoting, cell count, invalid
UTF-8, NUL, a lone CR) is re-read record by record with the :mod:`csv` module in strict mode: a
broken record quarantines its first line and the lines after it are read again, so a stray quote
cannot swallow the good rows that follow; reading resumes at the last record the strict reader
completed. When the quote parity never comes back (an unterminated quote with no quote after it),
the rest of the file is read strictly. One 32 MiB buffer is reused for the whole file.

Ordinals (see :mod:`lineworks_salesforce.talklog.keys`) count identical rows of the whole file, across
chunks: the counts
of identity groups sent within ``ordinal_carry_seconds`` of the last row of a chunk are carried to
the next chunk. Monitoring files are in time order, so this is exact; a file out of order by more
than that window could restart an ordinal (``stats.out_of_order_rows`` counts such rows).
"""

from __future__ import annotations

import csv
import io
import os
import re
import traceback
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import compress
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from lineworks_salesforce.talklog.keys import CONTROL_CHARS_RE, message_keys, message_keys_at, utc_iso_strings
from lineworks_salesforce.talklog.people import Person, parse_person

__all__ = [
    "DATE_FORMATS",
    "MESSAGE_COLUMNS",
    "QUARANTINE_COLUMNS",
    "REASONS",
    "DownloadTrailerError",
    "HeaderLayout",
    "MessageCsvParser",
    "ParseSettings",
    "ParseStats",
    "ParsedChunk",
    "TalkLogInternalError",
    "UnknownHeaderError",
    "content_kind",
    "detect_header",
    "encoding_guess",
    "parse_message_csv",
]

MESSAGE_COLUMNS = [
    "message_key",
    "domain_id",
    "channel_id",
    "sent_at",
    "sender_raw",
    "sender_kind",
    "sender_name",
    "sender_email",
    "recipients_raw",
    "text",
    "content_kind",
    "ordinal",
    "source",
    "row_number",
]
QUARANTINE_COLUMNS = ["source", "row_number", "raw", "reason", "detail"]

REASONS = {
    "bad_quoting": "broken CSV quoting (the record's first line is quarantined, the lines after it re-read)",
    "bad_columns": "the record has more or fewer cells than the header",
    "bad_encoding": "invalid UTF-8 bytes or a NUL byte in the record",
    "too_long": "a cell is longer than max_cell_chars",
    "bad_date": "the date cell is empty or in no known format",
    "missing_sender": "the sender cell is empty",
    "empty_message": "the message cell is empty",
}

# (name, strptime format, has an offset). The names are reported by the doctor.
DATE_FORMATS: tuple[tuple[str, str, bool], ...] = (
    ("iso_offset", "%Y-%m-%dT%H:%M:%S%z", True),
    ("iso_offset_fraction", "%Y-%m-%dT%H:%M:%S.%f%z", True),
    ("slash", "%Y/%m/%d %H:%M:%S", False),
    ("dash", "%Y-%m-%d %H:%M:%S", False),
    ("iso_local", "%Y-%m-%dT%H:%M:%S", False),
    ("slash_minutes", "%Y/%m/%d %H:%M", False),
    ("dash_minutes", "%Y-%m-%d %H:%M", False),
    ("dash_fraction", "%Y-%m-%d %H:%M:%S.%f", False),
    ("iso_local_fraction", "%Y-%m-%dT%H:%M:%S.%f", False),
)
# characters a cell must contain to possibly match each format
_FORMAT_NEEDS = {
    name: "".join(ch for ch in ("T", "/", ".", " ") if ch in fmt.replace("%", ""))
    + (":" if "%H" in fmt else "")
    for name, fmt, _ in DATE_FORMATS
}

TRAILER_MARKER = "downloadLogs error"
# the only part of a trailer line a message may name: an error code of capital letters and underscores
# (at least one underscore, so that e.g. an AWS access key id "AKIA..." never qualifies)
_TRAILER_CODE_RE = re.compile(r"[A-Z]{2,}(?:_[A-Z]{2,})+")
_UTF8_BOM = b"\xef\xbb\xbf"
_C1_RE = re.compile(rb"\xc2[\x80-\x9f]")
_BLOCK_BYTES = 32 << 20
_MAX_HEADER_BYTES = 64 << 10  # a real header is some 60 bytes; a longer first line is no header


# --- public types ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParseSettings:
    timezone: str = "Asia/Tokyo"  # for date cells without an offset
    recipient_separator: str = ", "
    domain_id: str = ""
    chunk_rows: int = 200_000  # records per chunk (memory bound)
    max_cell_chars: int = 1_000_000  # a longer cell quarantines its record (too_long)
    ordinal_carry_seconds: int = 3_600  # see the module docstring

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError("timezone: not a known IANA timezone name (e.g. Asia/Tokyo, UTC)") from None
        if self.chunk_rows < 1:
            raise ValueError("chunk_rows must be >= 1")
        if self.max_cell_chars < 1:
            raise ValueError("max_cell_chars must be >= 1")
        if self.ordinal_carry_seconds < 0:
            raise ValueError("ordinal_carry_seconds must be >= 0")


@dataclass
class ParsedChunk:
    messages: pd.DataFrame  # MESSAGE_COLUMNS
    quarantined: pd.DataFrame  # QUARANTINE_COLUMNS


class UnknownHeaderError(ValueError):
    """The first line is not a known Monitoring CSV header.

    The message names the line, the number of cells and bytes, the roles found and missing and the
    known layouts - never a cell of the file. ``reason`` is one of ``empty``, ``no_line_break``,
    ``too_long``, ``binary``, ``not_utf8``, ``unknown_columns``; ``missing`` the roles not found.
    """

    def __init__(
        self,
        message: str,
        *,
        line_number: int | None = None,
        reason: str = "unknown_columns",
        missing: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.line_number = line_number
        self.reason = reason
        self.missing = tuple(missing)


class DownloadTrailerError(ValueError):
    """The file ends with (or contains) a ``downloadLogs error`` line: the download failed midway.

    ``code`` is the error code the line names when it looks like one (capital letters and underscores),
    else None; the rest of the line is never repeated.
    """

    def __init__(self, message: str, line_number: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.line_number = line_number
        self.code = code


class TalkLogInternalError(ValueError):
    """The parser failed in an unexpected way (a bug): the type and code location of the original
    exception, its message withheld since it may quote the file. A ``ValueError`` like the other file
    errors, so a task fails at once instead of retrying: the same file triggers the same bug."""


# passed through as they are; any other exception inside the parser becomes a TalkLogInternalError
_OWN_ERRORS = (UnknownHeaderError, DownloadTrailerError, TalkLogInternalError, OSError, MemoryError)


@dataclass(frozen=True)
class HeaderLayout:
    """Where the roles are. Holds no header text: ``names`` are the known column names (our own
    vocabulary, normalised) the cells matched, "" for a cell that is no known column."""

    name: str  # ja_JP | ja_JP_legacy | en_US | en_US_legacy | custom
    names: tuple[str, ...]  # per column: the known name it matched, or ""
    positions: dict[str, int]  # role -> column index, 0-based (date, sender, recipient, text, channel?)
    extra_positions: tuple[int, ...]  # 0-based indices of the columns that are ignored

    @property
    def ncols(self) -> int:
        return len(self.names)

    def describe(self, index: int) -> str:
        """``column 5 (text)`` for a 0-based index: the wording of every message about a column."""
        role = next((r for r, i in self.positions.items() if i == index), "ignored")
        return f"column {index + 1} ({role})"


@dataclass
class ParseStats:
    header_line: int = 0
    records: int = 0  # non-blank data records
    blank_lines: int = 0
    messages: int = 0
    quarantined: Counter = field(default_factory=Counter)
    examples: dict[str, list[int]] = field(default_factory=dict)  # reason -> first row numbers
    date_formats: Counter = field(default_factory=Counter)
    sender_kinds: Counter = field(default_factory=Counter)
    content_kinds: Counter = field(default_factory=Counter)
    chunks: int = 0
    strict_chunks: int = 0  # chunks re-read with the csv module
    strict_from_line: int | None = None  # the rest of the file was read with the csv module
    out_of_order_rows: int = 0
    duplicate_rows: int = 0  # rows with ordinal > 0

    def note_quarantine(self, reason: str, row_number: int) -> None:
        self.quarantined[reason] += 1
        ex = self.examples.setdefault(reason, [])
        if len(ex) < 3:
            ex.append(int(row_number))


# --- header ----------------------------------------------------------------------------------------
_ROLE_NAMES = {
    "date": {"日時", "date", "datetime", "送信日時", "日付"},
    "sender": {"送信者", "sender", "from"},
    "recipient": {"受信者", "recipient", "recipients", "receiver", "receivers", "to"},
    "channel": {
        "チャンネルid",
        "トークルームid",
        "channelid",
        "channel",
        "roomid",
        "talkroomid",
        "チャンネル",
    },
    "text": {"トーク", "message", "messages", "メッセージ", "内容", "content", "talk"},
}
_NAME_ROLE = {n: role for role, names in _ROLE_NAMES.items() for n in names}
_LAYOUTS = {
    ("日時", "送信者", "受信者", "チャンネルid", "トーク"): "ja_JP",
    ("日時", "送信者", "受信者", "トークルームid", "トーク"): "ja_JP_legacy",
    ("date", "sender", "recipient", "channelid", "message"): "en_US",
    ("date", "sender", "recipient", "message"): "en_US_legacy",
}


def _norm_header_cell(cell: str) -> str:
    return re.sub(r"[\s_\-]+", "", cell.replace("\ufeff", "")).casefold()


_REQUIRED_ROLES = ("date", "sender", "recipient", "text")
_AUDIT_NAMES = {"イベント", "event"}
KNOWN_LAYOUTS = (
    "日時,送信者,受信者,チャンネルID,トーク | 日時,送信者,受信者,トークルームID,トーク |"
    " Date,Sender,Recipient,Channel ID,Message | Date,Sender,Recipient,Message"
)


def detect_header(cells: list[str], *, line: int | None = None, note: str = "") -> HeaderLayout:
    """Map header cells to roles; raise :class:`UnknownHeaderError` when a required one is missing.

    The error names ``line`` (when given), the number of cells, the roles found (by position) and
    missing, whether it looks like an audit-log CSV or another separator, and the known layouts;
    ``note`` is appended to the line's description (e.g. "the whole file: no line break").
    """
    norm = [_norm_header_cell(c) for c in cells]
    positions: dict[str, int] = {}
    names: list[str] = []
    extra: list[int] = []
    for i, n in enumerate(norm):
        role = _NAME_ROLE.get(n)
        names.append(n if role is not None else "")
        if role is None or role in positions:
            extra.append(i)
        else:
            positions[role] = i
    missing = tuple(r for r in _REQUIRED_ROLES if r not in positions)
    if missing:
        where = f"line {line}" if line is not None else "the header"
        if note:
            where += f", {note}"
        found = ", ".join(
            f"column {i + 1} ({role})" for role, i in sorted(positions.items(), key=lambda x: x[1])
        )
        hints = []
        audit = [i for i, n in enumerate(norm) if n in _AUDIT_NAMES]
        if audit:
            hints.append(
                f"Column {audit[0] + 1} is named like the event column of an audit-log CSV"
                " (イベント / Event): this looks like an audit-log CSV (service=message), which has events"
                " only and no message content; use the Monitoring API message-contents download."
            )
        separator = _other_separator(cells)
        if separator:
            hints.append(f"The line looks {separator}-separated: export the file as comma-separated CSV.")
        raise UnknownHeaderError(
            f"unknown Monitoring CSV header ({where}; {len(cells)} cell{'' if len(cells) == 1 else 's'}):"
            f" no column for {', '.join(missing)}; "
            + (f"recognised {found}" if found else "no cell is a known column name")
            + f". Known layouts: {KNOWN_LAYOUTS}."
            + "".join(" " + h for h in hints),
            line_number=line,
            missing=missing,
        )
    name = _LAYOUTS.get(tuple(norm), "custom")
    return HeaderLayout(name, tuple(names), positions, tuple(extra))


def _other_separator(cells: list[str]) -> str:
    """The name of another separator ("tab", ...) by which the cells split into every required role."""
    for sep, label in (("\t", "tab"), (";", "semicolon"), ("|", "vertical bar")):
        roles = {_NAME_ROLE.get(_norm_header_cell(part)) for cell in cells for part in cell.split(sep)}
        if any(sep in cell for cell in cells) and roles >= set(_REQUIRED_ROLES):
            return label
    return ""


def encoding_guess(data: bytes) -> str:
    """What ``data`` looks like (for messages: a description, never any of its text)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "looks like UTF-16 (it starts with a UTF-16 byte order mark)"
    if len(data) >= 4:
        even, odd = data[0::2], data[1::2]
        if odd.count(0) >= 0.8 * len(odd) and even.count(0) < 0.2 * len(even):
            return "looks like UTF-16LE (every other byte is NUL)"
        if even.count(0) >= 0.8 * len(even) and odd.count(0) < 0.2 * len(odd):
            return "looks like UTF-16BE (every other byte is NUL)"
    nul = data.count(0)
    control = sum(data.count(b) for b in (*range(0, 9), *range(14, 32), 127))
    if nul or control > max(2, len(data) // 100):
        return f"looks like binary data ({nul:,} NUL and {control - nul:,} other control bytes)"
    for codec, label in (("utf-8", "UTF-8"), ("cp932", "Shift_JIS (cp932)"), ("euc_jp", "EUC-JP")):
        if _decodes(data, codec):
            return f"looks like {label}"
    return "not UTF-8, Shift_JIS or EUC-JP"


def _decodes(data: bytes, codec: str) -> bool:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return False
    # Python's cp932 also maps the single bytes 0x80, 0xA0, 0xFD-0xFF, which no Shift_JIS text has
    return codec != "cp932" or not _CP932_STRAY_RE.search(text)


_CP932_STRAY_RE = re.compile("[\x80\uf8f0-\uf8f3]")


def _invalid_utf8_at(data: bytes) -> int:
    """Offset of the first byte that is not valid UTF-8, or -1 (no exception escapes with the data)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return -1


def _trailer_error(line: int | None, raw: bytes, what: str) -> DownloadTrailerError:
    """The error for a ``downloadLogs error`` line; only a code-looking word of it is named."""
    at = raw.find(TRAILER_MARKER.encode())
    rest = raw[at + len(TRAILER_MARKER) :].decode("ascii", "replace").lstrip(" \t:") if at >= 0 else ""
    word = rest.split(None, 1)[0].rstrip(".,;:") if rest.strip() else ""
    code = word if len(word) <= 64 and _TRAILER_CODE_RE.fullmatch(word) else None
    where = f"line {line}" if line is not None else "a line"
    return DownloadTrailerError(
        f"{where} is a 'downloadLogs error' trailer ({len(raw.strip()):,} bytes"
        + (f", error code {code}" if code else "")
        + f"): {what}; request the download again",
        line,
        code,
    )


def _failure(exc: BaseException, doing: str) -> str:
    """Type and code location of an unexpected exception; its message is withheld (it may quote data)."""
    frames = traceback.extract_tb(exc.__traceback__)
    here = os.path.dirname(os.path.abspath(__file__))
    ours = [f for f in frames if os.path.dirname(os.path.abspath(f.filename)) == here]
    places = [f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}" for f in [*ours[-1:], *frames[-1:]]]
    where = ", ".join(dict.fromkeys(places))
    return (
        f"the talk-log parser failed unexpectedly while {doing}: {type(exc).__name__}"
        f" at {where or 'an unknown place'}; its message is withheld because it may quote the file"
        " (please report this as a bug)"
    )


# --- content kinds ---------------------------------------------------------------------------------
_KIND_TAG_RE = re.compile(
    r"^[(\[（［]\s*(写真|画像|photo|image|ファイル|file|動画|video|位置情報|location|スタンプ|sticker|stamp)\s*[)\]）］]",
    re.I,
)
_TAG_KIND = {
    "写真": "photo",
    "画像": "photo",
    "photo": "photo",
    "image": "photo",
    "ファイル": "file",
    "file": "file",
    "動画": "video",
    "video": "video",
    "位置情報": "location",
    "location": "location",
    "スタンプ": "stamp",
    "sticker": "stamp",
    "stamp": "stamp",
}
_STICKER_RE = re.compile(r"^https?://(?:stickershop\.line-scdn\.net/\S+|\S*sticker\S*\.png(?:\?\S*)?)$", re.I)
_KIND_FIRST = frozenset("([（［hH")
_KIND_PREFIXES = tuple(_KIND_FIRST)


def content_kind(text: str) -> str:
    """photo | file | video | stamp | location | text, from the message cell."""
    if not text:
        return "text"
    first = text[0]
    if first in "hH":
        return "stamp" if _STICKER_RE.match(text) or _STICKER_RE.match(text.strip()) else "text"
    if first not in _KIND_FIRST:
        return "text"
    m = _KIND_TAG_RE.match(text)
    # re.I also matches e.g. "İmage" or "ſticker", whose lower() is no key: such a cell is text
    return _TAG_KIND.get(m.group(1).casefold(), "text") if m else "text"


# --- the parser ------------------------------------------------------------------------------------
def parse_message_csv(
    path: str | os.PathLike, settings: ParseSettings | None = None, *, source: str | None = None
) -> Iterator[ParsedChunk]:
    """Stream a Monitoring API message-contents CSV (or an admin-console export) in chunks.

    The header and a trailing ``downloadLogs error`` are checked at once (raising
    :class:`UnknownHeaderError` / :class:`DownloadTrailerError`); the chunks follow lazily. A file
    with a header and no rows yields nothing.
    """
    return iter(MessageCsvParser(path, settings or ParseSettings(), source=source))


@dataclass
class _Block:
    """Records of one chunk, tokenised, before validation."""

    cells: dict[int, list[str]]  # column index -> values (at least the columns the layout uses)
    row_numbers: np.ndarray  # int64, first line of each record
    raw: Callable[[int], bytes]  # the record's bytes, for quarantine
    record_bytes: np.ndarray  # int64 record sizes, for the too_long pre-filter
    maybe_ctrl: bool  # control characters may occur
    maybe_cr: bool  # CR may occur inside cells
    pre: list[tuple[int, bytes, str, str]]  # (row_number, raw, reason, detail) found while tokenising


class _Slices:
    """``raw(i)`` for records given by byte offsets into a buffer (valid until the buffer is reused)."""

    __slots__ = ("buf", "starts", "ends")

    def __init__(self, buf: bytearray, starts: np.ndarray, ends: np.ndarray) -> None:
        self.buf, self.starts, self.ends = buf, starts, ends

    def __call__(self, i: int) -> bytes:
        return bytes(self.buf[int(self.starts[i]) : int(self.ends[i])])


class _MemoryReader(io.RawIOBase):
    """A binary file over a memoryview, so pandas reads the buffer without a copy of it."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), len(self._view) - self._pos)
        b[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        out = bytes(self._view[self._pos : end])
        self._pos = end
        return out


class _Collector:
    """Accumulates strictly read records into blocks; structural problems become quarantine rows."""

    def __init__(self, parser: MessageCsvParser, chunk_rows: int | None) -> None:
        self.parser = parser
        self.chunk_rows = chunk_rows
        self.ncols = parser.layout.ncols
        self.used = parser._used_cols
        self._reset()

    def _reset(self) -> None:
        self.cells: dict[int, list[str]] = {c: [] for c in self.used}
        self.rows: list[int] = []
        self.raws: list[bytes] = []
        self.pre: list[tuple[int, bytes, str, str]] = []

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.pre)

    def add(self, rec: tuple[int, list[str], bytes, str | None, str]) -> bool:
        """Take one record; True when the block is full."""
        line_no, row, raw, reason, detail = rec
        if reason == "blank":
            self.parser.stats.blank_lines += 1
            return False
        if reason is not None:
            self.pre.append((line_no, raw, reason, detail))
        elif b"\x00" in raw:
            self.pre.append((line_no, raw, "bad_encoding", self.parser._encoding_detail(raw, row)))
        elif _invalid_utf8_at(raw) >= 0:
            self.pre.append((line_no, raw, "bad_encoding", self.parser._encoding_detail(raw, row)))
        elif len(row) != self.ncols:
            self.pre.append((line_no, raw, "bad_columns", _columns_detail(self.ncols, len(row))))
        else:
            for c in self.used:
                self.cells[c].append(row[c])
            self.rows.append(line_no)
            self.raws.append(raw)
        return self.chunk_rows is not None and self.size >= self.chunk_rows

    def flush(self) -> _Block:
        raws = self.raws
        block = _Block(
            self.cells,
            np.asarray(self.rows, dtype=np.int64),
            raws.__getitem__,
            np.fromiter((len(r) for r in raws), dtype=np.int64, count=len(raws)),
            True,
            True,
            self.pre,
        )
        self._reset()
        return block


_REASON_CODES = ("", "too_long", "bad_date", "missing_sender", "empty_message")
_DATE_LIKE_RE = re.compile(r"[0-9０-９\s/:.+\-TZ年月日時分秒]+")
_SURROGATE_RE = re.compile("[\udc80-\udcff]")
_TOO_LONG, _BAD_DATE, _MISSING_SENDER, _EMPTY_MESSAGE = 1, 2, 3, 4
_NAT = np.iinfo(np.int64).min
_NOBODY = Person("external", "")
_MIN_US = int(pd.Timestamp("1900-01-01").value // 1000)
_MAX_US = int(pd.Timestamp("2200-01-01").value // 1000)


class MessageCsvParser:
    """The parser behind :func:`parse_message_csv`; keeps :attr:`layout` and :attr:`stats`.

    The header and the trailer are checked when it is created; iterate it once for the chunks.
    """

    def __init__(
        self, path: str | os.PathLike, settings: ParseSettings | None = None, *, source: str | None = None
    ) -> None:
        self.path = os.fspath(path)
        self.settings = settings or ParseSettings()
        self.source = source if source is not None else self.path
        self.stats = ParseStats()
        failure = None
        try:
            self.layout, self._data_offset, self._data_line = self._read_header()
            self._check_trailer()
        except _OWN_ERRORS:
            raise
        except Exception as exc:  # a bug: raised below, outside this handler, so nothing is chained
            failure = _failure(exc, "reading the header")
        if failure is not None:
            raise TalkLogInternalError(failure)
        ncols = max(self.layout.ncols, 1)
        self._max_record_bytes = max(8 << 20, 4 * self.settings.max_cell_chars * ncols + (1 << 20))
        self._used_cols = sorted(set(self.layout.positions.values()))
        self._persons: dict[str, Person] = {}
        self._carry: dict[str, tuple[int, int]] = {}  # base key -> (rows seen, epoch second)
        self._max_second: int | None = None
        self._date_order = [f[0] for f in DATE_FORMATS]
        self._used = False
        self._force_strict = False  # tests: read every chunk with the csv module

    # -- header and trailer --------------------------------------------------------------------
    def _read_header(self) -> tuple[HeaderLayout, int, int]:
        """The header's layout, the byte offset and line number after it.

        Errors name the line, its size, what its bytes look like and the roles missing - never its text
        (a file without a line break is one whole "header").
        """
        with open(self.path, "rb") as fh:
            head = fh.read(1 << 16)
            offset, line = 0, 1
            while head.startswith(_UTF8_BOM, offset):
                offset += len(_UTF8_BOM)
            while True:  # blank lines before the header are skipped (and counted)
                nl = head.find(b"\n", offset)
                while nl < 0 and len(head) - offset <= _MAX_HEADER_BYTES:
                    more = fh.read(1 << 16)
                    if not more:
                        break
                    head += more
                    nl = head.find(b"\n", offset)
                end = len(head) if nl < 0 else nl + 1
                if nl < 0 or head[offset:end].strip(b" \t\r\n"):
                    break
                offset, line = end, line + 1
            raw_header = head[offset:end]
            more_data = nl < 0 and bool(fh.read(1))
        size = f"{len(raw_header):,} bytes"
        if nl < 0 and more_data:
            raise UnknownHeaderError(
                f"no line break in the first {len(head):,} bytes read (from line {line} on): a Monitoring CSV"
                f" header is one short line; the data {encoding_guess(raw_header)}",
                line_number=line,
                reason="no_line_break",
            )
        whole = "the whole file: no line break" if nl < 0 and line == 1 else "no line break after it"
        where = f"line {line}, {size}" + (f", {whole}" if nl < 0 else "")
        if len(raw_header) > _MAX_HEADER_BYTES:
            raise UnknownHeaderError(
                f"the header line ({where}) is too long for a Monitoring CSV header (at most"
                f" {_MAX_HEADER_BYTES:,} bytes); it {encoding_guess(raw_header)}",
                line_number=line,
                reason="too_long",
            )
        if b"\x00" in raw_header:
            raise UnknownHeaderError(
                f"the header line ({where}) holds {raw_header.count(0):,} NUL bytes: not a UTF-8 text CSV;"
                f" it {encoding_guess(raw_header)}",
                line_number=line,
                reason="binary",
            )
        bad = _invalid_utf8_at(raw_header)
        if bad >= 0:
            raise UnknownHeaderError(
                f"the header line ({where}) is not UTF-8 (first invalid byte at offset {bad:,}); it"
                f" {encoding_guess(raw_header)}; convert the file to UTF-8",
                line_number=line,
                reason="not_utf8",
            )
        text = raw_header.decode("utf-8").lstrip("\ufeff")
        if not text.strip():
            raise UnknownHeaderError(
                f"the file is empty: no header line ({line - 1:,} blank line(s), {len(head):,} bytes)",
                line_number=line,
                reason="empty",
            )
        if text.startswith(TRAILER_MARKER):
            raise _trailer_error(line, raw_header, "the file holds only a download error, no header")
        cells = next(csv.reader([text.rstrip("\r\n")]), [])
        cells = [c.strip().lstrip("\ufeff").strip() for c in cells]
        self.stats.header_line = line
        note = whole if nl < 0 else ""
        return detect_header(cells, line=line, note=note), offset + len(raw_header), line + 1

    def _check_trailer(self) -> None:
        with open(self.path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(self._data_offset, size - 8192))
            tail = fh.read().rstrip(b"\r\n \t")
        cut = tail.rfind(b"\n") + 1
        last = tail[cut:].lstrip(_UTF8_BOM)
        # A message line inside the last (quoted) cell could start with the marker too; it ends
        # with the closing quote. Such a line, if it really is a trailer, is caught while parsing.
        if last.startswith(TRAILER_MARKER.encode()) and not last.endswith(b'"'):
            line = self._line_at(max(self._data_offset, size - 8192) + cut)
            raise _trailer_error(line, last, "the download failed midway")

    def _line_at(self, offset: int) -> int:
        """The line number of the byte at ``offset`` (counts the line breaks before it)."""
        count, done = 1, 0
        with open(self.path, "rb") as fh:
            while done < offset:
                data = fh.read(min(1 << 20, offset - done))
                if not data:
                    break
                count += data.count(b"\n")
                done += len(data)
        return count

    # -- iteration -----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[ParsedChunk]:
        if self._used:
            raise RuntimeError("a MessageCsvParser can be iterated once; create a new one")
        self._used = True
        return self._iterate()

    def _iterate(self) -> Iterator[ParsedChunk]:
        old_limit = csv.field_size_limit()
        failure = None
        try:
            csv.field_size_limit(max(old_limit, 4 * self.settings.max_cell_chars + 16))
            with open(self.path, "rb") as fh:
                fh.seek(self._data_offset)
                blocks = self._blocks(fh)
                at_line = self._data_line
                while True:
                    try:
                        block = next(blocks, None)
                        if block is None:
                            break
                        lines = [*block.row_numbers[:1].tolist(), *(r[0] for r in block.pre[:1])]
                        at_line = min(lines) if lines else at_line
                        chunk = self._finish(block)
                    except _OWN_ERRORS:
                        raise
                    except Exception as exc:  # a bug: raised below, outside this handler (nothing chained)
                        failure = _failure(exc, f"reading the records from line {at_line:,} on")
                        break
                    if len(chunk.messages) or len(chunk.quarantined):
                        self.stats.chunks += 1
                        yield chunk
        finally:
            csv.field_size_limit(old_limit)
        if failure is not None:
            raise TalkLogInternalError(failure)

    def _blocks(self, fh) -> Iterator[_Block]:
        """Cut the byte stream into chunks of whole records; fall back to strict reading if needed.

        One bytearray (and one scratch mask) is reused for the whole file: fresh large allocations
        cost page faults, which is a good part of the time on small VMs.
        """
        chunk_rows = self.settings.chunk_rows
        size = os.fstat(fh.fileno()).st_size - self._data_offset
        buf = bytearray(max(1 << 16, min(_BLOCK_BYTES, size + 1)))
        scratch = np.empty(2 * len(buf), dtype=bool)
        n = 0  # valid bytes in buf; buf[0] starts a record
        line = self._data_line  # line number of buf[0]
        eof = False
        while True:
            while not eof and n < len(buf):
                with memoryview(buf) as mv:
                    got = fh.readinto(mv[n:])
                if got:
                    n += got
                else:
                    eof = True
            if n == 0:
                return
            a = np.frombuffer(buf, np.uint8, count=n)
            if len(scratch) < 2 * n:
                scratch = np.empty(2 * len(buf), dtype=bool)
            mask, mask2 = scratch[:n], scratch[n : 2 * n]
            np.less(a, 32, out=mask)
            np.equal(a, 34, out=mask2)
            np.logical_or(mask, mask2, out=mask)
            found = np.flatnonzero(mask)  # positions of quotes, newlines and other control bytes
            found_vals = a[found]
            is_quote = found_vals == 34
            q = found[is_quote]
            is_nl = found_vals == 10
            nl = found[is_nl]
            # A newline ends a record when an even number of quotes precedes it (buf starts a record).
            quotes_before = np.cumsum(is_quote, dtype=np.int64)[is_nl]
            end_idx = np.flatnonzero((quotes_before & 1) == 0)
            ends = nl[end_idx]
            consumed = int(ends[-1]) + 1 if len(ends) else 0
            final_record = eof and consumed < n and (len(q) - int(np.searchsorted(q, consumed))) % 2 == 0
            if len(ends) or final_record:
                rec_ends = np.append(ends, n) if final_record else ends
                first_lines = np.empty(len(rec_ends), dtype=np.int64)
                first_lines[0] = line
                first_lines[1:] = line + end_idx[: len(rec_ends) - 1] + 1
                starts = np.empty(len(rec_ends), dtype=np.int64)
                starts[0] = 0
                starts[1:] = rec_ends[:-1] + 1
                special = found[~is_quote & ~is_nl & (found_vals != 9)]  # CR and control characters
                resume: tuple[int, int] | None = None
                for r in range(0, len(rec_ends), chunk_rows):
                    r2 = min(r + chunk_rows, len(rec_ends))
                    at_eof = eof and r2 == len(rec_ends) and int(rec_ends[-1]) + 1 >= n
                    block, resume = self._fast_block(
                        buf, a, q, special, starts[r:r2], rec_ends[r:r2], first_lines[r:r2], at_eof
                    )
                    if block is not None:
                        yield block
                    if resume is not None:
                        break
                if resume is not None:
                    # Strict reading found the records end elsewhere than the quote parity said (broken
                    # quoting before): carry on from the last record it completed.
                    consumed, resume_line = resume
                    if consumed == int(starts[r]):  # not even one record: read the rest strictly
                        self.stats.strict_from_line = resume_line
                        tail = bytes(buf[consumed:n])
                        yield from self._strict_blocks(
                            _lines(tail, fh, resume_line), self.settings.chunk_rows
                        )
                        return
                    line = resume_line
                elif final_record:
                    return
                else:
                    line += int(end_idx[-1]) + 1
                rest = n - consumed
                buf[:rest] = buf[consumed:n]
                n = rest
                if eof and n == 0:
                    return
                if resume is not None or (n < len(buf) and not eof):
                    continue
            # buf holds the start of one record only
            if eof or n > self._max_record_bytes:
                # The quote parity never comes back (an unterminated quote): read the rest strictly.
                self.stats.strict_from_line = line
                yield from self._strict_blocks(_lines(bytes(buf[:n]), fh, line), self.settings.chunk_rows)
                return
            if n == len(buf):  # one record longer than the buffer: grow it
                bigger = bytearray(2 * len(buf))
                bigger[:n] = buf[:n]
                buf = bigger

    # -- fast path -----------------------------------------------------------------------------
    def _fast_block(
        self, buf, a, q, special, starts, ends, first_lines, at_eof: bool
    ) -> tuple[_Block | None, tuple[int, int] | None]:
        """One chunk of records; (block, None), or (block, (offset, line)) when the strict reading
        of a chunk that failed the checks stopped early at a record the parity had cut short."""
        s, e = int(starts[0]), int(ends[-1])
        stop = min(e + 1, len(a))  # the region is buf[s:stop], its last newline included
        ncols = self.layout.ncols
        n_rec = len(ends)
        ok = not self._force_strict
        qs = q[np.searchsorted(q, s) : np.searchsorted(q, stop)]
        if len(qs):
            # Strict RFC 4180 quoting: an opening quote starts a cell, a closing one ends it ("" pairs).
            last = len(a) - 1
            openers, closers = qs[0::2], qs[1::2]
            prev = a[np.maximum(openers - 1, 0)]
            after = closers + 1
            nxt = a[np.minimum(after, last)]
            nxt2 = a[np.minimum(after + 1, last)]
            ok = ok and bool(
                ((openers == s) | (prev == 44) | (prev == 10) | (prev == 34)).all()
                and (
                    (after >= stop)
                    | (nxt == 44)
                    | (nxt == 10)
                    | (nxt == 34)
                    | ((nxt == 13) & (after + 1 < stop) & (nxt2 == 10))
                ).all()
            )
        sp = special[np.searchsorted(special, s) : np.searchsorted(special, stop)]
        maybe_cr = maybe_ctrl = False
        if ok and len(sp):
            vals = a[sp]
            is_cr = vals == 13
            maybe_ctrl = bool((~is_cr).any())
            if maybe_ctrl and (vals == 0).any():
                ok = False  # NUL: bad_encoding, decided record by record
            crs = sp[is_cr]
            if len(crs):
                maybe_cr = True
                # a CR outside quotes must end a line (pandas would split the record there)
                outside = (np.searchsorted(q, crs) & 1) == 0
                if outside.any():
                    c = crs[outside]
                    if not (a[np.minimum(c + 1, len(a) - 1)] == 10).all() or (c + 1 >= len(a)).any():
                        ok = False
        df = self._read_csv(buf, s, stop, ncols) if ok else None
        if df is not None:
            lengths = ends - starts
            blank = lengths == 0
            if maybe_cr:
                blank |= (lengths == 1) & (a[np.minimum(starts, len(a) - 1)] == 13)
            if len(df) != n_rec - int(blank.sum()):
                # whitespace-only lines are skipped by pandas too: look for them exactly
                blank = np.array([not buf[int(x) : int(y)].strip(b" \t\r") for x, y in zip(starts, ends)])
            if len(df) != n_rec - int(blank.sum()):
                df = None
        if df is None:
            self.stats.strict_chunks += 1
            block, stopped = self._strict_region(bytes(buf[s:stop]), int(first_lines[0]), at_eof)
            if stopped is None:
                return block, None
            return block, (s + stopped[0], stopped[1])
        keep = ~blank
        self.stats.blank_lines += int(blank.sum())
        starts_k, ends_k, rows = starts[keep], ends[keep], first_lines[keep]
        wanted = set(self._used_cols) | {ncols - 1}
        cells = {c: df[c].tolist() for c in sorted(wanted)}
        pre: list[tuple[int, bytes, str, str]] = []
        raw = _Slices(buf, starts_k, ends_k)
        # pandas pads short records with "": check the records whose last cell is empty
        last = cells[ncols - 1]
        suspects = [i for i, v in enumerate(last) if not v] if "" in last else []
        bad = []
        for i in suspects:
            found = _count_cells(raw(i))
            if found != ncols:
                bad.append(i)
                pre.append((int(rows[i]), raw(i), "bad_columns", _columns_detail(ncols, found)))
        if bad:
            keep2 = np.ones(len(rows), dtype=bool)
            keep2[bad] = False
            cells = {c: list(compress(v, keep2)) for c, v in cells.items()}
            starts_k, ends_k, rows = starts_k[keep2], ends_k[keep2], rows[keep2]
            raw = _Slices(buf, starts_k, ends_k)
        if not maybe_ctrl:
            maybe_ctrl = buf.find(b"\x7f", s, stop) >= 0 or _C1_RE.search(buf, s, stop) is not None
        record_bytes = (ends_k - starts_k).astype(np.int64)
        return _Block(cells, rows.astype(np.int64), raw, record_bytes, maybe_ctrl, maybe_cr, pre), None

    @staticmethod
    def _read_csv(buf: bytearray, start: int, stop: int, ncols: int) -> pd.DataFrame | None:
        try:
            with warnings.catch_warnings(), memoryview(buf) as mv, mv[start:stop] as region:
                warnings.simplefilter("error", pd.errors.ParserWarning)
                return pd.read_csv(
                    _MemoryReader(region),
                    header=None,
                    names=list(range(ncols)),
                    dtype=object,
                    na_filter=False,
                    keep_default_na=False,
                    skip_blank_lines=True,
                    index_col=False,
                    encoding="utf-8",
                    engine="c",
                    low_memory=False,
                )
        except (pd.errors.ParserError, pd.errors.ParserWarning, pd.errors.EmptyDataError, UnicodeDecodeError):
            return None

    # -- strict path ---------------------------------------------------------------------------
    def _strict_region(
        self, region: bytes, first_line: int, at_eof: bool
    ) -> tuple[_Block, tuple[int, int] | None]:
        """Read a chunk's bytes strictly. Unless the region ends the file, a record still open at its
        end is left unread: returns the block and (byte offset, line) of that record, or None."""
        collector = _Collector(self, None)
        stopped: tuple[int, int] | None = None
        for rec in _strict_records(_lines(region, None, first_line), open_end=not at_eof):
            if rec[3] == "incomplete":
                line_no = rec[0]
                offset = 0
                for _ in range(line_no - first_line):  # byte offset of that line in the region
                    offset = region.index(b"\n", offset) + 1
                stopped = (offset, line_no)
                break
            collector.add(rec)
        return collector.flush(), stopped

    def _strict_blocks(self, lines: Iterator[tuple[int, bytes]], chunk_rows: int) -> Iterator[_Block]:
        """The rest of the file read with the csv module in strict mode, in chunks."""
        collector = _Collector(self, chunk_rows)
        for rec in _strict_records(lines):
            if collector.add(rec):
                yield collector.flush()
        if collector.size:
            yield collector.flush()

    # -- validation and keys -------------------------------------------------------------------
    def _finish(self, block: _Block) -> ParsedChunk:
        st = self.settings
        pos = self.layout.positions
        used = self._used_cols
        n = len(block.row_numbers)
        quarantine: list[tuple[int, bytes, str, str]] = list(block.pre)
        for row_number, raw, _reason, _detail in block.pre:
            if raw.lstrip(_UTF8_BOM).startswith(TRAILER_MARKER.encode()):
                raise _trailer_error(row_number, raw.split(b"\n", 1)[0], "the download failed midway")
        cols = {c: block.cells[c] for c in used}
        if n and block.maybe_ctrl:
            cols = {c: [CONTROL_CHARS_RE.sub("", v) for v in values] for c, values in cols.items()}
        if n and block.maybe_cr:
            cols = {
                c: [v.replace("\r\n", "\n").replace("\r", "\n") if "\r" in v else v for v in values]
                for c, values in cols.items()
            }
        # reason per row: 0 = fine, else an index into _REASON_CODES; details only for the bad ones
        reason = np.zeros(n, dtype=np.int8)
        detail: dict[int, str] = {}

        # too long: a cell has at most as many characters as bytes, so only big records need a look
        for i in np.flatnonzero(block.record_bytes > st.max_cell_chars).tolist():
            for c in used:
                if len(cols[c][i]) > st.max_cell_chars:
                    reason[i] = _TOO_LONG
                    detail[i] = (
                        f"{self.layout.describe(c)} has {len(cols[c][i]):,} characters"
                        f" (limit {st.max_cell_chars:,})"
                    )
                    break

        dates = cols[pos["date"]]
        sent_ns, fmt_names = self._parse_dates(dates)
        for i in np.flatnonzero((sent_ns == _NAT) & (reason == 0)).tolist():
            cell = dates[i]
            if cell.lstrip("\ufeff").startswith(TRAILER_MARKER):
                raise _trailer_error(
                    int(block.row_numbers[i]), block.raw(i).split(b"\n", 1)[0], "the download failed midway"
                )
            reason[i] = _BAD_DATE
            detail[i] = self._date_detail(cell)

        senders = cols[pos["sender"]]
        texts = cols[pos["text"]]
        # each distinct sender cell is looked at once
        codes, uniques = pd.factorize(np.asarray(senders, dtype=object))
        persons = [self._person(u) for u in uniques.tolist()]
        if None in persons:
            no_sender = np.array([p is None for p in persons], dtype=bool)[codes] & (reason == 0)
            reason[no_sender] = _MISSING_SENDER
            why = f"{self.layout.describe(pos['sender'])} is empty or blank"
            detail.update(dict.fromkeys(np.flatnonzero(no_sender).tolist(), why))
        if "" in texts:
            no_text = (np.fromiter(map(len, texts), dtype=np.int64, count=n) == 0) & (reason == 0)
            reason[no_text] = _EMPTY_MESSAGE
            why = f"{self.layout.describe(pos['text'])} is empty (control characters removed)"
            detail.update(dict.fromkeys(np.flatnonzero(no_text).tolist(), why))

        ok = reason == 0
        for i in np.flatnonzero(~ok).tolist():
            quarantine.append((int(block.row_numbers[i]), block.raw(i), _REASON_CODES[reason[i]], detail[i]))
        self.stats.records += n + len(block.pre)

        idx = np.flatnonzero(ok)
        all_ok = len(idx) == n
        pick = idx.tolist()

        def take(values: list) -> list:
            return values if all_ok else [values[i] for i in pick]

        m = len(idx)
        channel = take(cols[pos["channel"]]) if "channel" in pos else [""] * m
        senders_ok = take(senders)
        texts_ok = take(texts)
        recipients_ok = take(cols[pos["recipient"]])
        rows_ok = block.row_numbers[idx]
        ns_ok = sent_ns[idx]

        codes_ok = codes[idx]
        real = [p or _NOBODY for p in persons] or [_NOBODY]
        sender_kind = np.array([p.kind for p in real], dtype=object)[codes_ok]
        sender_name = np.array([p.name for p in real], dtype=object)[codes_ok]
        sender_email = np.array([p.email for p in real], dtype=object)[codes_ok]

        tags = _KIND_PREFIXES
        kinds = ["text" if not t.startswith(tags) else content_kind(t) for t in texts_ok]
        seconds = ns_ok // 1_000_000_000
        keys, ordinals = self._keys(channel, senders_ok, texts_ok, seconds)

        messages = pd.DataFrame(
            {
                "message_key": pd.array(keys, dtype="str"),
                "domain_id": pd.array([st.domain_id] * m, dtype="str"),
                "channel_id": pd.array(channel, dtype="str"),
                "sent_at": pd.array(ns_ok.view("M8[ns]")).tz_localize("UTC"),
                "sender_raw": pd.array(senders_ok, dtype="str"),
                "sender_kind": pd.array(sender_kind, dtype="str"),
                "sender_name": pd.array(sender_name, dtype="str"),
                "sender_email": pd.array(sender_email, dtype="str"),
                "recipients_raw": pd.array(recipients_ok, dtype="str"),
                "text": pd.array(texts_ok, dtype="str"),
                "content_kind": pd.array(kinds, dtype="str"),
                "ordinal": ordinals,
                "source": pd.array([self.source] * m, dtype="str"),
                "row_number": rows_ok.astype(np.int64),
            },
            columns=MESSAGE_COLUMNS,
        )
        self.stats.messages += m
        if m:
            per_person = np.bincount(codes_ok, minlength=len(real))
            for p, count in zip(real, per_person.tolist()):
                if count:
                    self.stats.sender_kinds[p.kind] += count
        self.stats.content_kinds.update(kinds)

        quarantine.sort(key=lambda r: r[0])
        for row_number, _raw, why, _detail in quarantine:
            self.stats.note_quarantine(why, row_number)
        quarantined = pd.DataFrame(
            {
                "source": pd.array([self.source] * len(quarantine), dtype="str"),
                "row_number": np.array([r[0] for r in quarantine], dtype=np.int64),
                "raw": pd.array([_raw_text(r[1]) for r in quarantine], dtype="str"),
                "reason": pd.array([r[2] for r in quarantine], dtype="str"),
                "detail": pd.array([r[3] for r in quarantine], dtype="str"),
            },
            columns=QUARANTINE_COLUMNS,
        )
        return ParsedChunk(messages, quarantined)

    def _date_detail(self, cell: str) -> str:
        """Why a date cell was refused, by its shape - never its text."""
        col = self.layout.describe(self.layout.positions["date"])
        text = cell.strip()
        if not text:
            return f"{col} is empty" if not cell else f"{col} is blank ({len(cell):,} characters)"
        if _NAME_ROLE.get(_norm_header_cell(text)) == "date":
            return f"{col} holds the date column's name: a repeated header line?"
        if _DATE_LIKE_RE.fullmatch(text):
            return (
                f"{col}: {len(cell):,} characters of digits and separators in no known format, or no real"
                " time (month 13, 30 February, hour 25, a day without a time, a year outside 1900-2199)"
            )
        return f"{col}: {len(cell):,} characters, not a date (letters or other characters)"

    def _encoding_detail(self, raw: bytes, row: list[str]) -> str:
        """Where a record has NUL or invalid UTF-8 bytes, and what they look like - never its text."""
        nul = raw.find(b"\x00")
        bad = _invalid_utf8_at(raw) if nul < 0 else nul
        what = "a NUL byte" if nul >= 0 else "invalid UTF-8"
        where = ""
        for c, cell in enumerate(row):  # cells were decoded with surrogateescape: bad bytes are surrogates
            if ("\x00" in cell) if nul >= 0 else bool(_SURROGATE_RE.search(cell)):
                where = f" in {self.layout.describe(c)}" if c < self.layout.ncols else f" in cell {c + 1}"
                break
        guess = "" if nul >= 0 else f"; the record {encoding_guess(raw)}"
        return f"{what}{where} at byte {bad + 1:,} of the record ({len(raw):,} bytes){guess}"

    def _person(self, cell: str) -> Person | None:
        """The parsed sender cell; None for a blank one."""
        p = self._persons.get(cell)
        if p is None:
            if not cell.strip():
                return None
            if len(self._persons) > 200_000:
                self._persons.clear()
            p = self._persons[cell] = parse_person(cell)
        return p

    def _parse_dates(self, cells: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """UTC epoch nanoseconds (``_NAT`` where no format fits, or outside 1900..2199) and format names."""
        n = len(cells)
        ns = np.full(n, _NAT, dtype=np.int64)
        names = np.full(n, "", dtype=object)
        if n == 0:
            return ns, names
        formats = {f[0]: f for f in DATE_FORMATS}
        values = pd.Series(cells, dtype=object)
        todo = np.ones(n, dtype=bool)
        matched: Counter = Counter()
        for stripped in (False, True):
            if stripped:
                where = np.flatnonzero(todo)
                trimmed = [cells[i].strip() for i in where.tolist()]
                if trimmed == [cells[i] for i in where.tolist()]:
                    break
                values = pd.Series(cells, dtype=object)
                values.iloc[where] = trimmed
            for name in self._date_order:
                if not todo.any():
                    break
                where = np.flatnonzero(todo)
                if len(where) <= 256:  # a few leftovers: skip formats whose separators none of them has
                    left = [values.iat[i] for i in where.tolist()]
                    if not any(all(ch in v for ch in _FORMAT_NEEDS[name]) for v in left):
                        continue
                sub = values if len(where) == n else values.iloc[where]
                _, fmt, aware = formats[name]
                us = self._to_us(sub, fmt, aware)
                hit = (us != _NAT) & (us >= _MIN_US) & (us < _MAX_US)
                if hit.any():
                    w = where[hit]
                    ns[w] = us[hit] * 1000
                    names[w] = name
                    todo[w] = False
                    matched[name] += int(hit.sum())
            if not todo.any():
                break
        self.stats.date_formats.update(matched)
        if matched:  # try the formats this file uses first
            top = [name for name, _ in matched.most_common()]
            self._date_order = top + [x for x in self._date_order if x not in top]
        return ns, names

    def _to_us(self, values: pd.Series, fmt: str, aware: bool) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(values, format=fmt, errors="coerce", utc=aware)
            if not aware:
                if parsed.notna().any():
                    parsed = parsed.dt.tz_localize(
                        self.settings.timezone,
                        ambiguous=np.ones(len(parsed), dtype=bool),
                        nonexistent="shift_forward",
                    )
                else:
                    parsed = parsed.dt.tz_localize("UTC")
            return np.asarray(parsed.astype("datetime64[us, UTC]").array.asi8)

    def _keys(self, channel, senders, texts, seconds: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Keys and ordinals; identical rows are counted across chunks (see the module docstring)."""
        st = self.settings
        n = len(seconds)
        base = message_keys_at(st.domain_id, channel, seconds, senders, texts)  # ordinal 0: the identity
        ordinals = np.zeros(n, dtype=np.int64)
        if n == 0:
            return base, ordinals
        # identical rows share their second: only rows whose second repeats can be duplicates
        cand = np.flatnonzero(pd.Series(seconds).duplicated(keep=False).to_numpy())
        if len(cand):
            cand_keys = [base[i] for i in cand.tolist()]
            if len(set(cand_keys)) != len(cand_keys):
                codes = pd.factorize(np.asarray(cand_keys, dtype=object))[0]
                ordinals[cand] = pd.Series(codes).groupby(codes).cumcount().to_numpy(dtype=np.int64)
        window = st.ordinal_carry_seconds
        carry = self._carry
        if carry:
            lo = min(t for _, t in carry.values())
            hi = max(t for _, t in carry.values())
            for i in np.flatnonzero((seconds >= lo) & (seconds <= hi)).tolist():
                hit = carry.get(base[i])
                if hit is not None:
                    ordinals[i] += hit[0]
        if self._max_second is not None:
            self.stats.out_of_order_rows += int((seconds < self._max_second - window).sum())
        keys = base
        redo = np.flatnonzero(ordinals)
        if len(redo):
            self.stats.duplicate_rows += len(redo)
            r = redo.tolist()
            fixed = message_keys(
                st.domain_id,
                [channel[i] for i in r],
                utc_iso_strings(seconds[redo]),
                [senders[i] for i in r],
                [texts[i] for i in r],
                ordinals[redo].tolist(),
            )
            keys = list(base)
            for i, k in zip(r, fixed):
                keys[i] = k
        # carry the identity groups near the end of this chunk into the next chunk
        boundary = int(seconds[-1])
        new_carry = {k: v for k, v in carry.items() if abs(v[1] - boundary) <= window}
        for i in np.flatnonzero(np.abs(seconds - boundary) <= window).tolist():
            new_carry[base[i]] = (int(ordinals[i]) + 1, int(seconds[i]))
        self._carry = new_carry
        top = int(seconds.max())
        self._max_second = top if self._max_second is None else max(self._max_second, top)
        return keys, ordinals


# --- helpers ---------------------------------------------------------------------------------------
def _lines(buf: bytes, fh, first_line: int) -> Iterator[tuple[int, bytes]]:
    """(line number, line bytes with its LF) from a buffer, then from the rest of a binary file."""
    line = first_line
    parts = buf.split(b"\n")
    tail = parts.pop()
    for p in parts:
        yield line, p + b"\n"
        line += 1
    if fh is not None:
        for chunk in fh:
            if tail:
                chunk, tail = tail + chunk, b""
            if chunk.endswith(b"\n"):
                yield line, chunk
                line += 1
            else:
                tail = chunk
    if tail:
        yield line, tail


class _Feed:
    """Line source for csv.reader that remembers the lines of the current record and can re-feed."""

    __slots__ = ("src", "pending", "taken")

    def __init__(self, src: Iterator[tuple[int, bytes]]) -> None:
        self.src = src
        self.pending: deque[tuple[int, bytes]] = deque()
        self.taken: list[tuple[int, bytes]] = []

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        item = self.pending.popleft() if self.pending else next(self.src)
        self.taken.append(item)
        return item[1].decode("utf-8", "surrogateescape")


def _strict_records(
    lines: Iterator[tuple[int, bytes]], open_end: bool = False
) -> Iterator[tuple[int, list[str], bytes, str | None, str]]:
    """(first line, cells, raw bytes, reason | None | "blank", detail) per record, csv module strict.

    A broken record quarantines its first line (``bad_quoting``) and the lines after it are read
    again. With ``open_end`` a quoted cell still open when the lines run out is not an error: an
    ``"incomplete"`` record marks where it starts, and reading stops.
    """
    feed = _Feed(lines)
    reader = csv.reader(feed, strict=True)
    while True:
        feed.taken = []
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            taken = feed.taken
            if not taken:
                return
            line_no, first = taken[0]
            message = str(exc)
            if open_end and "unexpected end of data" in message:
                yield line_no, [], b"", "incomplete", ""
                return
            why, detail = _csv_error_detail(message, len(taken))
            feed.pending.extendleft(reversed(taken[1:]))
            yield line_no, [], first.rstrip(b"\r\n"), why, detail
            continue
        taken = feed.taken
        if not taken:
            return
        raw = b"".join(t[1] for t in taken)
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not row or (len(row) == 1 and not raw.strip(b" \t\r")):
            yield taken[0][0], row, raw, "blank", ""
            continue
        yield taken[0][0], row, raw, None, ""


def _csv_error_detail(message: str, lines: int) -> tuple[str, str]:
    """(reason, detail) for a csv.Error of the strict reader, in our own words."""
    span = "" if lines <= 1 else f" ({lines:,} lines read: the first is quarantined, the others read again)"
    if "field larger than field limit" in message:
        return "too_long", f"a cell is longer than {csv.field_size_limit():,} characters{span}"
    if "unexpected end of data" in message:
        return "bad_quoting", "a quoted cell is never closed" + span
    if "expected after" in message:
        return (
            "bad_quoting",
            "text after the closing quote of a cell (a quote in a cell must be doubled)" + span,
        )
    if "new-line character" in message:
        return "bad_quoting", "a lone CR (no LF after it) outside quotes" + span
    if "NUL" in message:
        return "bad_quoting", "a NUL byte the CSV reader refused" + span
    return "bad_quoting", "broken CSV quoting" + span


def _columns_detail(expected: int, found: int) -> str:
    if found < 0:
        return f"expected {expected} cells; the record does not read as one CSV row"
    return f"expected {expected} cells, found {found}"


def _count_cells(raw: bytes) -> int:
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8", "surrogateescape"), newline="")))
    return len(rows[0]) if len(rows) == 1 else -1


def _raw_text(raw: bytes) -> str:
    raw = raw.rstrip(b"\r\n")
    return raw.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
