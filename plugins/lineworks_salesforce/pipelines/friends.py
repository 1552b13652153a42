"""``lineworks_friends``: ask each served rep, once, what to do with a new LINE friend.

Every run lists the LINE friends created since the end of the last window listed (so skipped runs lose
nobody), with ``friends_lookback_hours`` of look-back for friends listed late (Contacts API,
``CREATED_TIME``); the first run ever lists every existing friend of every member instead (first install).
Each (friend, member whose friend it is) not seen before is **queued** in the archive
(``lw_friend_prompts``), and the run then sends from the queue — this window's friends first, then the
oldest — at most ``prompts_per_run`` messages and no more than ``SEND_MINUTES`` at the pace (the hook
paces them at ``prompts_per_minute``); what is left waits, in order, for the next run. For each queued pair:

- a member who is not **served** — no active Salesforce user (matched by ``LineWorksUserId__c``, else by
  e-mail) holding the ``LineWorks_User`` or ``LineWorks_Admin`` permission set — is skipped, counted, and
  stays queued (a rep who is given the permission set later is asked then);
- a friend already on a 社外連絡先 (``ExternalContact__c.LineWorksContactId__c``) gets
  「既に〇〇さんは社外連絡先に作成済です」 and nothing else;
- otherwise the member gets a button message: 新規登録 / 既存の社外連絡先に紐づけ / 対象外 (``message``
  actions with a ``postback``, as button templates require; the taps arrive at the callback app).

A pair whose friend was on a 社外連絡先 (``registered`` by the bot, ``already_registered``) and no longer is
(the link was cleared or the record deleted) is queued again (``unlinked``) and offered the same buttons
once more. Each send is recorded as it happens, so a retry or the next run never sends twice; a failed
send goes to the back of the queue for a later run, and ``MAX_FAILURES_IN_A_ROW`` failures stop the run
(:class:`PromptsFailing`).
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
# the end of the latest window listed: a late run lists the windows skipped since
LISTED = "friends_listed_until"
SEND_MINUTES = 9  # a run sends at most this many minutes' worth at its pace (within the 10-minute schedule)
MAX_FAILURES_IN_A_ROW = 20  # then the run stops sending and fails: the API or the connection is broken
POSTBACK = "lwsf:{action}:{contact_id}"  # what a tap sends back (≤ 300 characters)
ACTIONS = (("new", "新規登録"), ("link", "既存の社外連絡先に紐づけ"), ("ignore", "対象外"))


class PromptsFailing(RuntimeError):
    """Sends failed one after another: the run stopped sending (the queue keeps the rest)."""


def run_budget(prompts_per_run: int, pace: int | None) -> int:
    """Messages one run may send: ``prompts_per_run``, and no more than ``SEND_MINUTES`` at ``pace`` a
    minute (so that a slow pace, e.g. a Free plan's, still ends a run within the schedule and the timeout)."""
    return min(prompts_per_run, pace * SEND_MINUTES) if pace else prompts_per_run


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
    run: Run,
    lineworks: FriendsClient,
    salesforce: RecordSource,
    start: datetime,
    end: datetime,
    *,
    pace: int | None = None,
) -> dict[str, Any]:
    """One ``lineworks_friends`` run: queue the new friends, send from the queue (see the module).

    :param pace: the messages per minute the client sends at, which bounds a run's sends (:func:`run_budget`).
    """
    settings, archive = run.settings, run.archive
    first_install = not archive.query("bot_state", {"name": SWEPT})
    listed = archive.query("bot_state", {"name": LISTED})
    lookback = timedelta(hours=settings.friends_lookback_hours)
    if first_install:
        contacts: Iterable[dict[str, Any]] = lineworks.list_friends()
    else:
        since = start - lookback
        if listed:  # from the end of the last window listed, should runs have been skipped since
            since = min(since, datetime.fromisoformat(listed[0]["value"]) - lookback)
        contacts = lineworks.list_friends(since, end, date_type="CREATED_TIME")
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
    if not listed or datetime.fromisoformat(listed[0]["value"]) < end:
        archive.execute("set_bot_state", {"name": LISTED, "value": end.isoformat()})
    queue += [(k, rows[k]["display_name"], UNLINKED, now) for k in unlinked]
    queue += [(k, name, QUEUED, now) for k, name in new.items()]
    # this window's friends first (a rep waits about ten minutes, not behind a sweep), then the oldest
    queue.sort(key=lambda q: (q[0] not in new, q[3], q[0]))
    counts: Counter[str] = Counter()
    served = served_members(lineworks.list_users(), salesforce) if queue else {}
    to_send = [q for q in queue if q[0][1] in served]
    counts["not_served"] = len(queue) - len(to_send)
    budget = run_budget(settings.prompts_per_run, pace)
    sending, later = to_send[:budget], to_send[budget:]
    in_a_row = 0
    for i, (key, name, status, _) in enumerate(sending):
        sent, failure = _send(lineworks, key, name, status, registered, counts)
        # recorded send by send, so a retry re-sends none; a failed one goes to the back of the queue
        new_status = sent or (QUEUED if status == "failed" else status)
        archive.execute("set_friend_prompt", _row(key, name, new_status, _now(), run.run_id))
        in_a_row = 0 if failure is None else in_a_row + 1
        if in_a_row >= MAX_FAILURES_IN_A_ROW:
            raise PromptsFailing(
                f"{in_a_row} sends in a row failed, the last with {failure}: stopped sending; "
                f"{i + 1 - counts['failed']} sent in this run, {len(to_send) - i - 1} left in the queue"
            )
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
) -> tuple[str | None, str | None]:
    """Send one queued prompt: its new status, or ``None`` and what failed (the error's kind and status,
    never its text)."""
    contact_id, member = key
    if contact_id in registered:
        sent = counted = "already_registered"
        content = registered_content(registered[contact_id])
    else:
        again = status == UNLINKED
        sent, counted = "prompted", "reoffered" if again else "prompted"
        content = prompt_content(display_name, contact_id, unlinked=again)
    try:
        lineworks.send_message_to_user(member, content)
    except Exception as exc:  # whatever made the send fail, the next run tries again
        counts["failed"] += 1
        counts["failed:" + type(exc).__name__] += 1
        status_code = getattr(exc, "status", None)
        return None, type(exc).__name__ + (f" (HTTP {status_code})" if isinstance(status_code, int) else "")
    counts[counted] += 1
    return sent, None


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
    """Microseconds: the queue's order (a failed send goes behind those queued in the same second)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
