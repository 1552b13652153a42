"""Activity keys: the one place that builds or parses them (DESIGN §3.4).

``LW-<domainId>-<contactId>-<YYYYMMDDHH>`` names the Task of one friend's org-local hour; a description
too long for one Task continues in parts ``-p2``, ``-p3``… (:func:`activity_key`). The domain id is
digits only (a LINE WORKS int32, checked by the settings), the hour ten digits; the contact id between
them may contain dashes, so a key is parsed from both ends (:func:`parse_activity_key`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY_RE = re.compile(r"LW-(?P<domain>\d+)-(?P<contact>.+)-(?P<hour>\d{10})(?:-p(?P<part>[2-9]|[1-9]\d+))?")


@dataclass(frozen=True)
class ActivityKey:
    domain_id: str
    contact_id: str
    hour: str  # YYYYMMDDHH, org-local
    part: int = 1

    @property
    def first(self) -> str:
        """The key of the hour's first part (the hour's own key)."""
        return f"{key_base(self.domain_id, self.contact_id)}{self.hour}"


def key_base(domain_id: str | int, contact_id: str) -> str:
    """The key up to the hour, ``LW-<domainId>-<contactId>-`` (the renderer appends hour and part)."""
    if not contact_id:
        raise ValueError("contact_id is empty")
    return f"LW-{domain_id}-{contact_id}-"


def part_suffix(part: int) -> str:
    """``""`` for the first part, ``-p<n>`` for part n ≥ 2."""
    if part < 1:
        raise ValueError(f"part must be >= 1, not {part}")
    return "" if part == 1 else f"-p{part}"


def activity_key(domain_id: str | int, contact_id: str, hour: str, part: int = 1) -> str:
    """``LW-<domainId>-<contactId>-<YYYYMMDDHH>``, with ``-p<n>`` for part n ≥ 2."""
    return f"{key_base(domain_id, contact_id)}{hour}{part_suffix(part)}"


def split_part(key: str) -> tuple[str, int]:
    """(the hour's first key, part number) of an activity key."""
    first, _, tail = key.rpartition("-")
    if tail[:1] == "p" and tail[1:].isdigit():
        return first, int(tail[1:])
    return key, 1


def parse_activity_key(key: str) -> ActivityKey:
    """The parts of an activity key; ``ValueError`` (naming only the key's length) when it is not one."""
    match = _KEY_RE.fullmatch(key)
    if match is None:
        raise ValueError(
            f"not an activity key (LW-<domain>-<contact>-<YYYYMMDDHH>[-pN]; {len(key)} characters)"
        )
    return ActivityKey(match["domain"], match["contact"], match["hour"], int(match["part"] or 1))
