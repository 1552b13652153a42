"""``lineworks_friends``: ask each served rep, once, what to do with a new LINE friend.

Every run lists the LINE friends created in its window (Contacts API, ``CREATED_TIME``, a look-back wider
than the schedule so a late run misses nobody); the first run ever sweeps every existing friend of every
member instead (first install). For each (friend, member whose friend it is):

- a member who is not **served** — no active Salesforce user (matched by ``LineWorksUserId__c``, else by
  e-mail) holding the ``LineWorks_User`` or ``LineWorks_Admin`` permission set — is skipped and counted;
- a friend already on a 社外連絡先 (``ExternalContact__c.LineWorksContactId__c``) gets
  「既に〇〇さんは社外連絡先に作成済です」 and nothing else;
- otherwise the member gets a button message: 新規登録 / 既存の社外連絡先に紐づけ / 対象外 (``message``
  actions with a ``postback``, as button templates require; the taps arrive at the callback app).

What was said is recorded per (contact, member) in the archive (``lw_friend_prompts``) before the run ends,
so a retry or the next run never prompts twice; a failed send is recorded as such and tried again by the
next run. Sends go through the hook, which paces them within the bot API's rate limit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from lineworks_salesforce.directory import friend_from_contact, member_from_user
from lineworks_salesforce.pipelines.common import Run
from lineworks_salesforce.salesforce_model.soql import soql, soql_in_chunks

SERVED_PERMISSION_SETS = ("LineWorks_User", "LineWorks_Admin")
FINAL = frozenset({"prompted", "already_registered"})
LOOKBACK = timedelta(hours=1)  # friends created this long before the window's start are looked at again
SWEPT = "friends_swept"
POSTBACK = "lwsf:{action}:{contact_id}"  # what a tap sends back (≤ 300 characters)
ACTIONS = (("new", "新規登録"), ("link", "既存の社外連絡先に紐づけ"), ("ignore", "対象外"))


class FriendsClient(Protocol):
    def list_users(self) -> Iterable[dict[str, Any]]: ...
    def list_friends(self, start=None, end=None, *, date_type: str = ...) -> Iterable[dict[str, Any]]: ...  # noqa: ANN001
    def send_message_to_user(self, user_id: str, content: dict[str, Any]) -> None: ...


class RecordSource(Protocol):
    def query_records(self, soql: str) -> Iterable[dict[str, Any]]: ...


def prompt_content(display_name: str, contact_id: str) -> dict[str, Any]:
    """The button message about a new friend."""
    return {
        "type": "button_template",
        "contentText": (
            f"LINEで「{display_name}」さんと友だちになりました。社外連絡先に登録しますか？"
            "（新規登録 / 既存の社外連絡先に紐づけ / 対象外）"
        )[:1000],
        "actions": [
            {"type": "message", "label": label, "postback": POSTBACK.format(action=a, contact_id=contact_id)}
            for a, label in ACTIONS
        ],
    }


def registered_content(contact_name: str) -> dict[str, Any]:
    return {"type": "text", "text": f"既に{contact_name}さんは社外連絡先に作成済です"}


def served_members(users: Iterable[dict[str, Any]], salesforce: RecordSource) -> dict[str, str]:
    """LINE WORKS userId → Salesforce User Id of every served member."""
    assignees = sorted(
        {
            r["AssigneeId"]
            for r in salesforce.query_records(
                soql(
                    "SELECT AssigneeId FROM PermissionSetAssignment WHERE PermissionSet.Name IN {names}",
                    names=SERVED_PERMISSION_SETS,
                )
            )
        }
    )
    if not assignees:
        return {}
    sf_users = [
        u
        for query in soql_in_chunks(
            "SELECT Id, Email, LineWorksUserId__c FROM User WHERE IsActive = true AND Id IN {ids}",
            "ids",
            assignees,
            max_values=200,
        )
        for u in salesforce.query_records(query)
    ]
    by_id = {u["LineWorksUserId__c"]: u["Id"] for u in sf_users if u.get("LineWorksUserId__c")}
    by_email = {(u.get("Email") or "").lower(): u["Id"] for u in sf_users if not u.get("LineWorksUserId__c")}
    served = {}
    for user in users:
        member = member_from_user(user)
        sf_id = by_id.get(member.user_id) or by_email.get(member.email)
        if sf_id:
            served[member.user_id] = sf_id
    return served


def registered_contacts(contact_ids: list[str], salesforce: RecordSource) -> dict[str, str]:
    """LINE WORKS contact id → the Name of the 社外連絡先 holding it."""
    if not contact_ids:
        return {}
    return {
        r["LineWorksContactId__c"]: r.get("Name") or ""
        for query in soql_in_chunks(
            "SELECT Name, LineWorksContactId__c FROM ExternalContact__c WHERE LineWorksContactId__c IN {ids}",
            "ids",
            sorted(contact_ids),
            max_values=200,
        )
        for r in salesforce.query_records(query)
    }


def prompt_new_friends(
    run: Run, lineworks: FriendsClient, salesforce: RecordSource, start: datetime, end: datetime
) -> dict[str, Any]:
    """One ``lineworks_friends`` run: prompt each served member once about each new friend."""
    first_install = not run.archive.query("bot_state", {"name": SWEPT})
    if first_install:
        contacts: Iterable[dict[str, Any]] = lineworks.list_friends()
    else:
        contacts = lineworks.list_friends(start - LOOKBACK, end, date_type="CREATED_TIME")
    friends = [f for f in (friend_from_contact(c) for c in contacts) if f is not None]
    said = {(r["contact_id"], r["member_user_id"]): r for r in run.archive.query("friend_prompt_statuses")}
    # this window's friends, and the sends that failed before (retried whatever their window)
    todo = {(f.contact_id, m): f.display_name for f in friends for m in sorted(f.members)}
    for (contact_id, member), row in said.items():
        if row["status"] == "failed":
            todo.setdefault((contact_id, member), row["display_name"])
    counts: Counter[str] = Counter(friends=len(friends))
    pending = {k: name for k, name in todo.items() if said.get(k, {}).get("status") not in FINAL}
    counts["known"] = len(todo) - len(pending)
    served = served_members(lineworks.list_users(), salesforce) if pending else {}
    asked = {k: name for k, name in pending.items() if k[1] in served}
    counts["not_served"] = len(pending) - len(asked)
    registered = registered_contacts(sorted({c for c, _ in asked}), salesforce)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for row in _send_all(
        asked, registered, lineworks, counts
    ):  # recorded send by send: a retry re-sends none
        run.archive.execute("set_friend_prompt", {**row, "updated_at": now, "run_id": run.run_id})
    if first_install:
        run.archive.execute("set_bot_state", {"name": SWEPT, "value": now})
    return {
        "first_install": first_install,
        "friends": counts["friends"],
        "prompted": counts["prompted"],
        "already_registered": counts["already_registered"],
        "not_served": counts["not_served"],
        "failed": counts["failed"],
        "failed_by": {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("failed:")},
        "known": counts["known"],
    }


def _send_all(
    asked: dict[tuple[str, str], str], registered: dict[str, str], lineworks: FriendsClient, counts: Counter
) -> Iterator[dict[str, Any]]:
    for (contact_id, member), display_name in sorted(asked.items()):
        if contact_id in registered:
            status, content = "already_registered", registered_content(registered[contact_id])
        else:
            status, content = "prompted", prompt_content(display_name, contact_id)
        try:
            lineworks.send_message_to_user(member, content)
        except Exception as exc:  # whatever made the send fail, the next run tries again
            status = "failed"
            counts["failed:" + type(exc).__name__] += 1
        counts[status] += 1
        yield {
            "contact_id": contact_id,
            "member_user_id": member,
            "display_name": display_name,
            "status": status,
        }
