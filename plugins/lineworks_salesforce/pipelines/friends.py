"""``lineworks_friends``: ask each served rep, once, what to do with a new LINE friend.

Every run lists the LINE friends created in its window (Contacts API, ``CREATED_TIME``, with the setting
``friends_lookback_hours`` before it so a late run misses nobody); the first run ever lists every existing
friend of every member instead (first install). Each (friend, member whose friend it is) not seen before is
**queued** in the archive (``lw_friend_prompts``), and the run then sends from the queue — this window's
friends first, then the oldest — at most ``prompts_per_run`` messages (the hook paces them at
``prompts_per_minute``); what is left waits, in order, for the next run. For each queued pair:

- a member who is not **served** — no active Salesforce user (matched by ``LineWorksUserId__c``, else by
  e-mail) holding the ``LineWorks_User`` or ``LineWorks_Admin`` permission set — is skipped, counted, and
  stays queued (a rep who is given the permission set later is asked then);
- a friend already on a 社外連絡先 (``ExternalContact__c.LineWorksContactId__c``) gets
  「既に〇〇さんは社外連絡先に作成済です」 and nothing else;
- otherwise the member gets a button message: 新規登録 / 既存の社外連絡先に紐づけ / 対象外 (``message``
  actions with a ``postback``, as button templates require; the taps arrive at the callback app).

A pair whose friend was on a 社外連絡先 (``registered`` by the bot, ``already_registered``) and no longer is
(the link was cleared or the record deleted) is queued again (``unlinked``) and offered the same buttons
once more. Each send is recorded as it happens, so a retry or the next run never sends twice; a failed send
stays queued and is tried again by the next run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from lineworks_salesforce.directory import friend_from_contact, member_from_user
from lineworks_salesforce.pipelines.common import Run
from lineworks_salesforce.salesforce_model.soql import soql, soql_in_chunks

SERVED_PERMISSION_SETS = ("LineWorks_User", "LineWorks_Admin")
QUEUED, UNLINKED = "queued", "unlinked"
TO_SEND = frozenset({QUEUED, UNLINKED, "failed"})  # "failed": a failed send, as an older version recorded it
LINKED = frozenset({"registered", "already_registered"})  # watched: a removed link is offered again
SWEPT = "friends_swept"
POSTBACK = "lwsf:{action}:{contact_id}"  # what a tap sends back (≤ 300 characters)
ACTIONS = (("new", "新規登録"), ("link", "既存の社外連絡先に紐づけ"), ("ignore", "対象外"))


class FriendsClient(Protocol):
    def list_users(self) -> Iterable[dict[str, Any]]: ...
    def list_friends(self, start=None, end=None, *, date_type: str = ...) -> Iterable[dict[str, Any]]: ...  # noqa: ANN001
    def send_message_to_user(self, user_id: str, content: dict[str, Any]) -> None: ...


class RecordSource(Protocol):
    def query_records(self, soql: str) -> Iterable[dict[str, Any]]: ...


def prompt_content(display_name: str, contact_id: str, *, unlinked: bool = False) -> dict[str, Any]:
    """The button message about a new friend (``unlinked``: about one whose 社外連絡先 link was removed)."""
    if unlinked:
        text = f"「{display_name}」さんと社外連絡先の紐づけが解除されました。もう一度登録しますか？"
    else:
        text = f"LINEで「{display_name}」さんと友だちになりました。社外連絡先に登録しますか？"
    return {
        "type": "button_template",
        "contentText": (text + "（新規登録 / 既存の社外連絡先に紐づけ / 対象外）")[:1000],
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


def registered_contacts(salesforce: RecordSource) -> dict[str, str]:
    """LINE WORKS contact id → the Name of the 社外連絡先 holding it, for every linked 社外連絡先 (one query,
    paged: it answers both "already registered?" and "was a link removed?")."""
    return {
        r["LineWorksContactId__c"]: r.get("Name") or ""
        for r in salesforce.query_records(
            "SELECT Name, LineWorksContactId__c FROM ExternalContact__c WHERE LineWorksContactId__c != null"
        )
    }


def prompt_new_friends(
    run: Run, lineworks: FriendsClient, salesforce: RecordSource, start: datetime, end: datetime
) -> dict[str, Any]:
    """One ``lineworks_friends`` run: queue the new friends, send from the queue (see the module)."""
    settings, archive = run.settings, run.archive
    first_install = not archive.query("bot_state", {"name": SWEPT})
    if first_install:
        contacts: Iterable[dict[str, Any]] = lineworks.list_friends()
    else:
        lookback = timedelta(hours=settings.friends_lookback_hours)
        contacts = lineworks.list_friends(start - lookback, end, date_type="CREATED_TIME")
    friends = [f for f in (friend_from_contact(c) for c in contacts) if f is not None]
    rows = {(r["contact_id"], r["member_user_id"]): r for r in archive.query("friend_prompt_statuses")}
    now = _now()
    new = {
        (f.contact_id, m): f.display_name
        for f in friends
        for m in sorted(f.members)
        if (f.contact_id, m) not in rows
    }
    watched = [k for k, r in rows.items() if r["status"] in LINKED]
    queue = [
        (k, r["display_name"], r["status"], r["updated_at"])
        for k, r in rows.items()
        if r["status"] in TO_SEND
    ]
    registered = registered_contacts(salesforce) if new or watched or queue else {}
    unlinked = [k for k in watched if k[0] not in registered]
    archive.execute_many(
        "set_friend_prompt",
        [_row(k, name, QUEUED, now, run.run_id) for k, name in new.items()]
        + [_row(k, rows[k]["display_name"], UNLINKED, now, run.run_id) for k in unlinked],
    )
    if first_install:  # every existing friend is in the queue now
        archive.execute("set_bot_state", {"name": SWEPT, "value": now})
    queue += [(k, rows[k]["display_name"], UNLINKED, now) for k in unlinked]
    queue += [(k, name, QUEUED, now) for k, name in new.items()]
    # this window's friends first (a rep waits about ten minutes, not behind a sweep), then the oldest
    queue.sort(key=lambda q: (q[0] not in new, q[3], q[0]))
    counts: Counter[str] = Counter()
    served = served_members(lineworks.list_users(), salesforce) if queue else {}
    to_send = [q for q in queue if q[0][1] in served]
    counts["not_served"] = len(queue) - len(to_send)
    sending, later = to_send[: settings.prompts_per_run], to_send[settings.prompts_per_run :]
    for key, name, status, _ in sending:
        sent = _send(lineworks, key, name, status, registered, counts)
        if sent is not None:  # recorded send by send: a retry re-sends none
            archive.execute("set_friend_prompt", _row(key, name, sent, _now(), run.run_id))
    return {
        "first_install": first_install,
        "friends": len(friends),
        "queued": len(new),
        "unlinked": len(unlinked),
        "prompted": counts["prompted"],
        "reoffered": counts["reoffered"],
        "already_registered": counts["already_registered"],
        "not_served": counts["not_served"],
        "failed": counts["failed"],
        "failed_by": {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("failed:")},
        "left_for_next_run": len(later) + counts["failed"],
    }


def _send(
    lineworks: FriendsClient,
    key: tuple[str, str],
    display_name: str,
    status: str,
    registered: dict[str, str],
    counts: Counter,
) -> str | None:
    """Send one queued prompt; its new status (``None``: the send failed, the pair stays queued)."""
    contact_id, member = key
    if contact_id in registered:
        sent, counted, content = (
            "already_registered",
            "already_registered",
            registered_content(registered[contact_id]),
        )
    else:
        again = status == UNLINKED
        sent, counted = "prompted", "reoffered" if again else "prompted"
        content = prompt_content(display_name, contact_id, unlinked=again)
    try:
        lineworks.send_message_to_user(member, content)
    except Exception as exc:  # whatever made the send fail, the next run tries again
        counts["failed"] += 1
        counts["failed:" + type(exc).__name__] += 1
        return None
    counts[counted] += 1
    return sent


def _row(key: tuple[str, str], display_name: str, status: str, now: str, run_id: str) -> dict[str, Any]:
    contact_id, member = key
    return {
        "contact_id": contact_id,
        "member_user_id": member,
        "display_name": display_name,
        "status": status,
        "updated_at": now,
        "run_id": run_id,
    }


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
