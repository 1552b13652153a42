"""Members and LINE friends as the directory knows them: from API documents, and matching names."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1 << 16)
def match_name(name: str) -> str:
    """Normalise a display name for matching: NFKC (full/half width), spaces incl. U+3000, case."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", name)).strip().casefold()


@dataclass(frozen=True)
class Member:
    user_id: str
    email: str
    display_name: str


@dataclass(frozen=True)
class Friend:
    contact_id: str
    display_name: str
    master_user_id: str  # the contact's rep: permission.masterUserId, else the first buddy
    line_user_id: str = ""  # linkedExternalUser.id: the same for every member's contact of one LINE user
    buddy_user_ids: tuple[str, ...] = ()  # the members whose friend it is (empty: the master only)

    @property
    def members(self) -> frozenset[str]:
        return frozenset(self.buddy_user_ids or (self.master_user_id,))


def friend_from_contact(contact: dict) -> Friend | None:
    """A Contacts-API contact → Friend (``None`` for a contact that is not a linked external user).

    The LINE display name's place in the contact JSON is UNCONFIRMED (docs/architecture.md): both name
    parts are joined, so either placement works.
    """
    linked = contact.get("linkedExternalUser")
    if not linked or not linked.get("buddyUserIds"):
        return None
    name = contact.get("contactName") or {}
    display = f"{name.get('lastName') or ''}{name.get('firstName') or ''}".strip()
    buddies = tuple(str(b) for b in linked["buddyUserIds"])
    master = (contact.get("permission") or {}).get("masterUserId") or buddies[0]
    return Friend(contact["contactId"], display, str(master), str(linked.get("id") or ""), buddies)


def member_from_user(user: dict) -> Member:
    name = user.get("userName") or {}
    display = " ".join(p for p in (name.get("lastName"), name.get("firstName")) if p)
    return Member(user["userId"], (user.get("email") or "").lower(), display or user.get("email", ""))
