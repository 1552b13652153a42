"""Talk lines -> Salesforce Task records: one per LINE friend per hour (``shared/DESIGN.md`` §3.4).

:func:`render_activities` takes the messages of an archive window (one row per message and linked
friend it belongs to) and the friends' links, and returns upsert-ready Task records, a content
hash per record, and the rows of friends that are not registered yet. Each record is produced as its
canonical JSON (the text its hash is taken of, and what ``build`` stores in the outbox);
``RenderResult.records`` decodes them only when asked, since the pipeline never needs the dicts.

Formatting (the seed product's "LINE WORKSログ" activity: text only, locations kept, stamps as
URLs, images as placeholders):

* one line per message, sorted by ``(sent_at, message_key)``::

      09:05 山田 太郎 → はなちゃん: 見積書を送ります
      09:07 はなちゃん → 山田 太郎、佐藤 花子: ありがとうございます
      09:08 はなちゃん: [スタンプ] https://stickershop.line-scdn.net/...

  ``HH:MM`` is the local time of the org timezone. Sender and recipients are always shown, in 1:1
  rooms too; without recipients the arrow part is left out.
* a multi-line text keeps its line breaks; every following line is indented with two full-width
  spaces (``"　　"``) so a message is easy to tell from the next one. Line breaks at the start and
  end of a message are dropped, ``\\r\\n`` and ``\\r`` become ``\\n``.
* content kinds: ``(写真) a.jpg`` -> ``[画像] a.jpg``, ``(ファイル) x`` -> ``[ファイル] x``,
  ``(動画) v.mp4`` -> ``[動画] v.mp4``, a stamp URL -> ``[スタンプ] <url>``,
  ``(位置情報) 住所⏎https://maps…`` -> ``[位置情報] 住所 https://maps…`` (one line). The marker in
  parentheses is optional and also accepted in full-width parentheses or in English (``(Photo)``);
  any other kind is shown as text.
* redaction (:mod:`lineworks_salesforce.activities.redact`) runs first, on the message text only.

Splitting: Salesforce caps ``Task.Description`` at 32,000 characters and counts a surrogate pair
(an emoji, a rare kanji such as 𠮟) as two (Salesforce Help, knowledge article 005166849), so
lengths here are UTF-16 code units, which is never less than the number of code points: the limit
holds under either count. A description over the limit continues in parts ``-p2``, ``-p3`` …,
each starting with a line ``（続き n/N）``:

* lines are never broken when they fit: a line that does not fit the rest of a part starts the
  next part (the part boundary is then the line break);
* a line longer than a whole part starts a part of its own and is hard-wrapped: at its last inner
  line break in the second half of the window if there is one (that break becomes the part
  boundary), else at the limit. No character is lost, and a cut is never placed inside a character,
  nor (looking back at most 32 code points) before a combining mark, a variation selector, a skin
  tone modifier, a tag character, a zero-width joiner or the code point after one, or between the
  two regional indicators of a flag. Longer clusters (pathological) are cut at the limit.
* ``MessageCount__c`` counts the messages that start in the part (so the parts of an hour add up
  to its messages); ``FirstMessageAt__c``/``LastMessageAt__c`` are the times of the first and last
  message with text in the part (a part holding only the continuation of a long message carries
  that message's time and a count of 0). Every part carries the hour's Subject, Status,
  ActivityDate, WhoId/WhatId/OwnerId and the channel of the hour's first message.

Determinism: rows are ordered by (contact_id, hour, sent_at, message_key) before anything is built,
so the same rows in any order render to byte-identical records and hashes. A duplicated
``(contact_id, message_key)`` row is rendered once.

Hours are wall-clock hours of the org timezone; where a DST change repeats an hour, both go into
the same record (they share the key).
"""

from __future__ import annotations

import hashlib
import json
import re
import string
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from lineworks_salesforce.activities.keys import key_base, part_suffix
from lineworks_salesforce.activities.redact import RedactPattern, compile_patterns, redact_list
from lineworks_salesforce.links.placement import LINK_COLUMNS, placement_fields
from lineworks_salesforce.links.placement import link_value as _value
from lineworks_salesforce.salesforce_model.activity import (
    DESCRIPTION_MAX,
    SUBJECT_DEFAULT,
    TASK_KEY_MAX_LENGTH,
)
from lineworks_salesforce.talklog.keys import utc_iso_strings

MESSAGE_COLUMNS = (
    "message_key",
    "sent_at",
    "channel_id",
    "contact_id",
    "sender_label",
    "recipient_labels",
    "text",
    "content_kind",
)
# Optional column of ``links``: how the friend is named in the subject's ``{friend}`` field
# (falls back to the contactId).
FRIEND_LABEL_COLUMN = "friend_label"

CONTINUATION_INDENT = "\u3000\u3000"
CONTINUATION_HEADER = "（続き {part}/{parts}）"
SUBJECT_MAX = 255
SUBJECT_FIELDS = frozenset({"date", "hour", "friend", "part"})
# The smallest max_description accepted: room for a header with 6-digit part numbers and some text.
MIN_DESCRIPTION = 64

_NS_PER_MINUTE = 60_000_000_000
_NS_PER_HOUR = 3_600_000_000_000
_HHMM = np.array([f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)], dtype=object)
_EPOCH = datetime(1970, 1, 1)
_CLUSTER_LOOKBACK = 32
_json_string = json.encoder.encode_basestring  # the C encoder json.dumps(ensure_ascii=False) uses


@dataclass(frozen=True)
class RenderSettings:
    """How activities are rendered. Invalid values raise ``ValueError`` naming the field."""

    domain_id: str
    # Org timezone: hour buckets, ActivityDate and the HH:MM of each line.
    timezone: str = "Asia/Tokyo"
    # str.format fields: {date} (YYYY/MM/DD), {hour} (HH), {friend} (the friend's label), {part}.
    subject_template: str = SUBJECT_DEFAULT
    status: str = "Completed"
    max_description: int = DESCRIPTION_MAX
    # RE2 regular expressions (lineworks_salesforce.activities.redact); matches in the message text become
    # "[非表示]" first.
    redact_patterns: tuple[str, ...] = ()
    arrow: str = " → "

    def __post_init__(self) -> None:
        if isinstance(self.domain_id, int) and not isinstance(self.domain_id, bool):
            object.__setattr__(self, "domain_id", str(self.domain_id))
        if not isinstance(self.domain_id, str) or not self.domain_id or _has_space(self.domain_id):
            raise ValueError(f"domain_id: expected a non-empty id without spaces, got {self.domain_id!r}")
        try:
            ZoneInfo(self.timezone)
        except Exception as exc:
            raise ValueError(f"timezone: unknown timezone {self.timezone!r}") from exc
        _check_template(self.subject_template)
        if not isinstance(self.status, str) or not self.status.strip():
            raise ValueError("status: expected a non-empty Task status")
        if (
            not isinstance(self.max_description, int)
            or isinstance(self.max_description, bool)
            or not MIN_DESCRIPTION <= self.max_description <= DESCRIPTION_MAX
        ):
            raise ValueError(
                f"max_description: expected an integer from {MIN_DESCRIPTION} to {DESCRIPTION_MAX}, "
                f"got {self.max_description!r}"
            )
        if isinstance(self.redact_patterns, str):
            raise ValueError("redact_patterns: expected a list of regular expressions, got one string")
        object.__setattr__(self, "redact_patterns", tuple(self.redact_patterns))
        compile_patterns(self.redact_patterns)
        if not isinstance(self.arrow, str) or "\n" in self.arrow:
            raise ValueError("arrow: expected a one-line string")


@dataclass
class RenderResult:
    # ActivityKey__c -> the record's canonical JSON (the text hashed), in (contact_id, hour, part) order.
    payloads: dict[str, str]
    # ActivityKey__c -> sha256 hex of the record's canonical JSON (record_hash).
    hashes: dict[str, str]
    # The input rows of friends not registered yet (same columns, input order).
    unlinked: pd.DataFrame

    @cached_property
    def records(self) -> list[dict]:
        """The Task records for upsert by ActivityKey__c, decoded from :attr:`payloads` on first use.

        The pipeline stores and compares the payloads only; building a dict per record is left to
        callers that want one.
        """
        return [json.loads(payload) for payload in self.payloads.values()]


class _Friend(NamedTuple):
    """A friend's constant pieces of its records (see :func:`render_activities`)."""

    base: str  # the activity key up to the hour: LW-<domain>-<contact>-
    key_json: str  # the same, JSON-encoded, without its closing quote
    before_subject: str  # ,"OwnerId":…,"Status":…
    after_subject: str  # ,"WhatId":…,"WhoId":…}
    label: str  # {friend} of the subject template


class Part(NamedTuple):
    """One Description of a split hour; ``first``/``last`` index the lines with text in it."""

    text: str
    first: int
    last: int
    count: int


def render_activities(messages: pd.DataFrame, links: pd.DataFrame, settings: RenderSettings) -> RenderResult:
    """Render the Task records of ``messages`` (see the module docstring for the format)."""
    missing = [c for c in MESSAGE_COLUMNS if c not in messages.columns]
    if missing:
        raise ValueError(f"messages: missing column(s) {', '.join(missing)}")
    contact_ids = pd.Series(_strings(messages["contact_id"], ""), index=messages.index)
    link_rows = _registered_links(links, contact_ids)
    registered = contact_ids.isin(list(link_rows)).to_numpy()
    unlinked = messages.loc[~registered]
    df = messages.loc[registered]
    if df.empty:
        return RenderResult(payloads={}, hashes={}, unlinked=unlinked)

    utc_ns, local_ns = _times(df["sent_at"], settings.timezone)
    hour = local_ns // _NS_PER_HOUR
    contact_codes, contact_index = pd.factorize(_strings(df["contact_id"], ""), sort=True)
    contacts = contact_index.tolist()
    key_codes, key_index = pd.factorize(_strings(df["message_key"], ""))
    cells = {
        name: _strings(df[name], default)
        for name, default in (
            ("content_kind", "text"),
            ("text", ""),
            ("sender_label", ""),
            ("recipient_labels", ""),
        )
    }
    order = _order(contact_codes, hour, utc_ns, key_codes, key_index, cells)

    contact_sorted = contact_codes[order]
    hour_sorted = hour[order]
    utc_sorted = utc_ns[order]
    # One line per message: the rows of a group-room message (one per friend) share it, rendered
    # from the message's first row in sorted order (so it does not depend on the input order).
    keys_sorted = key_codes[order]
    first_row = np.zeros(len(key_index), dtype=np.int64)
    present, first_at = np.unique(keys_sorted, return_index=True)  # each key's first position
    first_row[present] = first_at
    rows = order[first_row]
    lines_sorted = _lines(cells, rows, local_ns[rows], settings)[keys_sorted].tolist()
    # All lines in one string; an hour's Description is a slice of it (one copy, no join per hour).
    joined = "\n".join(lines_sorted)
    offsets = np.zeros(len(lines_sorted) + 1, dtype=np.int64)
    np.cumsum(
        np.fromiter(map(len, lines_sorted), dtype=np.int64, count=len(lines_sorted)) + 1, out=offsets[1:]
    )

    n = len(order)
    change = np.ones(n, dtype=bool)
    change[1:] = (contact_sorted[1:] != contact_sorted[:-1]) | (hour_sorted[1:] != hour_sorted[:-1])
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], n)
    first_iso = _iso(utc_sorted[starts])
    last_iso = _iso(utc_sorted[ends - 1])
    channels = _strings(df["channel_id"], "")[order[starts]].tolist()

    hours = {h: _hour_fields(h) for h in np.unique(hour_sorted[starts]).tolist()}
    template_fields = _template_fields(settings.subject_template)
    per_part_subject = "part" in template_fields
    enc = _json_string
    domain = settings.domain_id
    # Per friend, the record's constant pieces, pre-encoded: its key up to the hour, and what follows
    # "MessageCount__c" in the canonical JSON (sorted keys: OwnerId, Status, Subject, WhatId, WhoId).
    friends: dict[int, _Friend] = {}
    for code in np.unique(contact_sorted[starts]).tolist():
        contact = contacts[code]
        placement = placement_fields(link_rows[contact])
        base = key_base(domain, contact)
        owner = f',"OwnerId":{enc(placement["OwnerId"])}' if "OwnerId" in placement else ""
        who_what = "".join(
            f',"{name}":{enc(placement[name])}' for name in ("WhatId", "WhoId") if name in placement
        )
        friends[code] = _Friend(
            base=base,
            key_json=enc(base)[:-1],
            before_subject=f'{owner},"Status":{enc(settings.status)}',
            after_subject=f"{who_what}}}",
            label=link_rows[contact].get(FRIEND_LABEL_COLUMN) or contact,
        )
    fixed_subject = None if template_fields else f',"Subject":{enc(settings.subject_template)}'
    channel_json: dict[str, str] = {}

    max_len = settings.max_description
    half = max_len // 2
    sha256 = hashlib.sha256
    hashes: dict[str, str] = {}
    payloads: dict[str, str] = {}
    for a, b, start, stop, code, h, channel, first, last in zip(
        starts.tolist(),
        ends.tolist(),
        offsets[starts].tolist(),
        (offsets[ends] - 1).tolist(),
        contact_sorted[starts].tolist(),
        hour_sorted[starts].tolist(),
        channels,
        first_iso,
        last_iso,
        strict=True,
    ):
        friend = friends[code]
        key_hour, activity_date, subject_date, subject_hour = hours[h]
        chan = channel_json.get(channel)
        if chan is None:
            chan = channel_json[channel] = enc(channel)
        size = stop - start
        if size <= half or (size <= max_len and _u16(joined[start:stop]) <= max_len):
            parts: Sequence[tuple[str, int, str, str]] = ((joined[start:stop], b - a, first, last),)
        else:
            parts = _parts(lines_sorted[a:b], utc_sorted[a:b], max_len)
        subject_json = fixed_subject
        for number, (description, count, part_first, part_last) in enumerate(parts, start=1):
            suffix = part_suffix(number)
            if subject_json is None or (per_part_subject and number > 1):
                subject = _subject(
                    settings.subject_template,
                    template_fields,
                    date=subject_date,
                    hour=subject_hour,
                    friend=friend.label,
                    part=number,
                )
                subject_json = f',"Subject":{enc(subject)}'
            canonical = (
                f'{{"ActivityDate":"{activity_date}","ActivityKey__c":{friend.key_json}{key_hour}{suffix}",'
                f'"Description":{enc(description)},"FirstMessageAt__c":"{part_first}",'
                f'"LastMessageAt__c":"{part_last}","LineWorksChannelId__c":{chan},"MessageCount__c":{count}'
                f"{friend.before_subject}{subject_json}{friend.after_subject}"
            )
            key = f"{friend.base}{key_hour}{suffix}"
            if len(key) > TASK_KEY_MAX_LENGTH:
                raise ValueError(f"activity key {key!r} is longer than {TASK_KEY_MAX_LENGTH} characters")
            hashes[key] = sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
            payloads[key] = canonical
    return RenderResult(payloads=payloads, hashes=hashes, unlinked=unlinked)


def record_hash(record: Mapping[str, Any]) -> str:
    """sha256 hex of the record's canonical JSON: ``json.dumps(record, ensure_ascii=False,
    sort_keys=True, separators=(",", ":"))`` encoded as UTF-8.

    :func:`render_activities` builds the same bytes from pre-encoded pieces (faster); a test keeps
    the two equal.
    """
    canonical = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


_MARKERS: dict[str, tuple[str, re.Pattern[str]]] = {
    kind: (label, re.compile(rf"\A\s*[(（](?:{names})[)）]\s*", re.IGNORECASE))
    for kind, label, names in (
        ("photo", "[画像]", "写真|画像|photo|image|picture"),
        ("file", "[ファイル]", "ファイル|file"),
        ("video", "[動画]", "動画|video|movie"),
        ("stamp", "[スタンプ]", "スタンプ|stamp|sticker"),
        ("location", "[位置情報]", "位置情報|location"),
    )
}
_BREAKS = re.compile(r"\s*\n\s*")


def render_body(content_kind: str, text: str, patterns: Sequence[RedactPattern] = ()) -> str:
    """The part of a line after ``送信者 → 受信者: `` for one message (redaction included)."""
    return _render_bodies([content_kind], [text], patterns)[0]


def _render_bodies(kinds: list[str], texts: list[str], patterns: Sequence[RedactPattern]) -> list[str]:
    texts = redact_list(texts, patterns)
    markers = _MARKERS
    return [
        _finish_body(k, t) if k in markers or "\n" in t or "\r" in t else t
        for k, t in zip(kinds, texts, strict=True)
    ]


def _finish_body(kind: str, text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.strip("\n")
    marker = _MARKERS.get(kind)
    if marker is not None:
        label, prefix = marker
        found = prefix.match(text)
        rest = text[found.end() :] if found else text
        rest = (_BREAKS.sub(" ", rest) if "\n" in rest else rest).strip()
        return f"{label} {rest}" if rest else label
    return text.replace("\n", "\n" + CONTINUATION_INDENT)


def split_lines(lines: Sequence[str], max_len: int) -> list[Part]:
    """Join ``lines`` with line breaks into Descriptions of at most ``max_len`` UTF-16 code units.

    Parts after the first start with ``（続き n/N）`` and a line break. See the module docstring
    for where lines are cut.
    """
    digits = 1
    while True:
        header = len(CONTINUATION_HEADER.format(part="9" * digits, parts="9" * digits)) + 1
        if max_len - header < 2:
            raise ValueError(f"max_len {max_len} leaves no room after a continuation header")
        raw = _split(lines, max_len, header)
        if len(str(len(raw))) <= digits:
            break
        digits += 1
    total = len(raw)
    parts = []
    for number, (pieces, first, last, count) in enumerate(raw, start=1):
        body = "\n".join(pieces)
        if number > 1:
            body = CONTINUATION_HEADER.format(part=number, parts=total) + "\n" + body
        parts.append(Part(body, first, last, count))
    return parts


def _parts(lines: Sequence[str], utc_ns: np.ndarray, max_len: int) -> list[tuple[str, int, str, str]]:
    """(Description, MessageCount, first, last) of each part of one hour."""
    parts = split_lines(lines, max_len)
    times = _iso(utc_ns[[i for part in parts for i in (part.first, part.last)]])
    return [
        (part.text, part.count, first, last)
        for part, first, last in zip(parts, times[0::2], times[1::2], strict=True)
    ]


def _split(lines: Sequence[str], max_len: int, header: int) -> list[tuple[list[str], int, int, int]]:
    parts: list[tuple[list[str], int, int, int]] = []
    pieces: list[str] = []
    used, cap, first, last, count = 0, max_len, -1, -1, 0
    for i, line in enumerate(lines):
        size = _u16(line)
        sep = 1 if pieces else 0
        if used + sep + size <= cap:
            pieces.append(line)
            used += sep + size
            first = i if first < 0 else first
            last, count = i, count + 1
            continue
        if pieces:
            parts.append((pieces, first, last, count))
            pieces, used, cap, first, last, count = [], 0, max_len - header, -1, -1, 0
        if size <= cap:
            pieces.append(line)
            used, first, last, count = size, i, i, 1
            continue
        # Longer than a whole part: hard-wrap it, starting in this (empty) part.
        wrap = _Wrapper(line)
        start, count = 0, 1
        while True:
            first = i if first < 0 else first
            last = i
            end, resume = wrap.cut(start, cap)
            if end >= len(line):
                pieces.append(line[start:])
                used = wrap.size(start, len(line))
                break
            pieces.append(line[start:end])
            parts.append((pieces, first, last, count))
            pieces, used, cap, first, last, count = [], 0, max_len - header, -1, -1, 0
            start = resume
    if pieces:
        parts.append((pieces, first, last, count))
    return parts


class _Wrapper:
    """Cut points of one long line, measured in UTF-16 code units."""

    def __init__(self, line: str) -> None:
        self.line = line
        points = np.frombuffer(line.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        astral = points > 0xFFFF
        # cum[k] = UTF-16 length of line[:k]; None when every code point is one unit.
        self.cum = np.concatenate(([0], np.cumsum(1 + astral.astype(np.int64)))) if astral.any() else None

    def size(self, start: int, end: int) -> int:
        if self.cum is None:
            return end - start
        return int(self.cum[end] - self.cum[start])

    def cut(self, start: int, budget: int) -> tuple[int, int]:
        """(end of this piece, start of the next): the longest safe piece from ``start``."""
        line = self.line
        if self.cum is None:
            end = min(len(line), start + budget)
        else:
            end = int(np.searchsorted(self.cum, self.cum[start] + budget, side="right")) - 1
            end = min(end, len(line))
        if end >= len(line):
            return len(line), len(line)
        safe = end
        while safe > start + 1 and end - safe < _CLUSTER_LOOKBACK and _inside_cluster(line, safe):
            safe -= 1
        if _inside_cluster(line, safe):
            safe = end  # a cluster longer than the look-back: cut at the limit
        newline = line.rfind("\n", start, safe)
        if newline > start + (safe - start) // 2:
            return newline, newline + 1
        return safe, safe


def _inside_cluster(s: str, i: int) -> bool:
    """Whether a cut between ``s[i-1]`` and ``s[i]`` would split a user-perceived character."""
    if i <= 0 or i >= len(s):
        return False
    c, prev = s[i], s[i - 1]
    o = ord(c)
    if prev == "\u200d" or o == 0x200D:
        return True
    if (
        0xFE00 <= o <= 0xFE0F
        or 0xE0100 <= o <= 0xE01EF
        or 0x1F3FB <= o <= 0x1F3FF
        or 0xE0020 <= o <= 0xE007F
        or o in (0x20E3, 0xFF9E, 0xFF9F)
    ):
        return True
    if 0xDC00 <= o <= 0xDFFF and 0xD800 <= ord(prev) <= 0xDBFF:
        return True
    if unicodedata.category(c) in ("Mn", "Me", "Mc"):
        return True
    if 0x1F1E6 <= o <= 0x1F1FF:
        run = 0
        j = i - 1
        while j >= 0 and 0x1F1E6 <= ord(s[j]) <= 0x1F1FF:
            run += 1
            j -= 1
        return run % 2 == 1
    return False


def _order(
    contact_codes: np.ndarray,
    hour: np.ndarray,
    utc_ns: np.ndarray,
    key_codes: np.ndarray,
    keys: np.ndarray,
    cells: Mapping[str, np.ndarray],
) -> np.ndarray:
    """Row order (contact_id, hour, sent_at, message_key), without repeated (contact_id, message_key).

    Keys are compared only where (contact_id, sent_at) ties; a repeated key keeps the row with the
    earliest time, then the smallest content, so the choice does not depend on the input order.
    """
    order = np.lexsort((utc_ns, hour, contact_codes))
    contact_sorted, utc_sorted = contact_codes[order], utc_ns[order]
    same = (contact_sorted[1:] == contact_sorted[:-1]) & (utc_sorted[1:] == utc_sorted[:-1])
    if same.any():
        tied = np.zeros(len(order), dtype=bool)
        tied[1:] |= same
        tied[:-1] |= same
        rows = order[tied]
        key_rank = np.zeros(len(order), dtype=np.int64)
        content_rank = np.zeros(len(order), dtype=np.int64)
        key_rank[rows] = pd.factorize(keys[key_codes[rows]], sort=True)[0]
        content = [
            "\0".join(values)
            for values in zip(*(cells[c][rows].tolist() for c in sorted(cells)), strict=True)
        ]
        content_rank[rows] = pd.factorize(np.array(content, dtype=object), sort=True)[0]
        order = np.lexsort((content_rank, key_rank, utc_ns, hour, contact_codes))
    pair = pd.Series(contact_codes.astype(np.int64) * len(keys) + key_codes)
    repeated = pair.iloc[order].duplicated().to_numpy()
    return order[~repeated] if repeated.any() else order


def _registered_links(links: pd.DataFrame, contact_ids: pd.Series) -> dict[str, dict[str, str | None]]:
    """contact_id -> normalised link, for the friends of ``contact_ids`` with an ExternalContact__c."""
    if "external_contact_id" not in links.columns:
        raise ValueError("links: missing column external_contact_id")
    index = links.index.astype(str)
    if index.has_duplicates:
        dupes = sorted(set(index[index.duplicated()]))[:5]
        raise ValueError(f"links: contact_id listed more than once: {', '.join(dupes)}")
    columns = [c for c in (*LINK_COLUMNS, FRIEND_LABEL_COLUMN) if c in links.columns]
    wanted = links[index.isin(pd.unique(contact_ids))]
    out: dict[str, dict[str, str | None]] = {}
    for contact, *values in wanted[columns].itertuples(index=True, name=None):
        link = {c: _value(v) for c, v in zip(columns, values, strict=True)}
        if link["external_contact_id"]:
            out[str(contact)] = link
    return out


def _times(sent_at: pd.Series, timezone: str) -> tuple[np.ndarray, np.ndarray]:
    """(UTC, local wall clock) as int64 nanoseconds."""
    if not isinstance(sent_at.dtype, pd.DatetimeTZDtype):
        raise ValueError(f"messages.sent_at: expected timezone-aware datetimes (UTC), got {sent_at.dtype}")
    index = pd.DatetimeIndex(sent_at)
    if index.hasnans:
        raise ValueError("messages.sent_at: missing timestamps")
    utc = index.tz_convert("UTC").as_unit("ns")
    local = utc.tz_convert(timezone).tz_localize(None)
    return utc.asi8, local.asi8


def _lines(
    cells: Mapping[str, np.ndarray], rows: np.ndarray, local_ns: np.ndarray, settings: RenderSettings
) -> np.ndarray:
    """``HH:MM 送信者 → 受信者: 本文`` for the given rows, as an object array."""
    patterns = compile_patterns(settings.redact_patterns)
    bodies = _render_bodies(cells["content_kind"][rows].tolist(), cells["text"][rows].tolist(), patterns)
    arrow = settings.arrow
    return np.array(
        [
            f"{hhmm} {sender}{arrow}{to}: {body}" if to else f"{hhmm} {sender}: {body}"
            for hhmm, sender, to, body in zip(
                _HHMM[(local_ns // _NS_PER_MINUTE) % 1440].tolist(),
                cells["sender_label"][rows].tolist(),
                cells["recipient_labels"][rows].tolist(),
                bodies,
                strict=True,
            )
        ],
        dtype=object,
    )


def _strings(column: pd.Series, default: str) -> np.ndarray:
    """A column as an object array of str, missing values replaced by ``default``."""
    if pd.api.types.is_string_dtype(column.dtype) and not isinstance(column.dtype, pd.CategoricalDtype):
        values = column.to_numpy(dtype=object, na_value=default)
        if column.dtype != object:
            return values
    return column.fillna(default).astype(str).to_numpy(dtype=object)


def _iso(ns: np.ndarray) -> list[str]:
    """``YYYY-MM-DDTHH:MM:SSZ`` of UTC nanoseconds (fractions dropped)."""
    return utc_iso_strings(np.asarray(ns, dtype=np.int64) // 1_000_000_000)


def _hour_fields(hour: int) -> tuple[str, str, str, str]:
    """(YYYYMMDDHH, YYYY-MM-DD, YYYY/MM/DD, HH) of a local hour number."""
    dt = _EPOCH + timedelta(hours=hour)
    return f"{dt:%Y%m%d%H}", f"{dt:%Y-%m-%d}", f"{dt:%Y/%m/%d}", f"{dt:%H}"


def _template_fields(template: str) -> frozenset[str]:
    names = set()
    for _, name, _, _ in string.Formatter().parse(template):
        if name is not None:
            names.add(re.split(r"[.\[]", name, maxsplit=1)[0])
    return frozenset(names)


def _check_template(template: str) -> None:
    """The one subject-template check (``lineworks_salesforce.settings.checks.subject_template``):
    allow-listed fields
    only, no attribute/index access or conversions; the error names the field, never echoes the template."""
    from lineworks_salesforce.settings.checks import subject_template
    from lineworks_salesforce.settings.errors import Invalid

    failure = None
    try:
        subject_template("subject_template", template)
    except Invalid as exc:
        failure = exc.error("render settings")
    if failure is not None:
        raise failure


def _subject(template: str, fields: frozenset[str], **values: Any) -> str:
    subject = template.format(**values) if fields else template
    subject = subject.replace("\r", " ").replace("\n", " ")
    while _u16(subject) > SUBJECT_MAX:
        subject = subject[:SUBJECT_MAX] if len(subject) > SUBJECT_MAX else subject[:-1]
    return subject


def _u16(text: str) -> int:
    """Length in UTF-16 code units (what Salesforce counts)."""
    return len(text.encode("utf-16-le", "surrogatepass")) >> 1


def _has_space(text: str) -> bool:
    return any(c.isspace() for c in text)
