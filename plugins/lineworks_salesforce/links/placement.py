"""Where a friend's Tasks go in Salesforce: WhoId/WhatId/OwnerId from its 社外連絡先 link (DESIGN §3.5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

# What the link lookup (:func:`lineworks_salesforce.links.lookup.fetch_links`) gives per friend.
LINK_COLUMNS = (
    "external_contact_id",
    "lead_id",
    "contact_sf_id",
    "account_id",
    "person_contact_id",
    "owner_user_id",
)


def placement_fields(link: Mapping[str, Any]) -> dict[str, str]:
    """WhoId/WhatId/OwnerId of a friend's Tasks (``shared/DESIGN.md`` §3.5).

    * linked to a Person Account (``account_id``) -> WhoId = ``person_contact_id``, WhatId = the Account
      (WhoId is left out if the PersonContactId is unknown);
    * else linked to a Contact -> WhoId = the Contact, WhatId = the ExternalContact__c;
    * else linked to a Lead -> WhoId = the Lead and no WhatId (Salesforce refuses a WhatId with a Lead);
    * else -> WhatId = the ExternalContact__c only.

    When several links are set, the first in that order wins (person account > contact > lead): a
    converted Lead keeps its Id in the link while the Contact/Account it became is the live record.
    ``OwnerId`` is ``owner_user_id`` when known, and left out otherwise (Salesforce then makes the
    integration user the owner).
    """
    fields: dict[str, str] = {}
    if link_value(link.get("account_id")):
        if link_value(link.get("person_contact_id")):
            fields["WhoId"] = link_value(link["person_contact_id"])
        fields["WhatId"] = link_value(link["account_id"])
    elif link_value(link.get("contact_sf_id")):
        fields["WhoId"] = link_value(link["contact_sf_id"])
        fields["WhatId"] = link_value(link.get("external_contact_id"))
    elif link_value(link.get("lead_id")):
        fields["WhoId"] = link_value(link["lead_id"])
    else:
        fields["WhatId"] = link_value(link.get("external_contact_id"))
    fields = {k: v for k, v in fields.items() if v}
    owner = link_value(link.get("owner_user_id"))
    if owner:
        fields["OwnerId"] = owner
    return fields


def link_value(value: Any) -> str | None:
    """A link cell as a string, or None for missing/NaN/empty."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and value != value:
        return None
    text = str(value).strip()
    return text or None
