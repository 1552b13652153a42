"""Who is who in a talk: CSV participants → LINE WORKS members and LINE friends (DESIGN §4).

Members are recognised by e-mail (``list_users``). A LINE user appears in the CSV only by display name,
so it is matched among the **friends of the members taking part in that message** (Contacts API,
``linkedExternalUser.buddyUserIds``): a unique match links the message to that friend; none, or several
different LINE users, are recorded as an issue with a reason — never guessed. **One LINE user befriended by
several members** is one contact per member sharing ``linkedExternalUser.id`` (or one contact whose
``buddyUserIds`` lists them all): a talk links to each such contact whose member takes part, so each rep
gets the Task on their own 社外連絡先. Bot messages and talks with no LINE user are marked so the
pipeline can exclude them.
"""

from lineworks_salesforce.directory.people import (
    Friend,
    Member,
    friend_from_contact,
    match_name,
    member_from_user,
)
from lineworks_salesforce.directory.resolver import Resolution, Resolver, resolve_messages

__all__ = [
    "Friend",
    "Member",
    "Resolution",
    "Resolver",
    "friend_from_contact",
    "match_name",
    "member_from_user",
    "resolve_messages",
]
