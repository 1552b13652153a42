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
  naming what was seen - the raw file stays staged, and failing loudly beats quarantining a whole
  tenant's talk (the doctor explains the file);
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

Ordinals (see :mod:`talklog.keys`) count identical rows of the whole file, across chunks: the counts
of identity groups sent within ``ordinal_carry_seconds`` of the last row of a chunk are carried to
the next chunk. Monitoring files are in time order, so this is exact; a file out of order by more
than that window could restart an ordinal (``stats.out_of_order_rows`` counts such rows).
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import compress
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from talklog.keys import CONTROL_CHARS_RE, message_keys, message_keys_at, utc_iso_strings
from talklog.people import Person, parse_person

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
    "UnknownHeaderError",
    "content_kind",
    "detect_header",
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
_UTF8_BOM = b"\xef\xbb\xbf"
_C1_RE = re.compile(rb"\xc2[\x80-\x9f]")
_BLOCK_BYTES = 32 << 20


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
            raise ValueError(f"timezone: unknown IANA timezone {self.timezone!r}") from None
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
    """The first line is not a known Monitoring CSV header."""

    def __init__(self, message: str, header: list[str] | None = None) -> None:
        super().__init__(message)
        self.header = header or []


class DownloadTrailerError(ValueError):
    """The file ends with (or contains) a ``downloadLogs error`` line: the download failed midway."""

    def __init__(self, message: str, line_number: int | None = None) -> None:
        super().__init__(message)
        self.line_number = line_number


@dataclass(frozen=True)
class HeaderLayout:
    name: str  # ja_JP | ja_JP_legacy | en_US | en_US_legacy | custom
    columns: tuple[str, ...]  # the header cells as written
    positions: dict[str, int]  # role -> column index (date, sender, recipient, text, channel?)
    extra_columns: tuple[str, ...]  # cells that are no known column (ignored)

    @property
    def ncols(self) -> int:
        return len(self.columns)


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


def detect_header(cells: list[str]) -> HeaderLayout:
    """Map header cells to roles; raise :class:`UnknownHeaderError` when a required one is missing."""
    norm = [_norm_header_cell(c) for c in cells]
    positions: dict[str, int] = {}
    extra: list[str] = []
    for i, (raw, n) in enumerate(zip(cells, norm)):
        role = _NAME_ROLE.get(n)
        if role is None or role in positions:
            extra.append(raw)
        else:
            positions[role] = i
    missing = [r for r in ("date", "sender", "recipient", "text") if r not in positions]
    if missing:
        hint = ""
        if {"イベント", "event"} & set(norm):
            hint = (
                " This looks like an audit-log CSV (service=message), which has events only and no"
                " message content; use the Monitoring API message-contents download."
            )
        raise UnknownHeaderError(
            f"unknown Monitoring CSV header {cells!r}: no column for {', '.join(missing)}. Known layouts:"
            " 日時,送信者,受信者,チャンネルID,トーク | 日時,送信者,受信者,トークルームID,トーク |"
            " Date,Sender,Recipient,Channel ID,Message | Date,Sender,Recipient,Message." + hint,
            header=list(cells),
        )
    name = _LAYOUTS.get(tuple(norm), "custom")
    return HeaderLayout(name, tuple(cells), positions, tuple(extra))


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
    return _TAG_KIND[m.group(1).lower()] if m else "text"


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
            self.pre.append((line_no, raw, "bad_encoding", "NUL byte in the record"))
        elif _invalid_utf8(raw):
            self.pre.append((line_no, raw, "bad_encoding", "invalid UTF-8 bytes in the record"))
        elif len(row) != self.ncols:
            self.pre.append((line_no, raw, "bad_columns", f"expected {self.ncols} cells, found {len(row)}"))
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
        self.layout, self._data_offset, self._data_line = self._read_header()
        self._check_trailer()
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
        with open(self.path, "rb") as fh:
            head = fh.read(1 << 16)
            offset, line = 0, 1
            while head.startswith(_UTF8_BOM, offset):
                offset += len(_UTF8_BOM)
            while True:  # blank lines before the header are skipped (and counted)
                nl = head.find(b"\n", offset)
                while nl < 0:
                    more = fh.read(1 << 20)
                    if not more:
                        break
                    if len(head) > 4 << 20:
                        raise UnknownHeaderError(f"no line break in the first 4 MiB: {head[:200]!r}")
                    head += more
                    nl = head.find(b"\n", offset)
                end = len(head) if nl < 0 else nl + 1
                if nl < 0 or head[offset:end].strip(b" \t\r\n"):
                    break
                offset, line = end, line + 1
            raw_header = head[offset:end]
        try:
            text = raw_header.decode("utf-8").lstrip("\ufeff")
        except UnicodeDecodeError:
            raise UnknownHeaderError(
                f"the header line is not UTF-8 (Shift_JIS?): {raw_header[:200]!r}; convert the file to UTF-8"
            ) from None
        if not text.strip():
            raise UnknownHeaderError("the file is empty: no header line", header=[])
        if text.startswith(TRAILER_MARKER):
            raise DownloadTrailerError(f"the file holds only a download error: {text.strip()[:300]}", line)
        cells = next(csv.reader([text.rstrip("\r\n")]), [])
        cells = [c.strip().lstrip("\ufeff").strip() for c in cells]
        self.stats.header_line = line
        return detect_header(cells), offset + len(raw_header), line + 1

    def _check_trailer(self) -> None:
        with open(self.path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(self._data_offset, size - 8192))
            tail = fh.read().rstrip(b"\r\n \t")
        last = tail.rsplit(b"\n", 1)[-1].lstrip(_UTF8_BOM)
        # A message line inside the last (quoted) cell could start with the marker too; it ends
        # with the closing quote. Such a line, if it really is a trailer, is caught while parsing.
        if last.startswith(TRAILER_MARKER.encode()) and not last.endswith(b'"'):
            raise DownloadTrailerError(
                "the file ends with a 'downloadLogs error' trailer - the download failed midway and must be"
                f" requested again: {last[:300].decode('utf-8', 'replace')}"
            )

    # -- iteration -----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[ParsedChunk]:
        if self._used:
            raise RuntimeError("a MessageCsvParser can be iterated once; create a new one")
        self._used = True
        return self._iterate()

    def _iterate(self) -> Iterator[ParsedChunk]:
        old_limit = csv.field_size_limit()
        try:
            csv.field_size_limit(max(old_limit, 4 * self.settings.max_cell_chars + 16))
            with open(self.path, "rb") as fh:
                fh.seek(self._data_offset)
                for block in self._blocks(fh):
                    chunk = self._finish(block)
                    if len(chunk.messages) or len(chunk.quarantined):
                        self.stats.chunks += 1
                        yield chunk
        finally:
            csv.field_size_limit(old_limit)

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
                pre.append((int(rows[i]), raw(i), "bad_columns", f"expected {ncols} cells, found {found}"))
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
                raise DownloadTrailerError(
                    f"line {row_number} is a 'downloadLogs error' trailer - the download failed midway",
                    row_number,
                )
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
                        f"cell {self.layout.columns[c]!r} has {len(cols[c][i]):,} characters"
                        f" (limit {st.max_cell_chars:,})"
                    )
                    break

        dates = cols[pos["date"]]
        sent_ns, fmt_names = self._parse_dates(dates)
        for i in np.flatnonzero((sent_ns == _NAT) & (reason == 0)).tolist():
            cell = dates[i]
            if cell.lstrip("\ufeff").startswith(TRAILER_MARKER):
                raise DownloadTrailerError(
                    f"line {block.row_numbers[i]} is a 'downloadLogs error' trailer - the download failed"
                    " midway",
                    int(block.row_numbers[i]),
                )
            reason[i] = _BAD_DATE
            detail[i] = "empty date cell" if not cell.strip() else f"unrecognised date {cell[:60]!r}"

        senders = cols[pos["sender"]]
        texts = cols[pos["text"]]
        # each distinct sender cell is looked at once
        codes, uniques = pd.factorize(np.asarray(senders, dtype=object))
        persons = [self._person(u) for u in uniques.tolist()]
        if None in persons:
            no_sender = np.array([p is None for p in persons], dtype=bool)[codes] & (reason == 0)
            reason[no_sender] = _MISSING_SENDER
            detail.update(dict.fromkeys(np.flatnonzero(no_sender).tolist(), "the sender cell is empty"))
        if "" in texts:
            no_text = (np.fromiter(map(len, texts), dtype=np.int64, count=n) == 0) & (reason == 0)
            reason[no_text] = _EMPTY_MESSAGE
            detail.update(dict.fromkeys(np.flatnonzero(no_text).tolist(), "the message cell is empty"))

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
            why = "too_long" if "field larger than field limit" in message else "bad_quoting"
            if "unexpected end of data" in message:
                message = "a quoted cell is never closed"
            feed.pending.extendleft(reversed(taken[1:]))
            yield line_no, [], first.rstrip(b"\r\n"), why, message
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


def _count_cells(raw: bytes) -> int:
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8", "surrogateescape"), newline="")))
    return len(rows[0]) if len(rows) == 1 else -1


def _invalid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _raw_text(raw: bytes) -> str:
    raw = raw.rstrip(b"\r\n")
    return raw.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
