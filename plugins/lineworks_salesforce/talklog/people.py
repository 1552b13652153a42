"""Person cells of the Monitoring CSV (sender, recipients).

Shapes recognised (DESIGN §4; ``shared/reference/lineworks-api.md`` §4.3, §5):

=========================  ==========  =====================================================
cell                       kind        name / email
=========================  ==========  =====================================================
``山田 太郎 (a@x.com)``    member      name "山田 太郎", email "a@x.com"
``太郎(a@x.com)``          member      also full-width ``（…）`` and ``<…>``
``A@X.com``                member      name "", email lower-cased
``[Bot]社外連絡先Bot``     bot         name after the tag ("" for a bare ``[Bot]``)
``ﾀﾞｲｷ`` / ``Yamada Ken``  external    a LINE user's display name, as written
=========================  ==========  =====================================================

A member is any cell with an e-mail address (``local@domain.tld``; a dot in the domain is required
so that a LINE display name such as ``ken@home`` stays external). Whether a member e-mail exists in
the directory, and who an external display name is, is the resolver's business, not this module's.

Recipients share one cell, joined by a separator (``", "`` in the sandbox; UNCONFIRMED for real
tenants, so it is a setting). A display name may itself contain the separator (the sandbox's
``Yamada, "Ken"``); :func:`split_recipients` re-joins such pieces when given the names known in the
room, and otherwise returns the pieces as they are.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Person", "parse_person", "parse_recipients", "split_recipients"]

_EMAIL = r"[^\s@()（）<>＜＞,，;；\"']+@[^\s@()（）<>＜＞,，;；\"']+\.[^\s@()（）<>＜＞,，;；\"'.]+"
_NAMED_RE = re.compile(rf"^(?P<name>.*?)\s*[(（<＜]\s*(?P<email>{_EMAIL})\s*[)）>＞]$", re.S)
_BARE_RE = re.compile(rf"^(?P<email>{_EMAIL})$")
_BOT_RE = re.compile(r"^[\[［]\s*bot\s*[\]］]\s*(?P<name>.*)$", re.I | re.S)

KINDS = ("member", "bot", "external")


@dataclass(frozen=True)
class Person:
    kind: str  # "member" | "bot" | "external"
    name: str
    email: str = ""  # lower-case; "" unless kind == "member"


@lru_cache(maxsize=1 << 16)  # the same few thousand people recur on every row
def parse_person(cell: str) -> Person:
    """Classify one person cell. Raises ``ValueError`` for an empty (or blank) cell."""
    text = cell.strip()
    if not text:
        raise ValueError("empty person cell")
    m = _BOT_RE.match(text)
    if m:
        return Person("bot", m.group("name").strip())
    m = _NAMED_RE.match(text)
    if m:
        return Person("member", m.group("name").strip(), m.group("email").lower())
    m = _BARE_RE.match(text)
    if m:
        return Person("member", "", m.group("email").lower())
    return Person("external", text)


def split_recipients(
    cell: str | None, separator: str = ", ", known_names: Collection[str] | None = None
) -> list[str]:
    """Split a recipients cell into person cells (trimmed; empty pieces dropped; [] for an empty cell).

    ``known_names``: display names that may contain the separator (e.g. the friends and members of
    the room). Consecutive pieces whose join is a known name are joined back; the longest match wins.
    """
    if cell is None or not cell.strip():
        return []
    pieces = [p.strip() for p in cell.split(separator)] if separator else [cell.strip()]
    if known_names and len(pieces) > 1:
        known = known_names if isinstance(known_names, (set, frozenset, dict)) else set(known_names)
        merged: list[str] = []
        i = 0
        while i < len(pieces):
            best = i + 1
            for j in range(min(len(pieces), i + 8), i + 1, -1):
                if separator.join(pieces[i:j]) in known:
                    best = j
                    break
            merged.append(separator.join(pieces[i:best]))
            i = best
        pieces = merged
    return [p for p in pieces if p]


def parse_recipients(
    cell: str | None, separator: str = ", ", known_names: Collection[str] | None = None
) -> list[Person]:
    """:func:`split_recipients` then :func:`parse_person` for each piece."""
    return [parse_person(p) for p in split_recipients(cell, separator, known_names)]
