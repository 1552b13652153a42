"""Stable keys: one per talk message (archive dedupe) and one per Salesforce activity (upsert).

LINE WORKS gives no message id (DESIGN §3.2), so a message's key is a hash of what identifies it
in the Monitoring CSV. The canonical form, which must never change once data is archived, is::

    blake2b(digest_size=16) over UTF-8 of
        domain_id \\x1f channel_id \\x1f sent_at \\x1f sender_raw \\x1f text \\x1f ordinal
    as 32 lower-case hex digits

- ``domain_id``: the LINE WORKS domain id as a decimal string ("" when unknown);
- ``channel_id``: the channel cell ("" in the old layout without a channel column);
- ``sent_at``: the send time in UTC, whole seconds, ``YYYY-MM-DDTHH:MM:SSZ`` (fractions dropped,
  so a file that shows fractions and one that does not give the same key);
- ``sender_raw``: the sender cell as it is in the file, control characters removed, not trimmed;
- ``text``: the message cell with control characters other than TAB/LF/CR removed and every CRLF or
  lone CR turned into LF (:func:`canonical_text`);
- ``ordinal``: decimal, the 0-based position of the row among the rows of the same file that are
  identical in all the fields above, in file order.

``\\x1f`` (unit separator) cannot occur inside a field: it is a control character and is removed.
Because the ordinal counts identical rows of one file, reading the same window again, or an
overlapping window, gives the same keys, and two identical messages sent in the same second stay two.

The activity key (DESIGN §3.4) is ``LW-<domainId>-<contactId>-<YYYYMMDDHH>`` for the hour bucket in
the org's timezone, with ``-p<part>`` for the continuation records of a long hour (part >= 2).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

__all__ = [
    "KEY_SEPARATOR",
    "canonical_text",
    "hour_bucket",
    "message_key",
    "message_keys",
    "message_keys_at",
    "utc_iso_seconds",
    "utc_iso_strings",
]

KEY_SEPARATOR = "\x1f"
# C0 controls except TAB, LF, CR; DEL; C1 controls. Format characters (ZWJ, variation selectors,
# bidi marks) are not controls and are kept.
CONTROL_CHARS_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def canonical_text(text: str) -> str:
    """Remove control characters (keeping TAB, LF, CR) and normalise CRLF / lone CR to LF."""
    text = CONTROL_CHARS_RE.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def utc_iso_seconds(value: datetime | pd.Timestamp | str) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC, fractions dropped. Naive datetimes are taken as UTC."""
    if isinstance(value, str):
        value = pd.Timestamp(value)
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.floor("s").strftime("%Y-%m-%dT%H:%M:%SZ")


_TOD: list[str] | None = None
_DAYS: dict[int, str] = {}


def _time_of_day_table() -> list[str]:
    global _TOD
    if _TOD is None:
        _TOD = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
    return _TOD


def _split_seconds(
    epoch_seconds: np.ndarray | Sequence[int],
) -> tuple[list[str], list[int], list[str], list[int]]:
    """(day strings, day index per row, time-of-day table, time-of-day index per row)."""
    seconds = np.asarray(epoch_seconds, dtype="int64")
    days, tod = np.divmod(seconds, 86_400)
    uniq, inverse = np.unique(days, return_inverse=True)
    day_str = []
    for d in uniq.tolist():
        s = _DAYS.get(d)
        if s is None:
            if len(_DAYS) > 100_000:
                _DAYS.clear()
            s = _DAYS[d] = str(np.datetime64(d, "D"))
        day_str.append(s)
    return day_str, inverse.reshape(-1).tolist(), _time_of_day_table(), tod.tolist()


def utc_iso_strings(epoch_seconds: np.ndarray | Sequence[int]) -> list[str]:
    """Vectorised :func:`utc_iso_seconds` for integer Unix seconds (much faster than strftime)."""
    if len(epoch_seconds) == 0:
        return []
    day_str, day_idx, tod_str, tod_idx = _split_seconds(epoch_seconds)
    return [f"{day_str[d]}T{tod_str[t]}Z" for d, t in zip(day_idx, tod_idx)]


def message_key(
    domain_id: str | int,
    channel_id: str,
    sent_at_utc_iso: str | datetime | pd.Timestamp,
    sender_raw: str,
    text: str,
    ordinal: int = 0,
) -> str:
    """The key of one message (see the module docstring for the canonical form).

    ``sent_at_utc_iso`` may also be a datetime/Timestamp (converted with :func:`utc_iso_seconds`);
    a string is used as given, so pass the canonical ``YYYY-MM-DDTHH:MM:SSZ``. ``sender_raw`` and
    ``text`` are canonicalised (control characters removed; text line ends to LF) - idempotent, so
    values coming from :func:`lineworks_salesforce.talklog.csvparse.parse_message_csv` are unchanged.
    """
    if not isinstance(sent_at_utc_iso, str):
        sent_at_utc_iso = utc_iso_seconds(sent_at_utc_iso)
    sender_raw = CONTROL_CHARS_RE.sub("", sender_raw)
    data = KEY_SEPARATOR.join(
        (str(domain_id), channel_id, sent_at_utc_iso, sender_raw, canonical_text(text), str(int(ordinal)))
    )
    return hashlib.blake2b(data.encode("utf-8"), digest_size=16).hexdigest()


def message_keys(
    domain_id: str | int,
    channel_ids: Iterable[str],
    sent_at_utc_isos: Iterable[str],
    senders_raw: Iterable[str],
    texts: Iterable[str],
    ordinals: Iterable[int] | None = None,
) -> list[str]:
    """Keys for many rows whose fields are already canonical (as the parser produces them).

    Equal to ``[message_key(...) for each row]`` for canonical input, several times faster.
    """
    dom = str(domain_id)
    b2 = hashlib.blake2b
    if ordinals is None:
        new = b2(digest_size=16).copy  # copying a fresh state is cheaper than building one
        out: list[str] = []
        append = out.append
        for c, t, s, x in zip(channel_ids, sent_at_utc_isos, senders_raw, texts):
            h = new()
            h.update(f"{dom}\x1f{c}\x1f{t}\x1f{s}\x1f{x}\x1f0".encode())
            append(h.hexdigest())
        return out
    return [
        b2(f"{dom}\x1f{c}\x1f{t}\x1f{s}\x1f{x}\x1f{o}".encode(), digest_size=16).hexdigest()
        for c, t, s, x, o in zip(channel_ids, sent_at_utc_isos, senders_raw, texts, ordinals)
    ]


def message_keys_at(
    domain_id: str | int,
    channel_ids: Sequence[str],
    epoch_seconds: np.ndarray | Sequence[int],
    senders_raw: Sequence[str],
    texts: Sequence[str],
) -> list[str]:
    """:func:`message_keys` with ordinal 0 and the send times as integer Unix seconds (UTC)."""
    if len(channel_ids) == 0:
        return []
    isos = utc_iso_strings(epoch_seconds)
    return message_keys(domain_id, channel_ids, isos, senders_raw, texts)


def hour_bucket(ts_utc: pd.Series, tz: str) -> pd.Series:
    """Floor instants to the hour in ``tz``; returns tz-aware timestamps in ``tz``.

    Works on the wall clock of each instant (correct for half-hour offsets such as Asia/Kolkata) and
    never raises for DST-ambiguous or missing hours: an instant keeps the UTC offset it has, so the
    two repeated hours of a DST fall-back are two buckets. Naive input is taken as UTC.
    """
    s = pd.Series(ts_utc)
    if s.dt.tz is None:
        s = s.dt.tz_localize("UTC")
    s = s.dt.tz_convert("UTC")
    local = s.dt.tz_convert(tz)
    offset = local.dt.tz_localize(None) - s.dt.tz_localize(None)
    wall = s.dt.tz_localize(None) + offset
    floored = wall.dt.floor("h") - offset
    return floored.dt.tz_localize("UTC").dt.tz_convert(tz)
