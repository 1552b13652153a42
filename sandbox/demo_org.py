"""Set up the Salesforce sandbox org to match a seeded LINE WORKS tenant (demo, tests, benchmarks).

The reps become Salesforce users (matched by e-mail), and friends can be registered as 社外連絡先
linked to a new Lead, Contact or person Account — what the registration bot does for real reps.
"""

from __future__ import annotations

from typing import Any

from sandbox.control_client import SandboxControl

LINK_KINDS = ("none", "lead", "contact", "person")


def seed_reps(salesforce: SandboxControl, members: list[dict[str, Any]]) -> dict[str, str]:
    """Create a Salesforce user per LINE WORKS member; returns LINE WORKS userId → Salesforce User Id."""
    users = [
        {
            "Username": m["email"],
            "Email": m["email"],
            "LastName": (m.get("userName") or {}).get("lastName") or m["email"].split("@")[0],
            "FirstName": (m.get("userName") or {}).get("firstName"),
            "IsActive": True,
        }
        for m in members
    ]
    created = salesforce.seed({"records": {"User": users}})["created"]["User"]
    return {m["userId"]: sf_id for m, sf_id in zip(members, created)}


def serve_reps(salesforce: SandboxControl, user_ids: list[str]) -> None:
    """Give the users the ``LineWorks_User`` permission set (made if missing): the bot serves them."""
    created = salesforce.seed(
        {"records": {"PermissionSet": [{"Name": "LineWorks_User", "Label": "LINE WORKS ユーザー"}]}}
    )
    set_id = created["created"]["PermissionSet"][0]
    assignments = [{"AssigneeId": u, "PermissionSetId": set_id} for u in user_ids]
    salesforce.seed({"records": {"PermissionSetAssignment": assignments}})


def register_friends(
    salesforce: SandboxControl, friends: list[dict[str, Any]], how: str = "none"
) -> list[str]:
    """Create a 社外連絡先 per friend (``contactId``, ``display``), linked as ``how``; returns their Ids."""
    if how not in LINK_KINDS:
        raise ValueError(f"how must be one of {LINK_KINDS}")
    records = []
    for friend in friends:
        name = friend["display"][:80]
        record = {
            "Name": name,
            "LineWorksContactId__c": friend["contactId"],
            "LineDisplayName__c": friend["display"],
        }
        if how == "lead":
            record["Lead__c"] = _create(
                salesforce, "Lead", {"LastName": name, "Company": "（LINE WORKSから登録）"}
            )
        elif how == "contact":
            record["Contact__c"] = _create(salesforce, "Contact", {"LastName": name})
        elif how == "person":
            record["Account__c"] = _create(salesforce, "Account", {"LastName": name})
        records.append(record)
    if not records:
        return []
    return salesforce.seed({"records": {"ExternalContact__c": records}})["created"]["ExternalContact__c"]


def _create(salesforce: SandboxControl, sobject: str, values: dict[str, Any]) -> str:
    return salesforce.seed({"records": {sobject: [values]}})["created"][sobject][0]
