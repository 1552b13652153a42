"""The link lookup: Salesforce's side of each LINE friend (its 社外連絡先, the record it is linked to, the
rep's user), in one Composite batch of SOQL queries."""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd

from lineworks_salesforce.archive import Archive
from lineworks_salesforce.links.placement import LINK_COLUMNS
from lineworks_salesforce.salesforce_model.soql import soql_in_chunks


class LinkClient(Protocol):
    def query_batch(self, queries: list[str]) -> list[list[dict[str, Any]]]: ...  # records per query


def fetch_links(
    archive: Archive, salesforce: LinkClient, contact_ids: list[str], ids_per_query: int = 300
) -> pd.DataFrame:
    """Salesforce's side of each friend: its 社外連絡先, the record it is linked to, and the rep's user.

    One :meth:`query_batch` (Composite: 5 queries per API call): the active users, then the
    ExternalContact__c of ``ids_per_query`` friends per query (setting ``link_query_ids``; fewer when
    their ids would make the query's url longer than the REST URI limit).
    """
    members = {r["user_id"]: r for r in archive.query("members")}
    masters = {r["contact_id"]: r["master_user_id"] for r in archive.query("friends")}
    queries = [
        "SELECT Id, Email, LineWorksUserId__c FROM User WHERE IsActive = TRUE",
        *soql_in_chunks(
            "SELECT Id, LineWorksContactId__c, Lead__c, Contact__c, Account__c, Account__r.PersonContactId, "
            "Account__r.IsPersonAccount FROM ExternalContact__c WHERE LineWorksContactId__c IN {ids}",
            "ids",
            contact_ids,
            max_values=ids_per_query,
        ),
    ]
    users, *external_contacts = salesforce.query_batch(queries)
    by_lw_id = {u["LineWorksUserId__c"]: u["Id"] for u in users if u.get("LineWorksUserId__c")}
    by_email = {(u.get("Email") or "").lower(): u["Id"] for u in users if u.get("Email")}
    rows = []
    for ec in (ec for page in external_contacts for ec in page):
        account = ec.get("Account__r") or {}
        person = bool(account.get("IsPersonAccount"))
        master = masters.get(ec["LineWorksContactId__c"])
        member = members.get(master) or {}
        owner = by_lw_id.get(master) or by_email.get((member.get("email") or "").lower())
        rows.append(
            {
                "contact_id": ec["LineWorksContactId__c"],
                "external_contact_id": ec["Id"],
                "lead_id": ec.get("Lead__c"),
                "contact_sf_id": ec.get("Contact__c"),
                # 個人取引先連携 only: a business Account is not a valid WhoId target
                "account_id": ec.get("Account__c") if person else None,
                "person_contact_id": account.get("PersonContactId") if person else None,
                "owner_user_id": owner,
            }
        )
    return (
        pd.DataFrame(rows, columns=["contact_id", *LINK_COLUMNS])
        .drop_duplicates("contact_id")
        .set_index("contact_id")
    )
