"""A sandbox scenario for a real tenant's Monitoring export (``lineworks-salesforce sandbox scenario FILE``).

To try the pipeline on one's own export without a tenant, the sandboxes need the people in it: every
member (a cell with an e-mail address) becomes a LINE WORKS member and a Salesforce user with that
e-mail, and every LINE user (an external display name) becomes one LINE friend **per member it talked
with** (in the same channel), as LINE WORKS holds them — one contact per member, sharing one
``linkedExternalUser.id`` — each registered as a 社外連絡先 linked to a Contact. The export itself is then
imported as a file (``lineworks_history_import`` in ``file`` mode), so the scenario holds no message.

The file is parsed by the product's own parser (:mod:`lineworks_salesforce.talklog.csvparse`): rows it
quarantines contribute nobody. The scenario holds names and e-mails of the export — personal data, written
only to the file the user asked for, never to a log.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

from lineworks_salesforce.talklog.csvparse import MessageCsvParser, ParseSettings
from lineworks_salesforce.talklog.people import parse_person, split_recipients


def scenario_from_export(path: str | Path, settings: ParseSettings | None = None) -> dict[str, Any]:
    """The scenario (LINE WORKS members and friends + the ``salesforce`` section) for ``path``."""
    settings = settings or ParseSettings()
    members: dict[str, str] = {}  # e-mail → name (the first non-empty one seen)
    in_channel: dict[str, set[str]] = defaultdict(set)  # channel → member e-mails
    externals: dict[str, set[str]] = defaultdict(set)  # channel → external display names
    for chunk in MessageCsvParser(path, settings, source=Path(path).name):
        frame = chunk.messages[["channel_id", "sender_kind", "sender_name", "sender_email", "recipients_raw"]]
        for channel, kind, name, email, recipients in frame.itertuples(index=False):
            people = [(kind, name, email)]
            for cell in split_recipients(recipients, settings.recipient_separator):
                person = parse_person(cell)
                people.append((person.kind, person.name, person.email))
            for kind_, name_, email_ in people:
                if kind_ == "member" and email_:
                    if not members.get(email_):
                        members[email_] = name_ or ""
                    in_channel[channel].add(email_)
                elif kind_ == "external" and name_:
                    externals[channel].add(name_)

    user_ids = {email: f"u-{_short(email)}" for email in members}
    friends_of: dict[str, set[str]] = defaultdict(set)  # display name → member e-mails
    for channel, names in externals.items():
        for name in names:
            friends_of[name] |= in_channel.get(channel, set())
    users = [
        {"userId": user_ids[email], "email": email, "userName": _split_name(name, email)}
        for email, name in sorted(members.items())
    ]
    contacts = []
    for name in sorted(friends_of):
        line_user = f"U-{_short(name)}"  # one LINE user, one contact per member
        for email in sorted(friends_of[name]):
            contacts.append(
                {
                    "displayName": name,
                    "contact": {
                        "contactId": f"c-{_short(name + chr(0) + email)}",
                        "contactName": {"lastName": name, "firstName": ""},
                        "linkedExternalUser": {
                            "id": line_user,
                            "type": "LINE",
                            "buddyUserIds": [user_ids[email]],
                        },
                        "permission": {"masterUserId": user_ids[email], "accessibleRange": "MEMBER"},
                    },
                }
            )
    return {
        "users": users,
        "contacts": contacts,
        "salesforce": {"users": "members", "externalContacts": [{"all": "contact"}]},
    }


def _short(value: str) -> str:
    """A stable, opaque id part (the same person gets the same id on every run)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:12]


def _split_name(name: str, email: str) -> dict[str, str]:
    """``山田 太郎`` → last 山田, first 太郎 (U+3000 too); no name → the e-mail's local part as last name."""
    parts = name.replace("\u3000", " ").split(None, 1)
    if not parts:
        return {"lastName": email.split("@")[0], "firstName": ""}
    return {"lastName": parts[0], "firstName": parts[1] if len(parts) > 1 else ""}
